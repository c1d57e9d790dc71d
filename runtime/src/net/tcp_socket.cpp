// TcpSocketState: fd lifetime, netpoller registration, readiness waits.
#include "net/tcp_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kairos::net::detail {

using kairos::detail::kNoDeadline;
using kairos::detail::now_ns;
using kairos::detail::PollDir;
using kairos::detail::PollWait;

TcpSocketState::~TcpSocketState() { close(); }

void TcpSocketState::close() {
  if (closed.exchange(true, std::memory_order_seq_cst)) return;
  if (kairos::detail::PollDesc* p = pd.load(std::memory_order_acquire))
    kairos::detail::netpoll_close_wake(p);
  unref();
}

void TcpSocketState::unref() {
  if (users.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (finalized.exchange(true)) return;
  if (kairos::detail::PollDesc* p = pd.load(std::memory_order_acquire))
    kairos::detail::netpoll_release(p);
  ::close(fd);
}

OpGuard::OpGuard(TcpSocketState* s) : s_(s) {
  if (!s_) return;
  s_->users.fetch_add(1, std::memory_order_seq_cst);
  ok_ = !s_->closed.load(std::memory_order_seq_cst);
}

OpGuard::~OpGuard() {
  if (s_) s_->unref();
}

std::uint64_t deadline_after(std::chrono::nanoseconds t) {
  if (t.count() <= 0) return kNoDeadline;
  return now_ns() + static_cast<std::uint64_t>(t.count());
}

namespace {

// Registers s with the runtime of the calling uthread; null outside one.
kairos::detail::PollDesc* registered(TcpSocketState& s, std::error_code& ec) {
  ec.clear();
  if (kairos::detail::PollDesc* p = s.pd.load(std::memory_order_acquire)) return p;
  Runtime* rt = Runtime::current();
  if (!rt || !this_uthread::in_uthread()) return nullptr;
  s.reg_lock.lock();
  kairos::detail::PollDesc* p = s.pd.load(std::memory_order_relaxed);
  if (!p) {
    try {
      s.np = kairos::detail::netpoll_of(rt->impl());
      p = kairos::detail::netpoll_open(*s.np, s.fd, ec);
    } catch (const std::system_error& e) {
      ec = e.code();
    }
    if (p) s.pd.store(p, std::memory_order_release);
  }
  s.reg_lock.unlock();
  return p;
}

}  // namespace

std::error_code wait_ready(TcpSocketState& s, PollDir dir, std::uint64_t deadline_ns) {
  std::error_code ec;
  if (kairos::detail::PollDesc* p = registered(s, ec)) {
    switch (kairos::detail::netpoll_wait(p, dir, deadline_ns)) {
      case PollWait::kReady:
        return {};
      case PollWait::kTimedOut:
        return std::make_error_code(std::errc::timed_out);
      case PollWait::kClosed:
        return std::make_error_code(std::errc::bad_file_descriptor);
    }
  }
  if (ec) return ec;
  // Not on a uthread: block this thread in poll(2), in slices so that a
  // close() from elsewhere is seen.
  for (;;) {
    if (s.closed.load(std::memory_order_acquire))
      return std::make_error_code(std::errc::bad_file_descriptor);
    const std::uint64_t now = now_ns();
    if (deadline_ns != kNoDeadline && now >= deadline_ns)
      return std::make_error_code(std::errc::timed_out);
    std::uint64_t ms = 50;
    if (deadline_ns != kNoDeadline)
      ms = std::min<std::uint64_t>(ms, (deadline_ns - now + 999'999) / 1'000'000);
    pollfd p{s.fd, static_cast<short>(dir == kairos::detail::kPollRead ? POLLIN | POLLRDHUP
                                                                         : POLLOUT),
             0};
    const int r = poll(&p, 1, static_cast<int>(ms));
    if (r > 0) return {};
    if (r < 0 && errno != EINTR) return last_error();
  }
}

bool may_wait_before_read(TcpSocketState& s) {
  kairos::detail::PollDesc* p = s.pd.load(std::memory_order_acquire);
  return !p || !kairos::detail::netpoll_hung_up(p);
}

bool to_sockaddr(const TcpEndpoint& ep, bool for_listen, sockaddr_storage& ss,
                 socklen_t& len) {
  std::memset(&ss, 0, sizeof ss);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (ep.host.empty() || ep.host == "localhost") {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(ep.port);
    v4->sin_addr.s_addr =
        htonl(ep.host.empty() && for_listen ? INADDR_ANY : INADDR_LOOPBACK);
    len = sizeof *v4;
    return true;
  }
  if (inet_pton(AF_INET, ep.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(ep.port);
    len = sizeof *v4;
    return true;
  }
  if (inet_pton(AF_INET6, ep.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(ep.port);
    len = sizeof *v6;
    return true;
  }
  return false;
}

TcpEndpoint from_sockaddr(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    return {buf, ntohs(v4->sin_port)};
  }
  if (ss.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    return {buf, ntohs(v6->sin6_port)};
  }
  return {};
}

std::error_code last_error() { return {errno, std::generic_category()}; }

void set_nodelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace kairos::net::detail
