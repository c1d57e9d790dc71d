// kairosd's command line parsed in-process (kairosd/options.*): every
// option lands where main() reads it, and bad input is refused with the
// sentence kairosd prints (kairosd_flags_test checks the binary).
#include "options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using kairos::parse_kairosd_args;
using Action = kairos::ParsedKairosdArgs::Action;

TEST(KairosdOptions, NoArgumentsGivesTheDefaults) {
  const auto p = parse_kairosd_args({}, 4);
  ASSERT_EQ(p.action, Action::kRun) << p.error;
  const kairos::DaemonOptions defaults;
  EXPECT_EQ(p.cmd.scan_ms, 200);
  EXPECT_EQ(p.cmd.stats_ms, 0);
  EXPECT_EQ(p.cmd.fault_ms, -1);
  EXPECT_EQ(p.cmd.dataplane_config, "");
  EXPECT_EQ(p.cmd.daemon.cgroup_root, defaults.cgroup_root);
  EXPECT_EQ(p.cmd.daemon.backend, kairos::Backend::automatic);
  EXPECT_TRUE(p.cmd.daemon.watch_cgroups);
  EXPECT_TRUE(p.cmd.daemon.allocator.enabled);
  EXPECT_EQ(p.cmd.daemon.allocator.power, kairos::AllocatorOptions::Power::kAuto);
}

TEST(KairosdOptions, EveryOptionLandsInItsField) {
  const auto p = parse_kairosd_args(
      {"--slice-us", "3000", "--lc-slice-us=400", "--scan-interval-ms", "50",
       "--stats-interval-ms", "1000", "--cgroup-root", "/tmp/cg", "--status-file", "/tmp/st",
       "--dataplane-config", "/etc/dp.conf", "--backend", "kmod", "--rescan-interval-ms",
       "500", "--no-cgroup-watch", "--kairos-dev", "/dev/null", "--test-fault-after-ms", "7",
       "--poll-us", "20", "--allocator-cpu", "3", "--allocator-spin",
       "--allocator-rt-priority", "5"},
      4);
  ASSERT_EQ(p.action, Action::kRun) << p.error;
  const auto& d = p.cmd.daemon;
  EXPECT_EQ(d.sched.tunables.be_slice_ns, 3'000'000u);
  EXPECT_EQ(d.sched.tunables.lc_slice_ns, 400'000u);
  EXPECT_EQ(p.cmd.scan_ms, 50);
  EXPECT_EQ(p.cmd.stats_ms, 1000);
  EXPECT_EQ(d.cgroup_root, "/tmp/cg");
  EXPECT_EQ(d.status_path, "/tmp/st");
  EXPECT_EQ(p.cmd.dataplane_config, "/etc/dp.conf");
  EXPECT_EQ(d.backend, kairos::Backend::kmod);
  EXPECT_EQ(d.rescan_interval_ms, 500u);
  EXPECT_FALSE(d.watch_cgroups);
  EXPECT_EQ(d.kairos_dev, "/dev/null");
  EXPECT_EQ(p.cmd.fault_ms, 7);
  EXPECT_EQ(d.allocator.poll_ns, 20'000u);
  EXPECT_EQ(d.allocator.cpu, 3u);
  EXPECT_EQ(d.allocator.power, kairos::AllocatorOptions::Power::kSpin);
  EXPECT_EQ(d.allocator.rt_priority, 5);
  EXPECT_TRUE(d.allocator.enabled);

  const auto q = parse_kairosd_args({"--no-allocator", "--allocator-low-power"}, 4);
  ASSERT_EQ(q.action, Action::kRun) << q.error;
  EXPECT_FALSE(q.cmd.daemon.allocator.enabled);
  EXPECT_EQ(q.cmd.daemon.allocator.power, kairos::AllocatorOptions::Power::kLowPower);
  EXPECT_TRUE(q.cmd.daemon.allocator.standby) << "a standby core by default";

  const auto r = parse_kairosd_args({"--no-standby"}, 4);
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  EXPECT_FALSE(r.cmd.daemon.allocator.standby);
}

TEST(KairosdOptions, AnOptionGivenTwiceTakesTheLastValue) {
  const auto p = parse_kairosd_args({"--scan-interval-ms", "50", "--status-file", "/a",
                                     "--scan-interval-ms", "20", "--status-file", "/b",
                                     "--no-allocator", "--no-allocator"},
                                    4);
  ASSERT_EQ(p.action, Action::kRun) << p.error;
  EXPECT_EQ(p.cmd.scan_ms, 20);
  EXPECT_EQ(p.cmd.daemon.status_path, "/b");
  EXPECT_FALSE(p.cmd.daemon.allocator.enabled);
}

TEST(KairosdOptions, HelpIsAskedFor) {
  EXPECT_EQ(parse_kairosd_args({"--help"}, 4).action, Action::kHelp);
  EXPECT_EQ(parse_kairosd_args({"-h"}, 4).action, Action::kHelp);
  EXPECT_NE(kairos::kairosd_usage().find("--allocator-rt-priority"), std::string::npos);
}

TEST(KairosdOptions, BadInputIsRefusedWithTheReason) {
  const struct {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--poll-us", "0"}, "--poll-us wants a number in 1..1000000, got '0'"},
      {{"--poll-us", "5us"}, "--poll-us wants a number in 1..1000000, got '5us'"},
      {{"--poll-us", ""}, "--poll-us wants a number"},
      {{"--poll-us", "-5"}, "--poll-us wants a number"},
      {{"--allocator-cpu", "4"}, "--allocator-cpu wants a number in 0..3, got '4'"},
      {{"--slice-us", "49"}, "--slice-us wants a number in 50..100000"},
      {{"--lc-slice-us", "100001"}, "--lc-slice-us wants a number in 50..100000"},
      {{"--scan-interval-ms", "9"}, "--scan-interval-ms wants a number in 10..10000"},
      {{"--rescan-interval-ms", "99"}, "--rescan-interval-ms wants a number in 100..3600000"},
      {{"--allocator-rt-priority", "100"}, "--allocator-rt-priority wants a number in 0..99"},
      {{"--backend", "bpf"}, "--backend wants auto, sched_ext or kmod, got 'bpf'"},
      {{"--allocator-spin", "--allocator-low-power"}, "exclude each other"},
      {{"--no-allocator=yes"}, "option '--no-allocator' doesn't allow an argument"},
      {{"--no-standby=1"}, "option '--no-standby' doesn't allow an argument"},
      {{"--no-such-flag"}, "unrecognized option '--no-such-flag'"},
      {{"stray"}, "unexpected argument 'stray'"},
  };
  for (const auto& c : cases) {
    const auto p = parse_kairosd_args(c.args, 4);
    EXPECT_EQ(p.action, Action::kError) << c.args[0];
    EXPECT_NE(p.error.find(c.says), std::string::npos) << c.args[0] << ": " << p.error;
  }
}

}  // namespace
