// Uthread life cycle: allocation from a pool of stacks, start, exit, join,
// detach, and the this_uthread calls.
#include "internal.hpp"

#include <sys/mman.h>

#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace kairos::detail {
namespace {

constexpr std::size_t kKthreadCacheMax = 64;

[[noreturn]] void uthread_exit(Uthread* u);

void uthread_entry(Transfer t) {
  context_started();
  on_resume(t);
  Uthread* u = current_kthread()->current.load(std::memory_order_relaxed);
  try {
    u->invoke(u->fn);
  } catch (...) {
    // As with std::thread: an exception leaving the thread function ends
    // the process (unwinding past the stack's first frame is undefined).
    std::fputs("kairos: exception escaped a uthread\n", stderr);
    std::terminate();
  }
  uthread_exit(u);
}

Uthread* new_uthread(RuntimeImpl* rt) {
  const std::size_t usable =
      (rt->cfg.stack_size + rt->page - 1) / rt->page * rt->page;
  const std::size_t bytes = usable + rt->page;  // + guard page
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
  if (mem == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(),
                            "kairos: mmap of a uthread stack");
  if (mprotect(mem, rt->page, PROT_NONE) != 0) {
    munmap(mem, bytes);
    throw std::system_error(errno, std::generic_category(),
                            "kairos: guard page");
  }
  auto* u = new Uthread;
  u->rt = rt;
  u->stack_lo = static_cast<char*>(mem);
  u->stack_bytes = bytes;
  rt->pool_lock.lock();
  rt->all.push_back(u);
  rt->pool_lock.unlock();
  return u;
}

Uthread* take_uthread(RuntimeImpl* rt) {
  Kthread* k = current_kthread();
  if (k && k->rt == rt && !k->free_cache.empty()) {
    Uthread* u = k->free_cache.back();
    k->free_cache.pop_back();
    return u;
  }
  rt->pool_lock.lock();
  Uthread* u = nullptr;
  if (!rt->pool.empty()) {
    u = rt->pool.back();
    rt->pool.pop_back();
  }
  rt->pool_lock.unlock();
  return u ? u : new_uthread(rt);
}

void uthread_exit(Uthread* u) {
  u->destroy(u->fn);
  if (u->fn_on_heap)
    ::operator delete(u->fn, std::align_val_t(u->fn_align));
  u->fn = nullptr;
  u->join_lock.lock();
  u->finished = true;
  Uthread* joiner = u->joiner;
  const bool foreign = u->foreign_joiner;
  u->exit_recycle = u->detached;  // else the joiner or detach() recycles
  u->join_lock.unlock();
  if (foreign) {
    u->done.store(1, std::memory_order_release);
    u->done.notify_all();
  }
  Kthread* k = current_kthread();
  bump(k->exited);
  // The blocked joiner is ours to wake: run it right here.
  if (joiner && !exit_to_joiner(k, u, joiner)) make_ready(joiner);
  switch_away(k, u, false, true, false);
  __builtin_unreachable();
}

Uthread* self_or_null(Kthread** kout) {
  Kthread* k = current_kthread();
  *kout = k;
  return k ? k->current.load(std::memory_order_relaxed) : nullptr;
}

}  // namespace

void uthread_exited(Uthread* u) {
  if (u->exit_recycle)
    uthread_recycle(u);
  else
    u->exit_done.store(true, std::memory_order_release);
}

void uthread_recycle(Uthread* u) {
  fiber_destroy(u->tsan_fiber);
  u->tsan_fiber = nullptr;
  RuntimeImpl* rt = u->rt;
  Kthread* k = current_kthread();
  if (k && k->rt == rt && k->free_cache.size() < kKthreadCacheMax) {
    k->free_cache.push_back(u);
    return;
  }
  rt->pool_lock.lock();
  rt->pool.push_back(u);
  rt->pool_lock.unlock();
}

void free_all_uthreads(RuntimeImpl* rt) {
  for (Uthread* u : rt->all) {
    fiber_destroy(u->tsan_fiber);
    munmap(u->stack_lo, u->stack_bytes);
    delete u;
  }
  rt->all.clear();
  rt->pool.clear();
}

