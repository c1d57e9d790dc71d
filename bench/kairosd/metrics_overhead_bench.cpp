// Does serving metrics cost the allocator's poll loop anything? kairosd's
// allocator loop (AllocatorService, spin mode, 5 us polls, pinned to one
// CPU) over a fake scheduler (64 CPUs) and 4 LC apps with runtime areas of
// 16 parked kthreads each (polled only where /dev/kairos can wake them;
// else the apps are watched through the scheduler's queue), with a
// publisher taking a status snapshot every 200 ms (as kairosd's scan
// does) and kairosd's metrics server on a Unix socket. Phases alternate in
// one run: no scrape, 1 scrape/s, 100 scrapes/s (a stress peer). Prints
// the loop's own figures per phase (mean and median cost of a quiet poll)
// and each phase's ratio to the unscraped one.
//   metrics_overhead_bench [CPU] [SECONDS PER PHASE] [ROUNDS]
#include "allocator_service.hpp"
#include "fake_sched.hpp"
#include "metrics_server.hpp"

#include <kairos/contracts/queue_state.hpp>
#include <kairos/contracts/queue_state_area.hpp>

#include <httplib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

using namespace kairos;
using namespace std::chrono;

std::shared_ptr<const RuntimeAreaView> idle_area(std::uint32_t n) {
  const int fd = memfd_create("kairos-bench-area", MFD_CLOEXEC);
  const std::size_t len = runtime_area_size(n);
  if (ftruncate(fd, static_cast<off_t>(len)) != 0) std::abort();
  void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  runtime_area_init(base, n, 1, static_cast<std::uint32_t>(getpid()));
  std::string err;
  auto v = RuntimeAreaView::attach_fd(fd, &err);
  if (!v) std::abort();
  auto view = std::make_shared<const RuntimeAreaView>(std::move(*v));
  const auto* h = static_cast<const kairos_runtime_area*>(base);
  for (std::uint32_t k = 0; k < n; ++k)
    QueueStateWriter(reinterpret_cast<kairos_queue_state*>(static_cast<char*>(base) +
                                                           h->lines_offset +
                                                           k * KAIROS_QUEUE_STATE_LINE_SIZE))
        .set_parked(1);
  close(fd);
  return view;
}

struct Phase {
  const char* name;
  int scrapes_per_s;
  std::vector<double> mean_ns, p50_ns;
  std::uint64_t scrapes = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned cpu = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 1;
  const double secs = argc > 2 ? std::atof(argv[2]) : 3.0;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 4;
  constexpr std::uint32_t kCores = 64, kKthreads = 64;

  FakeSched sched(kCores);
  AllocatorOptions o;
  o.cpu = cpu;
  o.power = AllocatorOptions::Power::kSpin;
  AllocatorService svc(o, kCores, [](const std::string&) {});
  std::vector<AllocatorApp> apps;
  for (std::uint32_t a = 0; a < 4; ++a)
    apps.push_back({a + 1, 0, 8, getpid(), idle_area(kKthreads / 4)});
  svc.update(apps, std::vector<bool>(kCores, true));
  svc.start(sched);

  // The daemon's side: a snapshot every 200 ms, published for the server.
  auto board = std::make_shared<status::SnapshotBoard>();
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    while (!stop) {
      status::Snapshot s;
      s.daemon.backend = "sched_ext";
      for (const auto& a : apps) {
        status::AppInfo ai;
        ai.id = a.id;
        ai.cgroup = "bench-" + std::to_string(a.id);
        ai.cls = "lc";
        svc.fill_app(ai);
        s.apps.push_back(std::move(ai));
      }
      for (unsigned c = 0; c < kCores; ++c) s.cpus.push_back({c, true, 0, false, 0, {}, {}, {}});
      s.allocator = svc.info();
      board->publish(std::make_shared<const status::Snapshot>(std::move(s)));
      std::this_thread::sleep_for(milliseconds(200));
    }
  });
  MetricsListen where;
  where.kind = MetricsListen::Kind::kUnix;
  where.path = "/tmp/kairos-metrics-bench-" + std::to_string(getpid()) + ".sock";
  MetricsServer server(where, board, static_cast<int>(cpu));

  std::atomic<int> rate{0};
  std::atomic<std::uint64_t> scrapes{0};
  std::size_t body = 0;
  std::thread scraper([&] {
    httplib::Client cli(where.path);
    cli.set_address_family(AF_UNIX);
    auto next = steady_clock::now();
    while (!stop) {
      const int r = rate.load();
      if (r == 0) {
        std::this_thread::sleep_for(milliseconds(10));
        next = steady_clock::now();
        continue;
      }
      if (auto res = cli.Get("/metrics"); res && res->status == 200) {
        body = res->body.size();
        scrapes++;
      }
      next += microseconds(1'000'000 / r);
      // Short naps, so a phase change stops the scrapes at once.
      while (steady_clock::now() < next && rate.load() == r && !stop)
        std::this_thread::sleep_for(std::min<steady_clock::duration>(next - steady_clock::now(),
                                                                     milliseconds(10)));
    }
  });

  std::vector<Phase> phases{{"no scrape", 0, {}, {}}, {"1 scrape/s", 1, {}, {}},
                            {"100 scrapes/s", 100, {}, {}}};
  std::this_thread::sleep_for(milliseconds(500));
  for (int r = 0; r < rounds; ++r)
    for (Phase& p : phases) {
      rate = p.scrapes_per_s;
      std::this_thread::sleep_for(milliseconds(100));
      const status::AllocatorInfo a = svc.info();
      const std::uint64_t s0 = scrapes;
      std::this_thread::sleep_for(duration<double>(secs));
      const status::AllocatorInfo b = svc.info();
      p.scrapes += scrapes - s0;
      const double n = static_cast<double>(b.quiet_polls - a.quiet_polls);
      p.mean_ns.push_back(n ? static_cast<double>(b.quiet_ns_total - a.quiet_ns_total) / n : 0);
      p.p50_ns.push_back(static_cast<double>(b.quiet_poll_ns_p50));
    }
  stop = true;
  scraper.join();
  publisher.join();
  svc.stop();

  std::printf("kairosd allocator loop, spin, 5 us polls, CPU %u, %u apps, %u kthreads polled "
              "(of %u; the rest need /dev/kairos); snapshot every 200 ms; %d rounds of %.1f s "
              "per phase; /metrics body %zu bytes\n",
              cpu, svc.info().apps, svc.info().kthreads, kKthreads, rounds, secs, body);
  std::printf("%-14s %8s %16s %18s %10s %10s\n", "phase", "scrapes", "mean ns/poll (med)",
              "median ns/poll (med)", "mean ratio", "p50 ratio");
  const double m0 = median(phases[0].mean_ns), q0 = median(phases[0].p50_ns);
  for (const Phase& p : phases) {
    const double m = median(p.mean_ns), q = median(p.p50_ns);
    std::printf("%-14s %8llu %16.0f %18.0f %10.3f %10.3f\n", p.name,
                static_cast<unsigned long long>(p.scrapes), m, q, m0 ? m / m0 : 0,
                q0 ? q / q0 : 0);
  }
  std::printf("per round (mean ns/poll):");
  for (int r = 0; r < rounds; ++r)
    for (const Phase& p : phases) std::printf(" %s=%.0f", p.scrapes_per_s ? std::to_string(p.scrapes_per_s).c_str() : "0", p.mean_ns[r]);
  std::printf("\n");
  return 0;
}
