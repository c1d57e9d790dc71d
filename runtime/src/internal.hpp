// Internal data structures of the runtime: uthread control blocks, kthreads
// with their run queues, and the runtime that owns them.
#pragma once

#include <kairos/abi/runtime_area.h>
#include <kairos/contracts/queue_state.hpp>
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include "context.hpp"
#include "parker.hpp"
#include "spin_then_park.hpp"

#include <poll.h>
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace kairos::detail {

std::uint64_t now_ns();  // steady clock, ns

enum WaitState : std::uint32_t {
  kNotWaiting = 0,
  kWaiting = 1,
  kNotified = 2,
  kTimedOut = 3,
};

using TimerMap = std::multimap<std::uint64_t, Uthread*>;
struct Netpoll;  // netpoll.hpp

// Fds a parked kthread waits on besides its unpark signal; immutable once
// published (a change publishes a new set; old ones live until ~Runtime).
struct ParkFdSet {
  std::vector<int> fds;
};

struct Uthread {
  Fctx ctx = nullptr;
  void* tsan_fiber = nullptr;
  RuntimeImpl* rt = nullptr;
  // True from the moment a kthread decides to run it until the context it
  // switched to has saved 'ctx'. Whoever wants to resume it waits for
  // false, so it may be made ready before it has finished blocking.
  std::atomic<bool> on_cpu{false};
  Uthread* rq_next = nullptr;  // run-queue link
  Uthread* wl_next = nullptr;  // wait-list links (Mutex, CondVar)
  Uthread* wl_prev = nullptr;
  bool in_waitlist = false;    // guarded by the wait list's lock
  // Kthread that ran it last (~0u: never ran); wakes send it back there.
  std::atomic<unsigned> home{~0u};

  // Stack: [stack_lo, stack_lo + guard) is PROT_NONE.
  char* stack_lo = nullptr;
  std::size_t stack_bytes = 0;

  // The callable, in fn_buf when it fits, else on the heap.
  InvokeFn invoke = nullptr;
  InvokeFn destroy = nullptr;
  void* fn = nullptr;
  bool fn_on_heap = false;
  std::size_t fn_align = 0;
  alignas(16) unsigned char fn_buf[128];

  // Join state, guarded by join_lock.
  SpinLock join_lock;
  bool finished = false;
  Uthread* joiner = nullptr;
  bool foreign_joiner = false;
  std::atomic<std::uint32_t> done{0};  // for joiners outside uthreads
  bool detached = false;               // guarded by join_lock
  // Set by the context that took over from the exiting uthread once its
  // stack is no longer used; whoever recycles a joinable one waits for it.
  std::atomic<bool> exit_done{false};
  bool exit_recycle = false;  // read right after the exit switch

  // Timed waits: wait_state decides the race between a notifier and the
  // timer; timer_it is valid while in_timers (guarded by the timer lock).
  std::atomic<std::uint32_t> wait_state{kNotWaiting};
  bool in_timers = false;
  TimerMap::iterator timer_it;
  // Netpoller: the kthread whose line counted this uthread's readiness
  // wake as RX occupancy (-1: none pending); see netpoll.hpp.
  int rx_line = -1;
};

struct alignas(64) Kthread {
  RuntimeImpl* rt = nullptr;
  unsigned index = 0;

  // Run queue: an intrusive FIFO. rq_len mirrors the length so stealers
  // and the park check can peek without the lock. The queue-state line is
  // written only under rq_lock, which serializes its writers.
  alignas(64) SpinLock rq_lock;
  Uthread* rq_head = nullptr;
  Uthread* rq_tail = nullptr;
  std::atomic<std::uint32_t> rq_len{0};
  QueueStateWriter line{nullptr};

  // Owned by the kthread's OS thread.
  alignas(64) Fctx sched_ctx = nullptr;
  void* sched_fiber = nullptr;
  // The OS thread's own stack, where the scheduler loop runs (for ASan).
  const void* sched_stack_lo = nullptr;
  std::size_t sched_stack_size = 0;
  std::atomic<Uthread*> current{nullptr};
  std::uint32_t direct_switches = 0;
  std::uint32_t sched_polls = 0;
  std::uint64_t rng = 0;
  std::vector<Uthread*> free_cache;
  SpinThenPark spin{0, false, nullptr};
  // Preemption by flag (/dev/kairos pages): the CPU and its preempt_gen
  // as last seen at a safe point.
  unsigned pg_cpu = ~0u;
  std::uint64_t pg_gen = 0;

  // Requests from other threads, checked at safe points.
  alignas(64) std::atomic<bool> preempt_req{false};
  std::atomic<bool> park_req{false};
  std::atomic<std::uint64_t> switches{0};  // read by the preemption ticker
  // 0 running, 1 parked: whoever moves it 1 -> 0 wakes the kthread.
  std::atomic<std::uint32_t> park_state{0};
  std::atomic<std::uint32_t> futex_word{0};
  // Extra fds the futex parker waits on while this kthread is parked
  // (Runtime::add_park_fds; park_fds.cpp): the published set, the eventfd
  // an unpark writes while the kthread sleeps in ppoll (park_polls), and
  // the kthread's own pollfd array built from the set it last saw.
  std::atomic<const ParkFdSet*> park_fds{nullptr};
  std::atomic<int> park_evfd{-1};
  std::atomic<bool> park_polls{false};
  const ParkFdSet* park_fds_seen = nullptr;
  std::vector<pollfd> park_pollfds;
  // /dev/kairos parking (park_devkairos.cpp): the park/wake handshake,
  // the CPU the kthread parks on, and its affinity before any park.
  std::atomic<std::uint32_t> dk_word{0};
  std::atomic<unsigned> dk_cpu{0};
  cpu_set_t dk_affinity{};
  bool dk_affinity_saved = false;
  bool dk_restore_affinity = false;
  std::atomic<int> tid{0};
  // Parked in the netpoller (netpoll.cpp) rather than in the parker: an
  // unpark kicks the poller's eventfd. Stored before park_state, read by
  // unpark after winning park_state (both seq_cst).
  std::atomic<bool> in_poller{false};
  // RX occupancy figures of the line, guarded by rq_lock: the UDP lanes'
  // (Runtime::publish_rx) and TCP readiness wakes not yet run.
  std::uint32_t udp_rx_head = 0, udp_rx_tail = 0;
  std::uint32_t tcp_rx_head = 0, tcp_rx_tail = 0;
  // Uthreads started on / exited on this kthread; written only by it.
  std::atomic<std::int64_t> started{0};
  std::atomic<std::int64_t> exited{0};

  std::thread os_thread;
};

struct RuntimeImpl {
  Config cfg;
  Runtime* pub = nullptr;
  std::vector<std::unique_ptr<Kthread>> ks;
  std::unique_ptr<Parker> parker;
  // The module's per-CPU pages, mapped read-only, when the devkairos
  // backend is in use (else null): each CPU's preempt_gen is a flag that
  // KAIROS_IOC_PREEMPT raises and safe points check.
  const void* cpu_pages = nullptr;
  unsigned nr_cpu_pages = 0;

  // Shared-memory area (kairos/abi/runtime_area.h).
  int area_fd = -1;
  void* area = nullptr;
  std::size_t area_size = 0;
  kairos_queue_state* lines = nullptr;
  kairos_kthread_info* infos = nullptr;

  alignas(64) std::atomic<int> nr_spinning{0};
  std::atomic<int> nr_parked{0};
  std::atomic<unsigned> inject_rr{0};
  // Uthreads started from outside the runtime (other starts and all exits
  // are counted per kthread, without shared read-modify-writes).
  alignas(64) std::atomic<std::int64_t> foreign_started{0};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};

  // Pool of finished uthreads (stack + control block) for reuse.
  SpinLock pool_lock;
  std::vector<Uthread*> pool;
  std::vector<Uthread*> all;  // every block ever made, freed at the end
  std::size_t page = 4096;

  // Timers of sleeping / timed-waiting uthreads. Lock order: timer_lock
  // before any rq_lock.
  SpinLock timer_lock;
  TimerMap timers;
  std::atomic<std::uint64_t> next_deadline{kNoDeadline};

  // Pollers: fixed slots, published by count (release).
  static constexpr unsigned kMaxPollers = 8;
  SpinLock poller_lock;
  std::function<bool(unsigned)> pollers[kMaxPollers];
  std::atomic<unsigned> nr_pollers{0};

  // Every ParkFdSet ever published (a parked kthread may still read an
  // old one), freed at the end.
  std::mutex park_fds_mutex;
  std::vector<std::unique_ptr<ParkFdSet>> park_fd_sets;

  // The netpoller (netpoll.hpp), made with the first socket.
  std::mutex netpoll_mutex;
  std::shared_ptr<Netpoll> netpoll;
  std::atomic<Netpoll*> np{nullptr};
  // Parks that slept (not cancelled) and unparks that won a parked
  // kthread: what a wake-up costs, for tests and benchmarks.
  std::atomic<std::uint64_t> parks{0};
  std::atomic<std::uint64_t> unparks{0};

  std::thread ticker;
  // The ticker's sleep, cut short at shutdown.
  std::mutex ticker_mutex;
  std::condition_variable ticker_cv;
};

