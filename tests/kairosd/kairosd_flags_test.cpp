// kairosd's allocator flags: bad values give a clear error and exit status
// 2 before anything is loaded (so this runs on the host, without sched_ext).
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace {

struct Result {
  int status = -1;
  std::string out;
};

Result run_kairosd(const std::vector<std::string>& args) {
  std::string cmd = KAIROSD_BIN;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " --status-file /tmp/kairosd-flags-test-status 2>&1";
  Result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 512> buf;
  while (std::fgets(buf.data(), buf.size(), p)) r.out += buf.data();
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(KairosdFlags, HelpListsTheAllocatorOptions) {
  const Result r = run_kairosd({"--help"});
  EXPECT_EQ(r.status, 0) << r.out;
  for (const char* f : {"--no-allocator", "--poll-us", "--allocator-cpu",
                        "--allocator-low-power", "--allocator-spin",
                        "--allocator-rt-priority", "--no-standby"})
    EXPECT_NE(r.out.find(f), std::string::npos) << f << "\n" << r.out;
}

TEST(KairosdFlags, BadAllocatorFlagsAreRefused) {
  const long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  const struct {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--poll-us", "0"}, "--poll-us wants a number in 1..1000000"},
      {{"--poll-us", "1000001"}, "--poll-us wants a number"},
      {{"--poll-us", "5us"}, "--poll-us wants a number"},
      {{"--poll-us", ""}, "--poll-us wants a number"},
      {{"--poll-us", "-5"}, "--poll-us wants a number"},
      {{"--allocator-cpu", std::to_string(ncpu)}, "--allocator-cpu wants a number in 0.."},
      {{"--allocator-cpu", "-1"}, "--allocator-cpu wants a number"},
      {{"--allocator-cpu", "x"}, "--allocator-cpu wants a number"},
      {{"--allocator-low-power", "--allocator-spin"}, "exclude each other"},
      {{"--allocator-spin", "--allocator-low-power"}, "exclude each other"},
      {{"--no-allocator=yes"}, "doesn't allow an argument"},
      {{"--allocator-rt-priority", "100"}, "--allocator-rt-priority wants a number in 0..99"},
      {{"--allocator-rt-priority", "-1"}, "--allocator-rt-priority wants a number"},
  };
  for (const auto& c : cases) {
    const Result r = run_kairosd(c.args);
    EXPECT_EQ(r.status, 2) << c.args[0] << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.args[0] << "\n" << r.out;
    // Refused before loading anything (on the host it would say the
    // sched_ext scheduler did not attach; in the VM it would attach).
    EXPECT_EQ(r.out.find("kairosd: sched_ext"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("no backend"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("attached"), std::string::npos) << r.out;
  }
}

}  // namespace

namespace {

// --config: a bad file stops kairosd (status 2) with FILE:LINE before it
// loads anything; the flags are still checked over a good one; the old
// dataplane file is read with a deprecation warning.
TEST(KairosdFlags, ConfigFileIsCheckedBeforeAnything) {
  const std::string dir = ::testing::TempDir();
  const std::string bad = dir + "/kairosd-bad.toml", good = dir + "/kairosd-good.toml";
  FILE* f = std::fopen(bad.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("[daemon]\nscan_interval_ms = 100\n\n[[rule]]\nmatch = \"a/**x\"\nclass = \"be\"\n", f);
  std::fclose(f);
  f = std::fopen(good.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("[daemon]\nscan_interval_ms = 100\n", f);
  std::fclose(f);
  Result r = run_kairosd({"--config", bad});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("kairosd: " + bad + ":5: [[rule]] match 'a/**x': '**' must be a whole"),
            std::string::npos) << r.out;
  r = run_kairosd({"--config", dir + "/absent.toml"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("absent.toml: cannot read the configuration file"), std::string::npos)
      << r.out;
  r = run_kairosd({"--config", good, "--poll-us", "0"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--poll-us wants a number"), std::string::npos) << r.out;
  r = run_kairosd({"--dataplane-config", dir + "/absent.conf"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--dataplane-config is deprecated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cannot read the dataplane config"), std::string::npos) << r.out;
}

}  // namespace
