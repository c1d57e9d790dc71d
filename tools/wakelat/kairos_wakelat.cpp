// kairos-wakelat: how long a thread sleeping in FUTEX_WAIT on one CPU
// takes to run after another thread, on another CPU, wakes it: the
// kernel's own wake-up path (IPI, preemption of what runs there, switch).
// The experiment runner measures it in the same boot as Kairos' grant
// latency (grant -> the queued task running on the granted core), so that
// the ratio of the two holds on any machine, emulated or not.
//
// The waker stamps CLOCK_MONOTONIC, sets the futex word and wakes; the
// wakee reads the clock when it returns from FUTEX_WAIT. A gap between
// samples lets the wakee go back to sleep first. Prints one JSON object.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

void sleep_ns(std::int64_t ns) {
  const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  ::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
}

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val, nullptr, nullptr, 0);
}

// Pins the calling thread; "" or why not.
std::string pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
  return rc == 0 ? "" : "CPU " + std::to_string(cpu) + " is not usable here: " + std::strerror(rc);
}

struct Shared {
  std::atomic<std::uint32_t> word{0};   // 1: woken, not yet seen
  std::atomic<std::int64_t> stamp{0};   // when the waker woke it
  std::atomic<std::uint64_t> done{0};   // samples the wakee has taken
  std::atomic<bool> stop{false};
  std::string pin_error;
  std::vector<std::int64_t> lat_ns;
};

void wakee(Shared& s, int cpu, unsigned samples) {
  s.pin_error = pin(cpu);
  if (!s.pin_error.empty()) {
    s.stop = true;
    return;
  }
  s.lat_ns.reserve(samples);
  while (!s.stop.load() && s.lat_ns.size() < samples) {
    // returns at once (EAGAIN) if the word is already 1
    futex(&s.word, FUTEX_WAIT_PRIVATE, 0);
    if (s.word.load(std::memory_order_acquire) == 0) continue;  // spurious, or stop
    s.lat_ns.push_back(now_ns() - s.stamp.load(std::memory_order_relaxed));
    s.word.store(0, std::memory_order_relaxed);
    s.done.fetch_add(1, std::memory_order_release);
  }
}

double pct_us(const std::vector<std::int64_t>& sorted, double q) {
  const auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"futex wake -> run latency between two pinned threads (JSON on stdout)"};
  int waker_cpu = -1, wakee_cpu = -1;
  unsigned samples = 2000, gap_us = 1000;
  app.add_option("--waker-cpu", waker_cpu, "CPU of the thread that wakes")->required()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--wakee-cpu", wakee_cpu, "CPU of the thread that sleeps and is woken")
      ->required()->check(CLI::NonNegativeNumber);
  app.add_option("-n,--samples", samples, "wake-ups to time")->check(CLI::Range(10u, 10'000'000u));
  app.add_option("--gap-us", gap_us, "pause before each wake-up, for the wakee to sleep")
      ->check(CLI::Range(100u, 1'000'000u));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is 0; a bad flag is 2, as below
  }
  if (waker_cpu == wakee_cpu) {
    std::cerr << "kairos-wakelat: --waker-cpu and --wakee-cpu must differ (a wake-up across CPUs "
                 "is what is timed)\n";
    return 2;
  }
  if (const std::string why = pin(waker_cpu); !why.empty()) {
    std::cerr << "kairos-wakelat: " << why << "\n";
    return 2;
  }
  Shared s;
  std::thread t(wakee, std::ref(s), wakee_cpu, samples);
  int rc = 0;
  for (unsigned i = 0; i < samples && !s.stop.load(); ++i) {
    sleep_ns(std::int64_t{gap_us} * 1000);
    // the last wake-up must have been seen, or this one would merge with it
    const std::int64_t deadline = now_ns() + 5'000'000'000LL;
    while (s.done.load(std::memory_order_acquire) < i && !s.stop.load()) {
      if (now_ns() > deadline) {
        std::cerr << "kairos-wakelat: the woken thread did not run within 5 s\n";
        rc = 1;
        s.stop = true;
        break;
      }
      sleep_ns(50'000);
    }
    if (s.stop.load()) break;
    s.stamp.store(now_ns(), std::memory_order_relaxed);
    s.word.store(1, std::memory_order_release);
    futex(&s.word, FUTEX_WAKE_PRIVATE, 1);
  }
  // let the last one be seen, then release the wakee whatever it waits for
  const std::int64_t deadline = now_ns() + 5'000'000'000LL;
  while (s.done.load() < samples && !s.stop.load() && now_ns() < deadline) sleep_ns(50'000);
  s.stop = true;
  s.word.store(1);
  futex(&s.word, FUTEX_WAKE_PRIVATE, 1);
  t.join();
  if (!s.pin_error.empty()) {
    std::cerr << "kairos-wakelat: " << s.pin_error << "\n";
    return 2;
  }
  if (rc != 0) return rc;
  if (s.lat_ns.size() < samples) {
    std::cerr << "kairos-wakelat: " << s.lat_ns.size() << " of " << samples
              << " wake-ups seen\n";
    return 1;
  }
  std::vector<std::int64_t> v = s.lat_ns;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (auto x : v) sum += static_cast<double>(x);
  const nlohmann::json out = {
      {"waker_cpu", waker_cpu}, {"wakee_cpu", wakee_cpu}, {"samples", v.size()},
      {"p50_us", pct_us(v, 0.5)}, {"p90_us", pct_us(v, 0.9)}, {"p99_us", pct_us(v, 0.99)},
      {"mean_us", sum / static_cast<double>(v.size()) / 1e3},
      {"max_us", static_cast<double>(v.back()) / 1e3}};
  std::cout << out.dump() << "\n";
  return 0;
}
