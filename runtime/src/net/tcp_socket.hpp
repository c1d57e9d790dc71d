// What TcpStream and TcpListener share: the socket's state, its fd's
// lifetime (closed once no operation is inside it), lazy registration
// with the runtime's netpoller, and the wait for readiness.
#pragma once

#include <kairos/tcp.hpp>

#include "internal.hpp"
#include "netpoll.hpp"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <system_error>

namespace kairos::net::detail {

struct TcpSocketState {
  explicit TcpSocketState(int f) : fd(f) {}
  ~TcpSocketState();

  const int fd;
  // Registered with the netpoller on the first wait from a uthread (a
  // socket made outside the runtime, e.g. a listener made in main, is
  // registered by the uthread that first blocks on it).
  kairos::detail::SpinLock reg_lock;
  std::shared_ptr<kairos::detail::Netpoll> np;
  std::atomic<kairos::detail::PollDesc*> pd{nullptr};
  // Operations inside the fd, plus one for the owner until close().
  std::atomic<int> users{1};
  std::atomic<bool> closed{false};
  std::atomic<bool> finalized{false};
  std::chrono::nanoseconds read_timeout{0}, write_timeout{0};
  // read_some's last recv returned fewer bytes than asked for (the socket
  // was empty then); read_exact clears it.
  std::atomic<bool> rx_drained{false};

  // Marks closed, wakes blocked waiters, drops the owner's reference.
  void close();
  void unref();
};

// Holds a reference for one operation; false when the socket is closed.
class OpGuard {
 public:
  explicit OpGuard(TcpSocketState* s);
  ~OpGuard();
  OpGuard(const OpGuard&) = delete;
  OpGuard& operator=(const OpGuard&) = delete;
  explicit operator bool() const { return ok_; }

 private:
  TcpSocketState* s_;
  bool ok_ = false;
};

// The steady-clock deadline for a timeout (<= 0: kNoDeadline).
std::uint64_t deadline_after(std::chrono::nanoseconds t);
// Waits until the socket is ready in dir: empty on readiness (retry),
// timed_out, or bad_file_descriptor when closed meanwhile.
std::error_code wait_ready(TcpSocketState& s, kairos::detail::PollDir dir,
                           std::uint64_t deadline_ns);
// Whether a read that found the socket empty may wait for readiness
// before it tries again: every byte, EOF or error that can come then
// raises an edge, unless the netpoller has seen the peer shut down or the
// socket fail (that EOF or error may have been read in with the last
// bytes, and nothing more will announce it). An unregistered socket is
// registered by the wait, which reports its state as it is.
bool may_wait_before_read(TcpSocketState& s);

// Numeric address parsing ("" and "localhost" as documented in tcp.hpp).
bool to_sockaddr(const TcpEndpoint& ep, bool for_listen, sockaddr_storage& ss,
                 socklen_t& len);
TcpEndpoint from_sockaddr(const sockaddr_storage& ss);

std::error_code last_error();
void set_nodelay(int fd);

}  // namespace kairos::net::detail
