// Allocator benchmarks (Google Benchmark):
//  - poll-loop cost per monitored kthread: read every kthread's queue-state
//    line and run the policy over the snapshot, against a baseline that
//    only reads the lines (the runtime's own read_queue_state);
//  - decision cost: one poll that finds congestion and picks a core.
// Optional background writer (arg 'writer'=1) keeps updating every line
// from another thread, so the allocator's reads miss in its cache as they
// would in production.
#include <kairos/allocator/policy.hpp>
#include "queue_line.hpp"
#include <kairos/contracts/queue_state.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace {

using namespace kairos::policy;

constexpr unsigned kCores = 256;
constexpr unsigned kKthreadsPerApp = 16;

struct Lines {
  explicit Lines(unsigned n) : lines(new kairos_queue_state[n]()), n(n) {}
  std::unique_ptr<kairos_queue_state[]> lines;
  unsigned n;
};

// Keeps every line changing, like running kthreads do.
class Writer {
 public:
  Writer(Lines& l, bool on) {
    if (!on) return;
    t_ = std::thread([&l, this] {
      std::vector<kairos::QueueStateWriter> w;
      for (unsigned i = 0; i < l.n; ++i) w.emplace_back(&l.lines[i]);
      while (!stop_.load(std::memory_order_relaxed))
        for (auto& x : w) {
          x.rq_push();
          x.rq_pop();
        }
    });
  }
  ~Writer() {
    stop_ = true;
    if (t_.joinable()) t_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread t_;
};

void BM_ReadLinesOnly(benchmark::State& state) {
  const unsigned n = static_cast<unsigned>(state.range(0));
  Lines l(n);
  Writer w(l, state.range(1) != 0);
  for (auto _ : state) {
    std::uint32_t sum = 0;
    for (unsigned i = 0; i < n; ++i) {
      auto s = kairos::read_queue_state(&l.lines[i]);
      if (s) sum += s->rq_head - s->rq_tail;
    }
    benchmark::DoNotOptimize(sum);
  }
  state.counters["ns_per_kthread"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * n,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// n kthreads in apps of 16; every app holds some cores.
void BM_PollLoop(benchmark::State& state) {
  const unsigned n = static_cast<unsigned>(state.range(0));
  const unsigned napps = (n + kKthreadsPerApp - 1) / kKthreadsPerApp;
  Lines l(n);
  auto alloc = *CoreAllocator::create({}, Topology::uniform(kCores, true), nullptr);
  for (unsigned a = 0; a < napps; ++a)
    (void)alloc.add_app({a + 1, 0, kKthreadsPerApp, true});
  std::vector<KthreadView> kv(n);
  std::vector<AppView> av(napps);
  std::vector<CoreView> cv(kCores);
  std::vector<Decision> out;
  out.reserve(64);
  Nanos now = 1'000'000;
  for (unsigned a = 0; a < napps; ++a) {
    av[a].id = a + 1;
    const unsigned first = a * kKthreadsPerApp;
    av[a].kthreads = std::span(kv).subspan(first, std::min(kKthreadsPerApp, n - first));
  }
  Writer w(l, state.range(1) != 0);
  for (auto _ : state) {
    for (unsigned i = 0; i < n; ++i) read_kthread_view(&l.lines[i], kv[i]);
    now += 5'000;
    alloc.poll({now, av, cv}, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["ns_per_kthread"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * n,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// One poll that sees an app congested and grants it a core. All 256 cores
// run BE work (the slowest core search); the grant is undone each time so
// every iteration decides again.
void BM_DecisionPoll(benchmark::State& state) {
  const unsigned n = static_cast<unsigned>(state.range(0));
  const unsigned napps = (n + kKthreadsPerApp - 1) / kKthreadsPerApp;
  auto alloc = *CoreAllocator::create({}, Topology::uniform(kCores, true), nullptr);
  for (unsigned a = 0; a < napps; ++a)
    (void)alloc.add_app({a + 1, 0, kKthreadsPerApp, true});
  std::vector<KthreadView> kv(n);
  std::vector<AppView> av(napps);
  std::vector<CoreView> cv(kCores, CoreView{true, false});
  for (unsigned a = 0; a < napps; ++a) {
    av[a].id = a + 1;
    const unsigned first = a * kKthreadsPerApp;
    av[a].kthreads = std::span(kv).subspan(first, std::min(kKthreadsPerApp, n - first));
  }
  std::vector<Decision> out;
  out.reserve(64);
  Nanos now = 1'000'000;
  // App 1 gets one core (its kthread 0 runs), then stays congested.
  kv[0].rq_head = 1;
  alloc.poll({now += 5000, av, cv}, out);
  kv[0].parked = false;
  kv[0].rq_head = 5;
  kv[0].rq_tail = 1;
  alloc.poll({now += 5000, av, cv}, out);
  benchmark::IterationCount grants = 0;
  // Undoing the grant (grant_failed, a few ns) stays inside the timed loop:
  // pausing the timer would cost more than what is measured.
  for (auto _ : state) {
    alloc.poll({now += 5000, av, cv}, out);
    for (const auto& d : out)
      if (d.kind == DecisionKind::kGrant) {
        ++grants;
        alloc.grant_failed(d);
      }
  }
  if (grants != state.iterations()) state.SkipWithError("poll did not grant");
}

}  // namespace

BENCHMARK(BM_ReadLinesOnly)->ArgsProduct({{16, 64, 256}, {0, 1}})->ArgNames({"kthreads", "writer"})->UseRealTime();
BENCHMARK(BM_PollLoop)->ArgsProduct({{16, 64, 256}, {0, 1}})->ArgNames({"kthreads", "writer"})->UseRealTime();
BENCHMARK(BM_DecisionPoll)->Arg(16)->Arg(256)->ArgName("kthreads")->UseRealTime();
BENCHMARK_MAIN();
