// kmod_bench: kairos.ko against its plain-Linux peers, side by side in one
// run (inside the VM: tools/dev vm -- build/rootfs/bench/kmod/kmod_bench).
//  1. grant-to-running: GRANT ioctl / posted grant + KICK / posted grant
//     taken by a spinning parker, vs FUTEX_WAKE of a thread in FUTEX_WAIT;
//  2. preempt delivery: PREEMPT ioctl (signal; the polled flag set by the
//     IPI; the flag set with KAIROS_PREEMPT_NO_IPI) vs pthread_kill;
//  3. wakeup latency of a timer-driven thread under a CPU hog on its CPU:
//     the LC class vs SCHED_FIFO vs SCHED_OTHER;
//  4. the waker's fixed cost per call with nobody to wake (GRANT, KICK,
//     PREEMPT NO_IPI, an ioctl the module does not know) vs FUTEX_WAKE:
//     where the grant paths' time goes before the wake-up itself.
// Several rounds, each measuring every pair side by side (peer first in
// even rounds, kairos first in odd ones); prints a markdown table of the
// medians over rounds and the spread of the per-round ratios.
// Usage: kmod_bench [ITERS per round [ROUNDS [path of kairos.ko]]];
// KMOD_BENCH_ONLY=grant in the environment runs only the grant rows.
// Latencies in microseconds of the guest clock.
#include <linux/kairos.h>

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

int g_iters = 300;

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000ULL + ts.tv_nsec;
}

void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
  sched_yield();
}

pid_t gettid_() { return pid_t(syscall(SYS_gettid)); }

void die(const char* what) {
  std::fprintf(stderr, "kmod_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Result {
  double p50, p99;
};

Result summarize(std::vector<std::uint64_t> v) {
  if (v.empty()) return {0, 0};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::size_t(q * double(v.size() - 1))] / 1e3; };
  return {at(0.5), at(0.99)};
}

void write_sysfs(const char* f, const char* v) {
  std::ofstream(std::string(KAIROS_SYSFS_DIR "/") + f) << v;
}

char thread_state(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  const auto p = s.rfind(')');
  return p == std::string::npos || p + 2 >= s.size() ? '?' : s[p + 2];
}

int g_fd = -1;
int g_spin_fallbacks = 0;
kairos_cpu_page* g_pages = nullptr;
kairos_cpu_page* page(int cpu) { return KAIROS_CPU_PAGE(g_pages, cpu); }

// --- 1. grant-to-running -------------------------------------------------
enum class Wake { kGrant, kPostKick, kPostSpin, kFutex };

