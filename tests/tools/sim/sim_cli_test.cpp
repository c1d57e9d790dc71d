// The kairos-sim binary itself: exit codes and messages.
#include "command_output.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using CliRun = kairos::test::CommandResult;

CliRun run(const std::string& args) {
  return kairos::test::run_command(std::string(KAIROS_SIM_BIN) + " " + args + " 2>&1");
}

TEST(SimCli, BadFlagExitsWithUsageError) {
  CliRun r = run("--cores 0");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("kairos-sim: --cores must be an integer in 1..256"),
            std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("label,"), std::string::npos);  // nothing simulated
  r = run("--service nope");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--service"), std::string::npos) << r.out;
}

TEST(SimCli, HelpAndAValidRun) {
  CliRun r = run("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: kairos-sim"), std::string::npos);
  r = run("--cores 4 --load 0.3,0.6 --duration 5ms --warmup 1ms");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.rfind("label,mode,queues", 0), 0u) << r.out;
  int lines = 0;
  for (char c : r.out) lines += c == '\n';
  EXPECT_EQ(lines, 3) << r.out;  // header + one row per load
}

}  // namespace
