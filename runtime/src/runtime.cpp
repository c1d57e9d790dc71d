// Runtime set-up and tear-down, the shared queue-state area, and the
// elasticity / preemption controls an allocator uses.
#include "internal.hpp"
#include "netpoll.hpp"

#include <kairos/contracts/queue_state_area.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace kairos {

namespace detail {
void on_preempt_signal(int);  // scheduler.cpp
}

using namespace detail;

namespace {

[[noreturn]] void fail_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(),
                          std::string("kairos: ") + what);
}

void validate(const Config& c) {
  if (c.kthreads > KAIROS_RUNTIME_AREA_MAX_KTHREADS)
    throw std::invalid_argument("kairos: kthreads must be <= " +
                                std::to_string(KAIROS_RUNTIME_AREA_MAX_KTHREADS));
  if (c.stack_size < 16 * 1024 || c.stack_size > (std::size_t{1} << 30))
    throw std::invalid_argument("kairos: stack_size must be in [16 KiB, 1 GiB]");
  if (c.spin_before_park.count() < 0)
    throw std::invalid_argument("kairos: spin_before_park must be >= 0");
  if (c.park_spin.count() < 0 || c.park_spin > std::chrono::seconds(1))
    throw std::invalid_argument("kairos: park_spin must be in [0, 1 s]");
  if (c.preempt_quantum.count() < 0)
    throw std::invalid_argument("kairos: preempt_quantum must be >= 0");
  if (!c.shm_name.empty() &&
      (c.shm_name[0] != '/' || c.shm_name.size() < 2 ||
       c.shm_name.find('/', 1) != std::string::npos || c.shm_name.size() > 200))
    throw std::invalid_argument(
        "kairos: shm_name must look like \"/name\" (one slash, at the start)");
}

void create_area(RuntimeImpl* rt, unsigned n) {
  const Config& c = rt->cfg;
  if (c.shm_name.empty()) {
    rt->area_fd = memfd_create("kairos-runtime", MFD_CLOEXEC);
    if (rt->area_fd < 0) fail_errno("memfd_create");
  } else {
    shm_unlink(c.shm_name.c_str());  // a stale area of a dead process
    rt->area_fd = shm_open(c.shm_name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC,
                           0644);
    if (rt->area_fd < 0) fail_errno("shm_open");
  }
  rt->area_size = runtime_area_size(n);
  if (ftruncate(rt->area_fd, static_cast<off_t>(rt->area_size)) != 0)
    fail_errno("ftruncate of the runtime area");
  rt->area = mmap(nullptr, rt->area_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                  rt->area_fd, 0);
  if (rt->area == MAP_FAILED) {
    rt->area = nullptr;
    fail_errno("mmap of the runtime area");
  }
  runtime_area_init(rt->area, n, c.app_id, static_cast<std::uint32_t>(getpid()));
  auto* h = static_cast<kairos_runtime_area*>(rt->area);
  rt->lines = reinterpret_cast<kairos_queue_state*>(static_cast<char*>(rt->area) +
                                                    h->lines_offset);
  rt->infos = reinterpret_cast<kairos_kthread_info*>(static_cast<char*>(rt->area) +
                                                     h->tids_offset);
}

void destroy_area(RuntimeImpl* rt) {
  if (rt->area) munmap(rt->area, rt->area_size);
  if (rt->area_fd >= 0) close(rt->area_fd);
  if (!rt->cfg.shm_name.empty()) shm_unlink(rt->cfg.shm_name.c_str());
  rt->area = nullptr;
  rt->area_fd = -1;
}

void install_signal_handler() {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  struct sigaction sa {};
  sa.sa_handler = &on_preempt_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGURG, &sa, nullptr);
}

void request_preempt(RuntimeImpl* rt, Kthread* k) {
  if (rt->cfg.preempt_by_signal) {
    const int tid = k->tid.load();
    if (tid > 0) {
      syscall(SYS_tgkill, getpid(), tid, SIGURG);
      return;
    }
  }
  k->preempt_req.store(true, std::memory_order_relaxed);
}

