// spinserver: a libkairos server in allocator mode (self_wake off), for
// showing and testing kairosd's allocator. It publishes its runtime area
// as "/kairos-rt.<pid>" (runtime_area.h) so kairosd finds it, then runs
// open-loop load phases: Poisson arrivals at a given rate, each request a
// uthread that spins for the service time. Arrivals are injected from a
// plain thread; with every kthread parked nothing runs them until kairosd
// grants a core. Per phase it prints the queueing delay (inject -> the
// uthread starts), split into "cold" requests (no kthread was running when
// it arrived: the delay is the allocator's decision + wake latency) and
// the others.
//
//   spinserver [--kthreads N] [--service-us N] [--park devkairos|futex|auto]
//              [--first-cpu N] --phase RATE:MS [--phase RATE:MS ...]
#include <kairos/abi/runtime_area.h>
#include <kairos/runtime.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          Clock::now().time_since_epoch())
          .count());
}

struct Phase {
  double rate = 0;  // requests per second
  long ms = 0;
};

struct Request {
  std::uint64_t injected = 0;
  std::uint64_t started = 0;
  bool cold = false;
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr,
               "spinserver: %s\n"
               "usage: spinserver [--kthreads 1..64] [--service-us 1..100000]\n"
               "                  [--park devkairos|futex|auto] [--first-cpu N]\n"
               "                  --phase RATE:MS [--phase RATE:MS ...]\n"
               "  RATE: requests per second (0..1000000), MS: phase length (1..600000)\n",
               why.c_str());
  std::exit(2);
}

long number(const std::string& flag, const char* text, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno || end == text || *end || v < lo || v > hi)
    usage_error(flag + " wants a number in " + std::to_string(lo) + ".." +
                std::to_string(hi) + ", got '" + text + "'");
  return v;
}

Phase parse_phase(const char* text) {
  const char* colon = std::strchr(text, ':');
  if (!colon) usage_error(std::string("--phase wants RATE:MS, got '") + text + "'");
  const std::string rate(text, colon);
  Phase p;
  p.rate = static_cast<double>(number("--phase RATE", rate.c_str(), 0, 1000000));
  p.ms = number("--phase MS", colon + 1, 1, 600000);
  return p;
}

double pct(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  kairos::Config cfg;
  cfg.kthreads = 1;
  cfg.self_wake = false;  // allocator mode: only an external grant unparks
  cfg.park = kairos::ParkBackend::kDevKairos;
  long service_us = 100;
  std::vector<Phase> phases;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--kthreads") {
      cfg.kthreads = static_cast<unsigned>(number(a, value(), 1, 64));
    } else if (a == "--service-us") {
      service_us = number(a, value(), 1, 100000);
    } else if (a == "--first-cpu") {
      cfg.first_cpu = static_cast<int>(number(a, value(), 0, 1023));
    } else if (a == "--park") {
      const std::string v = value();
      if (v == "devkairos") cfg.park = kairos::ParkBackend::kDevKairos;
      else if (v == "futex") cfg.park = kairos::ParkBackend::kFutex;
      else if (v == "auto") cfg.park = kairos::ParkBackend::kAuto;
      else usage_error("--park wants devkairos, futex or auto, got '" + v + "'");
    } else if (a == "--phase") {
      phases.push_back(parse_phase(value()));
    } else {
      usage_error("unknown argument '" + a + "'");
    }
  }
  if (phases.empty()) usage_error("give at least one --phase");
  cfg.shm_name = KAIROS_RUNTIME_AREA_SHM_PREFIX + std::to_string(getpid());

  std::unique_ptr<kairos::Runtime> rt;
  try {
    rt = std::make_unique<kairos::Runtime>(cfg);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spinserver: %s\n", e.what());
    return 1;
  }
  std::printf("spinserver: pid %d, %u kthreads, parking %s, area %s, service %ld us\n",
              getpid(), rt->kthreads(), rt->park_backend_name(), cfg.shm_name.c_str(),
              service_us);
  std::fflush(stdout);

  std::mt19937_64 rng(12345);
  const std::uint64_t service_ns = static_cast<std::uint64_t>(service_us) * 1000;
  std::atomic<std::uint64_t> done{0};
  std::uint64_t injected = 0;
  int status = 0;
  for (std::size_t pi = 0; pi < phases.size(); ++pi) {
    const Phase& ph = phases[pi];
    const std::size_t cap = static_cast<std::size_t>(ph.rate * ph.ms / 1000.0 * 2) + 64;
    auto reqs = std::make_unique<Request[]>(cap);
    std::size_t n = 0;
    const std::uint64_t start = now_ns(), end = start + static_cast<std::uint64_t>(ph.ms) * 1'000'000;
    std::exponential_distribution<double> gap(ph.rate > 0 ? ph.rate / 1e9 : 1.0);
    std::uint64_t next = ph.rate > 0 ? start + static_cast<std::uint64_t>(gap(rng)) : end;
    while (next < end) {
      // Absolute schedule (open loop): every arrival that is due is sent,
      // also when this thread ran late.
      std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(next)));
      const std::uint64_t t = now_ns();
      while (next <= t && next < end && n < cap) {
        Request* r = &reqs[n++];
        r->cold = rt->running_kthreads() == 0;
        r->injected = now_ns();
        rt->spawn_detached([r, service_ns, &done] {
          r->started = now_ns();
          while (now_ns() - r->started < service_ns) {
          }
          done.fetch_add(1, std::memory_order_release);
        });
        ++injected;
        next += static_cast<std::uint64_t>(gap(rng)) + 1;
      }
      if (n >= cap) break;
    }
    if (const std::uint64_t t = now_ns(); t < end)
      std::this_thread::sleep_for(std::chrono::nanoseconds(end - t));
    // Every request of the phase must have run before its numbers count.
    const std::uint64_t give_up = now_ns() + 10'000'000'000ull;
    while (done.load(std::memory_order_acquire) < injected && now_ns() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (done.load() < injected) {
      std::printf("spinserver: phase %zu: %llu of %llu requests never ran "
                  "(no grant: is kairosd's allocator running?)\n",
                  pi, static_cast<unsigned long long>(injected - done.load()),
                  static_cast<unsigned long long>(injected));
      std::fflush(stdout);
      std::_Exit(3);  // the runtime cannot be torn down with work stuck
    }
    std::vector<double> cold, warm;
    for (std::size_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(reqs[i].started - reqs[i].injected) / 1000.0;
      (reqs[i].cold ? cold : warm).push_back(d);
    }
    std::printf("spinserver: phase %zu rate=%.0f/s ms=%ld requests=%zu "
                "cold=%zu cold_delay_us_p50=%.1f cold_delay_us_p99=%.1f "
                "warm=%zu warm_delay_us_p50=%.1f warm_delay_us_p99=%.1f\n",
                pi, ph.rate, ph.ms, n, cold.size(), pct(cold, 0.5), pct(cold, 0.99),
                warm.size(), pct(warm, 0.5), pct(warm, 0.99));
    std::fflush(stdout);
  }
  rt.reset();
  std::printf("spinserver: done\n");
  return status;
}
