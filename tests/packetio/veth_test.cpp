// The dataplane on a real multi-queue veth pair between two network
// namespaces made by the test: a kernel UDP client in one, the echo app on
// the Kairos dataplane (AF_XDP through the XDP steering program, or the
// kernel-UDP fallback) in the other. Host kernel, root.
#include <kairos/packetio/backends.hpp>
#include <kairos/bench/echo_app.hpp>
#include "netns.hpp"

#include <kairos/packetio/xdp_steering.hpp>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <atomic>
#include <cstring>
#include <map>
#include <set>
#include <thread>

namespace kairos::dp {
namespace {

using testing::EchoApp;
using testing::InNetns;
using testing::VethPair;

constexpr std::uint16_t kAppPort = 7000;
constexpr std::uint16_t kKernelPort = 7001;
constexpr unsigned kQueues = 4;
constexpr unsigned kKthreads = 2;

struct Flow {
  int fd = -1;
  Endpoint local;
};

// Client sockets (distinct source ports = distinct flows), made in the
// client namespace; they stay there after the thread leaves it.
std::vector<Flow> open_flows(const VethPair& v, unsigned n, std::uint16_t port) {
  std::vector<Flow> flows;
  for (int fd : testing::connected_udp_clients(v.client, v.server_ip, port, n)) {
    Flow f;
    f.fd = fd;
    sockaddr_in me{};
    socklen_t len = sizeof me;
    getsockname(f.fd, reinterpret_cast<sockaddr*>(&me), &len);
    f.local = Endpoint::v4(ntohl(me.sin_addr.s_addr), ntohs(me.sin_port));
    flows.push_back(f);
  }
  return flows;
}

void close_flows(std::vector<Flow>& flows) {
  for (auto& f : flows) close(f.fd);
}

// Waits up to timeout_ms for one datagram.
std::optional<std::vector<std::uint8_t>> recv_one(int fd, int timeout_ms = 3000) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return std::nullopt;
  std::vector<std::uint8_t> buf(2048);
  const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
  if (n < 0) return std::nullopt;
  buf.resize(n);
  return buf;
}

std::vector<std::uint8_t> message(unsigned flow, unsigned seq) {
  std::vector<std::uint8_t> m(16);
  std::snprintf(reinterpret_cast<char*>(m.data()), m.size(), "f%u s%u", flow, seq);
  return m;
}

// Sends per_flow datagrams on every flow at once, then counts the echoes
// that come back under one overall deadline (a loss cannot stall a test).
unsigned burst(const std::vector<Flow>& flows, unsigned per_flow) {
  for (unsigned i = 0; i < flows.size(); i++)
    for (unsigned s = 0; s < per_flow; s++) {
      auto m = message(i, 1000 + s);
      EXPECT_EQ(send(flows[i].fd, m.data(), m.size(), 0), ssize_t(m.size()));
    }
  unsigned got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (unsigned i = 0; i < flows.size(); i++)
    for (unsigned s = 0; s < per_flow; s++) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      got += recv_one(flows[i].fd, std::max<int>(0, left.count())).has_value();
    }
  return got;
}

// Sends `count` requests per flow one at a time; returns per flow the set
// of kthreads that answered. Fails on a missing or wrong echo.
std::vector<std::set<int>> ping_pong(std::vector<Flow>& flows, unsigned count) {
  std::vector<std::set<int>> served(flows.size());
  for (unsigned s = 0; s < count; s++) {
    for (unsigned i = 0; i < flows.size(); i++) {
      auto m = message(i, s);
      EXPECT_EQ(send(flows[i].fd, m.data(), m.size(), 0), ssize_t(m.size()));
      auto r = recv_one(flows[i].fd);
        if (!r) {
        ADD_FAILURE() << "no echo for flow " << i << " seq " << s;
        return served;
      }
      EXPECT_EQ(r->size(), m.size() + 1);
      EXPECT_TRUE(std::equal(m.begin(), m.end(), r->begin()));
      served[i].insert(r->back());
    }
  }
  return served;
}

