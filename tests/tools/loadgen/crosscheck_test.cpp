// The load generator checked against independent clients on real servers:
// in closed-loop mode, with the same concurrency, operation mix and value
// size, its throughput must agree with redis-benchmark (against
// redis-server) and memslap (libmemcached-tools' memaslap, against
// memcached) within 10%. Rounds alternate between the two clients and the
// medians are compared, because this machine is shared and noisy.
#include "child_process.hpp"
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
constexpr int kConcurrency = 8;  // connections; one client thread each side
constexpr int kValueSize = 32;
constexpr double kSeconds = 1.5;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// kairos-loadgen, closed loop; returns completed requests per second.
double loadgen_rate(const std::string& protocol, std::uint16_t port, double get_ratio,
                    int key_size) {
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
  const auto j = nlohmann::json::parse(out.substr(out.find('{')));
  const auto& c = j["counters"];
  EXPECT_EQ(c["error_replies"].get<int>() + c["timeouts"].get<int>() + c["failed"].get<int>() +
                c["not_sent"].get<int>(),
            0)
      << out;
  return j["achieved_rate"].get<double>();
}

// Fills the keyspace once, as both clients' get tests expect.
void warm(const std::string& protocol, std::uint16_t port, int key_size) {
  char cmd[512];
  std::snprintf(cmd, sizeof cmd,
                "%s -P %s -s 127.0.0.1:%u -m closed -c 1 -d 0.01 --keys 10000 --key-size %d "
                "--value-size %d --progress off -q",
                KAIROS_LOADGEN_BIN, protocol.c_str(), port, key_size, kValueSize);
  int rc;
  const std::string out = run_command(cmd, rc);
  ASSERT_EQ(rc, 0) << out;
}

double redis_benchmark_rate(std::uint16_t port) {
  // GETs of 10000 random keys "key:%012d" (16 characters), all set before.
  const int n = 70000;
  char cmd[512];
  std::snprintf(cmd, sizeof cmd,
                "redis-benchmark -h 127.0.0.1 -p %u -c %d -n %d -t get -d %d -r 10000 -P 1 "
                "--threads 1 --csv",
                port, kConcurrency, n, kValueSize);
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
  // Default mix: 90% get, 10% set; keys of 64 bytes; one thread.
  char cmd[512];
  std::snprintf(cmd, sizeof cmd, "memcaslap -s 127.0.0.1:%u -T 1 -c %d -t %.0fs -X %d", port,
                kConcurrency, kSeconds + 0.5, kValueSize);
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

void report(const char* what, const std::vector<double>& ours, const std::vector<double>& theirs) {
  std::string line = std::string(what) + " rounds (kairos-loadgen / peer):";
  for (std::size_t i = 0; i < ours.size(); i++)
    line += " " + std::to_string(static_cast<int>(ours[i])) + "/" +
            std::to_string(static_cast<int>(theirs[i]));
  std::printf("%s\n%s medians: %.0f vs %.0f requests/s, ratio %.3f\n", line.c_str(), what,
              median(ours), median(theirs), median(ours) / median(theirs));
}

}  // namespace

TEST(CrossCheck, ClosedLoopThroughputMatchesRedisBenchmark) {
  for (const char* tool : {"redis-server", "redis-benchmark"})
    ASSERT_TRUE(in_path(tool)) << tool << " is missing (package redis-server / redis-tools)";
  const std::uint16_t port = unused_port();
  Server server({"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--save",
                 "", "--appendonly", "no"});
  ASSERT_TRUE(server.wait_listening(port, 10)) << "redis-server did not start";
  // redis-benchmark's keys are "key:" and 12 digits; ours the same length.
  // Both read keys that hold 32-byte values.
  int rc;
  char fill[256];
  std::snprintf(fill, sizeof fill,
                "redis-benchmark -h 127.0.0.1 -p %u -c %d -n 100000 -t set -d %d -r 10000 -q",
                port, kConcurrency, kValueSize);
  run_command(fill, rc);
  ASSERT_EQ(rc, 0);
  warm("redis", port, 16);
  std::vector<double> ours, theirs;
  for (int i = 0; i < kRounds; i++) {
    if (i % 2 == 0) {
      ours.push_back(loadgen_rate("redis", port, 1.0, 16));
      theirs.push_back(redis_benchmark_rate(port));
    } else {
      theirs.push_back(redis_benchmark_rate(port));
      ours.push_back(loadgen_rate("redis", port, 1.0, 16));
    }
  }
  report("redis GET", ours, theirs);
  const double ratio = median(ours) / median(theirs);
  EXPECT_GT(ratio, 0.9);
  EXPECT_LT(ratio, 1.1);
  EXPECT_TRUE(server.alive());
}

TEST(CrossCheck, ClosedLoopThroughputMatchesMemslap) {
  for (const char* tool : {"memcached", "memcaslap"})
    ASSERT_TRUE(in_path(tool)) << tool << " is missing (package memcached / libmemcached-tools)";
  const std::uint16_t port = unused_port();
  Server server({"memcached", "-u", "nobody", "-l", "127.0.0.1", "-p", std::to_string(port), "-U",
                 "0", "-t", "1", "-m", "256"});
  ASSERT_TRUE(server.wait_listening(port, 10)) << "memcached did not start";
  warm("memcached", port, 64);
  std::vector<double> ours, theirs;
  for (int i = 0; i < kRounds; i++) {
    if (i % 2 == 0) {
      ours.push_back(loadgen_rate("memcached", port, 0.9, 64));
      theirs.push_back(memaslap_rate(port));
    } else {
      theirs.push_back(memaslap_rate(port));
      ours.push_back(loadgen_rate("memcached", port, 0.9, 64));
    }
  }
  report("memcached 90% get", ours, theirs);
  const double ratio = median(ours) / median(theirs);
  EXPECT_GT(ratio, 0.9);
  EXPECT_LT(ratio, 1.1);
  EXPECT_TRUE(server.alive());
}
