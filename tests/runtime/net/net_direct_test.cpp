// kairos::net direct mode over in-memory device queues (fake_queue.hpp):
// the lanes' locking, TX batching and fallback, fd parking and the
// doorbell, also under ThreadSanitizer (runtime_net_tsan_test). The real
// AF_XDP path on veth: tests/runtime/net/runtime_direct_test.cpp.
#include <kairos/net.hpp>
#include <kairos/contracts/queue_state.hpp>

#include "fake_queue.hpp"
#include "flow_msg.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace kairos::net {
namespace {

using namespace std::chrono_literals;
using dp::Endpoint;
using test::MemQueue;

constexpr std::uint32_t kServer = 0x0a000001;  // 10.0.0.1
constexpr std::uint16_t kPort = 7000;
Endpoint listen_ep() { return Endpoint::v4(kServer, kPort); }
Endpoint client(std::uint32_t host, std::uint16_t port) {
  return Endpoint::v4(0x0a000100 + host, port);
}

using kairos::test::msg;
using kairos::test::unmsg;

struct Queues {
  std::vector<MemQueue*> q;  // owned by the Stack
  std::vector<std::unique_ptr<dp::Backend>> make(unsigned n) {
    std::vector<std::unique_ptr<dp::Backend>> v;
    for (unsigned i = 0; i < n; i++) {
      auto m = std::make_unique<MemQueue>();
      q.push_back(m.get());
      v.push_back(std::move(m));
    }
    return v;
  }
  std::size_t sent() const {
    std::size_t n = 0;
    for (auto* m : q) n += m->sent_count();
    return n;
  }
};

// Echo servers: several uthreads in recv_from on one socket; each reply is
// the request. Records per-flow arrival order (one recording lock).
struct Echo {
  std::mutex m;
  std::map<std::uint32_t, std::uint32_t> next;  // flow -> expected seq
  unsigned out_of_order = 0;
  UdpSocket sock;
  std::vector<Thread> servers;
  // Closing the socket ends the servers' waits, then they are joined.
  ~Echo() {
    sock.close();
    servers.clear();
  }
  void start(Runtime& rt, UdpSocket s0, unsigned n, bool record_order) {
    sock = s0;
    for (unsigned i = 0; i < n; i++)
      servers.push_back(rt.spawn([this, s = sock, record_order]() mutable {
        while (auto d = s.recv_from()) {
          if (record_order) {
            auto [f, q] = unmsg(d->data);
            std::lock_guard g(m);
            if (next[f] != q) out_of_order++;
            next[f] = q + 1;
          }
          if (!s.send_to(d->peer, d->data)) return;
        }
      }));
  }
};

TEST(NetDirect, EveryDatagramOnEveryQueueIsAnsweredWithFdParkingUnderStorms) {
  // 3 kthreads, 2 queues (kthread 2 owns none and sends through queue 0);
  // bursts with idle gaps (parked kthreads, woken by their queue's fd)
  // from several injecting threads; flows stay on their queue.
  constexpr unsigned kK = 3, kQ = 2, kFlows = 8;
  const unsigned per_flow = 60 * kairos::test::kScale;
  Queues qs;
  Runtime rt({.kthreads = kK, .spin_before_park = 0us});
  Stack stack(rt, qs.make(kQ), StackOptions{.steered = {listen_ep()}});
  ASSERT_TRUE(stack.parks_on_queue_fds());
  Echo echo;
  echo.start(rt, stack.bind(listen_ep()), 1, true);  // one server: arrival order
  std::vector<std::thread> clients;
  for (unsigned c = 0; c < 2; c++)
    clients.emplace_back([&, c] {
      std::minstd_rand rng(c + 1);
      for (unsigned s = 0; s < per_flow; s++) {
        for (unsigned f = c; f < kFlows; f += 2)
          qs.q[f % kQ]->inject(client(f, 5000 + f), listen_ep(), msg(f, s));
        if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));
      }
    });
  for (auto& t : clients) t.join();
  const std::size_t total = kFlows * per_flow;
  EXPECT_TRUE(kairos::test::eventually([&] { return qs.sent() == total; }))
      << qs.sent() << " of " << total << " answered";
  const StackStats st = stack.stats();
  EXPECT_EQ(st.rx_delivered, total);
  EXPECT_EQ(st.tx_sent, total);
  EXPECT_EQ(st.rx_no_socket + st.rx_overflow + st.tx_dropped, 0u);
  EXPECT_EQ(st.doorbell_wakes, 0u);
  {
    std::lock_guard g(echo.m);
    EXPECT_EQ(echo.out_of_order, 0u);
  }
  // Each queue received its own flows only.
  for (unsigned q = 0; q < kQ; q++) EXPECT_EQ(stack.queue_stats()[q].rx, total / kQ);
  // Replies carry the request's addresses swapped.
  for (auto& d : qs.q[0]->sent()) {
    EXPECT_EQ(d.src, listen_ep());
    EXPECT_EQ(d.dst.port, 5000 + unmsg(d.data).first);
  }
}

