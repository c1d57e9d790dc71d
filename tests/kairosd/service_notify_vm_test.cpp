// A real kairosd run under a $NOTIFY_SOCKET played by the test (label
// 'vm'), as systemd runs kairosd.service (Type=notify, WatchdogSec=):
// READY=1 only once the scheduler is attached (or kairos.ko's class is
// active), WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM, in
// that order and all from kairosd's own pid.
#include "kmod_testlib.hpp"
#include "notify_socket.hpp"
#include "sched_testlib.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace kairos::schedtest;
using kairos::kmodtest::ModuleScope;
using kairos::test::NotifyMessage;
using kairos::test::NotifySocket;
using kairos::test::ScopedEnv;
using namespace std::chrono_literals;

constexpr const char* kSock = "/tmp/kairos-notify-vm.sock";

// Every message until READY=1 (or `limit`): READY=1 is the last one.
std::vector<NotifyMessage> until_ready(NotifySocket& s, std::chrono::seconds limit) {
  std::vector<NotifyMessage> v;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    auto m = s.receive(500ms);
    if (!m) continue;
    v.push_back(*m);
    if (m->has("READY=1")) break;
  }
  return v;
}

// Every message for `span`.
std::vector<NotifyMessage> drain(NotifySocket& s, std::chrono::milliseconds span) {
  std::vector<NotifyMessage> v;
  const auto end = std::chrono::steady_clock::now() + span;
  for (auto now = std::chrono::steady_clock::now(); now < end;
       now = std::chrono::steady_clock::now()) {
    auto m = s.receive(std::chrono::duration_cast<std::chrono::milliseconds>(end - now));
    if (m) v.push_back(*m);
  }
  return v;
}

int count(const std::vector<NotifyMessage>& v, const std::string& a) {
  int n = 0;
  for (const auto& m : v) n += m.has(a);
  return n;
}

TEST(ServiceNotifyVm, SchedExtReadyWatchdogStopping) {
  NotifySocket sock(kSock);
  ScopedEnv ns("NOTIFY_SOCKET", kSock);
  ScopedEnv wd("WATCHDOG_USEC", "400000");  // a ping every 200 ms
  Kairosd d;
  const auto before = until_ready(sock, 60s);
  ASSERT_FALSE(before.empty()) << d.output();
  const NotifyMessage& ready = before.back();
  ASSERT_TRUE(ready.has("READY=1")) << d.output();
  // READY=1 means attached: the kernel already runs the scheduler.
  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_NE(ready.field("STATUS").find("sched_ext scheduler attached"), std::string::npos)
      << ready.text;
  for (const auto& m : before) EXPECT_EQ(m.pid, d.pid()) << m.text;

  // 2 s at a 200 ms period: about 10 pings; emulated time is slow and
  // uneven, so only a floor is asserted.
  const auto running = drain(sock, 2s);
  EXPECT_GE(count(running, "WATCHDOG=1"), 4) << d.output();
  EXPECT_EQ(count(running, "READY=1"), 0);
  EXPECT_EQ(count(running, "STOPPING=1"), 0);

  ASSERT_EQ(::kill(d.pid(), SIGTERM), 0);
  std::vector<NotifyMessage> after;
  bool stopping = false;
  while (auto m = sock.receive(10s)) {
    after.push_back(*m);
    EXPECT_EQ(m->pid, d.pid()) << m->text;
    if (m->has("STOPPING=1")) {
      stopping = true;
      break;
    }
  }
  EXPECT_TRUE(stopping) << d.output();
  EXPECT_EQ(count(after, "READY=1"), 0);
  EXPECT_EQ(d.wait(), 0) << d.output();
  EXPECT_EQ(sched_state(), "disabled");
}

TEST(ServiceNotifyVm, KmodBackendReadyWithoutWatchdog) {
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  NotifySocket sock(kSock);
  ScopedEnv ns("NOTIFY_SOCKET", kSock);
  ::unsetenv("WATCHDOG_USEC");
  Kairosd d({"--backend", "kmod"});
  const auto before = until_ready(sock, 60s);
  ASSERT_FALSE(before.empty()) << d.output();
  EXPECT_TRUE(before.back().has("READY=1")) << d.output();
  EXPECT_NE(before.back().field("STATUS").find("kairos.ko"), std::string::npos)
      << before.back().text;
  EXPECT_EQ(sched_state(), "disabled");
  // No WatchdogSec: no pings.
  EXPECT_EQ(count(drain(sock, 1s), "WATCHDOG=1"), 0);
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
  const auto after = drain(sock, 500ms);
  EXPECT_EQ(count(after, "STOPPING=1"), 1);
}

TEST(ServiceNotifyVm, NoReadyWhenStartFails) {
  NotifySocket sock(kSock);
  ScopedEnv ns("NOTIFY_SOCKET", kSock);
  // kmod backend without the module: kairosd cannot start.
  Kairosd d({"--backend", "kmod", "--kairos-dev", "/dev/null"});
  EXPECT_EQ(d.wait(), 1) << d.output();
  const auto msgs = drain(sock, 200ms);
  EXPECT_EQ(count(msgs, "READY=1"), 0);
  // systemd shows why (systemctl status): the failure as STATUS=.
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().field("STATUS").rfind("failed: ", 0), 0u) << msgs.back().text;
}

}  // namespace
