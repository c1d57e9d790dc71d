// UdpSocket: blocking recv/send and the queue API. Pops complete in issue
// order as the poller delivers; pushes go to the TX ring of the kthread
// the calling uthread runs on, in issue order, retried while it is full.
#include "net_internal.hpp"

#include <stdexcept>

namespace kairos::net {
namespace detail {

void progress_tx(SocketState& s) {
  if (s.pushes.empty()) return;
  if (!this_uthread::in_uthread())
    throw std::logic_error("kairos::net: push/send need a uthread (TX ring of its kthread)");
  StackState& st = *s.stack;
  // No switch happens between reading the index and pushing, so this
  // kthread is the ring's only producer.
  dp::RingView& tx = st.slots[this_uthread::kthread_index()]->rings.tx;
  while (!s.pushes.empty()) {
    PendingPush& p = s.pushes.front();
    if (!tx.try_push(p.peer, s.local, 0, p.data)) {
      st.tx_ring_full.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    st.tx_sent.fetch_add(1, std::memory_order_relaxed);
    s.done[p.qt] = QResult{QResult::Op::kPush, p.qt, Datagram{p.peer, s.local, {}}};
    s.pushes.pop_front();
  }
}

namespace {

bool known(const SocketState& s, QToken qt) {
  if (s.done.count(qt)) return true;
  for (auto& p : s.pushes)
    if (p.qt == qt) return true;
  for (auto q : s.pops)
    if (q == qt) return true;
  return false;
}

}  // namespace
}  // namespace detail

using detail::SocketState;

QToken UdpSocket::push(const Endpoint& peer, std::span<const std::uint8_t> data) {
  if (!s_) throw std::logic_error("kairos::net: invalid socket");
  if (data.size() > KAIROS_DP_MAX_PAYLOAD)
    throw std::invalid_argument("kairos::net: datagram larger than a ring slot");
  if (!this_uthread::in_uthread())
    throw std::logic_error("kairos::net: push/send need a uthread (TX ring of its kthread)");
  std::lock_guard g(s_->lk);
  const QToken qt = s_->next++;
  s_->pushes.push_back({qt, peer, {data.begin(), data.end()}});
  if (!s_->closed) detail::progress_tx(*s_);
  return qt;
}

QToken UdpSocket::pop() {
  if (!s_) throw std::logic_error("kairos::net: invalid socket");
  std::lock_guard g(s_->lk);
  const QToken qt = s_->next++;
  if (!s_->rx.empty()) {
    s_->done[qt] = QResult{QResult::Op::kPop, qt, std::move(s_->rx.front())};
    s_->rx.pop_front();
  } else {
    s_->pops.push_back(qt);
  }
  return qt;
}

std::optional<std::pair<std::size_t, QResult>> UdpSocket::wait_any(
    std::span<const QToken> qts, std::optional<std::chrono::nanoseconds> timeout) {
  if (!s_) throw std::logic_error("kairos::net: invalid socket");
  if (qts.empty()) throw std::invalid_argument("kairos::net::wait_any: no tokens");
  detail::Deadline deadline;
  if (timeout) deadline = std::chrono::steady_clock::now() + *timeout;
  std::unique_lock g(s_->lk);
  for (auto qt : qts)
    if (!detail::known(*s_, qt))
      throw std::invalid_argument("kairos::net: unknown queue token");
  for (;;) {
    for (std::size_t i = 0; i < qts.size(); i++) {
      auto it = s_->done.find(qts[i]);
      if (it == s_->done.end()) continue;
      QResult r = std::move(it->second);
      s_->done.erase(it);
      return std::make_pair(i, std::move(r));
    }
    if (s_->closed) return std::nullopt;
    bool waits_push = false;
    for (auto qt : qts)
      for (auto& p : s_->pushes) waits_push |= p.qt == qt;
    if (waits_push) {
      // TX room appears without any notification: yield and retry.
      detail::progress_tx(*s_);
      if (!s_->pushes.empty()) {
        if (deadline && std::chrono::steady_clock::now() >= *deadline)
          return std::nullopt;
        g.unlock();
        this_uthread::yield();
        g.lock();
      }
      continue;
    }
    detail::WaitQueue me;
    for (auto qt : qts)
      if (s_->waiters.count(qt))
        throw std::invalid_argument("kairos::net: token already waited by another uthread");
    for (auto qt : qts) s_->waiters[qt] = &me;
    const bool notified = me.wait(s_->lk, deadline);
    for (auto qt : qts)
      if (auto it = s_->waiters.find(qt); it != s_->waiters.end() && it->second == &me)
        s_->waiters.erase(it);
    if (!notified) {
      // Timed out; a delivery may have raced the timer, so look once more.
      for (std::size_t i = 0; i < qts.size(); i++) {
        auto it = s_->done.find(qts[i]);
        if (it == s_->done.end()) continue;
        QResult r = std::move(it->second);
        s_->done.erase(it);
        return std::make_pair(i, std::move(r));
      }
      return std::nullopt;
    }
  }
}

std::optional<QResult> UdpSocket::wait(QToken qt) {
  auto r = wait_any(std::span<const QToken>(&qt, 1));
  if (!r) return std::nullopt;
  return std::move(r->second);
}

std::optional<QResult> UdpSocket::wait(QToken qt, std::chrono::nanoseconds timeout) {
  auto r = wait_any(std::span<const QToken>(&qt, 1), timeout);
  if (!r) return std::nullopt;
  return std::move(r->second);
}

std::optional<Datagram> UdpSocket::recv_from(
    std::optional<std::chrono::nanoseconds> timeout) {
  const QToken qt = pop();
  auto r = timeout ? wait(qt, *timeout) : wait(qt);
  if (r) return std::move(r->dgram);
  // Timed out or closed: withdraw the pop so no datagram is given to it
  // later (it would be lost); one that completed meanwhile is returned.
  std::lock_guard g(s_->lk);
  if (auto it = s_->done.find(qt); it != s_->done.end()) {
    Datagram d = std::move(it->second.dgram);
    s_->done.erase(it);
    return d;
  }
  std::erase(s_->pops, qt);
  return std::nullopt;
}

bool UdpSocket::send_to(const Endpoint& peer, std::span<const std::uint8_t> data) {
  const QToken qt = push(peer, data);
  return wait(qt).has_value();
}

void UdpSocket::close() {
  if (!s_) return;
  auto& st = *s_->stack;
  {
    std::lock_guard g(s_->lk);
    if (s_->closed) return;
    s_->closed = true;
    s_->notify_everyone();
  }
  st.sockets_lock.lock();
  if (auto it = st.by_port.find(s_->local.port);
      it != st.by_port.end() && it->second == s_)
    st.by_port.erase(it);
  st.sockets_lock.unlock();
}

Endpoint UdpSocket::local() const { return s_ ? s_->local : Endpoint{}; }

std::size_t UdpSocket::queued() const {
  if (!s_) return 0;
  std::lock_guard g(s_->lk);
  return s_->rx.size();
}

}  // namespace kairos::net
