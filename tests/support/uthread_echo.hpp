// A UDP echo server on runtime uthreads with kairos::net blocking
// sockets, fed by the Kairos dataplane (for tests and the benchmark):
// a dataplane loop thread, a Runtime, a Stack, and uthreads that block in
// recv_from on one socket; each reply is the request plus '!'.
#pragma once

#include <kairos/contracts/backend.hpp>
#include <kairos/relay/dataplane.hpp>
#include <kairos/net.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace kairos::net {

using namespace std::chrono_literals;

// Several uthreads block in recv on one socket (Shenango style); each
// reply is the request plus one byte.
inline std::vector<kairos::Thread> spawn_echo_uthreads(kairos::Runtime& rt,
                                                       const UdpSocket& sock,
                                                       unsigned servers) {
  std::vector<kairos::Thread> threads;
  for (unsigned i = 0; i < servers; i++)
    threads.push_back(rt.spawn([s = sock]() mutable {
      while (auto d = s.recv_from()) {
        d->data.push_back('!');
        if (!s.send_to(d->peer, d->data)) return;
      }
    }));
  return threads;
}

class UthreadEchoServer {
 public:
  UthreadEchoServer(std::unique_ptr<dp::Backend> backend, dp::Endpoint listen,
                    unsigned kthreads, dp::DataplaneConfig dcfg = {},
                    unsigned servers = 4,
                    std::chrono::nanoseconds spin_before_park = 20us)
      : backend_(std::move(backend)),
        region_(dp::ShmRegion::create(kthreads, 1024)),
        dp_(*backend_, dcfg),
        rt_({.kthreads = kthreads, .spin_before_park = spin_before_park}),
        stack_(std::make_unique<Stack>(rt_, dp::ShmRegion::attach(region_.fd()))) {
    app_ = dp_.add_app(listen, region_);
    std::vector<std::uint32_t> all;
    for (unsigned k = 0; k < kthreads; k++) all.push_back(k);
    dp_.set_active(app_, all);
    loop_ = std::thread([this] { dp_.run(stop_, 200us); });
    sock_ = stack_->bind(listen);
    servers_ = spawn_echo_uthreads(rt_, sock_, servers);
  }
  ~UthreadEchoServer() {
    sock_.close();                 // releases the blocked uthreads
    for (auto& t : servers_) t.join();
    stack_.reset();                // before the runtime
    stop_ = true;
    dp_.wake();
    loop_.join();
  }
  std::string describe() const {
    const dp::AppStats a = dp_.stats(app_);
    const StackStats s = stack_->stats();
    return "backend " + backend_->name() + "; dataplane delivered " +
           std::to_string(a.rx_delivered) + " ring_full " +
           std::to_string(a.rx_ring_full) + " tx_sent " + std::to_string(a.tx_sent) +
           " tx_dropped " + std::to_string(a.tx_dropped) + "; stack delivered " +
           std::to_string(s.rx_delivered) + " no_socket " +
           std::to_string(s.rx_no_socket) + " overflow " +
           std::to_string(s.rx_overflow) + " tx " + std::to_string(s.tx_sent);
  }
  dp::AppStats app_stats() const { return dp_.stats(app_); }
  StackStats stack_stats() const { return stack_->stats(); }
  const dp::Backend& backend() const { return *backend_; }

 private:
  std::unique_ptr<dp::Backend> backend_;
  dp::ShmRegion region_;
  dp::Dataplane dp_;
  std::uint32_t app_ = 0;
  std::atomic<bool> stop_{false};
  std::thread loop_;
  Runtime rt_;
  std::unique_ptr<Stack> stack_;
  UdpSocket sock_;
  std::vector<Thread> servers_;
};

// The same echo on uthreads over direct mode: no dataplane thread, no
// rings; the runtime's kthreads own the device queues' AF_XDP sockets
// (Stack over single-queue backends) and park on their fds when idle.
// spin_before_park large + adaptive_spin off: kthreads poll (granted
// cores). park_on_queue_fds false: the doorbell thread wakes the runtime
// (what /dev/kairos parking gets).
class DirectUthreadEchoServer {
 public:
  DirectUthreadEchoServer(std::vector<std::unique_ptr<dp::Backend>> queues,
                          dp::Endpoint listen, unsigned kthreads, unsigned servers = 4,
                          std::chrono::nanoseconds spin_before_park = 20us,
                          bool adaptive_spin = true, bool park_on_queue_fds = true)
      : rt_({.kthreads = kthreads,
             .spin_before_park = spin_before_park,
             .adaptive_spin = adaptive_spin}),
        stack_(std::make_unique<Stack>(
            rt_, std::move(queues),
            StackOptions{.steered = {listen}, .park_on_queue_fds = park_on_queue_fds})) {
    sock_ = stack_->bind(listen);
    servers_ = spawn_echo_uthreads(rt_, sock_, servers);
  }
  ~DirectUthreadEchoServer() {
    sock_.close();
    for (auto& t : servers_) t.join();
    stack_.reset();  // before the runtime
  }
  StackStats stack_stats() const { return stack_->stats(); }
  const Stack& stack() const { return *stack_; }

 private:
  Runtime rt_;
  std::unique_ptr<Stack> stack_;
  UdpSocket sock_;
  std::vector<Thread> servers_;
};

}  // namespace kairos::net
