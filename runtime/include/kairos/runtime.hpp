// libkairos: stackful user-level threads (uthreads) on a pool of kernel
// threads (kthreads), with per-kthread run queues, work stealing, parking
// and a shared-memory queue-state line per kthread for the allocator.
//
//   kairos::Runtime rt({.kthreads = 4});
//   kairos::Thread t = rt.spawn([] { kairos::this_uthread::yield(); });
//   t.join();                       // or let ~Thread join
//
// A kthread whose queue is empty steals from another kthread, then polls
// the shared queues (injected work, timers, registered pollers), spins a
// little, and parks (gives its core back). grant()/reclaim() let an
// allocator grow and shrink the set of running kthreads.
#pragma once

#include <kairos/abi/queue_state.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace kairos {

namespace detail {
struct Uthread;
struct RuntimeImpl;
using InvokeFn = void (*)(void*);
// Allocates a uthread whose callable lives in *storage (size/align given).
Uthread* uthread_alloc(RuntimeImpl* rt, std::size_t size, std::size_t align,
                       InvokeFn invoke, InvokeFn destroy, void** storage);
// Queues a uthread made by uthread_alloc; 'handles' is 1 for a joinable
// Thread, 0 for a detached one.
void uthread_start(RuntimeImpl* rt, Uthread* u, bool joinable);
void uthread_join(Uthread* u);
void uthread_detach(Uthread* u);
}  // namespace detail

// How kthreads give their core back when idle.
enum class ParkBackend {
  kAuto,       // /dev/kairos when usable (module loaded, same ABI major,
               // CAP_SYS_NICE or CAP_SYS_ADMIN), else futex
  kFutex,      // FUTEX_WAIT/FUTEX_WAKE on a per-kthread word
  kDevKairos,  // kairos.ko's PARK/GRANT ioctls (park_devkairos.cpp); the
               // Runtime constructor throws when they cannot be used
};

struct Config {
  unsigned kthreads = 0;                 // 0: one per online CPU
  std::size_t stack_size = 64 * 1024;    // per uthread, plus a guard page
  // Wake a parked kthread when work is queued and no kthread is looking
  // for work, and run the in-process congestion check (a queue that held
  // work across two 50 us checks without a dequeue gets a kthread woken).
  // Turn off when an external allocator decides (grant()).
  bool self_wake = true;
  // How long an idle kthread keeps looking for work before it parks.
  std::chrono::nanoseconds spin_before_park = std::chrono::microseconds(20);
  // Spin only while it pays: a kthread that finds it was descheduled while
  // spinning (its CPU is shared with other work) parks at once when idle
  // for a backoff time (8 ms, doubling to about 1 s while it keeps
  // happening), because a woken thread gets a CPU sooner than a
  // descheduled spinner. A gap in which the thread was never switched out
  // (a hypervisor took the whole virtual CPU) does not count. On granted
  // (dedicated) cores it never triggers. Only with self_wake:
  // in allocator mode a granted kthread spins as told (the allocator owns
  // that decision). See src/spin_then_park.hpp.
  bool adaptive_spin = true;
  // Ask a uthread to yield at its next safe point once it has run this
  // long without switching; 0 turns the preemption ticker off.
  std::chrono::microseconds preempt_quantum{0};
  // Deliver preemption requests by SIGURG to the kthread (handler sets the
  // same flag) instead of only setting the flag.
  bool preempt_by_signal = false;
  ParkBackend park = ParkBackend::kAuto;
  // kDevKairos only: a parked kthread first polls its CPU's page inside
  // KAIROS_IOC_PARK this long (the module caps it at park_spin_max_us), so
  // a grant that comes soon (GRANT by tid, or one posted in the page by an
  // allocator) lands without putting it to sleep and waking it. It counts
  // as parked meanwhile. 0: sleep at once. At most 1 s.
  std::chrono::nanoseconds park_spin{0};
  std::uint32_t app_id = 0;
  // Name for shm_open (e.g. "/kairos-myapp") so another process can open
  // the queue-state area by name; empty: an anonymous memfd only.
  std::string shm_name;
  // Pin kthread i to CPU (first_cpu + i) % ncpus; -1 leaves them unpinned.
  int first_cpu = -1;
};

class Thread;

class Runtime {
 public:
  explicit Runtime(Config cfg = {});
  // Waits for every uthread (joinable or detached) to finish, then stops
  // the kthreads. Uthreads blocked forever make this wait forever.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs f() in a new uthread; from a uthread it is queued on the caller's
  // kthread, from any other thread it is injected round-robin.
  template <typename F>
  Thread spawn(F&& f);
  template <typename F>
  void spawn_detached(F&& f);

