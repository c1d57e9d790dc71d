// kmod_share_bench: how precisely the LC class holds its share, at several
// quantum/period pairs in one run (inside the VM:
// tools/dev vm -- build/rootfs/bench/kmod/kmod_share_bench).
// For each pair, an LC member spinner and a normal spinner share CPU 1 for
// a window; printed: the normal thread's share of the CPU (want
// (period - quantum) / period), the mean overrun per throttle (time the
// member still ran at real-time priority after its budget was spent, until
// the per-CPU kthread demoted it), the time it ran demoted (SCHED_IDLE)
// while its CPU was throttled, the periods that began still in debt, and
// how often (sampled every 200 us) the member's policy was SCHED_IDLE.
// Usage: kmod_share_bench [WINDOW_MS [path of kairos.ko]].
#include <linux/kairos.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace {

void die(const char* what) {
  std::fprintf(stderr, "kmod_share_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

bool write_sysfs(const std::string& f, const std::string& v) {
  std::ofstream out(std::string(KAIROS_SYSFS_DIR "/") + f);
  out << v;
  out.flush();
  return bool(out);
}

unsigned long long stat(const char* name) {
  std::ifstream in(std::string(KAIROS_SYSFS_DIR "/stats/") + name);
  unsigned long long v = 0;
  in >> v;
  return v;
}

double cpu_s(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Spinner {
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  clockid_t clock{};
  std::thread th;
  Spinner() {
    th = std::thread([this] {
      cpu_set_t s;
      CPU_ZERO(&s);
      CPU_SET(1, &s);
      pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
      pthread_getcpuclockid(pthread_self(), &clock);
      tid = pid_t(syscall(SYS_gettid));
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
    while (!tid) std::this_thread::yield();
  }
  ~Spinner() {
    stop = true;
    th.join();
  }
};

const char* g_ko = "build/rootfs/kmod-build/kairos.ko";

// A fresh module per pair, so its counters (the max included) are its own.
// Its defaults (quantum 500 us, period 1 ms) let the period be set first.
void measure(int quantum_us, int period_us, int window_ms) {
  const int kfd = open(g_ko, O_RDONLY | O_CLOEXEC);
  if (kfd < 0 || syscall(SYS_finit_module, kfd, "", 0)) die("load kairos.ko");
  close(kfd);
  const int fd = open(KAIROS_DEV_PATH, O_RDWR | O_CLOEXEC);
  if (fd < 0) die("open /dev/kairos");
  if (!write_sysfs("period_us", std::to_string(period_us)) ||
      !write_sysfs("quantum_us", std::to_string(quantum_us)))
    die("set quantum/period");
  Spinner lc, normal;
  kairos_lc reg{};
  reg.tid = lc.tid;
  if (ioctl(fd, KAIROS_IOC_LC_ADD, &reg)) die("LC_ADD");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto thr0 = stat("throttles"), over0 = stat("lc_overrun_ns"),
             debt0 = stat("throttled_periods"), late0 = stat("lc_throttled_ns");
  const double l0 = cpu_s(lc.clock), n0 = cpu_s(normal.clock);
  // Sample the member's policy meanwhile (how much of the window it is
  // demoted), from CPU 0.
  int samples = 0, idle = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(window_ms);
  while (std::chrono::steady_clock::now() < end) {
    idle += (sched_getscheduler(lc.tid) & ~SCHED_RESET_ON_FORK) == SCHED_IDLE;
    ++samples;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  const double l = cpu_s(lc.clock) - l0, n = cpu_s(normal.clock) - n0;
  // lc_throttled_ns first: it includes lc_overrun_ns, which keeps growing.
  const auto late = stat("lc_throttled_ns") - late0;
  const auto thr = stat("throttles") - thr0, over = stat("lc_overrun_ns") - over0,
             debt = stat("throttled_periods") - debt0;
  const auto over_max = stat("lc_overrun_max_ns");
  if (stat("policy_errors")) die("the class failed to change a policy");
  if (ioctl(fd, KAIROS_IOC_LC_DEL, &reg)) die("LC_DEL");
  close(fd);
  const double want = double(period_us - quantum_us) / period_us;
  std::printf("| %6.1f | %6.1f | %5.3f | %5.3f | %+6.3f | %6llu | %8.1f | %8.1f | %7.1f | %6llu | %5.1f |\n",
              quantum_us / 1e3, period_us / 1e3, want, n / (l + n), n / (l + n) - want,
              thr, thr ? double(over) / double(thr) / 1e3 : 0.0, double(over_max) / 1e3,
              double(late > over ? late - over : 0) / 1e6, debt, 100.0 * idle / samples);
  std::fflush(stdout);
  if (syscall(SYS_delete_module, "kairos", O_NONBLOCK)) die("unload kairos.ko");
}

}  // namespace

int main(int argc, char** argv) {
  const int window_ms = argc > 1 ? std::atoi(argv[1]) : 2000;
  if (argc > 2) g_ko = argv[2];
  if (window_ms < 100) {
    std::fprintf(stderr, "usage: kmod_share_bench [WINDOW_MS>=100 [KO]]\n");
    return 2;
  }
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(0, &s);
  pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
  std::printf("kmod_share_bench: LC spinner + normal spinner on CPU 1, %d ms each\n\n",
              window_ms);
  std::printf("| quantum ms | period ms | want | normal share | error | throttles | "
              "overrun/throttle us | max overrun us | ran demoted ms | debt periods | demoted %% |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|\n");
  static const int kPairs[][2] = {{300, 1000},  {500, 1000},   {1000, 3000},
                                  {1000, 10000}, {3000, 10000}, {15000, 50000},
                                  {25000, 50000}};
  for (const auto& p : kPairs) measure(p[0], p[1], window_ms);
  return 0;
}
