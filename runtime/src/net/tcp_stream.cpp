// TcpStream: connect, read, write, shutdown, close over a non-blocking
// socket; an operation that would block waits for readiness (parks the
// uthread, see net/tcp_socket.cpp and netpoll.cpp).
#include "net/tcp_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace kairos::net {

using detail::OpGuard;
using detail::TcpSocketState;
using kairos::detail::kPollRead;
using kairos::detail::kPollWrite;

namespace {

std::error_code closed_error() { return std::make_error_code(std::errc::bad_file_descriptor); }

void throw_if(const std::error_code& ec, const char* what) {
  if (ec) throw std::system_error(ec, what);
}

}  // namespace

TcpStream::TcpStream(std::unique_ptr<TcpSocketState> s) : s_(std::move(s)) {}
TcpStream::TcpStream() = default;
TcpStream::TcpStream(TcpStream&&) noexcept = default;
TcpStream& TcpStream::operator=(TcpStream&&) noexcept = default;
TcpStream::~TcpStream() = default;

TcpStream TcpStream::adopt(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0) throw std::system_error(detail::last_error(), "kairos: TcpStream::adopt");
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  return TcpStream(std::make_unique<TcpSocketState>(fd));
}

TcpStream TcpStream::connect(const TcpEndpoint& peer, std::chrono::nanoseconds timeout,
                             std::error_code& ec) {
  sockaddr_storage ss;
  socklen_t len = 0;
  if (!detail::to_sockaddr(peer, false, ss, len) || peer.port == 0) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return {};
  }
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = detail::last_error();
    return {};
  }
  detail::set_nodelay(fd);
  auto st = std::make_unique<TcpSocketState>(fd);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) {
      ec = detail::last_error();
      return {};
    }
    // Writable once the handshake is over, either way; SO_ERROR says how.
    if ((ec = detail::wait_ready(*st, kPollWrite, detail::deadline_after(timeout))))
      return {};
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
    if (err != 0) {
      ec.assign(err, std::generic_category());
      return {};
    }
  }
  ec.clear();
  return TcpStream(std::move(st));
}

TcpStream TcpStream::connect(const TcpEndpoint& peer, std::chrono::nanoseconds timeout) {
  std::error_code ec;
  TcpStream s = connect(peer, timeout, ec);
  throw_if(ec, "kairos: tcp connect");
  return s;
}

std::size_t TcpStream::read_some(void* buf, std::size_t n, std::error_code& ec) {
  OpGuard op(s_.get());
  if (!op) {
    ec = closed_error();
    return 0;
  }
  ec.clear();
  if (n == 0) return 0;
  const std::uint64_t deadline = detail::deadline_after(s_->read_timeout);
  // The last read came back short: the socket was empty then, and what
  // came after it raised an edge (pending in the PollDesc, or still to be
  // harvested). Waiting first saves the recv that would say EAGAIN: one
  // per request for a request-reply server.
  if (s_->rx_drained.exchange(false, std::memory_order_relaxed) &&
      detail::may_wait_before_read(*s_))
    if ((ec = detail::wait_ready(*s_, kPollRead, deadline))) return 0;
  for (;;) {
    const ssize_t r = ::recv(s_->fd, buf, n, 0);
    if (r >= 0) {
      if (r > 0 && static_cast<std::size_t>(r) < n)
        s_->rx_drained.store(true, std::memory_order_relaxed);
      return static_cast<std::size_t>(r);
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = detail::last_error();
      return 0;
    }
    if ((ec = detail::wait_ready(*s_, kPollRead, deadline))) return 0;
  }
}

std::size_t TcpStream::read_some(void* buf, std::size_t n) {
  std::error_code ec;
  const std::size_t r = read_some(buf, n, ec);
  throw_if(ec, "kairos: tcp read");
  return r;
}

std::size_t TcpStream::read_exact(void* buf, std::size_t n, std::error_code& ec) {
  OpGuard op(s_.get());
  if (!op) {
    ec = closed_error();
    return 0;
  }
  ec.clear();
  auto* p = static_cast<char*>(buf);
  std::size_t done = 0;
  // This may leave bytes in the socket with no edge pending for them.
  s_->rx_drained.store(false, std::memory_order_relaxed);
  const std::uint64_t deadline = detail::deadline_after(s_->read_timeout);
  while (done < n) {
    const ssize_t r = ::recv(s_->fd, p + done, n - done, 0);
    if (r > 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0) break;  // EOF
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = detail::last_error();
      break;
    }
    if ((ec = detail::wait_ready(*s_, kPollRead, deadline))) break;
  }
  return done;
}

std::size_t TcpStream::read_exact(void* buf, std::size_t n) {
  std::error_code ec;
  const std::size_t r = read_exact(buf, n, ec);
  throw_if(ec, "kairos: tcp read");
  return r;
}

std::size_t TcpStream::write_all(const void* buf, std::size_t n, std::error_code& ec) {
  OpGuard op(s_.get());
  if (!op) {
    ec = closed_error();
    return 0;
  }
  ec.clear();
  const auto* p = static_cast<const char*>(buf);
  std::size_t done = 0;
  const std::uint64_t deadline = detail::deadline_after(s_->write_timeout);
  while (done < n) {
    const ssize_t r = ::send(s_->fd, p + done, n - done, MSG_NOSIGNAL);
    if (r >= 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = detail::last_error();
      break;
    }
    if ((ec = detail::wait_ready(*s_, kPollWrite, deadline))) break;
  }
  return done;
}

std::size_t TcpStream::write_all(const void* buf, std::size_t n) {
  std::error_code ec;
  const std::size_t r = write_all(buf, n, ec);
  throw_if(ec, "kairos: tcp write");
  return r;
}

void TcpStream::set_timeout(std::chrono::nanoseconds t) {
  set_read_timeout(t);
  set_write_timeout(t);
}

void TcpStream::set_read_timeout(std::chrono::nanoseconds t) {
  if (s_) s_->read_timeout = t;
}

void TcpStream::set_write_timeout(std::chrono::nanoseconds t) {
  if (s_) s_->write_timeout = t;
}

void TcpStream::shutdown_write(std::error_code& ec) {
  OpGuard op(s_.get());
  if (!op) {
    ec = closed_error();
    return;
  }
  if (::shutdown(s_->fd, SHUT_WR) != 0)
    ec = detail::last_error();
  else
    ec.clear();
}

void TcpStream::shutdown_write() {
  std::error_code ec;
  shutdown_write(ec);
  throw_if(ec, "kairos: tcp shutdown");
}

void TcpStream::close() {
  if (s_) s_->close();
}

bool TcpStream::is_open() const { return s_ && !s_->closed.load(std::memory_order_acquire); }

int TcpStream::native_handle() const { return is_open() ? s_->fd : -1; }

TcpEndpoint TcpStream::local_endpoint() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (!is_open() || getsockname(s_->fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return detail::from_sockaddr(ss);
}

TcpEndpoint TcpStream::peer_endpoint() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (!is_open() || getpeername(s_->fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return detail::from_sockaddr(ss);
}

}  // namespace kairos::net