// Every counter on the way, for failure messages.
std::string describe(EchoApp& app) {
  const AppStats a = app.dataplane().stats(app.app());
  const BackendStats b = app.backend().stats();
  std::string out = "app: delivered " + std::to_string(a.rx_delivered) +
                    " ring_full " + std::to_string(a.rx_ring_full) +
                    " no_kthread " + std::to_string(a.rx_no_kthread) +
                    " tx_sent " + std::to_string(a.tx_sent) +
                    " tx_dropped " + std::to_string(a.tx_dropped) +
                    "; backend: rx " + std::to_string(b.rx) +
                    " invalid " + std::to_string(b.rx_invalid) +
                    " tx " + std::to_string(b.tx) +
                    " tx_full " + std::to_string(b.tx_full) +
                    " no_route " + std::to_string(b.tx_no_route) +
                    " fill_empty " + std::to_string(b.fill_empty);
  if (const XdpSteering* x = afxdp_steering(app.backend())) {
    out += "; xdp:";
    for (int c = 0; c < KAIROS_XDP_NR_COUNTERS; c++)
      out += " " + std::to_string(x->counter(static_cast<kairos_xdp_counter>(c)));
  }
  return out;
}

class VethDataplane : public ::testing::Test {
 protected:
  void SetUp() override {
    veth_ = std::make_unique<VethPair>(kQueues);
    ASSERT_TRUE(veth_->ok()) << "creating namespaces and veth failed (root?)";
    app_ep_ = Endpoint::v4(0x0a4d0001, kAppPort);  // 10.77.0.1
  }
  void TearDown() override {
    stop_kernel_service();
    veth_.reset();
  }