// scheduler.cpp
Kthread* current_kthread();
// Uthreads started and not yet exited; exact once no uthread can start
// new ones (it reads exits before starts, so it never undercounts).
std::int64_t live_uthreads(RuntimeImpl* rt);
// Owner-only increment of a kthread-private counter.
inline void bump(std::atomic<std::int64_t>& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}
void rq_push(Kthread* k, Uthread* u);
void make_ready(Uthread* u);
void maybe_wake(RuntimeImpl* rt);
bool unpark_kthread(RuntimeImpl* rt, Kthread* k);
// Switches the current uthread away. requeue: it stays runnable (yield);
// exiting: it finished and must be released by the next context;
// force_sched: go through the scheduler loop rather than straight to the
// next local uthread. Returns when the uthread runs again (not if exiting).
void switch_away(Kthread* k, Uthread* cur, bool requeue, bool exiting,
                 bool force_sched);
void kthread_main(Kthread* k);
// Exiting uthread cur hands its kthread straight to the blocked joiner
// 'next' (no run-queue round trip). False when the scheduler is due a
// poll instead; the caller then takes the ordinary path.
bool exit_to_joiner(Kthread* k, Uthread* cur, Uthread* next);
// First thing every context does after a jump lands in it.
void on_resume(Transfer t);
// Preemption by flag: true when the module's preempt_gen of the CPU k runs
// on changed since k last looked on that CPU (KAIROS_IOC_PREEMPT of it).
// Always false without the /dev/kairos pages. Owner-only.
bool preempt_flag_raised(Kthread* k);

// uthread.cpp
// Called on the context that replaced an exiting uthread.
void uthread_exited(Uthread* u);
void uthread_recycle(Uthread* u);
void free_all_uthreads(RuntimeImpl* rt);

// park_fds.cpp
// Futex parker with park fds: sleeps in ppoll on set's fds and k's
// eventfd until unparked (futex_word), an fd is readable, or the deadline.
void park_on_fds(Kthread& k, const ParkFdSet& set, std::uint64_t deadline_ns);
// Ends such a sleep (after futex_word was set).
void wake_park_fds(Kthread& k);

// timers.cpp
// Arms a timer for cur (wait_state must be kWaiting).
void timer_arm(RuntimeImpl* rt, Uthread* cur, std::uint64_t deadline_ns);
// Disarms it if it has not fired yet.
void timer_disarm(RuntimeImpl* rt, Uthread* cur);
// Fires every expired timer; true if one woke a uthread.
bool poll_timers(RuntimeImpl* rt);

}  // namespace kairos::detail