std::vector<std::uint64_t> grant_latency(Wake how) {
  std::vector<std::uint64_t> lat;
  std::atomic<std::uint64_t> t0{0}, t1{0};
  std::atomic<int> round_done{0};
  std::atomic<pid_t> tid{0};
  std::atomic<int> futex_word{0};
  std::thread target([&] {
    pin(1);
    tid = gettid_();
    for (int i = 0; i < g_iters; ++i) {
      if (how == Wake::kFutex) {
        while (futex_word.load() == 0)
          syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, nullptr,
                  nullptr, 0);
        futex_word = 0;
      } else {
        // No timeout, like the futex peer: an armed timeout costs an
        // hrtimer cancel (a timer reprogram) on the woken side.
        kairos_park a{};
        a.spin_ns = how == Wake::kPostSpin ? 2'000'000 : 0;
        if (ioctl(g_fd, KAIROS_IOC_PARK, &a)) die("PARK");
      }
      t1 = now_ns();
      round_done = i + 1;
    }
  });
  while (!tid) std::this_thread::yield();
  pin(0);
  for (int i = 0; i < g_iters; ++i) {
    // Wait until the target is really asleep (or spinning in PARK).
    if (how == Wake::kFutex) {
      while (thread_state(tid) != 'S') std::this_thread::yield();
    } else {
      while (__atomic_load_n(&page(1)->parked, __ATOMIC_ACQUIRE) == 0)
        std::this_thread::yield();
      if (how != Wake::kPostSpin)
        while (thread_state(tid) != 'S') std::this_thread::yield();
    }
    t0 = now_ns();
    switch (how) {
      case Wake::kGrant: {
        kairos_grant g{};
        g.cpu = 1;
        g.tid = tid;
        if (ioctl(g_fd, KAIROS_IOC_GRANT, &g)) die("GRANT");
        break;
      }
      case Wake::kPostKick:
      case Wake::kPostSpin: {
        kairos_cpu_page* pg = page(1);
        pg->grant_tid = tid;
        __atomic_store_n(&pg->grant_gen, pg->done_gen + 1, __ATOMIC_RELEASE);
        if (how == Wake::kPostKick) {
          kairos_cpuset s{};
          s.bits[0] = 2;
          if (ioctl(g_fd, KAIROS_IOC_KICK, &s)) die("KICK");
        }
        break;
      }
      case Wake::kFutex:
        futex_word = 1;
        syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, nullptr,
                nullptr, 0);
        break;
    }
    // A parker whose spin window ended before the post went to sleep: fall
    // back to KICK and leave that round out of the samples.
    const std::uint64_t kick_at = now_ns() + 50'000'000;
    bool kicked = false;
    while (round_done.load() != i + 1) {
      if (how == Wake::kPostSpin && !kicked && now_ns() > kick_at) {
        kairos_cpuset s{};
        s.bits[0] = 2;
        ioctl(g_fd, KAIROS_IOC_KICK, &s);
        kicked = true;
      }
      std::this_thread::yield();
    }
    if (kicked) ++g_spin_fallbacks;
    else lat.push_back(t1 - t0);
  }
  target.join();
  return lat;
}

// --- 2. preempt delivery -------------------------------------------------
std::atomic<std::uint64_t> g_sig_t1{0};
std::atomic<int> g_sig_n{0};

enum class Preempt { kIoctlSignal, kIoctlFlag, kNoIpiFlag, kPthreadKill };