  // An ordinary kernel UDP echo service in the server namespace.
  void start_kernel_service() {
    InNetns in(veth_->server);
    kfd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(kKernelPort);
    ASSERT_EQ(bind(kfd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    kernel_service_ = std::thread([this] {
      while (!stop_) {
        pollfd p{kfd_, POLLIN, 0};
        if (poll(&p, 1, 20) != 1) continue;
        char buf[2048];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(kfd_, buf, sizeof buf, 0,
                             reinterpret_cast<sockaddr*>(&from), &len);
        if (n > 0) sendto(kfd_, buf, n, 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    });
  }
  void stop_kernel_service() {
    stop_ = true;
    if (kernel_service_.joinable()) kernel_service_.join();
    if (kfd_ >= 0) close(kfd_);
    kfd_ = -1;
  }

  std::unique_ptr<VethPair> veth_;
  Endpoint app_ep_;
  int kfd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread kernel_service_;
};

TEST_F(VethDataplane, AfXdpDeliversSticksSurvivesBurstsAndLeavesOtherTrafficAlone) {
  std::unique_ptr<EchoApp> app;
  {
    InNetns in(veth_->server);
    AfXdpConfig cfg;
    cfg.ifname = veth_->server_if;
    cfg.apps = {app_ep_};
    auto backend = make_afxdp_backend(cfg);
    app = std::make_unique<EchoApp>(std::move(backend), app_ep_, kKthreads);
  }
  start_kernel_service();
  // Ordinary traffic first: ARP and ICMP pass through the XDP program.
  EXPECT_EQ(veth_->client.sh("ping -c 3 -i 0.2 -W 2 " + veth_->server_ip +
                             " >/dev/null"), 0);

  auto flows = open_flows(*veth_, 24, kAppPort);
  auto served = ping_pong(flows, 5);
  // Stickiness: each flow was served by exactly one kthread, the one the
  // dataplane's bucket table names for its hash.
  const BucketTable table = app->dataplane().table(app->app());
  std::set<int> used;
  for (unsigned i = 0; i < flows.size(); i++) {
    ASSERT_EQ(served[i].size(), 1u) << "flow " << i << " moved between kthreads";
    const int k = *served[i].begin();
    EXPECT_EQ(k, static_cast<int>(table.kthread_of(flow_hash(flows[i].local, app_ep_))));
    used.insert(k);
  }
  EXPECT_GE(used.size(), 2u) << "24 flows should spread over the kthreads";
  // One socket per device queue, and the flows came in on several queues.
  const auto per_queue = app->backend().stats().rx_per_queue;
  ASSERT_EQ(per_queue.size(), kQueues);
  EXPECT_GE(std::count_if(per_queue.begin(), per_queue.end(),
                          [](std::uint64_t n) { return n > 0; }),
            2) << describe(*app);

  // A bounded burst on every flow at once: nothing may be lost.
  constexpr unsigned kBurst = 24;  // per flow: below a veth queue's 256-frame ring even if 10 flows share it
  const unsigned got = burst(flows, kBurst);
  EXPECT_EQ(got, flows.size() * kBurst) << describe(*app);
  const AppStats st = app->dataplane().stats(app->app());
  EXPECT_EQ(st.rx_ring_full, 0u);
  EXPECT_EQ(st.tx_dropped, 0u);
  EXPECT_EQ(st.rx_delivered, flows.size() * (5 + kBurst));

  // Kernel UDP on another port, in the same namespace, still works.
  auto kflows = open_flows(*veth_, 2, kKernelPort);
  for (auto& f : kflows) {
    const char m[] = "kernel";
    send(f.fd, m, sizeof m, 0);
    auto r = recv_one(f.fd);
    ASSERT_TRUE(r);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(r->data())), "kernel");
  }
  close_flows(kflows);

  // Grant change: kthread 0 loses its grant, all its flows move to the
  // others at once, nothing lost; flows of the others stay where they were.
  std::vector<std::uint32_t> one{1};
  app->dataplane().set_active(app->app(), one);
  auto after = ping_pong(flows, 2);
  for (unsigned i = 0; i < flows.size(); i++) {
    ASSERT_EQ(after[i].size(), 1u);
    const int k = *after[i].begin();
    EXPECT_NE(k, 0);
    if (*served[i].begin() != 0) {
      EXPECT_EQ(k, *served[i].begin()) << "flow " << i;
    }
  }
  close_flows(flows);
  stop_kernel_service();

  // The XDP program's counters saw it all: app frames redirected, ARP,
  // ICMP and the kernel service passed.
  const XdpSteering* steer = afxdp_steering(app->backend());
  ASSERT_NE(steer, nullptr);
  EXPECT_GE(steer->counter(KAIROS_XDP_REDIRECT), flows.size() * (7 + kBurst));
  EXPECT_GE(steer->app_stats(0).redirected, flows.size() * (7 + kBurst));
  EXPECT_GT(steer->counter(KAIROS_XDP_PASS_NON_IP), 0u);
  EXPECT_GT(steer->counter(KAIROS_XDP_PASS_OTHER_L4), 0u);
  EXPECT_GE(steer->counter(KAIROS_XDP_PASS_UNMANAGED), 2u);
  EXPECT_EQ(steer->counter(KAIROS_XDP_PASS_NO_SOCKET), 0u);
}

// Direct mode: one thread per device queue owns that queue's AF_XDP
// socket (no dataplane thread, no rings). Each flow is answered by the
// thread of the queue it arrives on, always the same one; a burst loses
// nothing; ping and kernel UDP pass; the steering program the per-queue
// backends share detaches with the last of them.
TEST_F(VethDataplane, DirectModeServesEachQueueOnItsOwnThread) {
  std::unique_ptr<testing::DirectEchoApp> app;
  {
    InNetns in(veth_->server);
    AfXdpConfig cfg;
    cfg.ifname = veth_->server_if;
    cfg.apps = {app_ep_};
    auto queues = make_afxdp_direct_backends(cfg);
    ASSERT_EQ(queues.size(), kQueues);
    app = std::make_unique<testing::DirectEchoApp>(std::move(queues), 50);
  }
  start_kernel_service();
  EXPECT_EQ(veth_->client.sh("ping -c 2 -i 0.2 -W 2 " + veth_->server_ip + " >/dev/null"), 0);
  auto flows = open_flows(*veth_, 24, kAppPort);
  auto served = ping_pong(flows, 4);
  std::set<int> used;
  for (unsigned i = 0; i < flows.size(); i++) {
    ASSERT_EQ(served[i].size(), 1u) << "flow " << i << " moved between queues";
    used.insert(*served[i].begin());
  }
  EXPECT_GE(used.size(), 2u) << "24 flows should come in on several queues";
  for (int q : used) {
    const BackendStats b = app->queue(q).stats();
    ASSERT_EQ(b.rx_per_queue.size(), 1u);  // one socket per backend
    EXPECT_GT(b.rx, 0u);
    EXPECT_EQ(b.tx, b.rx) << "queue " << q;
  }
  constexpr unsigned kBurst = 24;
  const unsigned got = burst(flows, kBurst);
  EXPECT_EQ(got, flows.size() * kBurst);
  auto kflows = open_flows(*veth_, 1, kKernelPort);
  const char m[] = "kernel";
  send(kflows[0].fd, m, sizeof m, 0);
  EXPECT_TRUE(recv_one(kflows[0].fd));
  close_flows(kflows);
  const XdpSteering* steer = afxdp_steering(app->queue(0));
  ASSERT_NE(steer, nullptr);
  EXPECT_EQ(steer, afxdp_steering(app->queue(1)));  // one program for all
  EXPECT_GE(steer->app_stats(0).redirected, flows.size() * (4 + kBurst));
  EXPECT_EQ(steer->counter(KAIROS_XDP_PASS_NO_SOCKET), 0u);
  close_flows(flows);
  app.reset();
  // Detached with the last backend: the device takes a new program.
  InNetns in(veth_->server);
  AfXdpConfig cfg;
  cfg.ifname = veth_->server_if;
  cfg.apps = {app_ep_};
  EXPECT_NO_THROW(make_afxdp_backend(cfg));
}

// Queues closed and opened again at once, 100 times: the kernel unbinds a
// closed socket's queue in deferred work after close returns, and the
// backend waits that out (AfXdpConfig::bind_busy_wait) instead of failing.
// Odd rounds open every queue on one backend (kairosd's relay), even rounds
// one backend per queue (direct mode); then the last one still serves.
TEST_F(VethDataplane, QueuesClosedAndReopenedAtOnceBindEveryTime) {
  InNetns in(veth_->server);
  AfXdpConfig cfg;
  cfg.ifname = veth_->server_if;
  cfg.apps = {app_ep_};
  cfg.frames_per_queue = 256;
  cfg.ring_size = 128;
  std::uint64_t busy = 0;
  constexpr int kRounds = 100;
  for (int round = 0; round < kRounds; round++) {
    try {
      if (round % 2) {
        auto b = make_afxdp_backend(cfg);
        ASSERT_EQ(b->stats().rx_per_queue.size(), kQueues);
        busy += b->stats().bind_busy;
      } else {
        auto queues = make_afxdp_direct_backends(cfg);
        ASSERT_EQ(queues.size(), kQueues);
        for (auto& q : queues) busy += q->stats().bind_busy;
      }
    } catch (const std::exception& e) {
      FAIL() << "round " << round << ": " << e.what();
    }
  }
  std::printf("%d rounds of %u queues: %llu binds waited for a queue being released\n",
              kRounds, kQueues, static_cast<unsigned long long>(busy));
  auto app = std::make_unique<EchoApp>(make_afxdp_backend(cfg), app_ep_, kKthreads);
  auto flows = open_flows(*veth_, 8, kAppPort);
  auto served = ping_pong(flows, 2);
  for (unsigned i = 0; i < flows.size(); i++) EXPECT_EQ(served[i].size(), 1u) << "flow " << i;
  close_flows(flows);
}

// A queue that a live socket holds is refused after the bounded wait, with
// an error that names the queue and says who may hold it; the holder keeps
// serving.
TEST_F(VethDataplane, AQueueHeldByALiveSocketIsRefusedAfterABoundedWait) {
  std::unique_ptr<EchoApp> app;
  AfXdpConfig cfg;
  cfg.ifname = veth_->server_if;
  cfg.apps = {app_ep_};
  {
    InNetns in(veth_->server);
    app = std::make_unique<EchoApp>(make_afxdp_backend(cfg), app_ep_, kKthreads);
  }
  {
    // Sockets of their own on queue 1 (direct mode's path; the bind fails
    // before anything goes into the map).
    InNetns in(veth_->server);
    const int xskmap = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "kt_busy", 4, 4, kQueues, nullptr);
    ASSERT_GE(xskmap, 0);
    AfXdpConfig second = cfg;
    second.queue_ids.assign(1, 1);  // queue 1 only
    second.bind_busy_wait = std::chrono::milliseconds(200);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      make_afxdp_backends_on_xskmap(second, xskmap);
      ADD_FAILURE() << "bound a queue another socket holds";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("queue 1 of " + veth_->server_if +
                          ": still bound to another AF_XDP socket after"),
                std::string::npos) << what;
      EXPECT_NE(what.find("another process or app holds it"), std::string::npos) << what;
    }
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
    second.bind_busy_wait = std::chrono::milliseconds(-1);
    EXPECT_THROW(make_afxdp_backends_on_xskmap(second, xskmap), std::invalid_argument);
    close(xskmap);
  }
  auto flows = open_flows(*veth_, 8, kAppPort);
  auto served = ping_pong(flows, 2);
  for (unsigned i = 0; i < flows.size(); i++) EXPECT_EQ(served[i].size(), 1u) << "flow " << i;
  close_flows(flows);
}

