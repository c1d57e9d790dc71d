#include <kairos/bench/udp_queue.hpp>

#include <sched.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace kairos::dp {

UdpQueue::UdpQueue(KthreadRings rings, Endpoint local, unsigned idle_spins,
                   unsigned idle_sleep_us, unsigned idle_yield_us)
    : rings_(rings), local_(local), idle_spins_(idle_spins),
      idle_sleep_us_(idle_sleep_us), idle_yield_us_(idle_yield_us) {
  if (!rings_.rx.valid() || !rings_.tx.valid())
    throw std::invalid_argument("UdpQueue: rings not mapped");
}

QToken UdpQueue::push(const Endpoint& peer, std::span<const std::uint8_t> data) {
  if (data.size() > KAIROS_DP_MAX_PAYLOAD)
    throw std::invalid_argument("UdpQueue::push: datagram larger than a ring slot");
  const QToken qt = next_++;
  // Keep order: only go straight to the ring when nothing is queued before.
  if (pushes_.empty() && rings_.tx.try_push(peer, local_, 0, data)) {
    done_[qt] = QResult{QResult::Op::kPush, qt, peer, local_, {}};
  } else {
    pushes_.push_back({qt, peer, {data.begin(), data.end()}});
  }
  return qt;
}

QToken UdpQueue::pop() {
  const QToken qt = next_++;
  pops_.push_back(qt);
  return qt;
}

void UdpQueue::progress() {
  while (!pushes_.empty()) {
    auto& p = pushes_.front();
    if (!rings_.tx.try_push(p.peer, local_, 0, p.data)) break;
    done_[p.qt] = QResult{QResult::Op::kPush, p.qt, p.peer, local_, {}};
    pushes_.pop_front();
  }
  while (!pops_.empty()) {
    const kairos_dp_slot* s = rings_.rx.peek();
    if (!s) break;
    QResult r{QResult::Op::kPop, pops_.front(), Endpoint::from_abi(s->peer),
              Endpoint::from_abi(s->local), {}};
    auto payload = RingView::payload(s);
    r.data.assign(payload.begin(), payload.end());
    rings_.rx.release();  // the copy is ours; the slot goes back now
    done_[r.qt] = std::move(r);
    pops_.pop_front();
  }
}

bool UdpQueue::known(QToken qt) const {
  if (done_.count(qt)) return true;
  for (auto& p : pushes_)
    if (p.qt == qt) return true;
  for (auto q : pops_)
    if (q == qt) return true;
  return false;
}

std::optional<QResult> UdpQueue::take(QToken qt) {
  auto it = done_.find(qt);
  if (it == done_.end()) return std::nullopt;
  QResult r = std::move(it->second);
  done_.erase(it);
  return r;
}

QResult UdpQueue::wait(QToken qt) {
  auto r = wait_any(std::span<const QToken>(&qt, 1));
  return std::move(r->second);
}

std::optional<QResult> UdpQueue::wait(QToken qt, std::chrono::nanoseconds timeout) {
  auto r = wait_any(std::span<const QToken>(&qt, 1), timeout);
  if (!r) return std::nullopt;
  return std::move(r->second);
}

std::optional<std::pair<std::size_t, QResult>> UdpQueue::wait_any(
    std::span<const QToken> qts, std::optional<std::chrono::nanoseconds> timeout) {
  if (qts.empty()) throw std::invalid_argument("UdpQueue::wait_any: no tokens");
  for (auto qt : qts)
    if (!known(qt)) throw std::invalid_argument("UdpQueue: unknown queue token");
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = timeout ? start + *timeout
                                : std::chrono::steady_clock::time_point::max();
  const auto yield_until = start + std::chrono::microseconds(idle_yield_us_);
  for (unsigned spins = 0;; spins++) {
    progress();
    for (std::size_t i = 0; i < qts.size(); i++)
      if (auto r = take(qts[i])) return std::make_pair(i, std::move(*r));
    if (spins % 64 == 63) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return std::nullopt;
      // Spin first (a dedicated core answers fastest), then park on the
      // RX ring until the dataplane delivers (bounded, so pending pushes
      // into a full TX ring and timeouts are rechecked).
      if (spins > idle_spins_) {
        if (now < yield_until)
          sched_yield();
        else if (!pops_.empty() && pushes_.empty())
          rings_.rx.park(std::chrono::milliseconds(1));
        else
          std::this_thread::sleep_for(std::chrono::microseconds(idle_sleep_us_));
      }
    }
  }
}

std::optional<std::pair<std::size_t, QResult>> wait_any(
    std::span<const std::pair<UdpQueue*, QToken>> tokens,
    std::optional<std::chrono::nanoseconds> timeout) {
  if (tokens.empty()) throw std::invalid_argument("dp::wait_any: no tokens");
  unsigned spins_max = 0, sleep_us = ~0u;
  for (auto& [q, qt] : tokens) {
    if (!q) throw std::invalid_argument("dp::wait_any: null queue");
    if (!q->known(qt)) throw std::invalid_argument("UdpQueue: unknown queue token");
    spins_max = std::max(spins_max, q->idle_spins_);
    sleep_us = std::min(sleep_us, q->idle_sleep_us_);
  }
  const auto deadline = timeout ? std::chrono::steady_clock::now() + *timeout
                                : std::chrono::steady_clock::time_point::max();
  for (unsigned spins = 0;; spins++) {
    for (auto& [q, qt] : tokens) q->progress();
    for (std::size_t i = 0; i < tokens.size(); i++)
      if (auto r = tokens[i].first->take(tokens[i].second))
        return std::make_pair(i, std::move(*r));
    if (spins % 64 == 63) {
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      if (spins > spins_max) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    }
  }
}

}  // namespace kairos::dp
