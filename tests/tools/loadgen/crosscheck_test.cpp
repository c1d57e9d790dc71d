// The load generator checked on real servers, in closed-loop mode, against
// two independent witnesses:
//  - the server's own counters (Redis INFO total_commands_processed,
//    memcached stats cmd_get + cmd_set): the requests it reports completed
//    are exactly the requests the server executed;
//  - an independent client with the same concurrency, operation mix and
//    value size (memslap, redis-benchmark). Rates are timings on a shared,
//    noisy machine, so the test asserts only what a broken rate computation
//    would violate (a factor of 2: a wrong duration or a count of sends
//    instead of replies); the measured ratio is printed, and its current
//    figure lives in docs/benchmarks.md.
// Rounds alternate between the two clients and medians are compared.
//
// Closed-loop throughput at one outstanding request per connection is not
// a property of the server alone: client and server share two CPUs, so it
// also measures how cheaply the client turns a reply into the next request.
// redis-benchmark deletes and re-creates its epoll read/write events around
// every request (four epoll_ctl calls and an extra loop turn), and here
// reaches 0.6-0.85 of this generator's rate while Redis's counters confirm
// this generator's count; so against Redis only the lower bound is checked.
#include "crosscheck_processes.hpp"
#include "stub_servers.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

using namespace loadgen_test;

namespace {

constexpr int kRounds = 5;
constexpr int kConcurrency = 8;  // connections; one client thread on each side
constexpr int kValueSize = 32;
constexpr double kSeconds = 1.5;
// Bounds on (our rate / peer rate) that only a measurement bug breaks.
constexpr double kGrossFactorLow = 0.5;
constexpr double kGrossFactorHigh = 2.0;
// In the AddressSanitizer tree this generator is instrumented and its
// peers are not, so it runs 2-4x slower per request by construction: the
// rate bounds are checked in the plain build, the server's counts in both.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRatesComparable = false;
#else
constexpr bool kRatesComparable = true;
#endif

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Ours {
  double rate = 0;
  std::uint64_t completed = 0;
};

// kairos-loadgen, closed loop, no warm-up (the keys are filled before).
Ours loadgen(const std::string& protocol, std::uint16_t port, double get_ratio, int key_size) {
  char cmd[512];
  std::snprintf(cmd, sizeof cmd,
                "%s -P %s -s 127.0.0.1:%u -m closed -c %d -t 1 --depth 1 -d %.1f "
                "--get-ratio %.2f --keys 10000 --key-size %d --value-size %d --no-warmup "
                "--progress off -q --json -",
                KAIROS_LOADGEN_BIN, protocol.c_str(), port, kConcurrency, kSeconds, get_ratio,
                key_size, kValueSize);
  int rc;
  const std::string out = run_command(cmd, rc);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  const auto brace = out.find('{');
  if (brace == std::string::npos) {
    ADD_FAILURE() << "no JSON from " << cmd << "\n" << out;
    return {};
  }
  const auto j = nlohmann::json::parse(out.substr(brace));
  const auto& c = j["counters"];
  EXPECT_EQ(c["error_replies"].get<int>() + c["timeouts"].get<int>() + c["failed"].get<int>() +
                c["not_sent"].get<int>() + c["unanswered"].get<int>(),
            0)
      << out;
  return {j["achieved_rate"].get<double>(), c["completed"].get<std::uint64_t>()};
}

void fill(const std::string& protocol, std::uint16_t port, int key_size) {
  char cmd[512];
  std::snprintf(cmd, sizeof cmd,
                "%s -P %s -s 127.0.0.1:%u -m closed -c 1 -d 0.01 --keys 10000 --key-size %d "
                "--value-size %d --progress off -q",
                KAIROS_LOADGEN_BIN, protocol.c_str(), port, key_size, kValueSize);
  int rc;
  const std::string out = run_command(cmd, rc);
  ASSERT_EQ(rc, 0) << out;
}

std::uint64_t redis_commands(std::uint16_t port) {
  int rc;
  const std::string out =
      run_command("redis-cli -h 127.0.0.1 -p " + std::to_string(port) + " info stats", rc);
  std::smatch m;
  if (rc != 0 || !std::regex_search(out, m, std::regex("total_commands_processed:([0-9]+)"))) {
    ADD_FAILURE() << "no total_commands_processed in INFO:\n" << out;
    return 0;
  }
  return std::stoull(m[1]);
}

std::uint64_t memcached_commands(std::uint16_t port) {
  const std::string out = tcp_query(port, "stats\r\n", "END\r\n");
  std::smatch g, s;
  if (!std::regex_search(out, g, std::regex("STAT cmd_get ([0-9]+)")) ||
      !std::regex_search(out, s, std::regex("STAT cmd_set ([0-9]+)"))) {
    ADD_FAILURE() << "no cmd_get/cmd_set in stats:\n" << out;
    return 0;
  }
  return std::stoull(g[1]) + std::stoull(s[1]);
}

double redis_benchmark_rate(std::uint16_t port) {
  // GETs of 10000 random keys "key:%012d" (16 characters, like ours).
  char cmd[512];
  std::snprintf(cmd, sizeof cmd,
                "redis-benchmark -h 127.0.0.1 -p %u -c %d -n 100000 -t get -d %d -r 10000 "
                "-P 1 --csv",
                port, kConcurrency, kValueSize);
  int rc;
  const std::string out = run_command(cmd, rc);
  EXPECT_EQ(rc, 0) << out;
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("\"GET\",\"([0-9.]+)\""))) {
    ADD_FAILURE() << "no GET line in redis-benchmark output:\n" << out;
    return 0;
  }
  return std::stod(m[1]);
}

