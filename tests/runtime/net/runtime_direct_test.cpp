// kairos::net over direct mode: the runtime's kthreads own the device
// queues' AF_XDP sockets (one single-queue dp::Backend per queue of a
// 2-queue veth between namespaces), uthreads serve blocking sockets and
// the queue API on them, and a parked kthread sleeps on its queue's fd, so
// a datagram wakes it with no thread in between. Host kernel, root.
#include "child_process.hpp"
#include "netns.hpp"
#include "uthread_echo.hpp"

#include <kairos/contracts/backend.hpp>
#include <kairos/packetio/backends.hpp>
#include <kairos/packetio/direct_pins.hpp>
#include <kairos/relay/service.hpp>
#include <kairos/packetio/xdp_steering.hpp>
#include <kairos/net.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kairos::net {
namespace {

using dp::testing::InNetns;
using dp::testing::recv_text;
using dp::testing::VethPair;
using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 7400;

std::string text(unsigned flow, unsigned seq) {
  char b[32];
  std::snprintf(b, sizeof b, "f%u s%u", flow, seq);
  return b;
}

// Parses "f<flow> s<seq>" (the start of a request).
bool parse(const std::vector<std::uint8_t>& d, unsigned* flow, unsigned* seq) {
  const std::string s(d.begin(), d.end());
  return std::sscanf(s.c_str(), "f%u s%u", flow, seq) == 2;
}

std::string describe(const Stack& st) {
  const StackStats s = st.stats();
  std::string q;
  for (const auto& b : st.queue_stats())
    q += " [rx " + std::to_string(b.rx) + " tx " + std::to_string(b.tx) + " tx_full " +
         std::to_string(b.tx_full) + " no_route " + std::to_string(b.tx_no_route) + "]";
  return "stack delivered " + std::to_string(s.rx_delivered) + " stolen " +
         std::to_string(s.rx_stolen) + " no_socket " + std::to_string(s.rx_no_socket) +
         " overflow " + std::to_string(s.rx_overflow) + " tx " + std::to_string(s.tx_sent) +
         " tx_full " + std::to_string(s.tx_ring_full) + " dropped " +
         std::to_string(s.tx_dropped) + " doorbell " + std::to_string(s.doorbell_wakes) +
         "; queues" + q;
}

// Records, per flow, whether requests reached the server in order.
struct OrderLog {
  std::mutex m;
  std::map<unsigned, unsigned> last;  // flow -> last seq + 1
  unsigned out_of_order = 0;
  void saw(const std::vector<std::uint8_t>& d) {
    unsigned f, s;
    if (!parse(d, &f, &s)) return;
    std::lock_guard g(m);
    auto [it, fresh] = last.emplace(f, 0);
    if (s + 1 < it->second || (!fresh && s + 1 == it->second)) out_of_order++;
    it->second = s + 1;
  }
};

// Ping-pong on every flow with an idle gap before each round (so kthreads
// park, and only their queues' fds can wake them), then a bounded burst:
// every datagram answered with request + '!'.
void exercise(const Stack& stack, std::vector<int>& fds, unsigned pingpong = 4,
              unsigned burst = 24) {
  for (unsigned s = 0; s < pingpong; s++) {
    std::this_thread::sleep_for(20ms);
    for (unsigned f = 0; f < fds.size(); f++) {
      const std::string m = text(f, s);
      ASSERT_EQ(send(fds[f], m.data(), m.size(), 0), ssize_t(m.size()));
      auto r = recv_text(fds[f]);
      ASSERT_TRUE(r) << "no echo for flow " << f << " seq " << s << ": " << describe(stack);
      EXPECT_EQ(*r, m + "!");
    }
  }
  for (unsigned s = 0; s < burst; s++)
    for (unsigned f = 0; f < fds.size(); f++) {
      const std::string m = text(f, 100 + s);
      ASSERT_EQ(send(fds[f], m.data(), m.size(), 0), ssize_t(m.size()));
    }
  for (unsigned f = 0; f < fds.size(); f++) {
    std::set<std::string> want, got;
    for (unsigned s = 0; s < burst; s++) want.insert(text(f, 100 + s) + "!");
    for (unsigned s = 0; s < burst; s++) {
      auto r = recv_text(fds[f]);
      if (!r) break;
      got.insert(*r);
    }
    EXPECT_EQ(got, want) << "flow " << f << ": " << describe(stack);
  }
}

class RuntimeDirect : public ::testing::Test {
 protected:
  void SetUp() override {
    veth_ = std::make_unique<VethPair>(2);
    ASSERT_TRUE(veth_->ok()) << "creating namespaces and veth failed (root?)";
    listen_ = dp::Endpoint::v4(0x0a4d0001, kPort);  // 10.77.0.1
  }
  std::vector<std::unique_ptr<dp::Backend>> direct_queues() {
    InNetns in(veth_->server);
    dp::AfXdpConfig cfg;
    cfg.ifname = veth_->server_if;
    cfg.apps = {listen_};
    return dp::make_afxdp_direct_backends(cfg);
  }
  // kairosd's side of direct mode, started in the server's namespace: the
  // steering program and the pins of a mode=direct app on both queues.
  std::unique_ptr<dp::DataplaneService> direct_service(const std::string& pin) {
    InNetns in(veth_->server);
    auto svc = std::make_unique<dp::DataplaneService>(dp::parse_service_config(
        "interface " + veth_->server_if + "\nqueues 2\nbackend afxdp\napp " + listen_.str() +
            " mode=direct pin=" + pin + "\n",
        "test"));
    svc->start();
    return svc;
  }
  std::unique_ptr<VethPair> veth_;
  dp::Endpoint listen_;
};

TEST_F(RuntimeDirect, UthreadsEchoOnBothQueuesWakingParkedKthreadsByFd) {
  auto queues = direct_queues();
  ASSERT_EQ(queues.size(), 2u);
  Runtime rt({.kthreads = 2});
  auto stack = std::make_unique<Stack>(rt, std::move(queues), StackOptions{.steered = {listen_}});
  EXPECT_TRUE(stack->direct());
  EXPECT_TRUE(stack->parks_on_queue_fds()) << "futex parking should wait on the queues' fds";
  EXPECT_THROW(stack->region(), std::logic_error);
  UdpSocket sock = stack->bind(listen_);
  OrderLog order;
  // One server uthread: requests of a flow reach it in arrival order.
  Thread server = rt.spawn([&, s = sock]() mutable {
    while (auto d = s.recv_from()) {
      order.saw(d->data);
      d->data.push_back('!');
      if (!s.send_to(d->peer, d->data)) return;
    }
  });
  auto fds = dp::testing::connected_udp_clients(veth_->client, veth_->server_ip, kPort, 16);
  exercise(*stack, fds);
  const unsigned total = 16 * (4 + 24);
  const auto sent_all = [&] { return stack->stats().tx_sent >= total; };
  for (int i = 0; i < 200 && !sent_all(); i++) std::this_thread::sleep_for(10ms);
  const StackStats st = stack->stats();
  EXPECT_EQ(st.rx_delivered, total) << describe(*stack);
  EXPECT_EQ(st.tx_sent, total) << describe(*stack);
  EXPECT_EQ(st.rx_no_socket + st.rx_overflow + st.tx_dropped, 0u) << describe(*stack);
  // No doorbell thread in this mode: the fds woke the kthreads.
  EXPECT_EQ(st.doorbell_wakes, 0u);
  const auto qs = stack->queue_stats();
  ASSERT_EQ(qs.size(), 2u);
  EXPECT_GT(qs[0].rx, 0u) << "16 flows should come in on both queues: " << describe(*stack);
  EXPECT_GT(qs[1].rx, 0u) << "16 flows should come in on both queues: " << describe(*stack);
  EXPECT_EQ(qs[0].rx + qs[1].rx, total);
  EXPECT_EQ(qs[0].tx + qs[1].tx, total);
  {
    std::lock_guard g(order.m);
    EXPECT_EQ(order.out_of_order, 0u) << "a flow's requests reached the server out of order";
    EXPECT_EQ(order.last.size(), fds.size());
  }
  sock.close();
  server.join();
  stack.reset();  // closes the AF_XDP sockets; the runtime stays
  for (int fd : fds) close(fd);
}

TEST_F(RuntimeDirect, QueueApiWaitAnyOverDirectQueuesWithMoreKthreadsThanQueues) {
  // 3 kthreads, 2 queues: kthread 2 owns none and sends through queue 0.
  auto queues = direct_queues();
  Runtime rt({.kthreads = 3});
  Stack stack(rt, std::move(queues));
  UdpSocket sock = stack.bind(listen_);
  // Two uthreads on the queue API: pop, push the reply, wait_any over
  // the next pop and the pushes in flight.
  std::vector<Thread> servers;
  for (int i = 0; i < 2; i++)
    servers.push_back(rt.spawn([s = sock]() mutable {
      QToken pop = s.pop();
      std::vector<QToken> pushes;
      for (;;) {
        std::vector<QToken> qts{pop};
        qts.insert(qts.end(), pushes.begin(), pushes.end());
        auto r = s.wait_any(qts);
        if (!r) return;  // the socket was closed
        QResult& q = r->second;
        if (q.op == QResult::Op::kPop) {
          q.dgram.data.push_back('!');
          pushes.push_back(s.push(q.dgram.peer, q.dgram.data));
          pop = s.pop();
        } else {
          std::erase(pushes, q.qt);
        }
      }
    }));
  auto fds = dp::testing::connected_udp_clients(veth_->client, veth_->server_ip, kPort, 8);
  exercise(stack, fds, 3, 16);
  const StackStats st = stack.stats();
  EXPECT_EQ(st.rx_no_socket + st.rx_overflow + st.tx_dropped, 0u) << describe(stack);
  EXPECT_EQ(st.rx_delivered, 8u * (3 + 16)) << describe(stack);
  // Closing the socket ends the servers' waits (wait_any returns nullopt).
  for (int fd : fds) close(fd);
  sock.close();
  servers.clear();
}

TEST_F(RuntimeDirect, DoorbellThreadWakesTheRuntimeWhenKthreadsDoNotParkOnFds) {
  // What /dev/kairos parking gets (PARK cannot wait on fds): the doorbell
  // thread polls the queues' fds and wakes the runtime.
  Runtime rt({.kthreads = 2});
  Stack stack(rt, direct_queues(), StackOptions{.park_on_queue_fds = false});
  EXPECT_FALSE(stack.parks_on_queue_fds());
  UdpSocket sock = stack.bind(listen_);
  std::vector<Thread> servers = spawn_echo_uthreads(rt, sock, 2);
  auto fds = dp::testing::connected_udp_clients(veth_->client, veth_->server_ip, kPort, 8);
  exercise(stack, fds, 3, 16);
  const StackStats st = stack.stats();
  EXPECT_EQ(st.rx_delivered, 8u * (3 + 16)) << describe(stack);
  EXPECT_EQ(st.rx_no_socket + st.rx_overflow + st.tx_dropped, 0u) << describe(stack);
  // Each idle round (20 ms gaps: every kthread parked) needed it.
  EXPECT_GE(st.doorbell_wakes, 3u) << describe(stack);
  sock.close();
  servers.clear();
  for (int fd : fds) close(fd);
}

TEST_F(RuntimeDirect, AfXdpQueuesReportTheFramesWaitingInTheirRxRings) {
  // Backend::rx_waiting: what kairos::net publishes as a direct queue's
  // RX occupancy in the queue-state line.
  auto queues = direct_queues();
  auto fds = dp::testing::connected_udp_clients(veth_->client, veth_->server_ip, kPort, 4);
  auto waiting = [&] {
    std::size_t n = 0;
    for (auto& q : queues) n += q->rx_waiting();
    return n;
  };
  EXPECT_EQ(waiting(), 0u);
  for (unsigned s = 0; s < 3; s++)
    for (unsigned f = 0; f < fds.size(); f++) {
      const std::string m = text(f, s);
      ASSERT_EQ(send(fds[f], m.data(), m.size(), 0), ssize_t(m.size()));
    }
  for (int i = 0; i < 300 && waiting() < 12; i++) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(waiting(), 12u);
  struct Count final : dp::RxSink {
    unsigned n = 0;
    void on_datagram(const dp::RxDatagram&) override { n++; }
  } count;
  for (auto& q : queues) q->poll_rx(64, count);
  EXPECT_EQ(count.n, 12u);
  EXPECT_EQ(waiting(), 0u);
  for (int fd : fds) close(fd);
}

// A backend without fds (DPDK-like): a parked runtime could never be
// woken by it, so direct mode refuses it.
class NoFdBackend final : public dp::Backend {
 public:
  std::string name() const override { return "no-fd"; }
  std::size_t poll_rx(std::size_t, dp::RxSink&) override { return 0; }
  bool send(const dp::Endpoint&, const dp::Endpoint&, std::span<const std::uint8_t>) override {
    return false;
  }
  void flush() override {}
  dp::BackendStats stats() const override { return {}; }
};

TEST_F(RuntimeDirect, BadQueuesAndUnsteeredPortsAreRefused) {
  Runtime rt({.kthreads = 2});
  try {
    Stack s(rt, std::vector<std::unique_ptr<dp::Backend>>{});
    ADD_FAILURE() << "a stack with no queues";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no device queues"), std::string::npos) << e.what();
  }
  {
    std::vector<std::unique_ptr<dp::Backend>> v;
    v.push_back(nullptr);
    EXPECT_THROW(Stack(rt, std::move(v)), std::invalid_argument);
  }
  {
    std::vector<std::unique_ptr<dp::Backend>> v;
    v.push_back(std::make_unique<NoFdBackend>());
    try {
      Stack s(rt, std::move(v));
      ADD_FAILURE() << "a queue without fds";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("no fds to wait on"), std::string::npos) << e.what();
    }
  }
  {
    auto queues = direct_queues();
    std::vector<std::unique_ptr<dp::Backend>> v;
    v.push_back(std::move(queues[0]));
    v.push_back(nullptr);
    EXPECT_THROW(Stack(rt, std::move(v)), std::invalid_argument);
  }
  // A port the device does not steer to the queues never receives: bind
  // refuses it when the stack knows what is steered.
  Stack stack(rt, direct_queues(), StackOptions{.steered = {listen_}});
  try {
    stack.bind(dp::Endpoint::v4(0x0a4d0001, kPort + 1));
    ADD_FAILURE() << "bound a port that is not steered";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not steered"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(stack.bind(listen_));
}

TEST_F(RuntimeDirect, StackOverAttachDirectFromAModeDirectService) {
  // Direct mode as an operator runs it: a DataplaneService with
  // "mode=direct pin=..." (kairosd's role) pins the XSKMAP; the Stack is
  // built from attach_direct(pin) (the app's side), here in one process.
  const std::string pin = "/sys/fs/bpf/kairos-netdirect-" + std::to_string(getpid());
  std::unique_ptr<dp::DataplaneService> svc = direct_service(pin);
  dp::DirectAttachment att;
  {
    InNetns in(veth_->server);
    att = dp::attach_direct(pin);
    EXPECT_TRUE(att.steering_attached());  // looks in this namespace
  }
  ASSERT_EQ(att.queues.size(), 2u);
  ASSERT_EQ(att.listen, listen_);
  Runtime rt({.kthreads = 2});
  auto stack = std::make_unique<Stack>(rt, std::move(att.queues),
                                       StackOptions{.steered = {att.listen}});
  UdpSocket sock = stack->bind(att.listen);
  std::vector<Thread> servers = spawn_echo_uthreads(rt, sock, 4);
  auto fds = dp::testing::connected_udp_clients(veth_->client, veth_->server_ip, kPort, 8);
  exercise(*stack, fds, 3, 16);
  const StackStats st = stack->stats();
  EXPECT_EQ(st.rx_delivered, 8u * (3 + 16)) << describe(*stack);
  EXPECT_EQ(st.rx_no_socket + st.rx_overflow + st.tx_dropped, 0u) << describe(*stack);
  sock.close();
  servers.clear();
  stack.reset();
  for (int fd : fds) close(fd);
  svc.reset();
  EXPECT_NE(access(pin.c_str(), F_OK), 0) << "pins left behind";
}

// kairos-echo in another process (started in the server's namespace).
struct EchoProcess : dp::testing::Child {
  explicit EchoProcess(std::vector<std::string> argv)
      : Child([&] {
          argv.insert(argv.begin(), KAIROS_ECHO_BIN);
          return argv;
        }()) {}
};

TEST_F(RuntimeDirect, KairosEchoServesDirectModeOnUthreadsInAnotherProcess) {
  // The operator's path: kairosd's role (mode=direct service) here,
  // kairos-echo --direct PIN --uthreads in another process.
  for (const auto& [args, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--shm", "x", "--uthreads"}, "--uthreads applies to --direct only"},
           {{"--direct", "/sys/fs/bpf/x", "--poll", "--uthreads"},
            "--poll and --uthreads exclude each other"}}) {
    EchoProcess bad(args);
    const std::string out = bad.read_until("\n\n");
    EXPECT_EQ(bad.wait_exit(), 2) << out;
    EXPECT_NE(out.find(want), std::string::npos) << "wanted '" << want << "' in: " << out;
  }
  const std::string pin = "/sys/fs/bpf/kairos-netdirect-x-" + std::to_string(getpid());
  std::unique_ptr<dp::DataplaneService> svc = direct_service(pin);
  std::unique_ptr<EchoProcess> app;
  {
    InNetns in(veth_->server);
    app = std::make_unique<EchoProcess>(
        std::vector<std::string>{"--direct", pin, "--uthreads", "--servers", "2"});
  }
  ASSERT_GT(app->pid, 0);
  const std::string ready = app->read_until("\n");
  ASSERT_NE(ready.find("kairos-echo ready " + listen_.str() + " direct queues=2 uthreads"),
            std::string::npos)
      << ready;
  const std::string tag = "|" + std::to_string(app->pid) + ":u";
  auto fds = dp::testing::connected_udp_clients(veth_->client, veth_->server_ip, kPort, 8);
  unsigned answered = 0;
  for (unsigned s = 0; s < 3; s++) {
    std::this_thread::sleep_for(20ms);  // idle: parked kthreads, woken by their fds
    for (unsigned f = 0; f < fds.size(); f++) {
      const std::string m = text(f, s);
      ASSERT_EQ(send(fds[f], m.data(), m.size(), 0), ssize_t(m.size()));
      auto r = recv_text(fds[f]);
      ASSERT_TRUE(r) << "no echo for flow " << f << " seq " << s;
      EXPECT_EQ(*r, m + tag);
      answered++;
    }
  }
  kill(app->pid, SIGTERM);
  const std::string bye = app->read_until("kairos-echo stats");
  const std::string rest = app->read_until("\n\n");
  EXPECT_EQ(app->wait_exit(), 0) << bye << rest;
  EXPECT_NE((bye + rest).find("tx_sent=" + std::to_string(answered) + " "), std::string::npos)
      << bye << rest;
  for (int fd : fds) close(fd);
  svc.reset();
}

}  // namespace
}  // namespace kairos::net
