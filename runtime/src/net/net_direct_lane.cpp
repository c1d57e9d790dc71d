// DirectLane: kthread k's lane in direct mode (Caladan's directpath idea):
// it polls the device queues it owns (queue q belongs to kthread
// q % kthreads) straight from their AF_XDP sockets, and sends through its
// own queue (a kthread without one through queue k % queues). No
// dataplane thread, no rings. Also the doorbell thread of direct mode,
// for when kthreads cannot park on the queues' fds (/dev/kairos parking).
#include "internal.hpp"
#include "net_internal.hpp"

#include <poll.h>
#include <time.h>

#include <mutex>

namespace kairos::net::detail {
namespace {

// Copies each received datagram out of the backend's frame.
struct Collect final : dp::RxSink {
  std::vector<Datagram>* out = nullptr;
  void on_datagram(const dp::RxDatagram& d) override {
    out->push_back(Datagram{d.src, d.dst, {d.payload.begin(), d.payload.end()}});
  }
};

class DirectLane final : public Lane {
 public:
  DirectLane(unsigned k, std::vector<DirectQueue*> rx, std::vector<DirectQueue*> tx)
      : k_(k), rx_(std::move(rx)), tx_(std::move(tx)), used_(tx_.size(), false),
        unflushed_(tx_.size(), false) {}

  unsigned drain(StackState& st, unsigned self, unsigned budget) override {
    if (rx_.empty()) return 0;
    if (rx_busy_.load(std::memory_order_relaxed) ||
        rx_busy_.exchange(true, std::memory_order_acquire))
      return 0;
    unsigned n = 0;
    // RX indices for the allocator: consumed, plus what waits in the
    // device rings (Backend::rx_waiting), published when either moved.
    std::size_t waiting = 0;
    for (std::size_t i = 0; i < rx_.size(); i++) {
      DirectQueue& q = *rx_[(next_ + i) % rx_.size()];
      batch_.clear();
      Collect c;
      c.out = &batch_;
      // Only the backend calls under io: the frames go back to the device
      // (fill ring) before any socket sees the copies.
      q.io.lock();
      if (n < budget) q.backend->poll_rx(budget - n, c);
      waiting += q.backend->rx_waiting();
      q.io.unlock();
      for (Datagram& d : batch_) st.deliver(std::move(d));
      n += static_cast<unsigned>(batch_.size());
    }
    next_++;
    if (n || waiting || published_waiting_) {
      const std::uint64_t t = taken.load(std::memory_order_relaxed) + n;
      taken.store(t, std::memory_order_relaxed);
      const auto t32 = static_cast<std::uint32_t>(t);
      st.rt->publish_rx(k_, t32 + static_cast<std::uint32_t>(waiting), t32);
      published_waiting_ = waiting;
    }
    rx_busy_.store(false, std::memory_order_release);
    if (n && k_ != self) st.rx_stolen.fetch_add(n, std::memory_order_relaxed);
    return n;
  }

  // Peeking a device ring costs what a poll costs: let drain look.
  bool rx_may_wait() const override { return !rx_.empty(); }

  Push push(const dp::Endpoint& peer, const dp::Endpoint& local,
            std::span<const std::uint8_t> data) override {
    // The preferred queue first; one that has never heard from the peer
    // (no MAC for it: L2 backends learn neighbours per queue) passes it
    // on to the next.
    for (std::size_t i = 0; i < tx_.size(); i++) {
      DirectQueue& q = *tx_[i];
      q.io.lock();
      if (q.backend->send(local, peer, data)) {
        q.io.unlock();
        used_[i] = unflushed_[i] = true;
        return Push::kSent;
      }
      const std::uint64_t nr = q.backend->stats().tx_no_route;
      const bool no_route = nr != q.no_route_seen;
      q.no_route_seen = nr;
      q.io.unlock();
      if (!no_route) {
        kick(true, true);  // transmitted frames come back as completions
        return Push::kFull;
      }
    }
    return Push::kDropped;
  }

  // One TX kick per batch: while more uthreads wait on this kthread (a
  // drain just readied them), the last of them to send kicks for all, as
  // DirectEchoApp does after a poll_rx batch (a kick per reply cost a
  // system call each: 2x the p50 with 8 requests per batch); the idle
  // poll (poll_tx) kicks whatever is left when the kthread runs dry.
  void flush() override {
    if (more_work_here()) return;
    kick(false, true);
  }