double memaslap_rate(std::uint16_t port) {
  // Its default mix: 90% get, 10% set; keys of 64 bytes; one thread.
  char cmd[512];
  std::snprintf(cmd, sizeof cmd, "memcaslap -s 127.0.0.1:%u -T 1 -c %d -t 2s -X %d", port,
                kConcurrency, kValueSize);
  int rc;
  const std::string out = run_command(cmd, rc);
  EXPECT_EQ(rc, 0) << out;
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("TPS: ([0-9]+)"))) {
    ADD_FAILURE() << "no TPS in memaslap output:\n" << out;
    return 0;
  }
  return std::stod(m[1]);
}

double report(const char* what, const std::vector<double>& ours,
              const std::vector<double>& theirs) {
  std::string line = std::string(what) + " rounds (kairos-loadgen / peer):";
  for (std::size_t i = 0; i < ours.size(); i++)
    line += " " + std::to_string(static_cast<long>(ours[i])) + "/" +
            std::to_string(static_cast<long>(theirs[i]));
  const double ratio = median(ours) / median(theirs);
  std::printf("%s\n%s medians: %.0f vs %.0f requests/s, ratio %.3f\n", line.c_str(), what,
              median(ours), median(theirs), ratio);
  return ratio;
}

}  // namespace

TEST(CrossCheck, RedisCountsAndRateAgainstRedisBenchmark) {
  for (const char* tool : {"redis-server", "redis-benchmark", "redis-cli"})
    ASSERT_TRUE(in_path(tool)) << tool << " is missing (package redis-server / redis-tools)";
  const std::uint16_t port = unused_port();
  Server server({"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--save",
                 "", "--appendonly", "no"});
  ASSERT_TRUE(server.wait_listening(port, 10)) << "redis-server did not start";
  int rc;
  const std::string fill_rb = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(port) +
                              " -c 8 -n 100000 -t set -d " + std::to_string(kValueSize) +
                              " -r 10000 -q";
  run_command(fill_rb, rc);
  ASSERT_EQ(rc, 0);
  fill("redis", port, 16);
  std::vector<double> ours, theirs;
  for (int i = 0; i < kRounds; i++) {
    if (i % 2) theirs.push_back(redis_benchmark_rate(port));
    const std::uint64_t before = redis_commands(port);
    const Ours o = loadgen("redis", port, 1.0, 16);
    const std::uint64_t after = redis_commands(port);
    // The server also counted the first INFO.
    EXPECT_EQ(after - before, o.completed + 1) << "round " << i;
    ours.push_back(o.rate);
    if (i % 2 == 0) theirs.push_back(redis_benchmark_rate(port));
  }
  const double ratio = report("redis GET", ours, theirs);
  if (kRatesComparable) {
    EXPECT_GT(ratio, kGrossFactorLow);
  }
  EXPECT_TRUE(server.alive());
}

TEST(CrossCheck, MemcachedCountsAndRateAgainstMemslap) {
  for (const char* tool : {"memcached", "memcaslap"})
    ASSERT_TRUE(in_path(tool)) << tool << " is missing (package memcached / libmemcached-tools)";
  const std::uint16_t port = unused_port();
  Server server({"memcached", "-u", "nobody", "-l", "127.0.0.1", "-p", std::to_string(port), "-U",
                 "0", "-t", "1", "-m", "256"});
  ASSERT_TRUE(server.wait_listening(port, 10)) << "memcached did not start";
  fill("memcached", port, 64);
  std::vector<double> ours, theirs;
  for (int i = 0; i < kRounds; i++) {
    if (i % 2) theirs.push_back(memaslap_rate(port));
    const std::uint64_t before = memcached_commands(port);
    const Ours o = loadgen("memcached", port, 0.9, 64);
    const std::uint64_t after = memcached_commands(port);
    EXPECT_EQ(after - before, o.completed) << "round " << i;
    ours.push_back(o.rate);
    if (i % 2 == 0) theirs.push_back(memaslap_rate(port));
  }
  const double ratio = report("memcached 90% get", ours, theirs);
  if (kRatesComparable) {
    EXPECT_GT(ratio, kGrossFactorLow);
    EXPECT_LT(ratio, kGrossFactorHigh);
  }
  EXPECT_TRUE(server.alive());
}
