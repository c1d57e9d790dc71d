// The simulator: flag validation and the shapes it must reproduce. Runs are
// short (tens of simulated ms) so the whole file takes a few seconds.
#include "sim_config.hpp"
#include "simulator.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kairos::sim {
namespace {

std::optional<std::string> parse(std::vector<std::string> args,
                                 SimConfig* out = nullptr) {
  std::vector<const char*> argv{"kairos-sim"};
  for (auto& a : args) argv.push_back(a.c_str());
  SimConfig cfg;
  bool help = false;
  auto err = parse_args(static_cast<int>(argv.size()), argv.data(), cfg, &help);
  if (out) *out = cfg;
  return err;
}

void expect_error(std::vector<std::string> args, const std::string& needle) {
  auto err = parse(args);
  ASSERT_TRUE(err.has_value()) << "accepted: " << args[0] << " " << args[1];
  EXPECT_NE(err->find(needle), std::string::npos) << *err;
}

TEST(SimFlags, Durations) {
  EXPECT_EQ(parse_duration("500ns"), 500u);
  EXPECT_EQ(parse_duration("5us"), 5000u);
  EXPECT_EQ(parse_duration("1.5us"), 1500u);
  EXPECT_EQ(parse_duration("100ms"), 100'000'000u);
  EXPECT_EQ(parse_duration("2s"), 2'000'000'000u);
  EXPECT_EQ(parse_duration("42"), 42u);
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("us"));
  EXPECT_FALSE(parse_duration("-5us"));
  EXPECT_FALSE(parse_duration("5 us"));
  EXPECT_FALSE(parse_duration("5min"));
}

TEST(SimFlags, ValidFlagsAreTakenAsGiven) {
  SimConfig c;
  ASSERT_FALSE(parse({"--cores", "64", "--load", "0.2,0.8", "--service",
                      "bimodal:0.9:5us:55us", "--interval", "100ms",
                      "--queues", "single", "--guaranteed", "2", "--burstable",
                      "6", "--seed", "7", "--smt", "off", "--be", "off"},
                     &c));
  EXPECT_EQ(c.cores, 64u);
  EXPECT_EQ(c.loads, (std::vector<double>{0.2, 0.8}));
  EXPECT_EQ(c.service.kind, ServiceSpec::Kind::kBimodal);
  EXPECT_DOUBLE_EQ(c.service.mean_ns(), 0.9 * 5000 + 0.1 * 55000);
  EXPECT_EQ(c.interval_ns, 100'000'000u);
  EXPECT_EQ(c.queues, Queues::kSingle);
  EXPECT_EQ(c.guaranteed, 2u);
  EXPECT_EQ(*c.burstable, 6u);
  EXPECT_EQ(c.seed, 7u);
  EXPECT_FALSE(c.smt);
  EXPECT_FALSE(c.be);
  ASSERT_FALSE(parse({"--cores", "8"}, &c));
  EXPECT_EQ(*c.burstable, 8u);     // default: every core may be burst into
  EXPECT_EQ(c.static_cores, 8u);
}

TEST(SimFlags, BadValuesAreRejectedWithTheFlagNamed) {
  expect_error({"--cores", "0"}, "--cores must be an integer in 1..256");
  expect_error({"--cores", "257"}, "--cores");
  expect_error({"--cores", "12x"}, "--cores");
  expect_error({"--load", "1.0"}, "--load values must be numbers in (0, 1)");
  expect_error({"--load", "0"}, "--load");
  expect_error({"--load", "0.5,abc"}, "'abc'");
  expect_error({"--service", "gauss:5us"}, "--service 'gauss:5us': unknown form");
  expect_error({"--service", "exp:0us"}, "positive");
  expect_error({"--service", "bimodal:1.5:1us:2us"}, "P must be in (0, 1)");
  expect_error({"--service", "bimodal:0.5:1us"}, "unknown form");
  expect_error({"--mode", "dynamic"}, "--mode must be policy or static");
  expect_error({"--queues", "many"}, "--queues must be single");
  expect_error({"--interval", "10ns"}, "--interval must be between");
  expect_error({"--interval", "fast"}, "--interval must be a duration");
  expect_error({"--park-spin", "-1us"}, "--park-spin");
  expect_error({"--duration", "0"}, "--duration must be between");
  expect_error({"--warmup", "1s"}, "--warmup must be shorter than --duration");
  expect_error({"--static-cores", "32"}, "exceeds --cores");
  expect_error({"--apps", "0"}, "--apps");
  expect_error({"--apps", "17"}, "--apps");
  expect_error({"--guaranteed", "9", "--apps", "2"}, "--guaranteed x --apps");
  expect_error({"--guaranteed", "10", "--burstable", "10"}, "exceeds --cores");
  expect_error({"--guaranteed", "0", "--burstable", "0"}, "at least 1");
  expect_error({"--grants-per-poll", "0"}, "--grants-per-poll");
  expect_error({"--smt", "yes"}, "--smt must be on or off");
  expect_error({"--be", "1"}, "--be must be on or off");
  expect_error({"--seed", "-3"}, "--seed");
  expect_error({"--label", "a,b"}, "--label");
  expect_error({"--mode", "static", "--apps", "2"}, "one app");
  expect_error({"--app-kind", "legacy"}, "--app-kind must be runtime or unmodified");
  expect_error({"--app-kind", "unmodified", "--queues", "stealing"},
               "only --queues single");
  expect_error({"--frobnicate", "1"}, "unknown flag '--frobnicate'");
  expect_error({"--cores"}, "--cores needs a value");
  expect_error({"16"}, "unexpected argument '16'");
}

SimConfig small(std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--cores", "16", "--duration", "40ms",
                                "--warmup", "5ms"};
  args.insert(args.end(), extra.begin(), extra.end());
  SimConfig c;
  auto err = parse(args, &c);
  EXPECT_FALSE(err) << *err;
  return c;
}