  // From the idle poll: what a skipped flush left (always, before the
  // kthread may park), and, copy-mode AF_XDP sending a bounded batch per
  // kick, more kicks (and completions) while anything is in flight, not
  // waiting for a queue another kthread is using. Nothing in flight: a
  // ring peek, no system call.
  void poll_tx() override {
    for (std::size_t i = 0; i < tx_.size(); i++)
      if (unflushed_[i] || used_[i]) kick_one(i, unflushed_[i]);
  }

  // Flushes the queues with unflushed datagrams, or all it ever used.
  void kick(bool all_used, bool wait) {
    for (std::size_t i = 0; i < tx_.size(); i++)
      if (all_used ? used_[i] : unflushed_[i]) kick_one(i, wait);
  }

  void kick_one(std::size_t i, bool wait) {
    DirectQueue& q = *tx_[i];
    if (wait) {
      q.io.lock();
    } else if (!q.io.try_lock()) {
      return;
    }
    q.backend->flush();
    q.io.unlock();
    unflushed_[i] = false;
  }

  static bool more_work_here() {
    kairos::detail::Kthread* k = kairos::detail::current_kthread();
    return k && k->rq_len.load(std::memory_order_relaxed) != 0;
  }

  void retire() {
    while (rx_busy_.exchange(true, std::memory_order_acquire)) {
    }
  }

 private:
  unsigned k_;
  std::vector<DirectQueue*> rx_, tx_;
  // Queues of tx_ this lane has sent through, and those with datagrams
  // not kicked yet (only its kthread touches them).
  std::vector<bool> used_, unflushed_;
  std::atomic<bool> rx_busy_{false};  // try-lock: one consumer at a time
  std::vector<Datagram> batch_;       // under rx_busy_
  std::size_t next_ = 0;              // under rx_busy_
  std::size_t published_waiting_ = 0; // under rx_busy_
};

}  // namespace

std::unique_ptr<Lane> make_direct_lane(unsigned k, std::vector<DirectQueue*> rx,
                                       std::vector<DirectQueue*> tx) {
  return std::make_unique<DirectLane>(k, std::move(rx), std::move(tx));
}

// Only when kthreads cannot park on the queues' fds: sleeps in poll() on
// every queue's fds while the whole runtime is parked and nudges it when
// one turns readable; with kthreads running it checks every 100 us that
// no readable queue is stuck (its lane's consumed count did not move).
void fd_doorbell_loop(StackState& st) {
  std::vector<pollfd> pfds;
  std::vector<unsigned> lane_of;  // per pollfd
  const unsigned nk = static_cast<unsigned>(st.lanes.size());
  for (unsigned q = 0; q < st.queues.size(); q++)
    for (int fd : st.queues[q]->fds) {
      pfds.push_back({fd, POLLIN, 0});
      lane_of.push_back(q % nk);
    }
  std::vector<std::uint64_t> last(nk, ~0ull);
  while (!st.stop_doorbell.load(std::memory_order_acquire)) {
    const bool all_parked = st.rt->running_kthreads() == 0;
    for (auto& p : pfds) p.revents = 0;
    // Bounded so that stop and a change of the runtime's state are seen.
    const int n = poll(pfds.data(), pfds.size(), all_parked ? 20 : 0);
    if (st.stop_doorbell.load(std::memory_order_acquire)) break;
    std::vector<bool> readable(nk, false);
    for (std::size_t i = 0; n > 0 && i < pfds.size(); i++)
      if (pfds[i].revents & POLLIN) readable[lane_of[i]] = true;
    bool pending = false, stuck = false;
    for (unsigned k = 0; k < nk; k++) {
      if (!readable[k]) {
        last[k] = ~0ull;
        continue;
      }
      pending = true;
      const std::uint64_t t = st.lanes[k]->taken.load(std::memory_order_relaxed);
      if (t == last[k]) stuck = true;
      last[k] = t;
    }
    if (pending && (st.rt->running_kthreads() == 0 || stuck)) st.nudge();
    if (pending || !all_parked) {
      const timespec ts{0, 100'000};  // let the woken kthread drain
      nanosleep(&ts, nullptr);
    }
  }
}

void retire_direct(StackState& st) {
  for (auto& l : st.lanes) static_cast<DirectLane*>(l.get())->retire();
  for (auto& q : st.queues) {
    q->io.lock();  // stays held: nothing may call into it again
    q->backend.reset();
  }
}

}  // namespace kairos::net::detail
