// Not a test: cross-kthread wake through each park backend, side by side in
// one process (docs/bench/runtime.md, "Parking through /dev/kairos"),
// with the ping-pong of bench/runtime/wake_pingpong.hpp: uthread A (kthread
// 0) notifies a CondVar on which B waits and spins until B, run by the
// other kthread, acks; timed from the wake call until B runs. Kthreads park at once when idle (spin_before_park
// 0), so every wake unparks B's kthread. Modes:
//  - sleeping: A waits 200 us before each wake, so B's kthread is asleep
//    (PARK / FUTEX_WAIT); pinned one per CPU and unpinned;
//  - PARK spin: A waits 20 us; devkairos parks with park_spin 100 us, so
//    the GRANT finds the kthread still polling in PARK (parked, but not
//    asleep); futex has nothing alike and sleeps.
// Loads kairos.ko itself. Usage: runtime_park_bench [iterations]
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include "wake_pingpong.hpp"
#include "kmod_testlib.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace {

struct Result {
  double p50_us, p99_us, cross;
};

struct Mode {
  const char* name;
  int first_cpu;
  std::chrono::microseconds idle, park_spin;
};

Result wake_round(kairos::ParkBackend backend, const Mode& m, int iters) {
  // adaptive_spin off: the emulator's stalls would switch the PARK spin
  // off now and then; this measures the mechanism.
  kairos::Runtime rt({.kthreads = 2,
                      .spin_before_park = std::chrono::nanoseconds(0),
                      .adaptive_spin = false,
                      .park = backend,
                      .park_spin = m.park_spin,
                      .first_cpu = m.first_cpu});
  kairos::bench::WakeResult r = kairos::bench::cross_kthread_wake(
      rt, kairos::bench::Rounds{iters},
      {.idle_before_wake = m.idle, .record = true});
  // Wake call -> B runs (what the woken side sees; see wake_pingpong.hpp).
  return {r.run_quantile(0.5), r.run_quantile(0.99), r.cross_fraction()};
}

}  // namespace

int main(int argc, char** argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 500;
  // build_path() finds kairos.ko through KAIROS_BUILD_DIR (set by ctest);
  // by hand, take the build tree this binary lives in (tests/runtime/..).
  if (!std::getenv("KAIROS_BUILD_DIR")) {
    const auto dir = std::filesystem::read_symlink("/proc/self/exe")
                         .parent_path().parent_path().parent_path();
    ::setenv("KAIROS_BUILD_DIR", dir.c_str(), 0);
  }
  if (int r = kairos::kmodtest::load_module()) {
    std::fprintf(stderr, "cannot load kairos.ko: %d\n", r);
    return 1;
  }
  // Kthreads pinned one per CPU (first_cpu 0, how Kairos deploys them:
  // one kthread per granted core) and unpinned (-1). Alternate the
  // backends so drift in the host's load hits both.
  using std::chrono::microseconds;
  const Mode modes[] = {
      {"pinned, sleeping", 0, microseconds(200), microseconds(0)},
      {"unpinned, sleeping", -1, microseconds(200), microseconds(0)},
      {"pinned, PARK spin 100 us", 0, microseconds(20), microseconds(100)},
  };
  if (kairos::kmodtest::write_sysfs("park_spin_max_us", "1000") != 0) {
    std::fprintf(stderr, "cannot set park_spin_max_us\n");
    return 1;
  }
  std::printf("| kthreads | rep | devkairos p50 us | p99 us | futex p50 us | p99 us | x p50 | x p99 | cross-kthread (dev/futex) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const Mode& m : modes) {
    for (int rep = 1; rep <= 3; ++rep) {
      const Result d = wake_round(kairos::ParkBackend::kDevKairos, m, iters);
      const Result f = wake_round(kairos::ParkBackend::kFutex, m, iters);
      std::printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f / %.2f |\n",
                  m.name, rep, d.p50_us, d.p99_us, f.p50_us, f.p99_us,
                  d.p50_us / f.p50_us, d.p99_us / f.p99_us, d.cross, f.cross);
      std::fflush(stdout);
    }
  }
  std::printf("stats: parks %llu grants %llu grant_misses %llu\n",
              static_cast<unsigned long long>(kairos::kmodtest::read_stat("parks")),
              static_cast<unsigned long long>(kairos::kmodtest::read_stat("grants")),
              static_cast<unsigned long long>(kairos::kmodtest::read_stat("grant_misses")));
  return kairos::kmodtest::unload_module() ? 1 : 0;
}
