// The kairos-wakelat binary: a real run on two CPUs gives ordered,
// positive percentiles over every sample; bad flags exit 2 with a message
// and print no result.
#include "command_output.hpp"

#include <nlohmann/json.hpp>

#include <sched.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using CliRun = kairos::test::CommandResult;

CliRun run(const std::string& args, bool with_stderr = true) {
  return kairos::test::run_command(std::string(KAIROS_WAKELAT_BIN) + " " + args +
                                   (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

// The CPUs this process may use.
std::vector<int> usable_cpus() {
  cpu_set_t set;
  std::vector<int> out;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

TEST(WakelatCli, TimesEveryWakeUpAcrossTwoCpus) {
  const auto cpus = usable_cpus();
  ASSERT_GE(cpus.size(), 2u) << "the test needs two CPUs";
  const CliRun r = run("--waker-cpu " + std::to_string(cpus[0]) + " --wakee-cpu " +
                           std::to_string(cpus[1]) + " -n 200 --gap-us 200",
                       false);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("samples"), 200);
  EXPECT_EQ(j.at("waker_cpu"), cpus[0]);
  EXPECT_EQ(j.at("wakee_cpu"), cpus[1]);
  const double p50 = j.at("p50_us"), p90 = j.at("p90_us"), p99 = j.at("p99_us"),
               mx = j.at("max_us"), mean = j.at("mean_us");
  EXPECT_GT(p50, 0);
  EXPECT_LE(p50, p90);
  EXPECT_LE(p90, p99);
  EXPECT_LE(p99, mx);
  EXPECT_LE(mean, mx);
}

TEST(WakelatCli, BadFlagsExitTwoWithAReason) {
  const struct {
    const char* args;
    const char* says;
  } cases[] = {
      {"--waker-cpu 0 --wakee-cpu 0", "must differ"},
      {"--waker-cpu 0 --wakee-cpu 100000", "not usable"},
      {"--waker-cpu 0", "--wakee-cpu is required"},
      {"--waker-cpu 0 --wakee-cpu 1 -n 3", "--samples"},
      {"--waker-cpu 0 --wakee-cpu 1 --gap-us 5", "--gap-us"},
      {"--waker-cpu x --wakee-cpu 1", "--waker-cpu"},
  };
  for (const auto& c : cases) {
    const CliRun r = run(c.args);
    EXPECT_EQ(r.status, 2) << c.args << ": " << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.args << ": " << r.out;
    EXPECT_EQ(r.out.find("p50_us"), std::string::npos) << c.args << ": " << r.out;
  }
  EXPECT_EQ(run("--help").status, 0);
}

}  // namespace