// The runtime's own housekeeping thread, two jobs:
// - preemption: a kthread whose uthread has not switched for a whole
//   quantum is asked to preempt it at its next safe point;
// - congestion (self_wake only, Shenango's rule run in-process): a queue
//   whose dequeue count did not move while it held work across two checks
//   gets a parked kthread woken. This covers a waker that readies a uthread
//   locally and then keeps running instead of switching to it.
// It ticks every 50 us while it has something to watch: work queued
// behind a running uthread while a kthread is parked (one the check could
// wake), or with a quantum any running uthread. With nothing to watch the
// period doubles at each tick up to 10 ms, as Go's sysmon backs off, so a
// lone running uthread (the usual state of a latency-critical app) sees
// no periodic wake-ups. They are not free even on an idle CPU: on this
// virtualised host, with the ticker at a steady 1 ms, a parked kthread's
// wake took 1.5x a futex wake instead of 1.15x (docs/bench/runtime.md).
// Queued work while every kthread runs has nobody to wake: the period
// then stops at 1 ms, so a kthread that parks later is noticed soon
// (a one-kthread runtime never has anyone to wake: a busy server on one
// kthread ticked ~3,000 times a second for nothing). The price: a
// uthread queued behind a waker that keeps running after a quiet stretch
// waits up to ~10 ms instead of ~100 us for its congestion wake; with an
// allocator (no self_wake) the allocator watches the lines instead.
void ticker_main(RuntimeImpl* rt) {
  using namespace std::chrono;
  const std::size_t n = rt->ks.size();
  const auto quantum = rt->cfg.preempt_quantum;
  const auto busy_tick = microseconds(50);
  const auto max_watch_tick = milliseconds(1);
  const auto max_idle_tick = milliseconds(10);
  std::vector<std::uint64_t> last_switches(n, ~0ull);
  std::vector<steady_clock::time_point> since(n, steady_clock::now());
  std::vector<std::uint32_t> last_tail(n, 0);
  std::vector<bool> was_queued(n, false);
  microseconds tick = busy_tick;
  std::unique_lock<std::mutex> lk(rt->ticker_mutex);
  while (!rt->stopping.load(std::memory_order_acquire)) {
    // Woken early by the destructor, so a long idle tick never delays it.
    rt->ticker_cv.wait_for(lk, tick, [rt] {
      return rt->stopping.load(std::memory_order_acquire);
    });
    bool busy = false;
    bool watching = false;  // queued work, but no parked kthread to wake
    const bool can_wake = rt->nr_parked.load(std::memory_order_relaxed) > 0;
    const auto now = steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) {
      Kthread* k = rt->ks[i].get();
      const bool running = k->current.load(std::memory_order_relaxed) != nullptr;
      if (quantum.count() > 0) {
        busy |= running;
        const std::uint64_t s = k->switches.load(std::memory_order_relaxed);
        if (s != last_switches[i] || !running) {
          last_switches[i] = s;
          since[i] = now;
        } else if (now - since[i] >= quantum) {
          request_preempt(rt, k);
          since[i] = now;
        }
      }
      if (rt->cfg.self_wake) {
        auto snap = read_queue_state(&rt->lines[i]);
        if (!snap) continue;
        const bool queued = snap->rq_len() != 0;
        // Work behind a running uthread is what may stall; work queued
        // for an idle or parked kthread is being picked up or woken for.
        if (queued && running && n > 1) {
          if (can_wake)
            busy = true;
          else
            watching = true;
        }
        if (queued && was_queued[i] && snap->rq_tail == last_tail[i])
          maybe_wake(rt);
        was_queued[i] = queued;
        last_tail[i] = snap->rq_tail;
      }
    }
    if (busy) {
      tick = quantum.count() > 0 ? std::min<microseconds>(busy_tick, quantum / 2)
                                 : busy_tick;
      if (tick < microseconds(20)) tick = microseconds(20);
    } else {
      tick = std::min<microseconds>(2 * tick, watching ? max_watch_tick : max_idle_tick);
    }
  }
}

}  // namespace

Runtime::Runtime(Config cfg) : impl_(std::make_unique<RuntimeImpl>()) {
  validate(cfg);
  if (cfg.kthreads == 0) {
    const unsigned hw = std::thread::hardware_concurrency();
    cfg.kthreads = hw ? hw : 1;
  }
  RuntimeImpl* rt = impl_.get();
  rt->cfg = std::move(cfg);
  rt->pub = this;
  rt->page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  rt->parker = make_parker(rt->cfg.park);
  rt->cpu_pages = rt->parker->cpu_pages(&rt->nr_cpu_pages);
  const unsigned n = rt->cfg.kthreads;
  create_area(rt, n);
  for (unsigned i = 0; i < n; ++i) {
    auto k = std::make_unique<Kthread>();
    k->rt = rt;
    k->index = i;
    k->line = QueueStateWriter(&rt->lines[i]);
    k->spin = SpinThenPark(
        static_cast<std::uint64_t>(rt->cfg.spin_before_park.count()),
        // Allocator mode: a granted core is the allocator's call (and
        // dedicated to the kthread under sched_ext), so it keeps spinning.
        rt->cfg.adaptive_spin && rt->cfg.self_wake, &process_spin_state());
    rt->ks.push_back(std::move(k));
  }
  if (rt->cfg.preempt_by_signal) install_signal_handler();
  try {
    for (auto& k : rt->ks) k->os_thread = std::thread(kthread_main, k.get());
    if (rt->cfg.preempt_quantum.count() > 0 || rt->cfg.self_wake)
      rt->ticker = std::thread(ticker_main, rt);
  } catch (...) {
    rt->stopping.store(true);
    for (auto& k : rt->ks) {
      unpark_kthread(rt, k.get());
      if (k->os_thread.joinable()) k->os_thread.join();
    }
    destroy_area(rt);
    throw;
  }
}

