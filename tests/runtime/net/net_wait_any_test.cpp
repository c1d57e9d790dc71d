// kairos::net::wait_any across several sockets (Demikernel's wait_any over
// queue descriptors), over in-memory rings: the test plays the dataplane.
#include <kairos/net.hpp>

#include "fake_dataplane.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace kairos::net {
namespace {

using namespace std::chrono_literals;
using dp::Endpoint;
using dp::ShmRegion;

Endpoint server(std::uint16_t port) { return Endpoint::v4(0x0a000001, port); }
Endpoint client(std::uint16_t port) { return Endpoint::v4(0x0a000002, port); }
std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

using Rings = test::FakeDataplane;  // the test plays the dataplane

bool wait_phase(const std::atomic<int>& phase, int p) {
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (phase.load() < p && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(1ms);
  return phase.load() >= p;
}

// One uthread waits on pops of three sockets at once: it times out with
// nothing sent, then each delivery completes the token of the socket it
// was sent to, whichever kthread's ring carried it.
TEST(NetWaitAny, TokensOfSeveralSocketsCompleteByDelivery) {
  Rings rings(2);
  Runtime rt({.kthreads = 2});
  Stack stack(rt, ShmRegion::attach(rings.region.fd()));
  UdpSocket a = stack.bind(server(7000)), b = stack.bind(server(7001)),
            c = stack.bind(server(7002));
  std::atomic<int> phase{0};
  Thread t = rt.spawn([&] {
    std::vector<SocketToken> w = {{a, a.pop()}, {b, b.pop()}, {c, c.pop()}};
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(wait_any(w, 20ms));  // nothing sent yet
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    phase = 1;  // the test sends to b
    auto r = wait_any(w, 5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->first, 1u);
    EXPECT_EQ(r->second.qt, w[1].qt);
    EXPECT_EQ(text(r->second.dgram.data), "to b");
    EXPECT_EQ(r->second.dgram.local, server(7001));
    w.erase(w.begin() + 1);  // a and c still pending
    phase = 2;  // the test sends to c
    r = wait_any(w, 5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->first, 1u);
    EXPECT_EQ(text(r->second.dgram.data), "to c");
    // A push on one socket and a pop on another: the push completes (the
    // TX ring has room) while the pop waits.
    const QToken pushed = c.push(client(9), bytes("reply"));
    const SocketToken mixed[] = {{a, w[0].qt}, {c, pushed}};
    r = wait_any(mixed, 5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->first, 1u);
    EXPECT_EQ(r->second.op, QResult::Op::kPush);
    phase = 3;  // the test sends to a
    const SocketToken last[] = {{a, w[0].qt}};
    r = wait_any(last);
    ASSERT_TRUE(r);
    EXPECT_EQ(text(r->second.dgram.data), "to a");
    phase = 4;
  });
  ASSERT_TRUE(wait_phase(phase, 1));
  rings.send(0, client(1), server(7001), "to b");
  ASSERT_TRUE(wait_phase(phase, 2));
  rings.send(1, client(1), server(7002), "to c");
  ASSERT_TRUE(wait_phase(phase, 3));
  rings.send(1, client(1), server(7000), "to a");
  ASSERT_TRUE(wait_phase(phase, 4));
  t.join();
  auto tx = rings.take_tx();
  ASSERT_TRUE(tx);
  EXPECT_EQ(tx->local, server(7002));  // sent from c
  EXPECT_EQ(text(tx->data), "reply");
}

// A server uthread per kthread multiplexes three sockets with wait_any,
// re-arming the pop of whichever completed and replying through that
// socket: every datagram, spread at random over sockets and rings, gets
// exactly one reply from the socket it was sent to.
TEST(NetWaitAny, OneUthreadServesThreeSockets) {
  Rings rings(2);
  Runtime rt({.kthreads = 2});
  Stack stack(rt, ShmRegion::attach(rings.region.fd()));
  std::vector<UdpSocket> socks = {stack.bind(server(7100)), stack.bind(server(7101)),
                                  stack.bind(server(7102))};
  std::vector<Thread> servers;
  for (int s = 0; s < 2; s++)
    servers.push_back(rt.spawn([socks]() mutable {
      std::vector<SocketToken> w;
      for (auto& s : socks) w.push_back({s, s.pop()});
      while (auto r = wait_any(w)) {
        UdpSocket& s = w[r->first].socket;
        auto d = std::move(r->second.dgram);
        d.data.push_back('!');
        if (!s.send_to(d.peer, d.data)) return;
        w[r->first].qt = s.pop();
      }
    }));
  constexpr int kN = 600;
  std::mt19937 rng(7);
  std::map<std::string, std::uint16_t> sent;  // message -> port it went to
  for (int i = 0; i < kN; i++) {
    const std::uint16_t port = static_cast<std::uint16_t>(7100 + rng() % 3);
    const std::string m = "m" + std::to_string(i);
    sent[m] = port;
    rings.send(rng() % 2, client(static_cast<std::uint16_t>(1000 + i % 16)), server(port), m);
  }
  int replies = 0;
  for (; replies < kN; replies++) {
    auto d = rings.take_tx();
    if (!d) break;
    ASSERT_EQ(d->data.back(), '!');
    const std::string m(d->data.begin(), d->data.end() - 1);
    auto it = sent.find(m);
    ASSERT_NE(it, sent.end()) << "unexpected or duplicate reply " << m;
    EXPECT_EQ(d->local, server(it->second)) << m;
    sent.erase(it);
  }
  EXPECT_EQ(replies, kN);
  EXPECT_TRUE(sent.empty());
  for (auto& s : socks) s.close();  // all closed: wait_any returns nullopt
  for (auto& t : servers) t.join();
  const StackStats st = stack.stats();
  EXPECT_EQ(st.rx_delivered, std::uint64_t(kN));
  EXPECT_EQ(st.rx_no_socket + st.rx_overflow, 0u);
}

// Closing one socket does not end a wait that still has an open one;
// closing the last does. Bad lists are refused and change nothing.
TEST(NetWaitAny, ClosedSocketsAndBadInput) {
  Rings rings(1);
  Runtime rt({.kthreads = 1});
  Stack stack(rt, ShmRegion::attach(rings.region.fd()));
  UdpSocket a = stack.bind(server(7200)), b = stack.bind(server(7201));
  std::atomic<int> phase{0};
  std::atomic<bool> returned{false};
  Thread t = rt.spawn([&] {
    const QToken pa = a.pop(), pb = b.pop();
    // Tokens are numbered per socket: one a never issued is refused.
    const SocketToken wrong[] = {{b, pb}, {a, pa + 1000}};
    EXPECT_THROW(wait_any(wrong), std::invalid_argument);
    const SocketToken invalid[] = {{UdpSocket(), pa}};
    EXPECT_THROW(wait_any(invalid), std::logic_error);
    EXPECT_THROW(wait_any(std::span<const SocketToken>()), std::invalid_argument);
    const SocketToken both[] = {{a, pa}, {b, pb}};
    phase = 1;  // the test closes b, then a
    auto r = wait_any(both);
    returned = true;
    EXPECT_FALSE(r);
  });
  ASSERT_TRUE(wait_phase(phase, 1));
  std::this_thread::sleep_for(20ms);
  b.close();
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(returned.load());  // a is still open: still waiting
  a.close();
  t.join();
  EXPECT_TRUE(returned.load());
}

}  // namespace
}  // namespace kairos::net
