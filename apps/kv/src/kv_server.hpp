// The I/O of kairos-kv on libkairos: a TCP listener on the runtime's
// netpoller with one uthread per connection (a connection's requests are
// handled one read at a time, in order, and the replies of one read leave
// in one write; a slow connection blocks only its own uthread), memcached's
// UDP protocol over the runtime's UDP sockets (kernel UDP backend, or the
// direct AF_XDP path on a device's queues), and a
// uthread that sweeps expired items.
#pragma once

#include "kv_protocol.hpp"
#include "kv_stats.hpp"
#include "kv_store.hpp"

#include <kairos/net.hpp>
#include <kairos/runtime.hpp>
#include <kairos/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace kairos::kv {

struct ServerConfig {
  std::string listen = "0.0.0.0";  // -l
  std::uint16_t tcp_port = 11211;  // -p (0: the kernel picks one)
  std::uint16_t udp_port = 0;      // -U (0: off)
  unsigned threads = 4;            // -t: libkairos kthreads
  std::size_t max_bytes = 64u << 20;     // -m
  std::size_t item_size_max = 1u << 20;  // -I
  unsigned max_connections = 1024;       // -c
  unsigned verbose = 0;                  // -v
  // --udp-xdp: serve UDP through the runtime's direct AF_XDP mode on this
  // device's queues (the kthreads own its AF_XDP sockets) instead of the
  // kernel UDP socket; needs a concrete -l address. Empty: kernel UDP.
  std::string udp_xdp_if;
  // --allocator: kairosd's allocator decides when the kthreads run. The
  // runtime publishes its queue-state area (/kairos-rt.<pid>, which
  // kairosd finds), parks in kairos.ko and never wakes a kthread itself;
  // only grants do. Needs the module and CAP_SYS_NICE. False: the kthreads
  // wake each other (self_wake), as any libkairos program by default.
  bool allocator = false;
  // --spin-us: how long an idle kthread keeps polling for work (its
  // connections, the other kthreads' queues) before it parks; -1: the
  // runtime's default (Config::spin_before_park). Spinning longer answers
  // a request that comes meanwhile without a wake-up, at the price of the
  // CPU time spent polling.
  long spin_us = -1;
  // --first-cpu: pin kthread i to CPU (first_cpu + i) % ncpus; -1: unpinned.
  int first_cpu = -1;
};

class Server {
 public:
  // Starts serving; throws std::runtime_error with a clear message when a
  // socket cannot be opened (address in use, bad address, ...).
  explicit Server(const ServerConfig& cfg);
  // Stops (if stop() was not called) and waits for every uthread.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Closes the listener, every connection and the UDP socket, and waits
  // until every uthread has returned. Idempotent.
  void stop();
  std::uint16_t tcp_port() const { return tcp_port_; }

 private:
  void accept_loop();
  void serve(net::TcpStream s);
  void serve_udp(net::UdpSocket sock);
  void sweep_loop();
  bool track(net::TcpStream* s);
  void untrack(net::TcpStream* s);

  ServerConfig cfg_;
  Store store_;
  ServerCounters counters_;
  std::unique_ptr<ServerContext> ctx_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<net::Stack> udp_stack_;
  net::UdpSocket udp_sock_;
  net::TcpListener listener_;
  std::uint16_t tcp_port_ = 0;
  std::vector<Thread> workers_;  // acceptor, sweeper, UDP servers
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> next_stripe_{0};
  std::mutex conns_mu_;
  std::unordered_set<net::TcpStream*> conns_;
  bool stopped_ = false;
};

// Unix seconds, from the coarse clock (cheap enough for every request).
std::int64_t unix_now();

}  // namespace kairos::kv
