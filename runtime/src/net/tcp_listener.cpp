// TcpListener: bind + listen, and accept that parks the uthread until a
// connection arrives.
#include "net/tcp_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace kairos::net {

using detail::OpGuard;
using detail::TcpSocketState;

TcpListener::TcpListener() = default;
TcpListener::TcpListener(TcpListener&&) noexcept = default;
TcpListener& TcpListener::operator=(TcpListener&&) noexcept = default;
TcpListener::~TcpListener() = default;

TcpListener TcpListener::listen(const TcpEndpoint& local, int backlog, std::error_code& ec) {
  sockaddr_storage ss;
  socklen_t len = 0;
  if (!detail::to_sockaddr(local, true, ss, len) || backlog <= 0) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return {};
  }
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = detail::last_error();
    return {};
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, backlog) != 0) {
    ec = detail::last_error();
    ::close(fd);
    return {};
  }
  ec.clear();
  TcpListener l;
  l.s_ = std::make_unique<TcpSocketState>(fd);
  return l;
}

TcpListener TcpListener::listen(const TcpEndpoint& local, int backlog) {
  std::error_code ec;
  TcpListener l = listen(local, backlog, ec);
  if (ec) throw std::system_error(ec, "kairos: tcp listen");
  return l;
}

TcpStream TcpListener::accept(std::error_code& ec) {
  OpGuard op(s_.get());
  if (!op) {
    ec = std::make_error_code(std::errc::bad_file_descriptor);
    return {};
  }
  const std::uint64_t deadline = detail::deadline_after(s_->read_timeout);
  for (;;) {
    const int fd = ::accept4(s_->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      detail::set_nodelay(fd);
      ec.clear();
      return TcpStream(std::make_unique<TcpSocketState>(fd));
    }
    // A connection that died in the queue is the peer's problem, not ours.
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = detail::last_error();
      return {};
    }
    if ((ec = detail::wait_ready(*s_, kairos::detail::kPollRead, deadline))) return {};
  }
}

TcpStream TcpListener::accept() {
  std::error_code ec;
  TcpStream s = accept(ec);
  if (ec) throw std::system_error(ec, "kairos: tcp accept");
  return s;
}

void TcpListener::set_timeout(std::chrono::nanoseconds t) {
  if (s_) s_->read_timeout = t;
}

std::uint16_t TcpListener::local_port() const {
  if (!is_open()) return 0;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(s_->fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  return detail::from_sockaddr(ss).port;
}

void TcpListener::close() {
  if (s_) s_->close();
}

bool TcpListener::is_open() const { return s_ && !s_->closed.load(std::memory_order_acquire); }

int TcpListener::native_handle() const { return is_open() ? s_->fd : -1; }

}  // namespace kairos::net
