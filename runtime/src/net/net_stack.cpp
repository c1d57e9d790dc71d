// Stack: binds the runtime's kthreads to their lanes (net_lane.hpp): the
// dataplane's per-kthread rings (relayed mode) or the device queues they
// own (direct mode). RX: a poller drains lane k on kthread k (and the lane
// of a parked kthread on any running one); each datagram, copied out,
// goes to the socket bound to its port. Waking a parked runtime: in
// direct mode the kthreads park on their queues' fds
// (Runtime::add_park_fds); otherwise a doorbell thread does it.
#include "net_internal.hpp"

#include <kairos/abi/queue_state.h>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace kairos::net {
namespace detail {
namespace {

constexpr unsigned kDrainBudget = 64;  // datagrams per ring per poll

bool kthread_parked(Runtime& rt, unsigned k) {
  const kairos_queue_state* line = rt.queue_state_line(k);
  return __atomic_load_n(&line->state, __ATOMIC_RELAXED) == KAIROS_KTHREAD_PARKED;
}

}  // namespace

void StackState::deliver(Datagram&& d) {
  std::shared_ptr<SocketState> s;
  sockets_lock.lock();
  if (auto it = by_port.find(d.local.port); it != by_port.end()) s = it->second;
  sockets_lock.unlock();
  if (!s) {
    rx_no_socket.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  s->lk.lock();
  if (s->closed) {
    s->lk.unlock();
    rx_no_socket.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!s->pops.empty()) {
    const QToken qt = s->pops.front();
    s->pops.pop_front();
    s->done[qt] = QResult{QResult::Op::kPop, qt, std::move(d)};
    s->notify(qt);
  } else if (s->rx.size() >= s->cap) {
    s->lk.unlock();
    rx_overflow.fetch_add(1, std::memory_order_relaxed);
    return;
  } else {
    s->rx.push_back(std::move(d));
  }
  s->lk.unlock();
  rx_delivered.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace detail

namespace {

void check_options(const StackOptions& opt) {
  if (opt.socket_queue_cap == 0)
    throw std::invalid_argument("kairos::net::Stack: socket_queue_cap must be > 0");
}

// The poller keeps the state (and so the lanes) alive for as long as the
// runtime may call it; after ~Stack it does nothing.
void add_poller(Runtime& rt, const std::shared_ptr<detail::StackState>& st) {
  rt.add_poller([st](unsigned self) {
    // ~Stack waits until no poller is inside (active_pollers) before it
    // closes the queues; one that comes later sees closed.
    st->active_pollers.fetch_add(1, std::memory_order_seq_cst);
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { n.fetch_sub(1, std::memory_order_release); }
    } leave{st->active_pollers};
    if (st->closed.load(std::memory_order_seq_cst)) return false;
    detail::Lane& own = *st->lanes[self];
    own.poll_tx();
    bool any = own.drain(*st, self, detail::kDrainBudget) != 0;
    const unsigned n = static_cast<unsigned>(st->lanes.size());
    for (unsigned j = 0; j < n; j++)
      if (j != self && st->lanes[j]->rx_may_wait() && detail::kthread_parked(*st->rt, j))
        any |= st->lanes[j]->drain(*st, self, detail::kDrainBudget) != 0;
    return any;
  });
}

}  // namespace

Stack::Stack(Runtime& rt, dp::ShmRegion region, StackOptions opt) {
  if (region.nr_kthreads() != rt.kthreads())
    throw std::invalid_argument(
        "kairos::net::Stack: the ring region has " +
        std::to_string(region.nr_kthreads()) + " ring pairs, the runtime " +
        std::to_string(rt.kthreads()) + " kthreads");
  check_options(opt);
  auto st = std::make_shared<detail::StackState>();
  st->rt = &rt;
  st->opt = opt;
  st->region.emplace(std::move(region));
  for (unsigned k = 0; k < rt.kthreads(); k++)
    st->lanes.push_back(detail::make_ring_lane(*st->region, k));
  add_poller(rt, st);
  if (opt.doorbell)
    st->doorbell = std::thread([p = st.get()] { detail::ring_doorbell_loop(*p); });
  st_ = std::move(st);
}

Stack::Stack(Runtime& rt, std::vector<std::unique_ptr<dp::Backend>> queues,
             StackOptions opt) {
  if (queues.empty())
    throw std::invalid_argument("kairos::net::Stack: no device queues (direct mode)");
  check_options(opt);
  for (std::size_t q = 0; q < queues.size(); q++) {
    if (!queues[q])
      throw std::invalid_argument("kairos::net::Stack: device queue " + std::to_string(q) +
                                  " is null");
    // A parked runtime must be woken by its queues: they need fds.
    if (queues[q]->wait_fds().empty())
      throw std::invalid_argument("kairos::net::Stack: device queue " + std::to_string(q) +
                                  " (" + queues[q]->name() +
                                  ") has no fds to wait on; direct mode needs them");
  }
  auto st = std::make_shared<detail::StackState>();
  st->rt = &rt;
  st->opt = opt;
  for (auto& b : queues) {
    auto dq = std::make_unique<detail::DirectQueue>();
    dq->fds = b->wait_fds();
    dq->backend = std::move(b);
    st->queues.push_back(std::move(dq));
  }
  // Queue q belongs to kthread q % K; a kthread sends through its first
  // queue, or queue k % Q when it owns none, then through the others
  // (when the preferred one has no route to the peer).
  const unsigned nk = rt.kthreads();
  const unsigned nq = static_cast<unsigned>(st->queues.size());
  for (unsigned k = 0; k < nk; k++) {
    std::vector<detail::DirectQueue*> rx, tx;
    for (unsigned q = k; q < nq; q += nk) rx.push_back(st->queues[q].get());
    const unsigned first = k < nq ? k : k % nq;
    for (unsigned i = 0; i < nq; i++) tx.push_back(st->queues[(first + i) % nq].get());
    st->lanes.push_back(detail::make_direct_lane(k, std::move(rx), std::move(tx)));
  }
  add_poller(rt, st);
  try {
    start_direct_wakeups(rt, *st);
  } catch (...) {
    // The poller keeps the state: make it idle, give the fds back.
    st->closed.store(true, std::memory_order_seq_cst);
    for (unsigned k = 0; k < st->park_fds.size(); k++)
      if (!st->park_fds[k].empty()) rt.remove_park_fds(k, st->park_fds[k]);
    throw;
  }
  st_ = std::move(st);
}

namespace detail {

// Each kthread parks on its queues' fds, so a datagram wakes its owner;
// where it cannot, the doorbell thread polls them.
void start_direct_wakeups(Runtime& rt, StackState& st_ref) {
  StackState* st = &st_ref;
  const StackOptions& opt = st->opt;
  const unsigned nk = rt.kthreads();
  const unsigned nq = static_cast<unsigned>(st->queues.size());
  bool parks_on_fds = opt.park_on_queue_fds;
  st->park_fds.resize(nk);
  for (unsigned q = 0; q < nq; q++) {
    auto& fds = st->park_fds[q % nk];
    fds.insert(fds.end(), st->queues[q]->fds.begin(), st->queues[q]->fds.end());
  }
  if (!parks_on_fds) st->park_fds.assign(nk, {});
  for (unsigned k = 0; k < nk && parks_on_fds; k++)
    if (!st->park_fds[k].empty() && !rt.add_park_fds(k, st->park_fds[k])) {
      // All or nothing (the same park backend for all, so in practice
      // the first one says no).
      for (unsigned j = 0; j < k; j++)
        if (!st->park_fds[j].empty()) rt.remove_park_fds(j, st->park_fds[j]);
      parks_on_fds = false;
      st->park_fds.assign(nk, {});
    }
  // /dev/kairos parking or allocator mode: a thread waits on the fds.
  if (!parks_on_fds && opt.doorbell) st->doorbell = std::thread([st] { fd_doorbell_loop(*st); });
}

}  // namespace detail

Stack::~Stack() {
  st_->stop_doorbell.store(true, std::memory_order_release);
  if (st_->doorbell.joinable()) st_->doorbell.join();
  st_->closed.store(true, std::memory_order_seq_cst);
  std::vector<std::shared_ptr<detail::SocketState>> all;
  st_->sockets_lock.lock();
  for (auto& [port, s] : st_->by_port) all.push_back(s);
  st_->sockets_lock.unlock();
  for (auto& s : all) UdpSocket(s).close();
  if (!st_->queues.empty()) {
    for (unsigned k = 0; k < st_->park_fds.size(); k++)
      if (!st_->park_fds[k].empty()) st_->rt->remove_park_fds(k, st_->park_fds[k]);
    // No socket is open, so no TX; wait out the pollers, close the
    // queues' sockets (their port passes to the kernel again).
    while (st_->active_pollers.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    detail::retire_direct(*st_);
  }
}

UdpSocket Stack::bind(const Endpoint& local) {
  if (local.port == 0)
    throw std::invalid_argument("kairos::net::Stack::bind: port 0");
  if (st_->closed.load())
    throw std::logic_error("kairos::net::Stack::bind: stack closed");
  if (!st_->opt.steered.empty() &&
      std::find(st_->opt.steered.begin(), st_->opt.steered.end(), local) ==
          st_->opt.steered.end())
    throw std::invalid_argument(
        "kairos::net::Stack::bind: " + local.str() +
        " is not steered to this stack's queues (StackOptions::steered); its "
        "datagrams would go to the kernel");
  auto s = std::make_shared<detail::SocketState>();
  s->stack = st_;
  s->local = local;
  s->cap = st_->opt.socket_queue_cap;
  st_->sockets_lock.lock();
  const bool fresh = st_->by_port.emplace(local.port, s).second;
  st_->sockets_lock.unlock();
  if (!fresh)
    throw std::invalid_argument("kairos::net::Stack::bind: port " +
                                std::to_string(local.port) + " already bound");
  return UdpSocket(std::move(s));
}

StackStats Stack::stats() const {
  auto r = [](const std::atomic<std::uint64_t>& c) {
    return c.load(std::memory_order_relaxed);
  };
  return {r(st_->rx_delivered), r(st_->rx_stolen), r(st_->rx_no_socket),
          r(st_->rx_overflow),  r(st_->tx_sent),   r(st_->tx_ring_full),
          r(st_->doorbell_wakes), r(st_->tx_dropped)};
}

std::vector<dp::BackendStats> Stack::queue_stats() const {
  std::vector<dp::BackendStats> out;
  if (st_->closed.load()) return out;
  for (auto& q : st_->queues) {
    q->io.lock();
    out.push_back(q->backend->stats());
    q->io.unlock();
  }
  return out;
}

bool Stack::direct() const { return !st_->region; }

bool Stack::parks_on_queue_fds() const {
  for (auto& f : st_->park_fds)
    if (!f.empty()) return true;
  return false;
}

const dp::ShmRegion& Stack::region() const {
  if (!st_->region)
    throw std::logic_error("kairos::net::Stack::region: a direct-mode stack has no ring region");
  return *st_->region;
}

}  // namespace kairos::net
