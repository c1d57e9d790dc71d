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
#include "burstable_core_scene.hpp"
#include "kmod_testlib.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace {

using namespace kairos::vmtest;
using namespace kairos::schedtest;
using kairos::kmodtest::ModuleScope;
using namespace std::chrono_literals;

TEST(TcpAllocatorVm, GrantedCoresFollowTcpLoad) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  BurstableCoreScene scene{"ka-tcp"};
  ASSERT_EQ(scene.error(), "");
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

  // Pinned to the last CPU, as the spin server is: a kthread woken through
  // /dev/kairos runs on the CPU it parked on.
  Child srv({build_path("tests/runtime/tcp_vm_server"), "--kthreads", "1", "--first-cpu",
             std::to_string(ncpu - 1), "--service-us", "100"},
            scene.cgroup().dir());
  std::smatch m;
  std::string port;
  ASSERT_TRUE(wait_for([&] {
    const std::string o = srv.output();
    if (!std::regex_search(o, m, std::regex("port ([0-9]+)"))) return false;
    port = m[1];
    return true;
  }, 10s)) << srv.output();
  // Idle: the acceptor blocked, the kthread parked, no core held.
  ASSERT_TRUE(scene.runtime_found_idle(srv.pid(), 10s))
      << scene.kairosd().status() << srv.output();

  // 400 gets/s over 4 connections for 4 s (open loop), then idle.
  const long grants0 = scene.grants();
  Child load({build_path("tools/loadgen/kairos-loadgen"), "-P", "memcached", "-s",
              "127.0.0.1:" + port, "-r", "400", "-d", "4", "-c", "4", "-t", "1",
              "--get-ratio", "1", "--no-warmup", "--timeout", "3"});
  const auto w = scene.watch_until_exit(load, 60s);
  ASSERT_TRUE(w.load_exited) << load.output();
  const int load_rc = load.wait();
  const std::string lo = load.output();
  std::printf("%s", lo.c_str());
  EXPECT_EQ(load_rc, 0) << lo;
  std::smatch t;
  ASSERT_TRUE(std::regex_search(lo, t, std::regex("timeouts ([0-9]+)"))) << lo;
  EXPECT_EQ(t[1], "0") << "every request is answered\n" << lo;
  EXPECT_EQ(w.max_owned, 1) << "no core granted under TCP load\n" << scene.kairosd().status();
  EXPECT_GT(scene.grants(), grants0) << scene.kairosd().status();
  std::printf("under load, %ld samples saw the core granted\n", w.samples_owned);

  // Idle again: the core goes back.
  EXPECT_TRUE(scene.back_to_idle(srv.pid(), 15s)) << scene.kairosd().status();

  EXPECT_EQ(srv.stop(SIGTERM), 0) << srv.output();
  const std::string so = srv.output();
  std::printf("%s", so.c_str());
  std::smatch r;
  ASSERT_TRUE(std::regex_search(so, r, std::regex("requests=([0-9]+)"))) << so;
  EXPECT_GE(std::stol(r[1]), 1000) << "400/s for 4 s should reach the server\n" << so;
  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_EQ(scene.kairosd().stop(SIGTERM), 0) << scene.kairosd().output();
}

}  // namespace