Uthread* uthread_alloc(RuntimeImpl* rt, std::size_t size, std::size_t align,
                       InvokeFn invoke, InvokeFn destroy, void** storage) {
  Uthread* u = take_uthread(rt);
  u->invoke = invoke;
  u->destroy = destroy;
  if (size <= sizeof(u->fn_buf) && align <= alignof(std::max_align_t)) {
    u->fn = u->fn_buf;
    u->fn_on_heap = false;
  } else {
    u->fn_align = align < 16 ? 16 : align;
    u->fn = ::operator new(size, std::align_val_t(u->fn_align));
    u->fn_on_heap = true;
  }
  u->finished = false;
  u->joiner = nullptr;
  u->foreign_joiner = false;
  u->done.store(0, std::memory_order_relaxed);
  u->wait_state.store(kNotWaiting, std::memory_order_relaxed);
  u->in_timers = false;
  u->in_waitlist = false;
  u->on_cpu.store(false, std::memory_order_relaxed);
  u->home.store(~0u, std::memory_order_relaxed);
  stack_reused(u->stack_lo + rt->page, u->stack_bytes - rt->page);
  u->ctx = make_context(u->stack_lo + u->stack_bytes,
                        u->stack_bytes - rt->page, &uthread_entry);
  u->tsan_fiber = fiber_create();
  *storage = u->fn;
  return u;
}

void uthread_start(RuntimeImpl* rt, Uthread* u, bool joinable) {
  u->detached = !joinable;
  u->exit_done.store(false, std::memory_order_relaxed);
  Kthread* k = current_kthread();
  if (k && k->rt == rt)
    bump(k->started);
  else
    rt->foreign_started.fetch_add(1, std::memory_order_seq_cst);
  make_ready(u);
}

void uthread_join(Uthread* u) {
  if (!u) throw std::invalid_argument("kairos: join of a non-joinable Thread");
  Kthread* k;
  Uthread* self = self_or_null(&k);
  if (self == u) throw std::logic_error("kairos: a uthread cannot join itself");
  u->join_lock.lock();
  if (!u->finished) {
    if (self) {
      u->joiner = self;
      u->join_lock.unlock();
      switch_away(k, self, false, false, false);
    } else {
      u->foreign_joiner = true;
      u->join_lock.unlock();
      while (u->done.load(std::memory_order_acquire) == 0) u->done.wait(0);
    }
  } else {
    u->join_lock.unlock();
  }
  // finished is set before the exit switch: wait until its stack is free.
  while (!u->exit_done.load(std::memory_order_acquire)) cpu_relax();
  uthread_recycle(u);
}

void uthread_detach(Uthread* u) {
  if (!u) throw std::invalid_argument("kairos: detach of a non-joinable Thread");
  u->join_lock.lock();
  const bool finished = u->finished;
  if (!finished) u->detached = true;  // its exit recycles it
  u->join_lock.unlock();
  if (finished) {
    while (!u->exit_done.load(std::memory_order_acquire)) cpu_relax();
    uthread_recycle(u);
  }
}

}  // namespace kairos::detail

namespace kairos::this_uthread {

using namespace kairos::detail;

bool in_uthread() {
  Kthread* k;
  return self_or_null(&k) != nullptr;
}

void yield() {
  Kthread* k;
  Uthread* self = self_or_null(&k);
  if (!self) {
    std::this_thread::yield();
    return;
  }
  switch_away(k, self, true, false, false);
}

void sleep_until(std::chrono::steady_clock::time_point t) {
  Kthread* k;
  Uthread* self = self_or_null(&k);
  if (!self) {
    std::this_thread::sleep_until(t);
    return;
  }
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      t.time_since_epoch())
                      .count();
  if (ns <= 0 || static_cast<std::uint64_t>(ns) <= now_ns()) {
    yield();
    return;
  }
  self->wait_state.store(kWaiting, std::memory_order_relaxed);
  timer_arm(self->rt, self, static_cast<std::uint64_t>(ns));
  switch_away(k, self, false, false, false);
  self->wait_state.store(kNotWaiting, std::memory_order_relaxed);
}

bool preemption_point() {
  Kthread* k;
  Uthread* self = self_or_null(&k);
  if (!self) return false;
  // Requests by flag (ticker, Runtime::preempt, SIGURG), by the module's
  // preempt_gen (an allocator's KAIROS_IOC_PREEMPT, no signal), or park.
  const bool preempt = k->preempt_req.load(std::memory_order_relaxed) ||
                       preempt_flag_raised(k);
  if (!preempt && !k->park_req.load(std::memory_order_relaxed)) return false;
  k->preempt_req.store(false, std::memory_order_relaxed);
  // Through the scheduler loop: it polls timers and shared queues, parks
  // when asked to, then runs the oldest ready uthread.
  switch_away(k, self, true, false, true);
  return true;
}

unsigned kthread_index() {
  Kthread* k = current_kthread();
  return k ? k->index : ~0u;
}

}  // namespace kairos::this_uthread