// What the steering program redirects is not all delivered: with nobody
// polling, the sockets' rings fill and the kernel drops the rest. The
// backend counts those drops (XDP_STATISTICS), so redirected verdicts =
// frames received + frames dropped after the redirect.
TEST_F(VethDataplane, FramesDroppedAfterTheRedirectAreCounted) {
  AfXdpConfig cfg;
  cfg.ifname = veth_->server_if;
  cfg.apps = {app_ep_};
  cfg.frames_per_queue = 128;  // 64 RX frames per queue: 256 on 4 queues
  cfg.ring_size = 64;
  std::unique_ptr<Backend> backend;
  {
    InNetns in(veth_->server);
    backend = make_afxdp_backend(cfg);
  }
  // 640 datagrams, whichever queues their flows land on: more than the
  // 256 frames all queues can hold while nobody polls.
  auto flows = open_flows(*veth_, 16, kAppPort);
  constexpr unsigned kPerFlow = 40;
  for (unsigned s = 0; s < kPerFlow; s++)
    for (unsigned i = 0; i < flows.size(); i++) {
      auto m = message(i, s);
      send(flows[i].fd, m.data(), m.size(), 0);
    }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  struct Count final : RxSink {
    std::uint64_t n = 0;
    void on_datagram(const RxDatagram&) override { n++; }
  } count;
  for (int i = 0; i < 20; i++) backend->poll_rx(1024, count);
  const XdpSteering* steer = afxdp_steering(*backend);
  ASSERT_NE(steer, nullptr);
  const BackendStats st = backend->stats();
  const std::uint64_t redirected = steer->app_stats(0).redirected;
  EXPECT_GT(redirected, 4u * 64) << "fewer frames reached the program than the rings hold";
  EXPECT_EQ(count.n, st.rx);
  EXPECT_GT(st.rx_dropped_after_redirect, 0u);
  EXPECT_EQ(st.rx + st.rx_dropped_after_redirect, redirected)
      << "rx " << st.rx << " dropped " << st.rx_dropped_after_redirect;
  close_flows(flows);
}