std::vector<std::uint64_t> preempt_latency(Preempt how) {
  struct sigaction sa {};
  sa.sa_handler = [](int) {
    g_sig_t1 = now_ns();
    ++g_sig_n;
  };
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::atomic<std::uint64_t> flag_t1{0};
  std::atomic<int> flag_n{0};
  std::atomic<pid_t> tid{0};
  std::thread target([&] {
    pin(1);
    tid = gettid_();
    // Be the thread the module granted CPU 1 to, so PREEMPT may signal it.
    kairos_park a{};
    a.timeout_ns = 5'000'000'000ULL;
    ready = 1;
    if (ioctl(g_fd, KAIROS_IOC_PARK, &a)) die("PARK");
    ready = 2;
    std::uint64_t seen = __atomic_load_n(&page(1)->preempt_gen, __ATOMIC_ACQUIRE);
    while (!stop.load(std::memory_order_relaxed)) {
      const std::uint64_t g = __atomic_load_n(&page(1)->preempt_gen, __ATOMIC_ACQUIRE);
      if (g != seen) {
        seen = g;
        flag_t1 = now_ns();
        ++flag_n;
      }
    }
  });
  pin(0);
  while (ready.load() != 1 || page(1)->parked == 0) std::this_thread::yield();
  kairos_grant g{};
  g.cpu = 1;
  g.tid = tid;
  if (ioctl(g_fd, KAIROS_IOC_GRANT, &g)) die("GRANT");
  while (ready.load() != 2) std::this_thread::yield();
  std::vector<std::uint64_t> lat;
  kairos_preempt p{};
  p.cpus.bits[0] = 2;
  p.signo = how == Preempt::kIoctlSignal ? SIGUSR1 : 0;
  p.flags = how == Preempt::kNoIpiFlag ? KAIROS_PREEMPT_NO_IPI : 0;
  const bool by_flag = how == Preempt::kIoctlFlag || how == Preempt::kNoIpiFlag;
  for (int i = 0; i < g_iters; ++i) {
    const int sig0 = g_sig_n.load(), flag0 = flag_n.load();
    const std::uint64_t t0 = now_ns();
    if (how == Preempt::kPthreadKill) {
      pthread_kill(target.native_handle(), SIGUSR1);
    } else if (ioctl(g_fd, KAIROS_IOC_PREEMPT, &p)) {
      die("PREEMPT");
    }
    const std::uint64_t give_up = now_ns() + 50'000'000;
    bool got = false;
    while (now_ns() < give_up) {
      if (by_flag ? flag_n.load() != flag0 : g_sig_n.load() != sig0) {
        got = true;
        break;
      }
    }
    if (got)
      lat.push_back((by_flag ? flag_t1.load() : g_sig_t1.load()) - t0);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  stop = true;
  target.join();
  return lat;
}

// --- 3. wakeup latency under a hog ----------------------------------------
enum class Policy { kLcClass, kFifo, kOther };

std::vector<std::uint64_t> wakeup_latency(Policy pol) {
  std::atomic<bool> stop{false};
  std::thread hog([&] {
    pin(1);
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  std::vector<std::uint64_t> lat;
  std::atomic<pid_t> tid{0};
  std::atomic<bool> go{false};
  std::thread lc([&] {
    pin(1);
    tid = gettid_();
    while (!go) std::this_thread::yield();
    for (int i = 0; i < g_iters; ++i) {
      const std::uint64_t target = now_ns() + 2'000'000;
      timespec ts{time_t(target / 1000000000ULL), long(target % 1000000000ULL)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      lat.push_back(now_ns() - target);
    }
  });
  while (!tid) std::this_thread::yield();
  if (pol == Policy::kLcClass) {
    kairos_lc r{};
    r.tid = tid;
    if (ioctl(g_fd, KAIROS_IOC_LC_ADD, &r)) die("LC_ADD");
  } else if (pol == Policy::kFifo) {
    sched_param sp{};
    sp.sched_priority = 10;
    if (sched_setscheduler(tid, SCHED_FIFO, &sp)) die("SCHED_FIFO");
  }
  go = true;
  lc.join();
  if (pol == Policy::kLcClass) {
    kairos_lc r{};
    r.tid = tid;
    ioctl(g_fd, KAIROS_IOC_LC_DEL, &r);
  }
  stop = true;
  hog.join();
  return lat;
}

// --- 4. fixed cost per call, nobody to wake -------------------------------
// Mean ns per call over a batch on CPU 0; one batch per call kind per round.
struct CallCost {
  const char* name;
  std::function<void()> call;
  std::vector<double> ns;  // one per round
};

std::vector<CallCost> call_costs() {
  static int word = 0;
  static pid_t self = 0;
  self = gettid_();
  return {
      {"FUTEX_WAKE, no waiter (peer)",
       [] { syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0); }, {}},
      {"ioctl the module does not know", [] { ioctl(g_fd, _IO(KAIROS_IOC_MAGIC, 99), 0); }, {}},
      {"GRANT tid 0 on CPU 1 (ESRCH)",
       [] {
         kairos_grant g{};
         g.cpu = 1;
         ioctl(g_fd, KAIROS_IOC_GRANT, &g);
       }, {}},
      {"GRANT own tid (ESRCH, all CPUs)",
       [] {
         kairos_grant g{};
         g.cpu = 1;
         g.tid = self;
         ioctl(g_fd, KAIROS_IOC_GRANT, &g);
       }, {}},
      {"KICK CPU 1, nothing posted",
       [] {
         kairos_cpuset c{};
         c.bits[0] = 2;
         ioctl(g_fd, KAIROS_IOC_KICK, &c);
       }, {}},
      {"PREEMPT NO_IPI CPU 1",
       [] {
         kairos_preempt p{};
         p.cpus.bits[0] = 2;
         p.flags = KAIROS_PREEMPT_NO_IPI;
         ioctl(g_fd, KAIROS_IOC_PREEMPT, &p);
       }, {}},
  };
}

void measure_call_costs(std::vector<CallCost>& costs) {
  constexpr int kBatch = 2000;
  pin(0);
  for (CallCost& c : costs) {
    const std::uint64_t t0 = now_ns();
    for (int i = 0; i < kBatch; ++i) c.call();
    c.ns.push_back(double(now_ns() - t0) / kBatch);
  }
}

// One kairos path against its peer over several rounds: the per-round
// p50/p99, their medians, and the spread of the per-round ratios.
struct Row {
  const char* path;
  const char* peer;
  std::vector<Result> k, b;  // one entry per round
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void print_row(const Row& r) {
  std::vector<double> kp50, kp99, bp50, bp99, x50, x99;
  int wins50 = 0, wins99 = 0;
  for (std::size_t i = 0; i < r.k.size(); ++i) {
    kp50.push_back(r.k[i].p50);
    kp99.push_back(r.k[i].p99);
    bp50.push_back(r.b[i].p50);
    bp99.push_back(r.b[i].p99);
    x50.push_back(r.k[i].p50 / r.b[i].p50);
    x99.push_back(r.k[i].p99 / r.b[i].p99);
    wins50 += r.k[i].p50 <= r.b[i].p50;
    wins99 += r.k[i].p99 <= r.b[i].p99;
  }
  const auto [lo50, hi50] = std::minmax_element(x50.begin(), x50.end());
  const auto [lo99, hi99] = std::minmax_element(x99.begin(), x99.end());
  std::printf("| %-32s | %7.1f | %7.1f | %-24s | %7.1f | %7.1f | %5.2f (%4.2f-%4.2f) %d/%zu "
              "| %5.2f (%4.2f-%4.2f) %d/%zu |\n",
              r.path, median(kp50), median(kp99), r.peer, median(bp50), median(bp99),
              median(x50), *lo50, *hi50, wins50, r.k.size(), median(x99), *lo99, *hi99,
              wins99, r.k.size());
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  if (argc > 1) g_iters = std::atoi(argv[1]);
  if (argc > 2) rounds = std::atoi(argv[2]);
  const char* ko = argc > 3 ? argv[3] : "build/rootfs/kmod-build/kairos.ko";
  if (g_iters < 10 || rounds < 1) {
    std::fprintf(stderr, "usage: kmod_bench [ITERS>=10 [ROUNDS>=1 [KO]]]\n");
    return 2;
  }
  const int kfd = open(ko, O_RDONLY | O_CLOEXEC);
  if (kfd < 0 || syscall(SYS_finit_module, kfd, "", 0)) die("load kairos.ko");
  close(kfd);
  write_sysfs("park_spin_max_us", "5000");
  write_sysfs("period_us", "10000");
  write_sysfs("quantum_us", "5000");
  g_fd = open(KAIROS_DEV_PATH, O_RDWR | O_CLOEXEC);
  if (g_fd < 0) die("open /dev/kairos");
  kairos_version v{};
  if (ioctl(g_fd, KAIROS_IOC_VERSION, &v)) die("VERSION");
  void* m = mmap(nullptr, std::size_t(v.nr_cpus) * KAIROS_CPU_PAGE_SIZE,
                 PROT_READ | PROT_WRITE, MAP_SHARED, g_fd, 0);
  if (m == MAP_FAILED) die("mmap");
  g_pages = static_cast<kairos_cpu_page*>(m);

  Row grant{"GRANT ioctl -> running", "FUTEX_WAKE -> running", {}, {}};
  Row kick{"posted grant + KICK -> running", "FUTEX_WAKE -> running", {}, {}};
  Row spin{"posted grant, spinning PARK", "FUTEX_WAKE -> running", {}, {}};
  Row psig{"PREEMPT ioctl -> signal handler", "pthread_kill -> handler", {}, {}};
  Row pflag{"PREEMPT (IPI) -> polled flag", "pthread_kill -> handler", {}, {}};
  Row pnoipi{"PREEMPT NO_IPI -> polled flag", "pthread_kill -> handler", {}, {}};
  Row wfifo{"LC class wakeup under hog", "SCHED_FIFO under hog", {}, {}};
  Row wother{"LC class wakeup under hog", "SCHED_OTHER under hog", {}, {}};
  const char* only = std::getenv("KMOD_BENCH_ONLY");
  const bool grants_only = only && std::strcmp(only, "grant") == 0;
  std::vector<CallCost> costs = call_costs();
  for (int r = 0; r < rounds; ++r) {
    measure_call_costs(costs);
    std::fprintf(stderr, "kmod_bench: round %d of %d\n", r + 1, rounds);
    // Even rounds measure the peer first, odd rounds kairos first, so a
    // warm-up or drift in the emulator does not favour one side.
    const bool peer_first = r % 2 == 0;
    Result futex{}, pkill{}, w_fifo{}, w_other{};
    auto peers = [&] {
      futex = summarize(grant_latency(Wake::kFutex));
      if (grants_only) return;
      pkill = summarize(preempt_latency(Preempt::kPthreadKill));
      w_other = summarize(wakeup_latency(Policy::kOther));
      w_fifo = summarize(wakeup_latency(Policy::kFifo));
    };
    if (peer_first) peers();
    grant.k.push_back(summarize(grant_latency(Wake::kGrant)));
    kick.k.push_back(summarize(grant_latency(Wake::kPostKick)));
    spin.k.push_back(summarize(grant_latency(Wake::kPostSpin)));
    if (grants_only) {
      if (!peer_first) peers();
      for (Row* row : {&grant, &kick, &spin}) row->b.push_back(futex);
      continue;
    }
    psig.k.push_back(summarize(preempt_latency(Preempt::kIoctlSignal)));
    pflag.k.push_back(summarize(preempt_latency(Preempt::kIoctlFlag)));
    pnoipi.k.push_back(summarize(preempt_latency(Preempt::kNoIpiFlag)));
    const Result w_lc = summarize(wakeup_latency(Policy::kLcClass));
    wfifo.k.push_back(w_lc);
    wother.k.push_back(w_lc);
    if (!peer_first) peers();
    for (Row* row : {&grant, &kick, &spin}) row->b.push_back(futex);
    for (Row* row : {&psig, &pflag, &pnoipi}) row->b.push_back(pkill);
    wfifo.b.push_back(w_fifo);
    wother.b.push_back(w_other);
  }

  std::printf("kmod_bench: %d rounds of %d iterations each, latencies in us "
              "(guest clock), medians of the per-round p50/p99\n\n", rounds, g_iters);
  std::printf("| %-32s | %7s | %7s | %-24s | %7s | %7s | %s | %s |\n", "kairos path", "p50",
              "p99", "peer", "p50", "p99", "x p50 (range) rounds <=", "x p99 (range) rounds <=");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const Row* row : {&grant, &kick, &spin, &psig, &pflag, &pnoipi, &wfifo, &wother})
    if (!row->k.empty()) print_row(*row);
  std::printf("\nx = kairos / peer per round: median (min-max), and in how many "
              "rounds kairos was no worse than the peer.\n");
  std::printf("spinning-PARK rounds that missed the spin window (KICKed, "
              "left out): %d of %d\n", g_spin_fallbacks, g_iters * rounds);
  std::printf("\nWaker's fixed cost per call, nobody to wake (ns per call, median "
              "over rounds; x = call / FUTEX_WAKE per round, median):\n\n");
  std::printf("| %-32s | %7s | %5s |\n|---|---|---|\n", "call", "ns", "x");
  for (const CallCost& c : costs) {
    std::vector<double> x;
    for (std::size_t i = 0; i < c.ns.size(); ++i) x.push_back(c.ns[i] / costs[0].ns[i]);
    std::printf("| %-32s | %7.0f | %5.2f |\n", c.name, median(c.ns), median(x));
  }
  munmap(m, std::size_t(v.nr_cpus) * KAIROS_CPU_PAGE_SIZE);
  close(g_fd);
  if (syscall(SYS_delete_module, "kairos", O_NONBLOCK)) die("unload kairos.ko");
  return 0;
}
