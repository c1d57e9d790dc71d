// An echo app served through the Kairos dataplane, for tests and the
// benchmark: a dataplane thread plus one plain thread per kthread running
// the queue API; each reply is the request followed by one byte, the
// index of the kthread that served it.
#pragma once

#include <kairos/packetio/backends.hpp>
#include <kairos/relay/dataplane.hpp>
#include <kairos/bench/udp_queue.hpp>

#include <sys/prctl.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace kairos::dp::testing {

class EchoApp {
 public:
  EchoApp(std::unique_ptr<Backend> backend, Endpoint listen, unsigned kthreads,
          DataplaneConfig cfg = {}, unsigned kthread_spins = 64,
          unsigned kthread_yield_us = 0)
      : backend_(std::move(backend)), region_(ShmRegion::create(kthreads, 1024)),
        dp_(*backend_, cfg), kthread_spins_(kthread_spins),
        kthread_yield_us_(kthread_yield_us) {
    app_ = dp_.add_app(listen, region_);
    std::vector<std::uint32_t> all;
    for (unsigned k = 0; k < kthreads; k++) all.push_back(k);
    dp_.set_active(app_, all);
    loop_ = std::thread([this] { dp_.run(stop_, std::chrono::microseconds(200)); });
    for (unsigned k = 0; k < kthreads; k++)
      workers_.emplace_back([this, k, listen] { serve(k, listen); });
  }
  ~EchoApp() {
    stop_ = true;
    dp_.wake();
    loop_.join();
    for (auto& t : workers_) t.join();
  }
  Dataplane& dataplane() { return dp_; }
  Backend& backend() { return *backend_; }
  std::uint32_t app() const { return app_; }

 private:
  void serve(unsigned k, Endpoint listen) {
    prctl(PR_SET_TIMERSLACK, 1UL);
    UdpQueue q(region_.rings(k), listen, kthread_spins_, 20, kthread_yield_us_);
    QToken pop = q.pop();
    while (!stop_) {
      auto r = q.wait(pop, std::chrono::milliseconds(20));
      if (!r) continue;
      r->data.push_back(static_cast<std::uint8_t>(k));
      const QToken sent = q.push(r->peer, r->data);
      while (!stop_ && !q.wait(sent, std::chrono::milliseconds(20))) {
      }
      pop = q.pop();
    }
  }
  std::unique_ptr<Backend> backend_;
  ShmRegion region_;
  Dataplane dp_;
  unsigned kthread_spins_, kthread_yield_us_;
  std::uint32_t app_ = 0;
  std::atomic<bool> stop_{false};
  std::thread loop_;
  std::vector<std::thread> workers_;
};

// The same echo served in direct mode (make_afxdp_direct_backends): one
// thread per device queue owns that queue's AF_XDP socket, answers in
// place and blocks on the socket when idle; the extra byte is the queue
// index. No dataplane thread and no rings: one wakeup per request, as
// for a kernel UDP server.
class DirectEchoApp {
 public:
  DirectEchoApp(std::vector<std::unique_ptr<Backend>> queues, unsigned spins = 64)
      : queues_(std::move(queues)), spins_(spins) {
    for (unsigned k = 0; k < queues_.size(); k++)
      workers_.emplace_back([this, k] { serve(k); });
  }
  ~DirectEchoApp() {
    stop_ = true;
    for (auto& t : workers_) t.join();
  }
  Backend& queue(unsigned k) { return *queues_.at(k); }

 private:
  struct Echo final : RxSink {
    Backend* b = nullptr;
    std::uint8_t tag = 0;
    std::vector<std::uint8_t> buf;
    void on_datagram(const RxDatagram& d) override {
      buf.assign(d.payload.begin(), d.payload.end());
      buf.push_back(tag);
      b->send(d.dst, d.src, buf);  // a refusal is counted by the backend
    }
  };
  void serve(unsigned k) {
    prctl(PR_SET_TIMERSLACK, 1UL);
    Backend& b = *queues_[k];
    Echo echo;
    echo.b = &b;
    echo.tag = static_cast<std::uint8_t>(k);
    unsigned idle = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      const std::size_t n = b.poll_rx(64, echo);
      b.flush();  // TX kick and completions, every round while in flight
      if (n) {
        idle = 0;
      } else if (++idle > spins_) {
        b.wait_rx(std::chrono::milliseconds(20));  // RX wakes it at once
      }
    }
  }
  std::vector<std::unique_ptr<Backend>> queues_;
  unsigned spins_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
};

}  // namespace kairos::dp::testing