// Copy mode sends at most one kernel batch (32 frames) per syscall: a
// burst of replies queued at once must all leave on a single flush, with
// no later flush (an idle loop may not call one for a long time).
TEST_F(VethDataplane, OneFlushSendsABurstLargerThanTheKernelsTxBatch) {
  AfXdpConfig cfg;
  cfg.ifname = veth_->server_if;
  cfg.apps = {app_ep_};
  std::unique_ptr<Backend> backend;
  {
    InNetns in(veth_->server);
    backend = make_afxdp_backend(cfg);
  }
  auto flows = open_flows(*veth_, 1, kAppPort);
  const int big = 4 << 20;  // the burst must fit the client's socket
  ASSERT_EQ(setsockopt(flows[0].fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big), 0);
  // One request teaches the backend the client's MAC.
  auto m = message(0, 0);
  ASSERT_EQ(send(flows[0].fd, m.data(), m.size(), 0), ssize_t(m.size()));
  struct Learn final : RxSink {
    std::optional<RxDatagram> first;
    void on_datagram(const RxDatagram& d) override {
      if (!first) first = RxDatagram{d.src, d.dst, {}};
    }
  } learn;
  for (int i = 0; i < 300 && !learn.first; i++) {
    backend->poll_rx(16, learn);
    if (!learn.first) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(learn.first) << "the request never reached the backend";

  constexpr unsigned kReplies = 200;
  for (unsigned s = 0; s < kReplies; s++) {
    auto r = message(0, s);
    ASSERT_TRUE(backend->send(app_ep_, learn.first->src, r)) << s;
  }
  backend->flush();
  unsigned got = 0;
  while (got < kReplies && recv_one(flows[0].fd, 2000)) got++;
  EXPECT_EQ(got, kReplies) << "wakeups " << backend->stats().wakeups;
  EXPECT_EQ(backend->stats().tx, kReplies);
  close_flows(flows);
}

TEST_F(VethDataplane, AfXdpServesIpv6WithNeighbourDiscoveryPassed) {
  const Endpoint ep6 = *Endpoint::parse("[fd77::1]:7002");
  std::unique_ptr<EchoApp> app;
  {
    InNetns in(veth_->server);
    AfXdpConfig cfg;
    cfg.ifname = veth_->server_if;
    cfg.apps = {ep6};
    app = std::make_unique<EchoApp>(make_afxdp_backend(cfg), ep6, 2);
  }
  const int fd = testing::connected_udp_clients(veth_->client, "fd77::1", 7002, 1, 0)[0];
  // The client's kernel checks the UDP checksum, mandatory over IPv6: an
  // echo that arrives proves the built frame is right. Neighbour discovery
  // (ICMPv6) had to pass through the XDP program first.
  for (unsigned s = 0; s < 5; s++) {
    auto m = message(0, s);
    ASSERT_EQ(send(fd, m.data(), m.size(), 0), ssize_t(m.size()));
    auto r = recv_one(fd);
    ASSERT_TRUE(r) << "no IPv6 echo " << s << ": " << describe(*app);
    EXPECT_TRUE(std::equal(m.begin(), m.end(), r->begin()));
  }
  close(fd);
  const XdpSteering* steer = afxdp_steering(app->backend());
  EXPECT_GE(steer->counter(KAIROS_XDP_IPV6), 5u);
  EXPECT_GE(steer->app_stats(0).redirected, 5u);
}

TEST_F(VethDataplane, KernelUdpFallbackServesTheSameApp) {
  std::unique_ptr<EchoApp> app;
  {
    InNetns in(veth_->server);
    app = std::make_unique<EchoApp>(make_kernel_udp_backend({app_ep_}), app_ep_,
                                    kKthreads);
  }
  auto flows = open_flows(*veth_, 8, kAppPort);
  auto served = ping_pong(flows, 4);
  for (auto& s : served) EXPECT_EQ(s.size(), 1u);
  const AppStats st = app->dataplane().stats(app->app());
  EXPECT_EQ(st.rx_delivered, 32u);
  EXPECT_EQ(st.tx_sent, 32u);
  close_flows(flows);
}

TEST_F(VethDataplane, FallsBackToKernelUdpWhenAfXdpCannotStart) {
  std::unique_ptr<EchoApp> app;
  std::string why;
  {
    InNetns in(veth_->server);
    AfXdpConfig cfg;
    cfg.ifname = "nosuchdev0";  // AF_XDP cannot start here
    cfg.apps = {app_ep_};
    auto backend = make_backend_with_fallback(cfg, &why);
    EXPECT_EQ(backend->name(), "kernel-udp");
    app = std::make_unique<EchoApp>(std::move(backend), app_ep_, 1);
    cfg.ifname = veth_->server_if;
    std::string none;
    EXPECT_EQ(make_backend_with_fallback(cfg, &none)->name(), "af_xdp");
    EXPECT_TRUE(none.empty());
    cfg.ring_size = 1000;  // bad configuration: an error, no fallback
    EXPECT_THROW(make_backend_with_fallback(cfg), std::invalid_argument);
  }
  EXPECT_NE(why.find("nosuchdev0"), std::string::npos) << why;
  auto flows = open_flows(*veth_, 2, kAppPort);
  auto served = ping_pong(flows, 3);
  EXPECT_EQ(app->dataplane().stats(app->app()).tx_sent, 6u);
  close_flows(flows);
}

TEST_F(VethDataplane, AfXdpBackendRejectsBadConfiguration) {
  InNetns in(veth_->server);
  AfXdpConfig cfg;
  cfg.ifname = "nosuchdev0";
  cfg.apps = {app_ep_};
  EXPECT_THROW(make_afxdp_backend(cfg), std::runtime_error);
  cfg.ifname = veth_->server_if;
  cfg.apps = {};
  EXPECT_THROW(make_afxdp_backend(cfg), std::invalid_argument);
  cfg.apps = {app_ep_};
  cfg.ring_size = 1000;
  EXPECT_THROW(make_afxdp_backend(cfg), std::invalid_argument);
  // Nothing was left attached: a valid configuration still works.
  cfg.ring_size = 2048;
  EXPECT_NO_THROW(make_afxdp_backend(cfg));
}

}  // namespace
}  // namespace kairos::dp