Runtime::~Runtime() {
  RuntimeImpl* rt = impl_.get();
  if (current() == this) {
    // It would wait for itself forever.
    std::fputs("kairos: a Runtime was destroyed from one of its uthreads\n",
               stderr);
    std::abort();
  }
  // Let every remaining uthread finish, whatever the allocator said.
  rt->draining.store(true, std::memory_order_seq_cst);
  grant(kthreads());
  while (live_uthreads(rt) != 0)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  rt->stopping.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> g(rt->ticker_mutex);
  }
  rt->ticker_cv.notify_all();
  for (auto& k : rt->ks) unpark_kthread(rt, k.get());
  for (auto& k : rt->ks) k->os_thread.join();
  if (rt->ticker.joinable()) rt->ticker.join();
  netpoll_shutdown(rt);
  for (auto& k : rt->ks) {
    k->free_cache.clear();
    if (const int e = k->park_evfd.load(); e >= 0) close(e);
  }
  free_all_uthreads(rt);
  destroy_area(rt);
}

unsigned Runtime::grant(unsigned n) {
  RuntimeImpl* rt = impl_.get();
  unsigned acted = 0;
  for (auto& k : rt->ks) {
    if (acted == n) break;
    // Cancelling a pending reclaim keeps that core.
    if (k->park_req.exchange(false)) {
      ++acted;
      continue;
    }
    if (unpark_kthread(rt, k.get())) ++acted;
  }
  return acted;
}

unsigned Runtime::reclaim(unsigned n) {
  RuntimeImpl* rt = impl_.get();
  unsigned acted = 0;
  for (auto it = rt->ks.rbegin(); it != rt->ks.rend() && acted < n; ++it) {
    Kthread* k = it->get();
    if (k->park_state.load() != 0 || k->park_req.load()) continue;
    k->park_req.store(true);
    ++acted;
  }
  return acted;
}

void Runtime::preempt(unsigned k) {
  if (k >= kthreads()) throw std::out_of_range("kairos: no such kthread");
  request_preempt(impl_.get(), impl_->ks[k].get());
}

unsigned Runtime::kthreads() const {
  return static_cast<unsigned>(impl_->ks.size());
}

unsigned Runtime::running_kthreads() const {
  unsigned n = 0;
  for (auto& k : impl_->ks) n += k->park_state.load() == 0;
  return n;
}

const char* Runtime::park_backend_name() const { return impl_->parker->name(); }

int Runtime::queue_state_fd() const { return impl_->area_fd; }

const kairos_queue_state* Runtime::queue_state_line(unsigned k) const {
  return k < kthreads() ? &impl_->lines[k] : nullptr;
}

void Runtime::publish_rx(unsigned k, std::uint32_t head, std::uint32_t tail) {
  if (k >= kthreads()) throw std::out_of_range("kairos: no such kthread");
  Kthread* kt = impl_->ks[k].get();
  kt->rq_lock.lock();
  kt->udp_rx_head = head;
  kt->udp_rx_tail = tail;
  publish_rx_line(kt);  // plus the netpoller's TCP wakes
  kt->rq_lock.unlock();
}

void Runtime::add_poller(std::function<bool(unsigned)> poll) {
  if (!poll) throw std::invalid_argument("kairos: empty poller");
  RuntimeImpl* rt = impl_.get();
  rt->poller_lock.lock();
  const unsigned n = rt->nr_pollers.load(std::memory_order_relaxed);
  if (n == RuntimeImpl::kMaxPollers) {
    rt->poller_lock.unlock();
    throw std::length_error("kairos: too many pollers");
  }
  rt->pollers[n] = std::move(poll);
  rt->nr_pollers.store(n + 1, std::memory_order_release);
  rt->poller_lock.unlock();
}

Runtime* Runtime::current() {
  Kthread* k = current_kthread();
  return k ? k->rt->pub : nullptr;
}

}  // namespace kairos
