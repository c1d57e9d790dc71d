// RingLane: kthread k's lane over the dataplane's shared-memory ring pair
// k (relayed mode). RX: copy each datagram out, release its slot, deliver
// the copy. TX: the kthread is the TX ring's only producer (the push rings
// the region's TX doorbell when the dataplane sleeps). Also the relayed
// mode's doorbell thread, which sleeps on the RX rings' futex words.
#include "net_internal.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace kairos::net::detail {
namespace {

class RingLane final : public Lane {
 public:
  // The doorbell thread waits on the RX ring's futex word. Its address
  // comes from the geometry checked at attach, never from the shared
  // header, which the dataplane side could have rewritten since.
  RingLane(const dp::ShmRegion& region, unsigned k)
      : k_(k), rings_(region.rings(k)), rx_hdr_(rings_.rx.header()) {}

  unsigned drain(StackState& st, unsigned self, unsigned budget) override {
    if (rx_busy_.load(std::memory_order_relaxed) ||
        rx_busy_.exchange(true, std::memory_order_acquire))
      return 0;
    unsigned n = 0;
    std::uint64_t t = taken.load(std::memory_order_relaxed);
    while (n < budget) {
      const kairos_dp_slot* s = rings_.rx.peek();
      if (!s) break;
      Datagram d{Endpoint::from_abi(s->peer), Endpoint::from_abi(s->local), {}};
      auto payload = dp::RingView::payload(s);
      d.data.assign(payload.begin(), payload.end());
      // The copy is ours: the slot goes back to the dataplane before
      // anyone sees the datagram.
      rings_.rx.release();
      taken.store(++t, std::memory_order_relaxed);
      ++n;
      st.deliver(std::move(d));
    }
    // Ring indices relative to attach: 'taken' ever consumed, plus what
    // waits. Only the congestion (head - tail) matters to the allocator.
    const auto t32 = static_cast<std::uint32_t>(t);
    st.rt->publish_rx(k_, t32 + rings_.rx.occupancy(), t32);
    rx_busy_.store(false, std::memory_order_release);
    if (n && k_ != self) st.rx_stolen.fetch_add(n, std::memory_order_relaxed);
    return n;
  }

  bool rx_may_wait() const override { return rings_.rx.occupancy() != 0; }

  Push push(const dp::Endpoint& peer, const dp::Endpoint& local,
            std::span<const std::uint8_t> data) override {
    return rings_.tx.try_push(peer, local, 0, data) ? Push::kSent : Push::kFull;
  }

  kairos_dp_ring* rx_hdr() const { return rx_hdr_; }

 private:
  unsigned k_;
  dp::KthreadRings rings_;
  kairos_dp_ring* rx_hdr_ = nullptr;       // for the doorbell's futex word
  std::atomic<bool> rx_busy_{false};       // try-lock: one consumer at a time
};

}  // namespace

std::unique_ptr<Lane> make_ring_lane(const dp::ShmRegion& region, unsigned k) {
  return std::make_unique<RingLane>(region, k);
}

// Sleeps on every RX ring's futex word (futex_waitv) while the whole
// runtime is parked; with kthreads running it only checks, every 100 us,
// that no non-empty ring is stuck (its consumed count did not move). A
// wake is a nudge (StackState::nudge).
void ring_doorbell_loop(StackState& st) {
  const std::size_t n = st.lanes.size();
  std::vector<RingLane*> lanes;
  for (auto& l : st.lanes) lanes.push_back(static_cast<RingLane*>(l.get()));
  std::vector<std::uint64_t> last(n, ~0ull);
  std::vector<futex_waitv> fw(n);
  while (!st.stop_doorbell.load(std::memory_order_acquire)) {
    const bool all_parked = st.rt->running_kthreads() == 0;
    if (all_parked && n <= FUTEX_WAITV_MAX) {
      for (std::size_t j = 0; j < n; j++) {
        std::atomic_ref<std::uint32_t>(lanes[j]->rx_hdr()->parked)
            .store(1, std::memory_order_seq_cst);
        fw[j] = futex_waitv{1, reinterpret_cast<std::uintptr_t>(&lanes[j]->rx_hdr()->parked),
                            FUTEX_32, 0};
      }
    }
    bool pending = false, stuck = false;
    for (std::size_t j = 0; j < n; j++) {
      if (!lanes[j]->rx_may_wait()) {
        last[j] = ~0ull;
        continue;
      }
      pending = true;
      const std::uint64_t t = lanes[j]->taken.load(std::memory_order_relaxed);
      if (t == last[j]) stuck = true;
      last[j] = t;
    }
    if (pending && (all_parked || stuck)) st.nudge();
    const bool sleep_long = all_parked && !pending && n <= FUTEX_WAITV_MAX;
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    // Recheck the runtime's state now and then.
    ts.tv_nsec += sleep_long ? 20'000'000 : 100'000;
    if (ts.tv_nsec >= 1'000'000'000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1'000'000'000;
    }
    if (sleep_long)
      syscall(SYS_futex_waitv, fw.data(), static_cast<unsigned>(n), 0, &ts, CLOCK_MONOTONIC);
    else
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
}

}  // namespace kairos::net::detail
