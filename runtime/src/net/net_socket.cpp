// UdpSocket: blocking recv/send and the queue API. Pops complete in issue
// order as the poller delivers; pushes go to the lane (TX ring or device
// queue) of the kthread the calling uthread runs on, in issue order,
// retried while it is full.
#include "net_internal.hpp"

#include <algorithm>
#include <stdexcept>

namespace kairos::net {
namespace detail {

void progress_tx(SocketState& s) {
  if (s.pushes.empty()) return;
  if (!this_uthread::in_uthread())
    throw std::logic_error("kairos::net: push/send need a uthread (TX lane of its kthread)");
  StackState& st = *s.stack;
  // No switch happens between reading the index and pushing, so this
  // kthread is its lane's only producer.
  Lane& lane = *st.lanes[this_uthread::kthread_index()];
  bool sent = false;
  while (!s.pushes.empty()) {
    PendingPush& p = s.pushes.front();
    const Lane::Push r = lane.push(p.peer, s.local, p.data);
    if (r == Lane::Push::kFull) {
      st.tx_ring_full.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    if (r == Lane::Push::kSent) {
      st.tx_sent.fetch_add(1, std::memory_order_relaxed);
      sent = true;
    } else {
      st.tx_dropped.fetch_add(1, std::memory_order_relaxed);
    }
    s.done[p.qt] = QResult{QResult::Op::kPush, p.qt, Datagram{p.peer, s.local, {}}};
    s.pushes.pop_front();
  }
  // A reply leaves now, not at the lane's next poll.
  if (sent) lane.flush();
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
    throw std::logic_error("kairos::net: push/send need a uthread (TX lane of its kthread)");
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

namespace detail {
namespace {

// Holds a lock set for a scope (it is released and retaken inside).
struct LockSetGuard {
  std::span<SpinLock* const> locks;
  explicit LockSetGuard(std::span<SpinLock* const> l) : locks(l) { lock_all(locks); }
  ~LockSetGuard() { unlock_all(locks); }
};

// The first of qts to complete, qts[i] being a token of socks[i] (one
// socket or several): waits with every socket's lock released, woken by
// a delivery to any of them. nullopt on timeout or when every socket is
// closed.
std::optional<std::pair<std::size_t, QResult>> wait_any_of(
    std::span<SocketState* const> socks, std::span<const QToken> qts,
    std::optional<std::chrono::nanoseconds> timeout) {
  Deadline deadline;
  if (timeout) deadline = std::chrono::steady_clock::now() + *timeout;
  // Lock order: ascending address, each socket once.
  SpinLock* single[1] = {&socks[0]->lk};
  std::vector<SpinLock*> many;
  std::span<SpinLock* const> locks(single);
  for (SocketState* s : socks)
    if (s != socks[0]) {
      for (SocketState* t : socks) many.push_back(&t->lk);
      std::sort(many.begin(), many.end());
      many.erase(std::unique(many.begin(), many.end()), many.end());
      locks = many;
      break;
    }
  LockSetGuard g(locks);
  for (std::size_t i = 0; i < qts.size(); i++)
    if (!known(*socks[i], qts[i]))
      throw std::invalid_argument("kairos::net: unknown queue token");
  auto take = [&]() -> std::optional<std::pair<std::size_t, QResult>> {
    for (std::size_t i = 0; i < qts.size(); i++) {
      auto it = socks[i]->done.find(qts[i]);
      if (it == socks[i]->done.end()) continue;
      QResult r = std::move(it->second);
      socks[i]->done.erase(it);
      return std::make_pair(i, std::move(r));
    }
    return std::nullopt;
  };
  for (;;) {
    if (auto r = take()) return r;
    bool all_closed = true, waits_push = false;
    for (std::size_t i = 0; i < qts.size(); i++) {
      all_closed &= socks[i]->closed;
      if (socks[i]->closed) continue;  // its tokens never complete
      for (auto& p : socks[i]->pushes) waits_push |= p.qt == qts[i];
    }
    if (all_closed) return std::nullopt;
    if (waits_push) {
      // TX room appears without any notification: yield and retry.
      for (std::size_t i = 0; i < qts.size(); i++)
        if (!socks[i]->closed) progress_tx(*socks[i]);
      if (auto r = take()) return r;
      if (deadline && std::chrono::steady_clock::now() >= *deadline) return std::nullopt;
      unlock_all(locks);
      this_uthread::yield();
      lock_all(locks);
      continue;
    }
    WaitQueue me;
    for (std::size_t i = 0; i < qts.size(); i++)
      if (auto it = socks[i]->waiters.find(qts[i]); it != socks[i]->waiters.end())
        throw std::invalid_argument("kairos::net: token already waited by another uthread");
    for (std::size_t i = 0; i < qts.size(); i++) socks[i]->waiters[qts[i]] = &me;
    const bool notified = me.wait(locks, deadline);
    for (std::size_t i = 0; i < qts.size(); i++)
      if (auto it = socks[i]->waiters.find(qts[i]);
          it != socks[i]->waiters.end() && it->second == &me)
        socks[i]->waiters.erase(it);
    // Timed out: a delivery may have raced the timer, so look once more.
    if (!notified) return take();
  }
}

}  // namespace
}  // namespace detail

std::optional<std::pair<std::size_t, QResult>> UdpSocket::wait_any(
    std::span<const QToken> qts, std::optional<std::chrono::nanoseconds> timeout) {
  if (!s_) throw std::logic_error("kairos::net: invalid socket");
  if (qts.empty()) throw std::invalid_argument("kairos::net::wait_any: no tokens");
  // The same socket for every token; no allocation for short lists (the
  // recv path waits on one token).
  SocketState* few[8];
  std::vector<SocketState*> lots;
  std::span<SocketState* const> socks;
  if (qts.size() <= 8) {
    std::fill_n(few, qts.size(), s_.get());
    socks = std::span<SocketState* const>(few, qts.size());
  } else {
    lots.assign(qts.size(), s_.get());
    socks = lots;
  }
  return detail::wait_any_of(socks, qts, timeout);
}

std::optional<std::pair<std::size_t, QResult>> wait_any(
    std::span<const SocketToken> tokens, std::optional<std::chrono::nanoseconds> timeout) {
  if (tokens.empty()) throw std::invalid_argument("kairos::net::wait_any: no tokens");
  std::vector<SocketState*> socks;
  std::vector<QToken> qts;
  for (const SocketToken& t : tokens) {
    if (!t.socket.s_) throw std::logic_error("kairos::net: invalid socket");
    socks.push_back(t.socket.s_.get());
    qts.push_back(t.qt);
  }
  return detail::wait_any_of(socks, qts, timeout);
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