TEST(NetDirect, DoorbellThreadWakesAParkedRuntimeWhenKthreadsDoNotParkOnFds) {
  Queues qs;
  Runtime rt({.kthreads = 2, .spin_before_park = 0us});
  Stack stack(rt, qs.make(2), StackOptions{.park_on_queue_fds = false});
  EXPECT_FALSE(stack.parks_on_queue_fds());
  Echo echo;
  echo.start(rt, stack.bind(listen_ep()), 2, false);
  const unsigned rounds = 10 * kairos::test::kScale;
  for (unsigned s = 0; s < rounds; s++) {
    ASSERT_TRUE(kairos::test::eventually([&] { return rt.running_kthreads() == 0; }));
    qs.q[s % 2]->inject(client(1, 6000), listen_ep(), msg(1, s));
    ASSERT_TRUE(kairos::test::eventually([&] { return qs.sent() == s + 1; }))
        << "round " << s << ": the doorbell did not wake the runtime";
  }
  EXPECT_GE(stack.stats().doorbell_wakes, rounds);
}

TEST(NetDirect, RepliesFallBackToAQueueWithARouteAndUnroutableOnesAreDropped) {
  // Only queue 0 ever hears from the peer; kthread 1 prefers queue 1,
  // which has no route: its replies go out through queue 0.
  Queues qs;
  Runtime rt({.kthreads = 2});
  Stack stack(rt, qs.make(2));
  UdpSocket sock = stack.bind(listen_ep());
  qs.q[0]->inject(client(1, 6000), listen_ep(), msg(1, 0));
  ASSERT_TRUE(kairos::test::eventually([&] { return stack.stats().rx_delivered == 1; }));
  // Senders on both kthreads (spawned from outside: round-robin); those
  // on kthread 1 find no route on queue 1.
  std::vector<Thread> ts;
  for (int i = 0; i < 8; i++)
    ts.push_back(rt.spawn([s = sock]() mutable {
      EXPECT_TRUE(s.send_to(client(1, 6000), msg(2, 0)));
    }));
  ts.clear();
  EXPECT_EQ(stack.stats().tx_sent, 8u);
  EXPECT_EQ(stack.stats().tx_dropped, 0u);
  EXPECT_TRUE(kairos::test::eventually([&] { return qs.q[0]->sent_count() == 8; }));
  EXPECT_EQ(qs.q[1]->sent_count(), 0u);
  // No queue knows this peer: dropped and counted; the send completes.
  rt.spawn([s = sock]() mutable { EXPECT_TRUE(s.send_to(client(9, 1), msg(3, 0))); }).join();
  EXPECT_EQ(stack.stats().tx_dropped, 1u);
  sock.close();
}

TEST(NetDirect, QueueStateLineShowsWhatWaitsInTheDeviceQueue) {
  // The allocator's RX congestion signal: head - tail of the owner's
  // line = frames the device still holds (Backend::rx_waiting).
  Queues qs;
  Runtime rt({.kthreads = 1});
  Stack stack(rt, qs.make(1));
  auto rx_len = [&] {
    auto s = kairos::read_queue_state(rt.queue_state_line(0));
    return s ? s->rx_len() : ~0u;
  };
  auto rx_tail = [&] {
    auto s = kairos::read_queue_state(rt.queue_state_line(0));
    return s ? s->rx_tail : ~0u;
  };
  qs.q[0]->set_unseen(5);
  qs.q[0]->inject(client(1, 1), listen_ep(), msg(1, 0));
  EXPECT_TRUE(kairos::test::eventually([&] { return rx_len() == 5u && rx_tail() == 1u; }))
      << "rx_len " << rx_len() << " rx_tail " << rx_tail();
  qs.q[0]->set_unseen(0);
  qs.q[0]->inject(client(1, 1), listen_ep(), msg(1, 1));
  EXPECT_TRUE(kairos::test::eventually([&] { return rx_len() == 0u && rx_tail() == 2u; }))
      << "rx_len " << rx_len() << " rx_tail " << rx_tail();
  EXPECT_EQ(stack.stats().rx_no_socket, 2u);  // nobody bound: consumed and counted
}

TEST(NetDirect, DestroyingTheStackWhileDatagramsFlowHangsNothing) {
  // Pollers may be inside the lanes when ~Stack closes the queues.
  for (int round = 0; round < 5; round++) {
    Queues qs;
    Runtime rt({.kthreads = 2, .spin_before_park = 0us});
    auto stack = std::make_unique<Stack>(rt, qs.make(2));
    Echo echo;
    UdpSocket sock = stack->bind(listen_ep());
    echo.start(rt, sock, 3, false);
    std::atomic<bool> stop{false};
    // Declared after the stack's runtime, used until joined below.
    std::vector<MemQueue*> raw = qs.q;
    std::thread feeder([&] {
      for (std::uint32_t s = 0; !stop.load(); s++) {
        raw[s % 2]->inject(client(s % 4, 7000), listen_ep(), msg(s % 4, s));
        if (s % 64 == 0) std::this_thread::sleep_for(100us);
      }
    });
    std::this_thread::sleep_for(20ms);
    sock.close();
    echo.servers.clear();
    stop = true;  // the feeder stops before the queues go
    feeder.join();
    stack.reset();
  }
}

}  // namespace
}  // namespace kairos::net
