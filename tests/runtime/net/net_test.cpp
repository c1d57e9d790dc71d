// kairos::net over in-memory rings (no network): this test plays the
// dataplane, producing into the RX rings and consuming the TX rings of a
// ShmRegion that the Stack maps a second time by fd.
#include <kairos/net.hpp>
#include <kairos/contracts/queue_state.hpp>

#include "fake_dataplane.hpp"
#include "flow_msg.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <vector>

namespace kairos::net {
namespace {

using namespace std::chrono_literals;
using dp::Endpoint;
using dp::ShmRegion;

constexpr std::uint32_t kServer = 0x0a000001;  // 10.0.0.1
constexpr std::uint32_t kClient = 0x0a000002;

Endpoint server(std::uint16_t port) { return Endpoint::v4(kServer, port); }
Endpoint client(std::uint16_t port) { return Endpoint::v4(kClient, port); }

using kairos::test::msg;
using kairos::test::unmsg;

using test::FakeDataplane;

// Many uthreads on several kthreads block in recv on many sockets; flows
// of one socket arrive through different rings. Every datagram arrives
// once, and each flow's datagrams arrive in the order they were sent.
TEST(NetStack, ManyBlockedReceiversGetEveryDatagramInFlowOrder) {
  constexpr unsigned kK = 4, kSockets = 16, kFlowsPerSocket = 3, kPerFlow = 150;
  FakeDataplane fake(kK);
  Runtime rt({.kthreads = kK});
  Stack stack(rt, fake.attach());
  std::vector<UdpSocket> socks;
  for (unsigned i = 0; i < kSockets; i++) socks.push_back(stack.bind(server(9000 + i)));

  std::atomic<unsigned> bad_order{0}, received{0};
  std::vector<Thread> receivers;
  for (unsigned i = 0; i < kSockets; i++) {
    receivers.push_back(rt.spawn([&, i] {
      std::map<std::uint32_t, std::uint32_t> next;  // flow -> expected seq
      for (unsigned n = 0; n < kFlowsPerSocket * kPerFlow; n++) {
        auto d = socks[i].recv_from(10s);
        if (!d) return;
        auto [f, s] = unmsg(d->data);
        if (d->local.port != 9000 + i || d->peer.port != 20000 + f ||
            s != next[f]++)
          bad_order++;
        received++;
      }
    }));
  }
  // Flow f of socket i travels through ring f % kK, as a bucket table
  // would keep it; pauses let receivers block and kthreads park.
  std::uint32_t flow_ids[kSockets][kFlowsPerSocket];
  for (unsigned i = 0; i < kSockets; i++)
    for (unsigned j = 0; j < kFlowsPerSocket; j++) flow_ids[i][j] = i * kFlowsPerSocket + j;
  for (unsigned s = 0; s < kPerFlow; s++) {
    for (unsigned i = 0; i < kSockets; i++)
      for (unsigned j = 0; j < kFlowsPerSocket; j++) {
        const std::uint32_t f = flow_ids[i][j];
        fake.send(f % kK, client(20000 + f), server(9000 + i), msg(f, s));
      }
    if (s % 25 == 0) std::this_thread::sleep_for(2ms);
  }
  for (auto& t : receivers) t.join();
  EXPECT_EQ(received.load(), kSockets * kFlowsPerSocket * kPerFlow);
  EXPECT_EQ(bad_order.load(), 0u);
  const StackStats st = stack.stats();
  EXPECT_EQ(st.rx_delivered, kSockets * kFlowsPerSocket * kPerFlow);
  EXPECT_EQ(st.rx_no_socket + st.rx_overflow, 0u);
  // Each ring's indices reached the owner's queue-state line: drained.
  std::uint64_t tails = 0;
  for (unsigned k = 0; k < kK; k++) {
    std::optional<QueueSnapshot> line;
    while (!(line = read_queue_state(rt.queue_state_line(k)))) std::this_thread::yield();
    EXPECT_EQ(line->rx_len(), 0u) << "kthread " << k;
    tails += line->rx_tail;
  }
  EXPECT_EQ(tails, kSockets * kFlowsPerSocket * kPerFlow);
}

// Many uthreads wait on ONE socket: each datagram goes to exactly one of
// them; closing the socket releases the rest.
TEST(NetStack, ReceiversSharingASocketSplitTheDatagrams) {
  constexpr unsigned kK = 2, kReceivers = 32, kTotal = 2000;
  FakeDataplane fake(kK);
  Runtime rt({.kthreads = kK});
  Stack stack(rt, fake.attach());
  UdpSocket sock = stack.bind(server(7000));
  std::mutex mu;
  std::vector<std::uint32_t> seen;
  std::atomic<unsigned> got{0};
  std::vector<Thread> ts;
  for (unsigned r = 0; r < kReceivers; r++)
    ts.push_back(rt.spawn([&] {
      while (auto d = sock.recv_from()) {
        std::lock_guard g(mu);  // std::mutex: held briefly, never across a switch
        seen.push_back(unmsg(d->data).second);
        got++;
      }
    }));
  for (unsigned s = 0; s < kTotal; s++)
    fake.send(s % kK, client(1000 + s % kK), server(7000), msg(0, s));
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (got.load() < kTotal && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(1ms);
  sock.close();
  for (auto& t : ts) t.join();
  std::set<std::uint32_t> uniq(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), kTotal);
  EXPECT_EQ(uniq.size(), kTotal);
}

// Ping-pong, one datagram at a time, so that every round finds the
// receiver parked and (often) every kthread parked: a lost wakeup would
// hang a round (each waits at most 5 s, then the test fails).
TEST(NetStack, EchoRoundTripsNeverLoseAWakeup) {
  constexpr unsigned kK = 3, kRounds = 1500;
  FakeDataplane fake(kK);
  Runtime rt({.kthreads = kK});
  Stack stack(rt, fake.attach());
  UdpSocket sock = stack.bind(server(7000));
  Thread echo = rt.spawn([&] {
    while (auto d = sock.recv_from()) {
      d->data.push_back(static_cast<std::uint8_t>(this_uthread::kthread_index()));
      if (!sock.send_to(d->peer, d->data)) return;
    }
  });
  unsigned ok = 0;
  for (unsigned s = 0; s < kRounds; s++) {
    fake.send(s % kK, client(4000 + s % 7), server(7000), msg(s % 7, s));
    auto r = fake.take_tx();
    ASSERT_TRUE(r) << "no echo for round " << s << " (lost wakeup?)";
    EXPECT_EQ(r->peer, client(4000 + s % 7));
    EXPECT_EQ(r->local, server(7000));
    ASSERT_EQ(r->data.size(), 9u);
    EXPECT_EQ(unmsg(r->data).second, s);
    ok++;
    if (s % 100 == 0) std::this_thread::sleep_for(1ms);  // let everyone park
  }
  EXPECT_EQ(ok, kRounds);
  sock.close();
  echo.join();
  EXPECT_EQ(stack.stats().tx_sent, kRounds);
}

// Waiting parks the uthread, not the kthread: with ONE kthread, a uthread
// blocked in recv leaves it free for another uthread.
TEST(NetStack, BlockedRecvParksTheUthreadNotTheKthread) {
  FakeDataplane fake(1);
  Runtime rt({.kthreads = 1});
  Stack stack(rt, fake.attach());
  UdpSocket sock = stack.bind(server(7000));
  std::atomic<bool> other_ran{false}, waiting{false};
  std::optional<Datagram> got;
  Thread a = rt.spawn([&] {
    waiting = true;
    got = sock.recv_from(10s);
  });
  Thread b = rt.spawn([&] {
    while (!waiting) this_uthread::yield();
    this_uthread::yield();  // a is (or is about to be) blocked
    other_ran = true;
  });
  b.join();
  EXPECT_TRUE(other_ran);
  fake.send(0, client(1), server(7000), msg(1, 42));
  a.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(unmsg(got->data), std::make_pair(1u, 42u));
}

// The queue API from uthreads: pops complete in issue order; wait and
// wait_any time out and leave the operation pending; pushes reach the
// TX ring of the kthread; bad tokens are refused.
TEST(NetQueueApi, TokensWaitWaitAnyAndTimeouts) {
  FakeDataplane fake(2);
  Runtime rt({.kthreads = 2});
  Stack stack(rt, fake.attach());
  UdpSocket sock = stack.bind(server(7000));
  std::atomic<int> phase{0};
  Thread t = rt.spawn([&] {
    const QToken p1 = sock.pop(), p2 = sock.pop();
    const QToken both[] = {p2, p1};
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(sock.wait_any(both, 20ms));  // nothing sent yet
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_FALSE(sock.wait(p1, 1ms));
    phase = 1;  // the test sends one datagram
    auto r = sock.wait_any(both, 5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->first, 1u);  // p1: the older pop completes first
    EXPECT_EQ(r->second.qt, p1);
    EXPECT_EQ(r->second.op, QResult::Op::kPop);
    EXPECT_EQ(unmsg(r->second.dgram.data).second, 1u);
    EXPECT_FALSE(sock.wait(p2, 5ms));  // still pending after a timeout
    phase = 2;  // the second datagram
    auto r2 = sock.wait(p2);
    ASSERT_TRUE(r2);
    EXPECT_EQ(unmsg(r2->dgram.data).second, 2u);
    EXPECT_THROW(sock.wait(p2), std::invalid_argument);       // waited already
    EXPECT_THROW(sock.wait(999999), std::invalid_argument);   // never issued
    EXPECT_THROW(sock.wait_any({}), std::invalid_argument);
    const std::uint8_t big[KAIROS_DP_MAX_PAYLOAD + 1] = {};
    EXPECT_THROW(sock.push(client(5), big), std::invalid_argument);
    const QToken w = sock.push(client(5), msg(7, 7));
    auto pr = sock.wait(w);
    ASSERT_TRUE(pr);
    EXPECT_EQ(pr->op, QResult::Op::kPush);
    EXPECT_EQ(pr->dgram.peer, client(5));
    phase = 3;
  });
  auto until = [&](int p) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (phase.load() < p && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(1ms);
    return phase.load() >= p;
  };
  ASSERT_TRUE(until(1));
  fake.send(1, client(2), server(7000), msg(0, 1));
  ASSERT_TRUE(until(2));
  fake.send(0, client(2), server(7000), msg(0, 2));
  ASSERT_TRUE(until(3));
  t.join();
  auto tx = fake.take_tx();
  ASSERT_TRUE(tx);
  EXPECT_EQ(tx->peer, client(5));
  EXPECT_EQ(tx->local, server(7000));
  EXPECT_EQ(unmsg(tx->data), std::make_pair(7u, 7u));
}

// A full TX ring holds pushes back (in order) until the dataplane makes
// room; nothing is lost or reordered.
TEST(NetQueueApi, FullTxRingDelaysPushesInOrder) {
  FakeDataplane fake(1, 16);
  Runtime rt({.kthreads = 1});
  Stack stack(rt, fake.attach());
  UdpSocket sock = stack.bind(server(7000));
  constexpr unsigned kN = 100;  // > 16 slots
  std::atomic<bool> issued{false};
  Thread t = rt.spawn([&] {
    // All pushes first (the ring fills: the rest wait), then their waits.
    std::vector<QToken> qts;
    for (unsigned i = 0; i < kN; i++) qts.push_back(sock.push(client(1), msg(0, i)));
    issued = true;
    for (auto qt : qts) ASSERT_TRUE(sock.wait(qt));
  });
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (!issued && std::chrono::steady_clock::now() < end) std::this_thread::yield();
  ASSERT_TRUE(issued);
  EXPECT_GT(stack.stats().tx_ring_full, 0u);  // nothing was consumed yet
  for (unsigned i = 0; i < kN; i++) {
    auto d = fake.take_tx();
    ASSERT_TRUE(d);
    EXPECT_EQ(unmsg(d->data).second, i);
  }
  t.join();
  EXPECT_EQ(stack.stats().tx_sent, kN);
}

// Bad configuration and bad input: clear errors, nothing changes.
TEST(NetStack, BadInputIsRefusedAndCounted) {
  FakeDataplane fake(2);
  Runtime rt({.kthreads = 3});
  EXPECT_THROW(Stack(rt, fake.attach()), std::invalid_argument);  // 2 rings, 3 kthreads
  Runtime rt2({.kthreads = 2});
  EXPECT_THROW(Stack(rt2, fake.attach(), {.socket_queue_cap = 0}), std::invalid_argument);
  Stack stack(rt2, fake.attach());
  UdpSocket a = stack.bind(server(7000));
  EXPECT_THROW(stack.bind(server(0)), std::invalid_argument);
  EXPECT_THROW(stack.bind(server(7000)), std::invalid_argument);
  // Not a uthread: send needs one (it writes its kthread's TX ring).
  EXPECT_THROW(a.send_to(client(1), msg(0, 0)), std::logic_error);
  // To an unbound port: dropped and counted; the bound socket still works.
  fake.send(0, client(1), server(7001), msg(0, 0));
  fake.send(1, client(1), server(7000), msg(0, 5));
  std::optional<Datagram> d;
  Thread t = rt2.spawn([&] { d = a.recv_from(5s); });
  t.join();
  ASSERT_TRUE(d);
  EXPECT_EQ(unmsg(d->data).second, 5u);
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (stack.stats().rx_no_socket == 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(stack.stats().rx_no_socket, 1u);
  // A closed socket's port can be bound again; the old handle stays closed.
  a.close();
  UdpSocket b = stack.bind(server(7000));
  std::optional<Datagram> none;
  Thread t2 = rt2.spawn([&] { none = a.recv_from(); });
  t2.join();
  EXPECT_FALSE(none);
}

// A full socket queue drops (counted), never blocks the poller.
TEST(NetStack, SocketQueueOverflowIsCounted) {
  FakeDataplane fake(1);
  Runtime rt({.kthreads = 1});
  Stack stack(rt, fake.attach(), {.socket_queue_cap = 4});
  UdpSocket s = stack.bind(server(7000));
  for (unsigned i = 0; i < 10; i++) fake.send(0, client(1), server(7000), msg(0, i));
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (stack.stats().rx_delivered + stack.stats().rx_overflow < 10 &&
         std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(stack.stats().rx_delivered, 4u);
  EXPECT_EQ(stack.stats().rx_overflow, 6u);
  EXPECT_EQ(s.queued(), 4u);
  // The first four, in order, from a plain thread (recv polls there).
  for (unsigned i = 0; i < 4; i++) {
    auto d = s.recv_from(1s);
    ASSERT_TRUE(d);
    EXPECT_EQ(unmsg(d->data).second, i);
  }
}

// Destroying the Stack closes its sockets: blocked receivers return.
TEST(NetStack, StackDestructionReleasesBlockedReceivers) {
  FakeDataplane fake(2);
  Runtime rt({.kthreads = 2});
  auto stack = std::make_unique<Stack>(rt, fake.attach());
  UdpSocket sock = stack->bind(server(7000));
  std::atomic<unsigned> started{0}, released{0};
  std::vector<Thread> ts;
  for (int i = 0; i < 8; i++)
    ts.push_back(rt.spawn([&] {
      started++;
      if (!sock.recv_from()) released++;
    }));
  while (started < 8) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(5ms);  // let them block
  stack.reset();
  for (auto& t : ts) t.join();
  EXPECT_EQ(released.load(), 8u);
}

// One waiter per token: a second uthread waiting for the same token is
// refused (a delivery wakes only the registered waiter).
TEST(NetQueueApi, ConcurrentWaitOnOneTokenIsRefused) {
  FakeDataplane fake(1);
  Runtime rt({.kthreads = 1});
  Stack stack(rt, fake.attach());
  UdpSocket sock = stack.bind(server(7000));
  const QToken qt = sock.pop();
  std::atomic<bool> first_waiting{false}, refused{false};
  std::optional<QResult> got;
  Thread a = rt.spawn([&] {
    first_waiting = true;
    got = sock.wait(qt, 10s);
  });
  Thread b = rt.spawn([&] {
    while (!first_waiting) this_uthread::yield();
    this_uthread::yield();  // one kthread: a is blocked now
    try {
      sock.wait(qt, 1ms);
    } catch (const std::invalid_argument&) {
      refused = true;
    }
  });
  b.join();
  EXPECT_TRUE(refused);
  fake.send(0, client(1), server(7000), msg(0, 3));
  a.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(unmsg(got->dgram.data).second, 3u);
}

}  // namespace
}  // namespace kairos::net