  // Elasticity, called by an allocator: grant() unparks up to n parked
  // kthreads, reclaim() asks up to n running ones to park at their next
  // safe point (their queued uthreads move to the kthreads that stay).
  // Both return how many kthreads they acted on.
  unsigned grant(unsigned n);
  unsigned reclaim(unsigned n);
  // Asks kthread k to preempt its current uthread at the next safe point.
  void preempt(unsigned k);

  unsigned kthreads() const;
  unsigned running_kthreads() const;  // not parked
  const char* park_backend_name() const;

  // Queue-state area (kairos/abi/runtime_area.h): fd of the shared file
  // (mmap it read-only in another process) and direct access to line k.
  int queue_state_fd() const;
  const kairos_queue_state* queue_state_line(unsigned k) const;

  // Publishes kthread k's RX-ring indices (packets ever placed / taken) in
  // its queue-state line; called by the kthread that consumes the ring.
  void publish_rx(unsigned k, std::uint32_t head, std::uint32_t tail);

  // Registers a poller run by idle kthreads after stealing fails: it gets
  // the kthread index and returns true when it produced work (e.g. spawned
  // a uthread for a packet). Call before work is spawned.
  void add_poller(std::function<bool(unsigned kthread)> poll);

  // Extra fds kthread k waits on (POLLIN) while parked, besides its
  // unpark signal: a readable fd ends the park as an unpark would, so a
  // datagram on a device queue's socket wakes the kthread that serves it
  // (kairos::net direct mode) with no thread in between. The fds add to
  // those already given; call before the work that needs them starts.
  // True when k will wait on them: futex parking (ppoll on the fds and an
  // eventfd) with self_wake. False, and nothing changes, with /dev/kairos
  // parking (PARK cannot wait on fds) or self_wake off (only grants wake
  // kthreads): the caller must then wake the runtime some other way.
  // Bad k: std::out_of_range; no fds or a closed one: std::invalid_argument.
  bool add_park_fds(unsigned k, std::span<const int> fds);
  // Stops waiting on those fds (unknown ones are ignored); call before
  // closing them.
  void remove_park_fds(unsigned k, std::span<const int> fds);

  // The runtime of the calling uthread or kthread, else nullptr.
  static Runtime* current();
  detail::RuntimeImpl* impl() const { return impl_.get(); }

 private:
  template <typename F>
  detail::Uthread* make(F&& f);
  std::unique_ptr<detail::RuntimeImpl> impl_;
};

// std::thread-like handle of a uthread. Unlike std::thread, destroying a
// joinable Thread joins it (as std::jthread does) instead of terminating.
class Thread {
 public:
  Thread() = default;
  Thread(Thread&& o) noexcept : u_(std::exchange(o.u_, nullptr)) {}
  Thread& operator=(Thread&& o) noexcept {
    if (this != &o) {
      if (joinable()) join();
      u_ = std::exchange(o.u_, nullptr);
    }
    return *this;
  }
  ~Thread() {
    if (joinable()) join();
  }
  bool joinable() const { return u_ != nullptr; }
  // Blocks the caller (uthread: switches away; other thread: waits) until
  // the uthread returns.
  void join() { detail::uthread_join(std::exchange(u_, nullptr)); }
  void detach() { detail::uthread_detach(std::exchange(u_, nullptr)); }

 private:
  friend class Runtime;
  explicit Thread(detail::Uthread* u) : u_(u) {}
  detail::Uthread* u_ = nullptr;
};

template <typename F>
detail::Uthread* Runtime::make(F&& f) {
  using Fn = std::decay_t<F>;
  void* storage = nullptr;
  detail::Uthread* u = detail::uthread_alloc(
      impl_.get(), sizeof(Fn), alignof(Fn),
      [](void* p) { (*static_cast<Fn*>(p))(); },
      [](void* p) { static_cast<Fn*>(p)->~Fn(); }, &storage);
  ::new (storage) Fn(std::forward<F>(f));
  return u;
}

template <typename F>
Thread Runtime::spawn(F&& f) {
  detail::Uthread* u = make(std::forward<F>(f));
  detail::uthread_start(impl_.get(), u, true);
  return Thread(u);
}

template <typename F>
void Runtime::spawn_detached(F&& f) {
  detail::uthread_start(impl_.get(), make(std::forward<F>(f)), false);
}

namespace this_uthread {
// True when called from a uthread.
bool in_uthread();
// Lets other uthreads of this kthread run; returns at once if none waits.
void yield();
void sleep_until(std::chrono::steady_clock::time_point t);
template <typename Rep, typename Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  sleep_until(std::chrono::steady_clock::now() +
              std::chrono::ceil<std::chrono::steady_clock::duration>(d));
}
// A safe point: yields when this kthread was asked to preempt (quantum
// expired, SIGURG, Runtime::preempt) or to park. Returns true if it did.
bool preemption_point();
// Index of the kthread running the caller right now.
unsigned kthread_index();
}  // namespace this_uthread

}  // namespace kairos
