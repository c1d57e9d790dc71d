// TCP on uthreads in allocator mode, end to end in the sched_ext VM
// (label 'vm'): kairosd's allocator, kairos.ko, and a libkairos TCP
// server (tcp_vm_server: self_wake off, /dev/kairos parking, one uthread
// per connection on the netpoller) in an LC cgroup with 0 guaranteed and
// 1 burstable core, beside a BE hog on every CPU, driven over loopback by
// kairos-loadgen (memcached ASCII gets). Nothing in the server wakes a
// kthread by itself: a connection's readiness reaches the allocator only
// through the queue-state line (the netpoller's watcher queues the ready
// uthread and counts it as RX occupancy). The granted cores must go up
// under load, every request must be answered, and the core must go back
// when the load stops.
#include "kmod_testlib.hpp"
#include "sched_testlib.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace kairos::vmtest;
using namespace kairos::schedtest;
using kairos::kmodtest::ModuleScope;
using namespace std::chrono_literals;

long number_field(const std::string& status, const std::string& kind,
                  const std::string& match, const std::string& key) {
  const std::string v = status_field(status, kind, match, key);
  return v.empty() ? -1 : std::stol(v);
}

TEST(TcpAllocatorVm, GrantedCoresFollowTcpLoad) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ScratchCgroup lc{"ka-tcp"};
  std::string out;
  ASSERT_EQ(kairosctl({"annotate", lc.name(), "--class", "lc", "--guaranteed", "0",
                       "--burstable", "1"},
                      &out),
            0)
      << out;
  Kairosd d({"--allocator-low-power", "--poll-us", "50", "--scan-interval-ms", "20"});
  ASSERT_TRUE(d.wait_ready()) << d.output();
  const std::string app = "cgroup=" + lc.name();
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  const auto be = spinners(ncpu);

  // Pinned to the last CPU, as the spin server is: a kthread woken through
  // /dev/kairos runs on the CPU it parked on.
  Child srv({build_path("tests/runtime/tcp_vm_server"), "--kthreads", "1", "--first-cpu",
             std::to_string(ncpu - 1), "--service-us", "100"},
            lc.dir());
  std::smatch m;
  std::string port;
  ASSERT_TRUE(wait_for([&] {
    const std::string o = srv.output();
    if (!std::regex_search(o, m, std::regex("port ([0-9]+)"))) return false;
    port = m[1];
    return true;
  }, 10s)) << srv.output();
  const std::string pid = std::to_string(srv.pid());
  ASSERT_TRUE(wait_for([&] {
    return status_field(d.status(), "runtime", "pid=" + pid, "kthreads") == "1";
  }, 10s)) << d.status() << d.output() << srv.output();
  // Idle: the acceptor blocked, the kthread parked, no core held.
  ASSERT_TRUE(wait_for([&] { return number_field(d.status(), "app", app, "owned") == 0; }, 10s))
      << "an idle TCP server holds no core\n" << d.status();

  // 400 gets/s over 4 connections for 4 s (open loop), then idle.
  const long grants0 = number_field(d.status(), "allocator", "", "grants");
  Child load({build_path("tools/loadgen/kairos-loadgen"), "-P", "memcached", "-s",
              "127.0.0.1:" + port, "-r", "400", "-d", "4", "-c", "4", "-t", "1",
              "--get-ratio", "1", "--no-warmup", "--timeout", "3"});
  long max_owned = 0, samples_owned = 0;
  ASSERT_TRUE(wait_for([&] {
    const long o = number_field(d.status(), "app", app, "owned");
    max_owned = std::max(max_owned, o);
    samples_owned += o > 0;
    return !load.alive();
  }, 60s)) << load.output();
  const int load_rc = load.wait();
  const std::string lo = load.output();
  std::printf("%s", lo.c_str());
  const long grants1 = number_field(d.status(), "allocator", "", "grants");
  EXPECT_EQ(load_rc, 0) << lo;
  std::smatch t;
  ASSERT_TRUE(std::regex_search(lo, t, std::regex("timeouts ([0-9]+)"))) << lo;
  EXPECT_EQ(t[1], "0") << "every request is answered\n" << lo;
  EXPECT_EQ(max_owned, 1) << "no core granted under TCP load\n" << d.status();
  EXPECT_GT(grants1, grants0) << d.status();
  std::printf("under load, %ld samples saw the core granted\n", samples_owned);

  // Idle again: the core goes back.
  EXPECT_TRUE(wait_for([&] {
    const std::string st = d.status();
    return number_field(st, "app", app, "owned") == 0 &&
           number_field(st, "runtime", "pid=" + pid, "running") == 0;
  }, 15s)) << d.status();

  EXPECT_EQ(srv.stop(SIGTERM), 0) << srv.output();
  const std::string so = srv.output();
  std::printf("%s", so.c_str());
  std::smatch r;
  ASSERT_TRUE(std::regex_search(so, r, std::regex("requests=([0-9]+)"))) << so;
  EXPECT_GE(std::stol(r[1]), 1000) << "400/s for 4 s should reach the server\n" << so;
  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
}

}  // namespace
