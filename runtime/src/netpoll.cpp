// The netpoller: see netpoll.hpp for the protocol and who harvests.
#include "netpoll.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

namespace kairos::detail {
namespace {

constexpr int kBatch = 64;
constexpr std::uint32_t kReadBits = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t kWriteBits = EPOLLOUT | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t kHangupBits = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
// The watcher harvests when nobody has for this long (every kthread busy).
constexpr std::uint64_t kStaleHarvestNs = 1'000'000;
constexpr std::uint64_t kWatcherMinNs = 200'000, kWatcherMaxNs = 10'000'000;

void add_rx(Kthread* t, std::uint32_t head, std::uint32_t tail) {
  t->tcp_rx_head += head;
  t->tcp_rx_tail += tail;
  t->line.set_rx(t->udp_rx_head + t->tcp_rx_head, t->udp_rx_tail + t->tcp_rx_tail);
}

// A running kthread other than the caller's, for a wake from outside the
// runtime (the watcher): round-robin, preferring running kthreads.
Kthread* pick_for_foreign(RuntimeImpl* rt) {
  const std::size_t n = rt->ks.size();
  const std::size_t start = rt->inject_rr.fetch_add(1) % n;
  for (std::size_t i = 0; i < n; ++i) {
    Kthread* c = rt->ks[(start + i) % n].get();
    if (c->park_state.load(std::memory_order_relaxed) == 0 &&
        !c->park_req.load(std::memory_order_relaxed))
      return c;
  }
  return rt->ks[start].get();
}

// Queues u, made ready by readiness found by kthread k (null: the
// watcher). ZygOS ownership: u goes back to the kthread that last ran it
// when that one is running (it cannot be running u meanwhile: u is the
// connection's only uthread); when it is parked, the harvester runs u
// itself rather than paying a second wake-up.
void route(RuntimeImpl* rt, Uthread* u, Kthread* k, bool rx) {
  Kthread* t = nullptr;
  const unsigned home = u->home.load(std::memory_order_relaxed);
  if (home < rt->ks.size()) {
    Kthread* h = rt->ks[home].get();
    if (h->park_state.load(std::memory_order_seq_cst) == 0 &&
        !h->park_req.load(std::memory_order_relaxed))
      t = h;
  }
  if (!t) t = (k && !k->park_req.load(std::memory_order_relaxed)) ? k : pick_for_foreign(rt);
  if (rx) {
    t->rq_lock.lock();
    add_rx(t, 1, 0);
    t->rq_lock.unlock();
    u->rx_line = static_cast<int>(t->index);
  }
  rq_push(t, u);
  const bool may_wake = rt->cfg.self_wake || rt->draining.load(std::memory_order_relaxed);
  if (t != k && may_wake && t->park_state.load(std::memory_order_seq_cst) != 0)
    unpark_kthread(rt, t);  // it parked meanwhile, or nobody runs (watcher)
}

// Takes pd's waiters for the directions in bits (or marks them ready) and
// routes them. Returns how many uthreads it made ready.
int deliver(RuntimeImpl* rt, PollDesc* pd, std::uint32_t bits, Kthread* k, bool closing) {
  Uthread* woken[2] = {nullptr, nullptr};
  pd->lock.lock();
  if (closing) pd->closing = true;
  if (bits & kHangupBits) pd->hangup = true;
  for (int d = 0; d < 2; ++d) {
    if (!closing && !(bits & (d == kPollRead ? kReadBits : kWriteBits))) continue;
    if (Uthread* u = pd->waiter[d]) {
      std::uint32_t w = kWaiting;
      // Losing means its timer fired: it removes itself and will retry.
      if (u->wait_state.compare_exchange_strong(w, kNotified)) {
        pd->waiter[d] = nullptr;
        woken[d] = u;
        continue;
      }
    }
    pd->ready[d] = true;
  }
  pd->lock.unlock();
  int n = 0;
  for (int d = 0; d < 2; ++d)
    if (woken[d]) {
      route(rt, woken[d], k, d == kPollRead && !closing);
      ++n;
    }
  return n;
}

int process(Netpoll& np, const epoll_event* ev, int n, Kthread* k) {
  RuntimeImpl* rt = np.rt;
  int woken = 0;
  for (int i = 0; i < n; ++i)
    woken += deliver(rt, static_cast<PollDesc*>(ev[i].data.ptr), ev[i].events, k, false);
  np.harvests.fetch_add(1, std::memory_order_relaxed);
  np.events.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
  if (woken) np.wakes.fetch_add(static_cast<std::uint64_t>(woken), std::memory_order_relaxed);
  return woken;
}

// One epoll_wait with timeout 0. force: wait for the try-lock instead of
// giving up (the poller's parker and the watcher must consume the edge
// that woke them, or their next wait returns at once).
int harvest(Netpoll& np, Kthread* k, bool force) {
  if (np.registered.load(std::memory_order_relaxed) == 0 || !np.rt) return 0;
  while (np.harvesting.exchange(true, std::memory_order_acquire)) {
    if (!force) return 0;
    cpu_relax();
  }
  epoll_event ev[kBatch];
  const int n = epoll_wait(np.epfd, ev, kBatch, 0);
  np.harvesting.store(false, std::memory_order_release);
  np.last_harvest_ns.store(now_ns(), std::memory_order_relaxed);
  return n > 0 ? process(np, ev, n, k) : 0;
}

void drain_eventfd(int fd) {
  std::uint64_t v;
  [[maybe_unused]] ssize_t r = read(fd, &v, sizeof v);
}

void kick_eventfd(int fd) {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(fd, &one, sizeof one);
}

bool all_parked(RuntimeImpl* rt) {
  return rt->nr_parked.load(std::memory_order_relaxed) ==
         static_cast<int>(rt->ks.size());
}

void watcher_main(Netpoll* np) {
  RuntimeImpl* rt = np->rt;
  std::uint64_t period = kWatcherMinNs;
  while (!np->stop.load(std::memory_order_acquire)) {
    // Allocator mode with every kthread parked: sleep on the poller, so a
    // connection's readiness lands in a line the allocator reads.
    const bool wait_io = !rt->cfg.self_wake && all_parked(rt) &&
                         np->registered.load(std::memory_order_relaxed) > 0;
    pollfd p[2] = {{np->watcher_evfd, POLLIN, 0}, {np->epfd, POLLIN, 0}};
    const std::uint64_t t = wait_io ? kWatcherMaxNs : period;
    const timespec ts{static_cast<time_t>(t / 1'000'000'000u),
                      static_cast<long>(t % 1'000'000'000u)};
    const int r = ppoll(p, wait_io ? 2 : 1, &ts, nullptr);
    if (np->stop.load(std::memory_order_acquire)) break;
    if (r > 0 && (p[0].revents & POLLIN)) drain_eventfd(np->watcher_evfd);
    if (wait_io) {
      if (r > 0 && p[1].revents && harvest(*np, nullptr, true))
        np->watcher_harvests.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // Go's sysmon rule: nobody harvested for a while, so every kthread is
    // busy (or parked outside the poller): harvest here. Not while a
    // kthread sleeps in the poller: readiness wakes that one directly.
    const std::uint64_t last = np->last_harvest_ns.load(std::memory_order_relaxed);
    if (np->registered.load(std::memory_order_relaxed) > 0 &&
        np->poller_parker.load(std::memory_order_relaxed) < 0 &&
        now_ns() - last >= kStaleHarvestNs && harvest(*np, nullptr, false)) {
      np->watcher_harvests.fetch_add(1, std::memory_order_relaxed);
      period = kWatcherMinNs;
    } else {
      period = std::min(2 * period, kWatcherMaxNs);
    }
  }
}

}  // namespace

Netpoll::~Netpoll() {
  if (epfd >= 0) close(epfd);
  if (watcher_evfd >= 0) close(watcher_evfd);
  if (park_evfd >= 0) close(park_evfd);
}

std::shared_ptr<Netpoll> netpoll_of(RuntimeImpl* rt) {
  std::lock_guard g(rt->netpoll_mutex);
  if (rt->netpoll) return rt->netpoll;
  auto np = std::make_shared<Netpoll>();
  np->rt = rt;
  np->epfd = epoll_create1(EPOLL_CLOEXEC);
  np->watcher_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  np->park_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (np->epfd < 0 || np->watcher_evfd < 0 || np->park_evfd < 0)
    throw std::system_error(errno, std::generic_category(), "kairos: netpoll setup");
  np->last_harvest_ns.store(now_ns());
  np->watcher = std::thread(watcher_main, np.get());
  rt->netpoll = np;
  rt->np.store(np.get(), std::memory_order_release);
  return np;
}

PollDesc* netpoll_open(Netpoll& np, int fd, std::error_code& ec) {
  PollDesc* pd = nullptr;
  {
    std::lock_guard g(np.free_mutex);
    if (np.free_list) {
      pd = np.free_list;
      np.free_list = pd->free_next;
    } else {
      np.all.push_back(std::make_unique<PollDesc>());
      pd = np.all.back().get();
    }
  }
  pd->lock.lock();
  pd->np = &np;
  pd->fd = fd;
  pd->waiter[0] = pd->waiter[1] = nullptr;
  pd->ready[0] = pd->ready[1] = false;
  pd->hangup = false;
  pd->closing = false;
  pd->free_next = nullptr;
  pd->lock.unlock();
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = pd;
  if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ec.assign(errno, std::generic_category());
    std::lock_guard g(np.free_mutex);
    pd->free_next = np.free_list;
    np.free_list = pd;
    return nullptr;
  }
  np.registered.fetch_add(1, std::memory_order_relaxed);
  ec.clear();
  return pd;
}

void netpoll_close_wake(PollDesc* pd) {
  RuntimeImpl* rt = pd->np->rt;
  if (!rt) {
    pd->lock.lock();
    pd->closing = true;
    pd->lock.unlock();
    return;
  }
  Kthread* k = current_kthread();
  deliver(rt, pd, 0, (k && k->rt == rt) ? k : nullptr, true);
}

void netpoll_release(PollDesc* pd) {
  Netpoll& np = *pd->np;
  epoll_ctl(np.epfd, EPOLL_CTL_DEL, pd->fd, nullptr);
  np.registered.fetch_sub(1, std::memory_order_relaxed);
  pd->lock.lock();
  pd->fd = -1;
  pd->closing = true;
  pd->lock.unlock();
  std::lock_guard g(np.free_mutex);
  pd->free_next = np.free_list;
  np.free_list = pd;
}

bool netpoll_hung_up(PollDesc* pd) {
  pd->lock.lock();
  const bool h = pd->hangup;
  pd->lock.unlock();
  return h;
}

PollWait netpoll_wait(PollDesc* pd, PollDir dir, std::uint64_t deadline_ns) {
  RuntimeImpl* rt = pd->np->rt;
  Kthread* k = current_kthread();
  Uthread* self = k ? k->current.load(std::memory_order_relaxed) : nullptr;
  if (!self || !rt || self->rt != rt) {
    // Not a uthread of this runtime: wait in poll(2), in slices so a
    // close from elsewhere is seen.
    for (;;) {
      pd->lock.lock();
      const bool closing = pd->closing;
      const bool ready = pd->ready[dir];
      pd->ready[dir] = false;
      pd->lock.unlock();
      if (closing) return PollWait::kClosed;
      if (ready) return PollWait::kReady;
      const std::uint64_t now = now_ns();
      if (deadline_ns != kNoDeadline && now >= deadline_ns) return PollWait::kTimedOut;
      std::uint64_t ms = 50;
      if (deadline_ns != kNoDeadline)
        ms = std::min<std::uint64_t>(ms, (deadline_ns - now + 999'999) / 1'000'000);
      pollfd p{pd->fd, static_cast<short>(dir == kPollRead ? POLLIN | POLLRDHUP : POLLOUT), 0};
      if (poll(&p, 1, static_cast<int>(ms)) > 0) return PollWait::kReady;
    }
  }
  pd->lock.lock();
  if (pd->closing) {
    pd->lock.unlock();
    return PollWait::kClosed;
  }
  if (pd->ready[dir]) {
    pd->ready[dir] = false;
    pd->lock.unlock();
    return PollWait::kReady;
  }
  if (deadline_ns != kNoDeadline && deadline_ns <= now_ns()) {
    pd->lock.unlock();
    return PollWait::kTimedOut;
  }
  self->wait_state.store(kWaiting, std::memory_order_relaxed);
  pd->waiter[dir] = self;
  pd->lock.unlock();
  if (deadline_ns != kNoDeadline) timer_arm(rt, self, deadline_ns);
  switch_away(k, self, false, false, false);
  const std::uint32_t how = self->wait_state.load(std::memory_order_acquire);
  if (how == kTimedOut) {
    pd->lock.lock();
    if (pd->waiter[dir] == self) pd->waiter[dir] = nullptr;
    pd->lock.unlock();
  } else if (deadline_ns != kNoDeadline) {
    timer_disarm(rt, self);
  }
  self->wait_state.store(kNotWaiting, std::memory_order_relaxed);
  netpoll_account_run(self);
  pd->lock.lock();
  const bool closing = pd->closing;
  pd->lock.unlock();
  if (closing) return PollWait::kClosed;
  return how == kTimedOut ? PollWait::kTimedOut : PollWait::kReady;
}

void netpoll_account_run(Uthread* u) {
  if (u->rx_line < 0) return;
  Kthread* t = u->rt->ks[static_cast<unsigned>(u->rx_line)].get();
  u->rx_line = -1;
  t->rq_lock.lock();
  add_rx(t, 0, 1);
  t->rq_lock.unlock();
}

void publish_rx_line(Kthread* k) { add_rx(k, 0, 0); }

bool netpoll_harvest(RuntimeImpl* rt, Kthread* k) {
  Netpoll* np = rt->np.load(std::memory_order_acquire);
  return np && harvest(*np, k, false) > 0;
}

bool netpoll_take_park(RuntimeImpl* rt, Kthread* k) {
  Netpoll* np = rt->np.load(std::memory_order_acquire);
  // Allocator mode: a kthread must sleep where a grant reaches it.
  if (!np || !rt->cfg.self_wake || np->registered.load(std::memory_order_relaxed) == 0)
    return false;
  int none = -1;
  if (!np->poller_parker.compare_exchange_strong(none, static_cast<int>(k->index)))
    return false;
  k->in_poller.store(true, std::memory_order_seq_cst);
  return true;
}

void netpoll_park(Kthread* k, std::uint64_t deadline_ns) {
  RuntimeImpl* rt = k->rt;
  Netpoll& np = *rt->np.load(std::memory_order_acquire);
  np.parked_in_poller.fetch_add(1, std::memory_order_relaxed);
  // The eventfd unpark writes, the epoll fd, and the kthread's park fds
  // (Runtime::add_park_fds: a UDP device queue it serves), which end the
  // park as they would in the futex parker.
  std::vector<pollfd>& p = k->park_pollfds;
  k->park_fds_seen = nullptr;  // park_on_fds rebuilds its array next time
  p.assign({{np.park_evfd, POLLIN, 0}, {np.epfd, POLLIN, 0}});
  if (const ParkFdSet* set = k->park_fds.load(std::memory_order_acquire))
    for (int fd : set->fds) p.push_back({fd, POLLIN, 0});
  while (k->park_state.load(std::memory_order_seq_cst) != 0) {
    timespec ts{};
    const timespec* tsp = nullptr;
    if (!timeout_until(deadline_ns, ts, tsp)) return;
    for (auto& e : p) e.revents = 0;
    if (ppoll(p.data(), p.size(), tsp, nullptr) <= 0) return;  // timeout or signal: recheck
    if (p[0].revents) drain_eventfd(np.park_evfd);
    bool fd_ready = false;
    for (std::size_t i = 2; i < p.size(); ++i) {
      if (p[i].revents & POLLIN) fd_ready = true;
      else if (p[i].revents & (POLLERR | POLLHUP | POLLNVAL)) p[i].fd = -1;
    }
    if (fd_ready) return;
    // Readiness: run what it made ready here (route() queues on k the
    // uthreads whose kthread is parked). Edges that woke nobody (a ready
    // flag only) do not end the park.
    if (p[1].revents && harvest(np, k, true) > 0) {
      np.poller_io_wakes.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
}

void netpoll_park_done(RuntimeImpl* rt, Kthread* k) {
  Netpoll* np = rt->np.load(std::memory_order_acquire);
  k->in_poller.store(false, std::memory_order_seq_cst);
  if (np) np->poller_parker.store(-1, std::memory_order_seq_cst);
}

bool netpoll_unpark(RuntimeImpl* rt, Kthread* k) {
  if (!k->in_poller.load(std::memory_order_seq_cst)) return false;
  if (Netpoll* np = rt->np.load(std::memory_order_acquire)) kick_eventfd(np->park_evfd);
  return true;
}

NetpollStats netpoll_stats(RuntimeImpl* rt) {
  NetpollStats s;
  Netpoll* np = rt->np.load(std::memory_order_acquire);
  if (!np) return s;
  s.harvests = np->harvests.load();
  s.events = np->events.load();
  s.wakes = np->wakes.load();
  s.parked_in_poller = np->parked_in_poller.load();
  s.poller_io_wakes = np->poller_io_wakes.load();
  s.watcher_harvests = np->watcher_harvests.load();
  return s;
}

void netpoll_shutdown(RuntimeImpl* rt) {
  std::shared_ptr<Netpoll> np;
  {
    std::lock_guard g(rt->netpoll_mutex);
    np = std::move(rt->netpoll);
  }
  if (!np) return;
  np->stop.store(true, std::memory_order_release);
  kick_eventfd(np->watcher_evfd);
  if (np->watcher.joinable()) np->watcher.join();
  rt->np.store(nullptr, std::memory_order_release);
  // Sockets that outlive the runtime keep the epoll instance (they
  // deregister from it when closed) but wait in poll(2) from now on.
  np->rt = nullptr;
}

}  // namespace kairos::detail
