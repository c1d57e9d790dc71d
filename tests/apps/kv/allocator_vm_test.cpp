// kairos-kv under kairosd's allocator, end to end in the sched_ext VM
// (label 'vm'): `kairos-kv --allocator` in an LC cgroup with 0 guaranteed
// and 1 burstable core, beside a BE hog on every CPU, driven over loopback
// by kairos-loadgen (memcached ASCII: every key set first, then 90% gets,
// 10% sets). kairos-kv never wakes its own kthread in this mode: a
// connection's readiness reaches kairosd only through the queue-state
// line, and only kairosd's grant runs it. The granted core must come with
// the load and go back after it, every request must be answered, and
// every get must hit (the store works under grants as it does alone).
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

// The number after `label` in the load generator's summary, -1 if absent.
long loadgen_count(const std::string& out, const std::string& label) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(label + " ([0-9]+)"))) return -1;
  return std::stol(m[1]);
}

TEST(KvAllocatorVm, GrantedCoresFollowKvLoadAndEveryGetHits) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  BurstableCoreScene scene{"ka-kv"};
  ASSERT_EQ(scene.error(), "");
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

  // Pinned to the last CPU: a kthread woken through /dev/kairos runs on
  // the CPU it parked on.
  Child kv({KAIROS_KV_BIN, "--allocator", "-t", "1", "--first-cpu", std::to_string(ncpu - 1),
            "-l", "127.0.0.1", "-p", "0", "-m", "64", "-v"},
           scene.cgroup().dir());
  std::smatch m;
  std::string port;
  ASSERT_TRUE(wait_for([&] {
    const std::string o = kv.output();
    if (!std::regex_search(o, m, std::regex("tcp ([0-9]+) udp 0, 1 kthreads, allocator mode")))
      return false;
    port = m[1];
    return true;
  }, 10s)) << kv.output();
  ASSERT_TRUE(scene.runtime_found_idle(kv.pid(), 10s))
      << "kairosd found no runtime area of an idle kairos-kv\n"
      << scene.kairosd().status() << kv.output();

  // 400 requests/s over 4 connections for 4 s (open loop) after a warm-up
  // that sets each of the 500 keys, then idle.
  const long grants0 = scene.grants();
  Child load({build_path("tools/loadgen/kairos-loadgen"), "-P", "memcached", "-s",
              "127.0.0.1:" + port, "-r", "400", "-d", "4", "-c", "4", "-t", "1",
              "--get-ratio", "0.9", "--keys", "500", "--value-size", "64", "--timeout", "3"});
  const auto w = scene.watch_until_exit(load, 90s);
  ASSERT_TRUE(w.load_exited) << load.output();
  const int load_rc = load.wait();
  const std::string lo = load.output();
  std::printf("%s", lo.c_str());
  EXPECT_EQ(load_rc, 0) << lo;
  EXPECT_GE(loadgen_count(lo, "completed"), 1000) << "400/s for 4 s\n" << lo;
  EXPECT_EQ(loadgen_count(lo, "timeouts"), 0) << "every request is answered\n" << lo;
  EXPECT_EQ(loadgen_count(lo, "error replies"), 0) << lo;
  EXPECT_EQ(loadgen_count(lo, "misses"), 0) << "every key was set in the warm-up\n" << lo;
  EXPECT_GT(loadgen_count(lo, "hits"), 0) << lo;
  EXPECT_EQ(loadgen_count(lo, "not stored"), 0) << lo;
  EXPECT_EQ(w.max_owned, 1) << "no core granted under load\n" << scene.kairosd().status();
  EXPECT_GT(scene.grants(), grants0) << scene.kairosd().status();
  std::printf("under load, %ld samples saw the core granted\n", w.samples_owned);

  // Idle again: the core goes back and the kthread parks.
  EXPECT_TRUE(scene.back_to_idle(kv.pid(), 15s)) << scene.kairosd().status();

  EXPECT_EQ(kv.stop(SIGTERM), 0) << kv.output();
  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_EQ(scene.kairosd().stop(SIGTERM), 0) << scene.kairosd().output();
}

}  // namespace
