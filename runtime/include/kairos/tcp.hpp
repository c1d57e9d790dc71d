// Blocking TCP sockets on uthreads over the kernel's TCP stack (library
// kairos_net), Go-style: every socket is non-blocking underneath; an
// operation that would block registers the calling uthread as the
// socket's waiter for that direction and parks the uthread, not the
// kthread. The runtime's netpoller (one edge-triggered epoll instance per
// Runtime, runtime/src/netpoll.cpp) makes it ready again when the socket
// is, on the kthread that last ran it (ZygOS ownership). An idle kthread
// polls the epoll instance before parking, and one parked kthread sleeps
// in epoll_wait, so readiness wakes it with one wake-up.
//
//   kairos::Runtime rt({.kthreads = 2});
//   auto lis = kairos::net::TcpListener::listen({"127.0.0.1", 0}, 128);
//   rt.spawn_detached([l = std::move(lis), &rt]() mutable {
//     for (;;) {
//       std::error_code ec;
//       auto s = l.accept(ec);
//       if (ec) break;                       // closed listener, ...
//       rt.spawn_detached([s = std::move(s)]() mutable {
//         char buf[4096];
//         std::error_code e;
//         while (std::size_t n = s.read_some(buf, sizeof buf, e))
//           if (s.write_all(buf, n, e) != n) break;
//       });
//     }
//   });
//
// Errors: every operation has an overload taking std::error_code& (set on
// failure, cleared on success; system errors in std::generic_category:
// std::errc::connection_refused, timed_out, connection_reset,
// broken_pipe, bad_file_descriptor for a closed object, invalid_argument
// for a bad address) and one that throws std::system_error with the same
// code. EOF is not an error: read_some returns 0 with no error.
//
// Threads: a TcpStream or TcpListener is used by one uthread at a time
// (at most one reader and one writer may block on a stream at once: one
// uthread reading while another writes is fine). Called from a thread
// that is not a uthread, blocking operations wait in poll(2) on that
// thread instead. close() from another uthread (or thread) while one is
// blocked on the object wakes it with std::errc::bad_file_descriptor; the
// descriptor itself is closed once no operation is inside it any more, so
// a racing operation never touches a reused fd number.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

namespace kairos::net {

namespace detail {
struct TcpSocketState;
}

// A numeric IPv4 or IPv6 address ("127.0.0.1", "::1"; no DNS lookup:
// resolving would block the kthread) and a port. An empty host means the
// wildcard address for listen and the IPv4 loopback for connect.
struct TcpEndpoint {
  std::string host;
  std::uint16_t port = 0;
};

// Timeouts: zero or negative means none (block until done).
inline constexpr std::chrono::nanoseconds kNoTimeout{0};

class TcpStream {
 public:
  TcpStream();  // not connected: every operation fails (bad_file_descriptor)
  TcpStream(TcpStream&&) noexcept;
  TcpStream& operator=(TcpStream&&) noexcept;
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;
  ~TcpStream();  // closes

  // Connects (TCP_NODELAY on). Errors: connection_refused, timed_out
  // (the timeout passed; zero: the kernel's own SYN retries decide),
  // network_unreachable, invalid_argument (bad host), ...
  static TcpStream connect(const TcpEndpoint& peer, std::chrono::nanoseconds timeout,
                           std::error_code& ec);
  static TcpStream connect(const TcpEndpoint& peer,
                           std::chrono::nanoseconds timeout = kNoTimeout);
  // Adopts a connected socket (made non-blocking here); the stream owns it.
  static TcpStream adopt(int fd);

  // Reads what is there, up to n bytes, blocking the uthread until at
  // least one byte, EOF or an error. 0 with no error: EOF (the peer shut
  // its side). n == 0 returns 0 at once.
  std::size_t read_some(void* buf, std::size_t n, std::error_code& ec);
  std::size_t read_some(void* buf, std::size_t n);
  // Reads exactly n bytes unless EOF or an error comes first; returns
  // how many were read (< n: EOF, or ec set).
  std::size_t read_exact(void* buf, std::size_t n, std::error_code& ec);
  std::size_t read_exact(void* buf, std::size_t n);  // throws on errors, not on EOF
  // Writes all n bytes (partial writes are continued after the socket is
  // writable again). Returns how many were written: n, or fewer with ec
  // set (broken_pipe, connection_reset, timed_out, ...). Never raises
  // SIGPIPE.
  std::size_t write_all(const void* buf, std::size_t n, std::error_code& ec);
  std::size_t write_all(const void* buf, std::size_t n);

  // A read_some / read_exact / write_all that has waited this long in
  // total gives up with std::errc::timed_out (bytes already written or
  // read are reported by the return value); the stream stays usable.
  // Applies to operations that start after the call. Zero: no timeout
  // (the default).
  void set_timeout(std::chrono::nanoseconds t);
  void set_read_timeout(std::chrono::nanoseconds t);
  void set_write_timeout(std::chrono::nanoseconds t);

  // shutdown(SHUT_WR): the peer reads EOF; reading goes on.
  void shutdown_write(std::error_code& ec);
  void shutdown_write();
  // Closes the socket (idempotent); a uthread blocked on the stream wakes
  // with bad_file_descriptor. Unsent data is still sent by the kernel.
  void close();

  bool is_open() const;
  explicit operator bool() const { return is_open(); }
  int native_handle() const;  // -1 when closed
  TcpEndpoint local_endpoint() const;
  TcpEndpoint peer_endpoint() const;

 private:
  friend class TcpListener;
  explicit TcpStream(std::unique_ptr<detail::TcpSocketState> s);
  std::unique_ptr<detail::TcpSocketState> s_;
};

class TcpListener {
 public:
  TcpListener();  // not listening: every operation fails (bad_file_descriptor)
  TcpListener(TcpListener&&) noexcept;
  TcpListener& operator=(TcpListener&&) noexcept;
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  ~TcpListener();  // closes

  // Binds (SO_REUSEADDR; port 0: the kernel picks one, see local_port)
  // and listens. Errors: address_in_use, invalid_argument, permission_denied.
  static TcpListener listen(const TcpEndpoint& local, int backlog, std::error_code& ec);
  static TcpListener listen(const TcpEndpoint& local, int backlog = 128);

  // Blocks the uthread until a connection arrives (TCP_NODELAY on it).
  // After close() (also a close() by another uthread while this one
  // waits): bad_file_descriptor. With a timeout set: timed_out.
  TcpStream accept(std::error_code& ec);
  TcpStream accept();
  void set_timeout(std::chrono::nanoseconds t);

  std::uint16_t local_port() const;  // 0 when closed
  // Closes the socket and wakes a uthread blocked in accept. Safe to call
  // from another uthread or thread while one waits in accept; idempotent.
  void close();
  bool is_open() const;
  int native_handle() const;

 private:
  std::unique_ptr<detail::TcpSocketState> s_;
};

}  // namespace kairos::net