TEST(Sim, SameSeedSameResult) {
  const SimConfig c = small();
  EXPECT_EQ(csv_row(c, simulate(c, 0.6)), csv_row(c, simulate(c, 0.6)));
  SimConfig d = c;
  d.seed = 2;
  EXPECT_NE(csv_row(c, simulate(c, 0.6)), csv_row(d, simulate(d, 0.6)));
}

TEST(Sim, StaticPartitionEfficiencyIsTheLoad) {
  const SimConfig c = small({"--mode", "static"});
  for (double load : {0.3, 0.7}) {
    const SimResult r = simulate(c, load);
    EXPECT_NEAR(r.granted_cores, 16.0, 1e-6);
    EXPECT_NEAR(r.efficiency, load, 0.03);
    EXPECT_GT(r.completed, 10000u);
    EXPECT_GE(r.mean_us, 9.0);  // at least the 10 us mean service
  }
}

TEST(Sim, SingleQueueTailBeatsPartitionedQueues) {
  // ZygOS: n x M/G/1 has a much worse tail than M/G/n; stealing recovers it.
  const auto single = simulate(small({"--mode", "static", "--queues", "single"}), 0.7);
  const auto part = simulate(small({"--mode", "static", "--queues", "partitioned"}), 0.7);
  const auto steal = simulate(small({"--mode", "static", "--queues", "stealing"}), 0.7);
  EXPECT_GT(part.p99_us, 2.0 * single.p99_us);
  EXPECT_LT(steal.p99_us, 1.3 * single.p99_us);
}

TEST(Sim, FastAllocatorIsEfficientAndKeepsTheTail) {
  const SimConfig c = small();
  const auto r = simulate(c, 0.5);
  const auto st = simulate(small({"--mode", "static"}), 0.5);
  EXPECT_GT(r.efficiency, 0.85);
  EXPECT_GT(r.efficiency, st.efficiency + 0.3);
  EXPECT_LT(r.p999_us, 15 * 10.0);
  EXPECT_GT(r.grants, 100u);
  EXPECT_LT(r.granted_cores, 12.0);  // follows the load, not all 16 cores
}

TEST(Sim, SlowAllocatorWithEagerParkingLosesTheTail) {
  const auto fast = simulate(small(), 0.5);
  const auto slow = simulate(small({"--interval", "10ms"}), 0.5);
  EXPECT_GT(slow.p99_us, 10 * fast.p99_us);
}

TEST(Sim, UnmodifiedAppsFollowTheLoadThroughTheBpfQueue) {
  // No kthread lines: grants come from the BPF-side queue stat, cores go
  // back after two idle polls.
  const auto r = simulate(small({"--app-kind", "unmodified"}), 0.5);
  EXPECT_GT(r.efficiency, 0.85);
  EXPECT_LT(r.granted_cores, 12.0);
  EXPECT_GT(r.grants, 100u);
  EXPECT_GT(r.revokes, 100u);
  EXPECT_LT(r.p999_us, 15 * 10.0);
}

TEST(Sim, BurstableLimitCapsGrantedCores) {
  const auto r = simulate(small({"--burstable", "4"}), 0.5);  // needs ~8
  EXPECT_LE(r.granted_cores, 4.0 + 1e-6);
  EXPECT_GT(r.granted_cores, 3.0);
}

TEST(Sim, TwoAppsShareTheMachine) {
  const auto r = simulate(small({"--apps", "2", "--guaranteed", "2"}), 0.5);
  EXPECT_GT(r.efficiency, 0.8);
  EXPECT_GT(r.completed, 10000u);
  EXPECT_LT(r.pending, 100u);
}

TEST(Sim, OtherServiceDistributionsRun) {
  for (const char* s : {"const:10us", "bimodal:0.9:5us:55us"}) {
    const auto r = simulate(small({"--service", s}), 0.5);
    EXPECT_GT(r.completed, 10000u) << s;
    EXPECT_GE(r.p50_us, 5.0) << s;
  }
}

TEST(Sim, LargestMachineWorks) {
  SimConfig c;
  ASSERT_FALSE(parse({"--cores", "256", "--duration", "6ms", "--warmup", "1ms"}, &c));
  const auto r = simulate(c, 0.5);
  EXPECT_GT(r.completed, 50000u);
  EXPECT_GT(r.efficiency, 0.85);
  EXPECT_GT(r.granted_cores, 100.0);
  EXPECT_LT(r.granted_cores, 180.0);
}

TEST(Sim, OneCoreMachineWorks) {
  SimConfig c;
  ASSERT_FALSE(parse({"--cores", "1", "--duration", "50ms", "--warmup", "5ms"}, &c));
  const auto r = simulate(c, 0.5);
  EXPECT_GT(r.completed, 1000u);
  EXPECT_LE(r.granted_cores, 1.0 + 1e-6);
}

}  // namespace
}  // namespace kairos::sim
