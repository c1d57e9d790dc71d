// The engine against servers that misbehave on purpose: the latency of an
// open-loop run must show a server stall (no coordinated omission), and
// resets, malformed replies, silence and a server that is not there must
// end in counted failures or a clear error, within bounded time.
#include "engine.hpp"
#include "stub_servers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

using namespace kairos::loadgen;
using loadgen_test::TcpStub;
using loadgen_test::TcpStubOptions;
using loadgen_test::UdpStub;

namespace {

Config base(Protocol p, std::uint16_t port) {
  Config c;
  c.protocol = p;
  c.port = port;
  c.rate = 2000;
  c.duration_s = 1.0;
  c.connections = 4;
  c.threads = 2;
  c.keys = 100;
  c.timeout_s = 1.0;
  c.drain_s = 0.5;
  c.connect_timeout_s = 0.5;
  c.warmup = false;
  c.progress = Progress::Off;
  return c;
}

double us(std::uint64_t ns) { return ns / 1000.0; }

std::string describe(const RunResult& r) {
  const Counters& c = r.counters;
  return "scheduled " + std::to_string(c.scheduled) + " completed " + std::to_string(c.completed) +
         " errors " + std::to_string(c.error_replies) + " timeouts " + std::to_string(c.timeouts) +
         " failed " + std::to_string(c.failed) + " unanswered " + std::to_string(c.unanswered) +
         " not_sent " + std::to_string(c.not_sent) + " malformed " + std::to_string(c.malformed) +
         " conn_failures " + std::to_string(c.conn_failures) + " p99 " +
         std::to_string(us(r.latency.percentile(99))) + " us";
}

// Wall time of run(), to check every run ends by duration + drain.
RunResult timed_run(const Config& c, double& seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r = run(c);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

TEST(Engine, HealthyServerAnswersEverything) {
  TcpStub stub({});
  Config c = base(Protocol::Memcached, stub.port());
  c.warmup = true;
  const RunResult r = run(c);
  EXPECT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_EQ(r.counters.completed, r.counters.scheduled) << describe(r);
  EXPECT_GT(r.counters.hits, 0u);
  EXPECT_GT(r.counters.stored, 0u);
  EXPECT_EQ(r.warmup.stored, c.keys);
  EXPECT_EQ(r.latency.count(), r.counters.completed);
  // Poisson at 2000/s for 1 s: 2000 +- a few standard deviations (45).
  EXPECT_NEAR(static_cast<double>(r.counters.scheduled), 2000, 250);
}

// The server stops for 300 ms in the middle of a 1.5 s run at 2000/s. About
// 600 requests arrive during the stall and wait for its end, the first ones
// nearly 300 ms: they are 20% of the run, so p99 (and even p90) must show
// the stall. A generator that timed from the actual send, or held requests
// back while the server was stuck, would report microseconds.
TEST(Engine, OpenLoopLatencyIncludesAServerStall) {
  TcpStubOptions o;
  o.stall_after_ms = 500;
  o.stall_ms = 300;
  TcpStub stub(o);
  Config c = base(Protocol::Memcached, stub.port());
  c.duration_s = 1.5;
  c.get_ratio = 1.0;
  const RunResult r = run(c);
  ASSERT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_EQ(r.counters.completed, r.counters.scheduled) << describe(r);
  EXPECT_GE(us(r.latency.percentile(99)), 250'000) << describe(r);
  EXPECT_GE(us(r.latency.percentile(90)), 100'000) << describe(r);
  EXPECT_GE(us(r.latency.max()), 280'000) << describe(r);
  std::printf("%s\n", describe(r).c_str());
  // Most requests did not meet the stall.
  EXPECT_LT(us(r.latency.percentile(50)), 100'000) << describe(r);
}

// The same stall seen by a closed loop, which stops sending while its few
// requests wait: only those record the stall, and its p99 stays far below
// it. This is the omission the open loop avoids (and shows that the stall
// test above can tell the two apart).
TEST(Engine, ClosedLoopHidesTheSameStall) {
  TcpStubOptions o;
  o.stall_after_ms = 500;
  o.stall_ms = 300;
  TcpStub stub(o);
  Config c = base(Protocol::Memcached, stub.port());
  c.mode = Mode::Closed;
  c.duration_s = 1.5;
  c.get_ratio = 1.0;
  const RunResult r = run(c);
  ASSERT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_GE(us(r.latency.max()), 250'000) << describe(r);
  EXPECT_LT(us(r.latency.percentile(99)), 50'000) << describe(r);
}

// Arrivals do not pause while the server is stuck: the offered rate stays
// the target rate and every request queued during the stall is sent.
TEST(Engine, OpenLoopKeepsOfferingDuringAStall) {
  TcpStubOptions o;
  o.stall_after_ms = 300;
  o.stall_ms = 400;
  TcpStub stub(o);
  Config c = base(Protocol::Memcached, stub.port());
  c.get_ratio = 1.0;
  const RunResult r = run(c);
  ASSERT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_NEAR(r.offered_rate(), 2000, 250) << describe(r);
  EXPECT_EQ(r.counters.not_sent, 0u) << describe(r);
  EXPECT_EQ(r.counters.completed, r.counters.scheduled) << describe(r);
}

TEST(Engine, ServerDownIsAClearError) {
  Config c = base(Protocol::Redis, loadgen_test::unused_port());
  try {
    run(c);
    FAIL() << "run() against a closed port returned";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cannot connect"), std::string::npos) << m;
    EXPECT_NE(m.find("Connection refused"), std::string::npos) << m;
  }
}

TEST(Engine, ResetsMidRunAreCountedAndReconnected) {
  TcpStubOptions o;
  o.reset_after = 40;
  TcpStub stub(o);
  Config c = base(Protocol::Memcached, stub.port());
  c.reconnect_s = 0.01;
  double secs;
  const RunResult r = timed_run(c, secs);
  EXPECT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_GT(stub.resets(), 10u);
  EXPECT_GE(r.counters.conn_failures, stub.resets() - 4) << describe(r);
  EXPECT_GT(r.counters.connects, 10u) << describe(r);
  EXPECT_GT(r.counters.completed, r.counters.scheduled / 2) << describe(r);
  EXPECT_LT(secs, c.duration_s + c.drain_s + 1.0);
  bool named = false;
  for (const auto& e : r.errors) named |= e.find("reset") != std::string::npos ||
                                          e.find("closed the connection") != std::string::npos;
  EXPECT_TRUE(named) << "errors do not name the resets";
}

// The server goes away for good mid-run: its connections close, every
// reconnect is refused, and the arrivals after that are counted not_sent.
TEST(Engine, ServerExitingMidRunIsCounted) {
  auto stub = std::make_unique<TcpStub>(TcpStubOptions{});
  Config c = base(Protocol::Memcached, stub->port());
  c.reconnect_s = 0.02;
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    stub.reset();
  });
  double secs;
  const RunResult r = timed_run(c, secs);
  killer.join();
  EXPECT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_GT(r.counters.completed, 0u) << describe(r);
  EXPECT_GT(r.counters.not_sent, r.counters.scheduled / 4) << describe(r);
  EXPECT_GT(r.counters.conn_failures, 4u) << describe(r);
  EXPECT_LT(secs, c.duration_s + c.drain_s + 1.0);
  bool refused = false;
  for (const auto& e : r.errors) refused |= e.find("Connection refused") != std::string::npos;
  EXPECT_TRUE(refused) << "no 'Connection refused' among the errors";
}

TEST(Engine, MalformedRepliesAreCounted) {
  TcpStubOptions o;
  o.garbage = true;
  TcpStub stub(o);
  Config c = base(Protocol::Memcached, stub.port());
  c.reconnect_s = 0.01;
  double secs;
  const RunResult r = timed_run(c, secs);
  EXPECT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_EQ(r.counters.completed, 0u);
  EXPECT_GT(r.counters.malformed, 0u);
  EXPECT_GT(r.counters.failed + r.counters.not_sent, r.counters.scheduled / 2) << describe(r);
  EXPECT_LT(secs, c.duration_s + c.drain_s + 1.0);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors.front().find("malformed reply"), std::string::npos) << r.errors.front();
}

TEST(Engine, RedisRepliesToMemcachedAreMalformed) {
  // A memcached stub answering a Redis client: no reply parses.
  TcpStub stub({});
  Config c = base(Protocol::Redis, stub.port());
  c.duration_s = 0.3;
  const RunResult r = run(c);
  EXPECT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_EQ(r.counters.completed, 0u);
}

TEST(Engine, SilentServerTimesOutWithinBoundedTime) {
  TcpStubOptions o;
  o.silent = true;
  TcpStub stub(o);
  for (Mode m : {Mode::Open, Mode::Closed}) {
    Config c = base(Protocol::Memcached, stub.port());
    c.mode = m;
    c.duration_s = 0.6;
    c.timeout_s = 0.2;
    c.drain_s = 0.3;
    double secs;
    const RunResult r = timed_run(c, secs);
    EXPECT_TRUE(r.counters.balanced()) << describe(r);
    EXPECT_EQ(r.counters.completed, 0u);
    EXPECT_GT(r.counters.timeouts, 0u) << describe(r);
    EXPECT_LT(secs, c.duration_s + c.drain_s + 1.0);
  }
}

TEST(Engine, ClosedLoopKeepsDepthOutstanding) {
  TcpStub stub({});
  Config c = base(Protocol::Memcached, stub.port());
  c.mode = Mode::Closed;
  c.depth = 4;
  c.duration_s = 0.5;
  const RunResult r = run(c);
  EXPECT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_EQ(r.counters.completed, r.counters.scheduled) << describe(r);
  EXPECT_GT(r.counters.completed, 1000u);
}

TEST(Engine, MemcachedUdpReassemblesSplitReplies) {
  UdpStub stub(UdpStub::Kind::Memcached, 3);
  Config c = base(Protocol::MemcachedUdp, stub.port());
  c.warmup = true;
  const RunResult r = run(c);
  EXPECT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_EQ(r.counters.completed, r.counters.scheduled) << describe(r);
  EXPECT_GT(r.counters.hits, 0u);
  EXPECT_EQ(r.warmup.stored, c.keys);
  EXPECT_EQ(r.counters.malformed, 0u);
}

TEST(Engine, UdpEchoLikeUdpload) {
  UdpStub stub(UdpStub::Kind::Echo, 1);
  Config c = base(Protocol::UdpEcho, stub.port());
  c.warmup = true;  // nothing to warm for echo
  const RunResult r = run(c);
  EXPECT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_EQ(r.counters.completed, r.counters.scheduled) << describe(r);
  EXPECT_EQ(r.warmup.scheduled, 0u);
}

// UDP has no connection to refuse: requests to a closed port time out and
// the ICMP errors are counted, never a hang.
TEST(Engine, UdpServerDownTimesOut) {
  Config c = base(Protocol::UdpEcho, loadgen_test::unused_port());
  c.duration_s = 0.3;
  c.timeout_s = 0.1;
  c.drain_s = 0.2;
  double secs;
  const RunResult r = timed_run(c, secs);
  EXPECT_TRUE(r.counters.balanced()) << describe(r);
  EXPECT_EQ(r.counters.completed, 0u);
  EXPECT_GT(r.counters.conn_failures, 0u) << describe(r);
  EXPECT_GT(r.counters.timeouts + r.counters.not_sent + r.counters.unanswered, 0u);
  EXPECT_LT(secs, 2.0);
}
