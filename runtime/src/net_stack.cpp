// Stack: binds the runtime's kthreads to the dataplane's per-kthread
// rings. RX: a poller drains ring k on kthread k (and the ring of a parked
// kthread on any running one), copies each datagram out, releases its
// slot, and hands the copy to the socket bound to its port. A doorbell
// thread wakes the runtime when datagrams wait while every kthread parks.
#include "net_internal.hpp"

#include <kairos/abi/queue_state.h>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

bool StackState::drain(unsigned self, unsigned j, unsigned budget) {
  RingSlot& rs = *slots[j];
  if (rs.rx_busy.load(std::memory_order_relaxed) ||
      rs.rx_busy.exchange(true, std::memory_order_acquire))
    return false;
  unsigned n = 0;
  std::uint64_t taken = rs.taken.load(std::memory_order_relaxed);
  while (n < budget) {
    const kairos_dp_slot* s = rs.rings.rx.peek();
    if (!s) break;
    Datagram d{Endpoint::from_abi(s->peer), Endpoint::from_abi(s->local), {}};
    auto payload = dp::RingView::payload(s);
    d.data.assign(payload.begin(), payload.end());
    // The copy is ours: the slot goes back to the dataplane before anyone
    // sees the datagram.
    rs.rings.rx.release();
    rs.taken.store(++taken, std::memory_order_relaxed);
    ++n;
    deliver(std::move(d));
  }
  // Ring indices relative to attach: 'taken' ever consumed, plus what
  // waits. Only the congestion (head - tail) matters to the allocator.
  const auto t32 = static_cast<std::uint32_t>(taken);
  rt->publish_rx(j, t32 + rs.rings.rx.occupancy(), t32);
  rs.rx_busy.store(false, std::memory_order_release);
  if (n && j != self) rx_stolen.fetch_add(n, std::memory_order_relaxed);
  return n != 0;
}

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

// Sleeps on every RX ring's futex word (futex_waitv) while the whole
// runtime is parked; with kthreads running it only checks, every 100 us,
// that no non-empty ring is stuck (its consumed count did not move). A
// wake is a detached no-op uthread injected from outside: with self_wake
// that unparks a kthread, which then polls (and steals) the rings.
void StackState::doorbell_loop() {
  const std::size_t n = slots.size();
  std::vector<std::uint64_t> last(n, ~0ull);
  std::vector<futex_waitv> fw(n);
  auto nudge = [&] {
    doorbell_wakes.fetch_add(1, std::memory_order_relaxed);
    rt->spawn_detached([] {});
  };
  while (!stop_doorbell.load(std::memory_order_acquire)) {
    const bool all_parked = rt->running_kthreads() == 0;
    if (all_parked && n <= FUTEX_WAITV_MAX) {
      for (std::size_t j = 0; j < n; j++) {
        std::atomic_ref<std::uint32_t>(slots[j]->rx_hdr->parked)
            .store(1, std::memory_order_seq_cst);
        fw[j] = futex_waitv{1, reinterpret_cast<std::uintptr_t>(
                                   &slots[j]->rx_hdr->parked),
                            FUTEX_32, 0};
      }
    }
    bool pending = false, stuck = false;
    for (std::size_t j = 0; j < n; j++) {
      if (slots[j]->rings.rx.occupancy() == 0) {
        last[j] = ~0ull;
        continue;
      }
      pending = true;
      const std::uint64_t t = slots[j]->taken.load(std::memory_order_relaxed);
      if (t == last[j]) stuck = true;
      last[j] = t;
    }
    if (pending && (all_parked || stuck)) nudge();
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (all_parked && !pending && n <= FUTEX_WAITV_MAX) {
      ts.tv_nsec += 20'000'000;  // recheck the runtime's state now and then
    } else {
      ts.tv_nsec += 100'000;
    }
    if (ts.tv_nsec >= 1'000'000'000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1'000'000'000;
    }
    if (all_parked && !pending && n <= FUTEX_WAITV_MAX)
      syscall(SYS_futex_waitv, fw.data(), static_cast<unsigned>(n), 0, &ts,
              CLOCK_MONOTONIC);
    else
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
}

}  // namespace detail

Stack::Stack(Runtime& rt, dp::ShmRegion region, StackOptions opt) {
  if (region.nr_kthreads() != rt.kthreads())
    throw std::invalid_argument(
        "kairos::net::Stack: the ring region has " +
        std::to_string(region.nr_kthreads()) + " ring pairs, the runtime " +
        std::to_string(rt.kthreads()) + " kthreads");
  if (opt.socket_queue_cap == 0)
    throw std::invalid_argument("kairos::net::Stack: socket_queue_cap must be > 0");
  auto st = std::make_shared<detail::StackState>(std::move(region));
  st->rt = &rt;
  st->opt = opt;
  const auto* base = reinterpret_cast<const std::uint8_t*>(&st->region.header());
  for (unsigned k = 0; k < rt.kthreads(); k++) {
    auto rs = std::make_unique<detail::RingSlot>();
    rs->rings = st->region.rings(k);
    // RX ring k sits at this offset (ring_abi.h layout); the doorbell
    // needs its futex word, which RingView does not expose.
    rs->rx_hdr = reinterpret_cast<kairos_dp_ring*>(const_cast<std::uint8_t*>(
        base + sizeof(kairos_dp_region) + 2ull * k * st->region.header().ring_bytes));
    st->slots.push_back(std::move(rs));
  }
  // The poller keeps the state (and so the ring mapping) alive for as
  // long as the runtime may call it; after ~Stack it does nothing.
  rt.add_poller([st](unsigned self) {
    if (st->closed.load(std::memory_order_acquire)) return false;
    bool any = st->drain(self, self, detail::kDrainBudget);
    const unsigned n = static_cast<unsigned>(st->slots.size());
    for (unsigned j = 0; j < n; j++)
      if (j != self && st->slots[j]->rings.rx.occupancy() != 0 &&
          detail::kthread_parked(*st->rt, j))
        any |= st->drain(self, j, detail::kDrainBudget);
    return any;
  });
  if (opt.doorbell) st->doorbell = std::thread([p = st.get()] { p->doorbell_loop(); });
  st_ = std::move(st);
}

Stack::~Stack() {
  st_->stop_doorbell.store(true, std::memory_order_release);
  if (st_->doorbell.joinable()) st_->doorbell.join();
  st_->closed.store(true, std::memory_order_release);
  std::vector<std::shared_ptr<detail::SocketState>> all;
  st_->sockets_lock.lock();
  for (auto& [port, s] : st_->by_port) all.push_back(s);
  st_->sockets_lock.unlock();
  for (auto& s : all) UdpSocket(s).close();
}

UdpSocket Stack::bind(const Endpoint& local) {
  if (local.port == 0)
    throw std::invalid_argument("kairos::net::Stack::bind: port 0");
  if (st_->closed.load())
    throw std::logic_error("kairos::net::Stack::bind: stack closed");
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
          r(st_->doorbell_wakes)};
}

const dp::ShmRegion& Stack::region() const { return st_->region; }

}  // namespace kairos::net
