// Small servers for the engine tests, on loopback ports of their own
// choosing, each served by one thread. They misbehave on purpose.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace loadgen_test {

// Memcached ASCII over TCP: "get k" gets a 4-byte value, "set" gets STORED.
struct TcpStubOptions {
  int stall_after_ms = -1;  // once this long after start, stop serving...
  int stall_ms = 0;         // ...for this long (reads, replies, accepts)
  int reset_after = 0;      // reset (RST) each connection after this many replies
  bool garbage = false;     // answer every request with a line no protocol has
  bool silent = false;      // read requests, never answer
};

class TcpStub {
 public:
  explicit TcpStub(TcpStubOptions opt);
  ~TcpStub();
  std::uint16_t port() const { return port_; }
  std::uint64_t requests() const { return requests_.load(); }
  std::uint64_t resets() const { return resets_.load(); }

 private:
  void serve();
  TcpStubOptions opt_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> requests_{0}, resets_{0};
  std::thread thread_;
};

// UDP: memcached frames (gets answered in `split` datagrams sent in reverse
// order) or plain echo (with a tag appended, like the direct echo app).
class UdpStub {
 public:
  enum class Kind { Memcached, Echo };
  UdpStub(Kind kind, int split);
  ~UdpStub();
  std::uint16_t port() const { return port_; }

 private:
  void serve();
  Kind kind_;
  int split_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A loopback port nothing listens on (bound and released).
std::uint16_t unused_port();

}  // namespace loadgen_test
