// The per-kthread loop: run queues, stack switches, work stealing,
// spinning and parking (ZygOS / Shenango style).
#include "devkairos_calls.hpp"
#include "internal.hpp"
#include "netpoll.hpp"

#include <kairos/contracts/clock.hpp>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

namespace kairos::detail {
namespace {

thread_local Kthread* tl_kthread = nullptr;

// What a context tells the one it jumps to (lives on the jumper's stack
// and is read before anything can resume the jumper again).
struct SwitchMsg {
  Uthread* from;  // nullptr: the scheduler loop jumped
  bool exiting;
};

constexpr std::uint32_t kSchedEvery = 64;  // direct switches between polls
constexpr std::uint32_t kPollersEvery = 16;  // busy scheduler passes per poll
// PAUSEs between two idle polls. Each poll is where a spinning kthread
// notices a wake, so this bounds the pick-up delay (a PAUSE is 64 cycles
// on the AMD EPYC hosts here, up to 140 on recent Intel cores); the poll
// itself only reads lines that stay shared until someone queues work.
constexpr int kIdlePauses = 2;

std::uint64_t next_random(Kthread* k) {
  // xorshift64*: cheap victim choice for stealing.
  std::uint64_t x = k->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  k->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

// The stacks a switch lands on, as the sanitizers want them.
StackRef stack_of(const Uthread* u) {
  const std::size_t guard = u->rt->page;
  return {u->tsan_fiber, u->stack_lo + guard, u->stack_bytes - guard};
}
StackRef sched_stack_of(const Kthread* k) {
  return {k->sched_fiber, k->sched_stack_lo, k->sched_stack_size};
}

void wait_off_cpu(Uthread* u) {
  while (u->on_cpu.load(std::memory_order_acquire)) cpu_relax();
}

}  // namespace

// Runs in every context right after a jump lands: saves the context that
// was left, and lets it be resumed (or releases it when it finished).
void on_resume(Transfer t) {
  const SwitchMsg m = *static_cast<SwitchMsg*>(t.data);
  if (m.from == nullptr) {
    current_kthread()->sched_ctx = t.fctx;
  } else if (m.exiting) {
    uthread_exited(m.from);
  } else {
    m.from->ctx = t.fctx;
    m.from->on_cpu.store(false, std::memory_order_release);
  }
}

namespace {

void set_line_state(Kthread* k, kairos_kthread_state s) {
  k->rq_lock.lock();
  k->line.set_state(s);
  k->rq_lock.unlock();
}

Uthread* rq_pop(Kthread* k) {
  if (k->rq_len.load(std::memory_order_relaxed) == 0) return nullptr;
  k->rq_lock.lock();
  Uthread* u = k->rq_head;
  if (u) {
    k->rq_head = u->rq_next;
    if (!k->rq_head) k->rq_tail = nullptr;
    u->rq_next = nullptr;
    k->rq_len.store(k->rq_len.load(std::memory_order_relaxed) - 1,
                    std::memory_order_relaxed);
    k->line.rq_pop(1);
  }
  k->rq_lock.unlock();
  return u;
}

// Appends the chain first..last (n uthreads, last->rq_next == nullptr) to
// k's run queue and publishes it in k's queue-state line.
void rq_append(Kthread* k, Uthread* first, Uthread* last, std::uint32_t n) {
  k->rq_lock.lock();
  if (k->rq_tail)
    k->rq_tail->rq_next = first;
  else
    k->rq_head = first;
  k->rq_tail = last;
  k->rq_len.store(k->rq_len.load(std::memory_order_relaxed) + n,
                  std::memory_order_relaxed);
  k->line.rq_push(n);
  k->rq_lock.unlock();
}

// Takes the older half of v's queue (at least one). Returns the first
// stolen uthread to run now; the rest go to k's queue.
Uthread* steal_from(Kthread* k, Kthread* v) {
  if (v->rq_len.load(std::memory_order_relaxed) == 0) return nullptr;
  if (!v->rq_lock.try_lock()) return nullptr;
  const std::uint32_t len = v->rq_len.load(std::memory_order_relaxed);
  const std::uint32_t take = (len + 1) / 2;
  Uthread* first = v->rq_head;
  Uthread* last = first;
  for (std::uint32_t i = 1; i < take && last; ++i) last = last->rq_next;
  if (first) {
    v->rq_head = last->rq_next;
    if (!v->rq_head) v->rq_tail = nullptr;
    last->rq_next = nullptr;
    v->rq_len.store(len - take, std::memory_order_relaxed);
    v->line.rq_pop(take);
  }
  v->rq_lock.unlock();
  if (!first) return nullptr;
  if (Uthread* rest = first->rq_next) {
    first->rq_next = nullptr;
    rq_append(k, rest, last, take - 1);
  }
  if (take > 1) maybe_wake(k->rt);  // more than one kthread's worth
  return first;
}

Uthread* steal(Kthread* k) {
  RuntimeImpl* rt = k->rt;
  const std::size_t n = rt->ks.size();
  if (n < 2) return nullptr;
  const std::size_t start = next_random(k) % n;
  for (std::size_t i = 0; i < n; ++i) {
    Kthread* v = rt->ks[(start + i) % n].get();
    if (v == k) continue;
    if (Uthread* u = steal_from(k, v)) return u;
  }
  return nullptr;
}

bool poll_pollers(Kthread* k) {
  RuntimeImpl* rt = k->rt;
  const unsigned n = rt->nr_pollers.load(std::memory_order_acquire);
  bool any = false;
  for (unsigned i = 0; i < n; ++i) any |= rt->pollers[i](k->index);
  return any;
}

bool work_visible(RuntimeImpl* rt) {
  for (auto& v : rt->ks)
    if (v->rq_len.load(std::memory_order_relaxed) != 0) return true;
  return rt->next_deadline.load(std::memory_order_relaxed) <= now_ns();
}

// Hands k's queued uthreads to a kthread that keeps running.
void migrate_queue(Kthread* k) {
  RuntimeImpl* rt = k->rt;
  Kthread* to = nullptr;
  for (auto& v : rt->ks) {
    if (v.get() == k || v->park_state.load() != 0 || v->park_req.load())
      continue;
    to = v.get();
    break;
  }
  if (!to) return;  // nobody left: the work waits here, visible in the line
  k->rq_lock.lock();
  Uthread* head = k->rq_head;
  Uthread* tail = k->rq_tail;
  const std::uint32_t len = k->rq_len.load(std::memory_order_relaxed);
  k->rq_head = k->rq_tail = nullptr;
  k->rq_len.store(0, std::memory_order_relaxed);
  if (len) k->line.rq_pop(len);
  k->rq_lock.unlock();
  if (!head) return;
  rq_append(to, head, tail, len);
}

// Gives the core back until unparked, a timer is due, or shutdown.
// forced: the allocator reclaimed this kthread, so visible work elsewhere
// is no reason to stay.
void park(Kthread* k, bool forced) {
  RuntimeImpl* rt = k->rt;
  // The first kthread to park while sockets are registered parks in the
  // netpoller (before it publishes "parked": an unpark must find it there).
  const bool in_poller = !forced && netpoll_take_park(rt, k);
  rt->parker->prepare(*k);
  k->park_state.store(1, std::memory_order_seq_cst);
  rt->nr_parked.fetch_add(1, std::memory_order_seq_cst);
  k->rq_lock.lock();
  // The CPU it parks on: where an allocator posts a grant for it.
  if (const int cpu = sched_getcpu(); cpu >= 0)
    k->line.set_cpu(static_cast<std::uint32_t>(cpu));
  k->line.set_parked(now_ns());
  k->rq_lock.unlock();
  rt->nr_spinning.fetch_sub(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Recheck after publishing: a waker that saw no spinner will unpark us,
  // one that saw a spinner relies on this check finding its work.
  const bool cancel =
      rt->stopping.load(std::memory_order_seq_cst) ||
      (!forced && (rt->cfg.self_wake || rt->draining.load()) &&
       work_visible(rt)) ||
      (forced && k->rq_len.load(std::memory_order_relaxed) != 0 &&
       rt->draining.load());
  if (!cancel) {
    // No spinning in the park either while the spin-then-park rule backs off.
    const std::uint64_t spin =
        k->spin.quiet(now_ns())
            ? 0
            : static_cast<std::uint64_t>(rt->cfg.park_spin.count());
    rt->parks.fetch_add(1, std::memory_order_relaxed);
    if (in_poller)
      netpoll_park(k, rt->next_deadline.load(std::memory_order_relaxed));
    else
      rt->parker->park(*k, rt->next_deadline.load(std::memory_order_relaxed),
                       spin);
  }
  rt->parker->finish(*k);
  std::uint32_t parked = 1;
  if (k->park_state.compare_exchange_strong(parked, 0))
    rt->nr_parked.fetch_sub(1, std::memory_order_relaxed);
  if (in_poller) netpoll_park_done(rt, k);
  rt->nr_spinning.fetch_add(1, std::memory_order_seq_cst);
  set_line_state(k, KAIROS_KTHREAD_RUNNING);
}

// Context switches of the calling thread, voluntary and not: a spinner
// that shows none across a gap never left its CPU.
std::uint64_t thread_switches() {
  rusage ru{};
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return ~0ull;  // cannot tell: as unread
  return static_cast<std::uint64_t>(ru.ru_nvcsw) + static_cast<std::uint64_t>(ru.ru_nivcsw);
}

// The idle loop: local queue, timers, stealing, pollers, spin, park. How
// long it spins is the spin-then-park rule's call (spin_then_park.hpp): it parks at
// once when its CPU turns out to be shared.
Uthread* find_work(Kthread* k) {
  RuntimeImpl* rt = k->rt;
  std::uint64_t spin_start = 0, spin_ns = 0, last_poll = 0;
  // The thread's switch count early in this idle period's spin, read once
  // the spin has lasted kReadSwitchesAfterNs (short idle periods, the
  // common case under load, never pay the system call); a gap before
  // that counts as a switch, as every gap did.
  constexpr std::uint64_t kUnread = ~0ull, kReadSwitchesAfterNs = 10'000;
  std::uint64_t switches_at_start = kUnread;
  for (;;) {
    if (k->park_req.load(std::memory_order_relaxed)) {
      k->park_req.store(false, std::memory_order_relaxed);
      migrate_queue(k);
      park(k, true);
      spin_start = last_poll = 0;
    }
    // Timers first: a kthread whose queue never drains must still fire
    // them (preempted uthreads come back through here).
    poll_timers(rt);
    if ((++k->sched_polls % kPollersEvery) == 0) {
      poll_pollers(k);
      netpoll_harvest(rt, k);
    }
    if (Uthread* u = rq_pop(k)) return u;
    if (Uthread* u = steal(k)) return u;
    if (netpoll_harvest(rt, k) || poll_pollers(k)) {
      last_poll = 0;  // its work is no gap
      continue;
    }
    if (rt->stopping.load(std::memory_order_acquire) &&
        live_uthreads(rt) == 0)
      return nullptr;
    const std::uint64_t now = now_ns();
    const bool descheduled = k->spin.on_poll(last_poll, now, [&] {
      return switches_at_start == kUnread || thread_switches() != switches_at_start;
    });
    last_poll = now;
    if (spin_start == 0) {
      spin_start = now;
      spin_ns = k->spin.budget(now);
      switches_at_start = kUnread;
    } else if (descheduled || now - spin_start >= spin_ns) {
      park(k, false);
      spin_start = last_poll = 0;
      continue;
    } else if (switches_at_start == kUnread && k->spin.adaptive() &&
               now - spin_start >= kReadSwitchesAfterNs) {
      switches_at_start = thread_switches();
    }
    for (int i = 0; i < kIdlePauses; ++i) cpu_relax();
  }
}

// Bookkeeping before u runs on k: u's previous context is off its old
// CPU, k now runs u, and u's home (for remote wakes) becomes k.
void take_cpu(Kthread* k, Uthread* u) {
  wait_off_cpu(u);
  u->on_cpu.store(true, std::memory_order_relaxed);
  k->current.store(u, std::memory_order_relaxed);
  u->home.store(k->index, std::memory_order_relaxed);
  k->switches.store(k->switches.load(std::memory_order_relaxed) + 1,
                    std::memory_order_relaxed);
}

// Scheduler loop -> uthread u, and back when u switches to the scheduler.
void run(Kthread* k, Uthread* u) {
  // A PREEMPT that came while the kthread was idle is not for u.
  if (k->rt->cpu_pages) preempt_flag_raised(k);
  take_cpu(k, u);
  k->direct_switches = 0;
  set_line_state(k, KAIROS_KTHREAD_BUSY);
  SwitchMsg m{nullptr, false};
  on_resume(jump_context(u->ctx, stack_of(u), &m));
  k->current.store(nullptr, std::memory_order_relaxed);
  set_line_state(k, KAIROS_KTHREAD_RUNNING);
}

}  // namespace

std::uint64_t now_ns() { return monotonic_ns(); }

// Not inlined, so no caller keeps a TLS address across a stack switch that
// may move it to another OS thread.
__attribute__((noinline)) Kthread* current_kthread() {
  Kthread* k = tl_kthread;
  asm volatile("" ::: "memory");
  return k;
}

// SIGURG: ask the interrupted kthread to preempt at its next safe point.
// Only an atomic store, so it is async-signal-safe.
void on_preempt_signal(int) {
  if (Kthread* k = tl_kthread)
    k->preempt_req.store(true, std::memory_order_relaxed);
}

SpinShared& process_spin_state() {
  static SpinShared state;
  return state;
}

bool preempt_flag_raised(Kthread* k) {
  RuntimeImpl* rt = k->rt;
  if (!rt->cpu_pages) return false;
  const int c = sched_getcpu();
  if (c < 0 || static_cast<unsigned>(c) >= rt->nr_cpu_pages) return false;
  const auto cpu = static_cast<unsigned>(c);
  const std::uint64_t gen = page_preempt_gen(rt->cpu_pages, cpu);
  // A move to another CPU only resynchronises: that CPU's earlier
  // PREEMPTs were meant for whoever ran there.
  const bool raised = cpu == k->pg_cpu && gen != k->pg_gen;
  k->pg_cpu = cpu;
  k->pg_gen = gen;
  return raised;
}

void rq_push(Kthread* k, Uthread* u) {
  u->rq_next = nullptr;
  rq_append(k, u, u, 1);
}

std::int64_t live_uthreads(RuntimeImpl* rt) {
  std::int64_t exited = 0, started = 0;
  for (auto& k : rt->ks) exited += k->exited.load(std::memory_order_seq_cst);
  for (auto& k : rt->ks) started += k->started.load(std::memory_order_seq_cst);
  started += rt->foreign_started.load(std::memory_order_seq_cst);
  return started - exited;
}

bool unpark_kthread(RuntimeImpl* rt, Kthread* k) {
  std::uint32_t parked = 1;
  if (!k->park_state.compare_exchange_strong(parked, 0)) return false;
  rt->nr_parked.fetch_sub(1, std::memory_order_relaxed);
  rt->unparks.fetch_add(1, std::memory_order_relaxed);
  if (!netpoll_unpark(rt, k)) rt->parker->unpark(*k);
  return true;
}

void maybe_wake(RuntimeImpl* rt) {
  if (!rt->cfg.self_wake && !rt->draining.load(std::memory_order_relaxed))
    return;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (rt->nr_parked.load(std::memory_order_relaxed) == 0) return;
  if (rt->nr_spinning.load(std::memory_order_seq_cst) > 0) return;
  for (auto& k : rt->ks) {
    if (k->park_req.load(std::memory_order_relaxed)) continue;
    if (unpark_kthread(rt, k.get())) return;
  }
}

void make_ready(Uthread* u) {
  RuntimeImpl* rt = u->rt;
  Kthread* k = current_kthread();
  const bool local = k && k->rt == rt;
  if (!local) {
    // From outside the runtime: round-robin, preferring running kthreads.
    const std::size_t n = rt->ks.size();
    const std::size_t start = rt->inject_rr.fetch_add(1) % n;
    k = rt->ks[start].get();
    for (std::size_t i = 0; i < n; ++i) {
      Kthread* c = rt->ks[(start + i) % n].get();
      if (c->park_state.load(std::memory_order_relaxed) == 0) {
        k = c;
        break;
      }
    }
  }
  if (local) {
    // ZygOS-style remote wake: a uthread that last ran on another kthread
    // goes back there (its cache is warm there) when that kthread is
    // running, or is parked and may be woken for it; the kthread is
    // unparked directly, much as ZygOS sends an IPI.
    const unsigned home = u->home.load(std::memory_order_relaxed);
    if (home != k->index && home < rt->ks.size()) {
      Kthread* h = rt->ks[home].get();
      const bool may_wake =
          rt->cfg.self_wake || rt->draining.load(std::memory_order_relaxed);
      if (!h->park_req.load(std::memory_order_relaxed)) {
        if (h->park_state.load(std::memory_order_seq_cst) == 0) {
          rq_push(h, u);
          // It may have parked meanwhile: then behave as a wake.
          if (h->park_state.load(std::memory_order_seq_cst) != 0 && may_wake)
            unpark_kthread(rt, h);
          return;
        }
        if (may_wake) {
          rq_push(h, u);
          unpark_kthread(rt, h);
          return;
        }
      }
    }
  }
  rq_push(k, u);
  // From a uthread, a single ready uthread is what this kthread runs next
  // when the waker blocks or yields (the common hand-off), so only a
  // second one is worth waking a parked kthread for. A waker that keeps
  // running is bounded by preemption, and the allocator sees the line.
  if (!local || k->rq_len.load(std::memory_order_relaxed) > 1) maybe_wake(rt);
}

bool exit_to_joiner(Kthread* k, Uthread* cur, Uthread* next) {
  if ((k->direct_switches + 1) % kSchedEvery == 0 ||
      k->park_req.load(std::memory_order_relaxed))
    return false;
  ++k->direct_switches;
  take_cpu(k, next);
  SwitchMsg m{cur, true};
  jump_context(next->ctx, stack_of(next), &m, true);
  __builtin_unreachable();
}

void switch_away(Kthread* k, Uthread* cur, bool requeue, bool exiting,
                 bool force_sched) {
  const bool poll_now = (++k->direct_switches % kSchedEvery) == 0;
  force_sched = force_sched || poll_now ||
                k->park_req.load(std::memory_order_relaxed);
  Uthread* next = force_sched ? nullptr : rq_pop(k);
  if (requeue) {
    if (!next && !force_sched) return;  // nobody else waits: keep running
    rq_push(k, cur);
  } else if (next == cur) {
    return;  // woken before it got to block: keep running
  }
  SwitchMsg m{cur, exiting};
  Transfer t;
  if (next) {
    wait_off_cpu(next);
    next->on_cpu.store(true, std::memory_order_relaxed);
    k->current.store(next, std::memory_order_relaxed);
    next->home.store(k->index, std::memory_order_relaxed);
    k->switches.store(k->switches.load(std::memory_order_relaxed) + 1,
                      std::memory_order_relaxed);
    t = jump_context(next->ctx, stack_of(next), &m, exiting);
  } else {
    k->current.store(nullptr, std::memory_order_relaxed);
    t = jump_context(k->sched_ctx, sched_stack_of(k), &m, exiting);
  }
  on_resume(t);  // may be on another kthread now
}

void kthread_main(Kthread* k) {
  tl_kthread = k;
  RuntimeImpl* rt = k->rt;
  k->tid.store(static_cast<int>(syscall(SYS_gettid)));
  std::atomic_ref<std::uint32_t>(rt->infos[k->index].tid)
      .store(static_cast<std::uint32_t>(k->tid.load()),
             std::memory_order_relaxed);
  if (rt->cfg.first_cpu >= 0) {
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((rt->cfg.first_cpu + k->index) % (ncpu > 0 ? ncpu : 1), &set);
    sched_setaffinity(0, sizeof(set), &set);
  }
  k->sched_fiber = fiber_current();
  {
    pthread_attr_t attr;
    void* lo = nullptr;
    std::size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &lo, &size);
      pthread_attr_destroy(&attr);
    }
    k->sched_stack_lo = lo;
    k->sched_stack_size = size;
  }
  k->rng = 0x9E3779B97F4A7C15ULL * (k->index + 1);
  k->rq_lock.lock();
  k->line.set_identity(static_cast<std::uint32_t>(sched_getcpu()),
                       rt->cfg.app_id);
  k->line.set_state(KAIROS_KTHREAD_RUNNING);
  k->rq_lock.unlock();
  rt->nr_spinning.fetch_add(1, std::memory_order_seq_cst);
  std::uint32_t runs = 0;
  while (Uthread* u = find_work(k)) {
    // The last spinner to find work wakes another kthread when more work
    // waits here, so a burst queued while it spun is shared out.
    if (rt->nr_spinning.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        k->rq_len.load(std::memory_order_relaxed) != 0)
      maybe_wake(rt);
    run(k, u);
    if ((++runs & 255) == 0) {
      k->rq_lock.lock();
      k->line.set_cpu(static_cast<std::uint32_t>(sched_getcpu()));
      k->rq_lock.unlock();
    }
    rt->nr_spinning.fetch_add(1, std::memory_order_seq_cst);
  }
  rt->nr_spinning.fetch_sub(1, std::memory_order_seq_cst);
  set_line_state(k, KAIROS_KTHREAD_PARKED);
  tl_kthread = nullptr;
}

}  // namespace kairos::detail
