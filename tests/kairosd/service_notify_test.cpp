// kairosd's systemd notifications (kairosd/service_notify.*), on the host:
// the watchdog schedule, and the messages that reach a $NOTIFY_SOCKET
// played by the test. The same through a real kairosd run is
// service_notify_vm_test.cpp.
#include "notify_socket.hpp"
#include "service_notify.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

namespace {

using kairos::ServiceNotify;
using kairos::WatchdogSchedule;
using kairos::test::NotifySocket;
using kairos::test::ScopedEnv;
using namespace std::chrono_literals;
using Clock = WatchdogSchedule::Clock;

TEST(WatchdogSchedule, OffWithoutAnInterval) {
  const auto t0 = Clock::now();
  WatchdogSchedule w(0, t0);
  EXPECT_FALSE(w.enabled());
  EXPECT_FALSE(w.due(t0 + 1h));
  EXPECT_EQ(w.next(), Clock::time_point::max());
}

TEST(WatchdogSchedule, PingsAtHalfTheIntervalFirstRightAway) {
  const auto t0 = Clock::now();
  WatchdogSchedule w(30'000'000, t0);  // WatchdogSec=30
  ASSERT_TRUE(w.enabled());
  EXPECT_EQ(w.period(), std::chrono::duration_cast<Clock::duration>(15s));
  EXPECT_TRUE(w.due(t0));
  EXPECT_FALSE(w.due(t0 + 14s));
  EXPECT_EQ(w.next(), t0 + 15s);
  EXPECT_TRUE(w.due(t0 + 15s));
  EXPECT_FALSE(w.due(t0 + 15s));
}

TEST(WatchdogSchedule, OnePingAfterAStallNotABurst) {
  const auto t0 = Clock::now();
  WatchdogSchedule w(2'000'000, t0);
  EXPECT_TRUE(w.due(t0));
  EXPECT_TRUE(w.due(t0 + 10s));      // late: one ping
  EXPECT_FALSE(w.due(t0 + 10s + 999ms));
  EXPECT_TRUE(w.due(t0 + 11s));
}

TEST(WatchdogSchedule, TinyIntervalStillPings) {
  const auto t0 = Clock::now();
  WatchdogSchedule w(1, t0);
  EXPECT_TRUE(w.enabled());
  EXPECT_TRUE(w.due(t0));
  EXPECT_TRUE(w.due(t0 + 1ms));
}

std::string sock_path() { return "/tmp/kairos-notify-unit-" + std::to_string(::getpid()); }

TEST(ServiceNotify, InertWithoutNotifySocket) {
  ::unsetenv("NOTIFY_SOCKET");
  ScopedEnv wd("WATCHDOG_USEC", "1000");
  ServiceNotify n;
  EXPECT_FALSE(n.active());
  EXPECT_FALSE(n.watchdog_enabled());
  n.ready("x");  // must not fail or block
  n.tick(Clock::now());
  n.stopping("y");
}

TEST(ServiceNotify, ReadyStatusWatchdogStoppingInOrder) {
  NotifySocket sock(sock_path());
  ScopedEnv ns("NOTIFY_SOCKET", sock.path());
  ScopedEnv wd("WATCHDOG_USEC", "200000");
  ::unsetenv("WATCHDOG_PID");
  ServiceNotify n;
  ASSERT_TRUE(n.active());
  ASSERT_TRUE(n.watchdog_enabled());
  n.ready("attached");
  auto m = sock.receive(1s);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has("READY=1")) << m->text;
  EXPECT_EQ(m->field("STATUS"), "attached");
  EXPECT_EQ(m->pid, ::getpid());

  n.status("attached");  // unchanged: nothing sent
  n.status("1 restart");
  m = sock.receive(1s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, "STATUS=1 restart");
  n.ready("again");  // a second READY=1 is never sent
  m = sock.receive(1s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, "STATUS=again");

  const auto t = Clock::now();
  n.tick(t);
  m = sock.receive(1s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text, "WATCHDOG=1");
  n.tick(t + 50ms);  // not due before 100 ms
  EXPECT_FALSE(sock.receive(100ms));
  EXPECT_LE(n.next_tick(), Clock::now() + 100ms);

  n.stopping("bye");
  m = sock.receive(1s);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has("STOPPING=1")) << m->text;
  EXPECT_EQ(m->field("STATUS"), "bye");
}

TEST(ServiceNotify, WatchdogForAnotherPidIsNotOurs) {
  NotifySocket sock(sock_path());
  ScopedEnv ns("NOTIFY_SOCKET", sock.path());
  ScopedEnv wd("WATCHDOG_USEC", "200000");
  ScopedEnv wp("WATCHDOG_PID", std::to_string(::getpid() + 1));
  ServiceNotify n;
  EXPECT_TRUE(n.active());
  EXPECT_FALSE(n.watchdog_enabled());
  n.tick(Clock::now());
  EXPECT_FALSE(sock.receive(100ms));
}

TEST(ServiceNotify, UnreachableSocketIsReportedNotFatal) {
  ScopedEnv ns("NOTIFY_SOCKET", "/nonexistent/kairos-notify");
  ServiceNotify n;
  EXPECT_TRUE(n.active());
  testing::internal::CaptureStderr();
  n.ready("x");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("kairosd: sd_notify:"), std::string::npos) << err;
}

}  // namespace
