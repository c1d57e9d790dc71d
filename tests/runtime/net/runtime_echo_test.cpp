// End to end: a kernel UDP client in one network namespace, the Kairos
// dataplane (AF_XDP through the steering program, or the kernel-UDP
// fallback) in the other, and a UDP echo server written on runtime
// uthreads with kairos::net's blocking sockets. Host kernel, root.
#include "netns.hpp"
#include "uthread_echo.hpp"

#include <kairos/contracts/backend.hpp>
#include <kairos/packetio/backends.hpp>
#include <kairos/relay/dataplane.hpp>
#include <kairos/net.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kairos::net {
namespace {

using dp::testing::InNetns;
using dp::testing::VethPair;
using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 7100;

std::vector<int> open_clients(const VethPair& v, unsigned n) {
  return dp::testing::connected_udp_clients(v.client, v.server_ip, kPort, n);
}

std::string text(unsigned flow, unsigned seq) {
  char b[32];
  std::snprintf(b, sizeof b, "f%u s%u", flow, seq);
  return b;
}

using dp::testing::recv_text;

// Ping-pong on every flow, then a bounded burst (all flows at once, no
// waiting): every echo correct, none lost.
void exercise(UthreadEchoServer& srv, std::vector<int>& fds) {
  for (unsigned s = 0; s < 5; s++)
    for (unsigned f = 0; f < fds.size(); f++) {
      const std::string m = text(f, s);
      ASSERT_EQ(send(fds[f], m.data(), m.size(), 0), ssize_t(m.size()));
      auto r = recv_text(fds[f]);
      ASSERT_TRUE(r) << "no echo for flow " << f << " seq " << s << ": " << srv.describe();
      EXPECT_EQ(*r, m + "!");
    }
  constexpr unsigned kBurst = 32;  // per flow: 256 in flight at most
  for (unsigned s = 0; s < kBurst; s++)
    for (unsigned f = 0; f < fds.size(); f++) {
      const std::string m = text(f, 100 + s);
      ASSERT_EQ(send(fds[f], m.data(), m.size(), 0), ssize_t(m.size()));
    }
  for (unsigned f = 0; f < fds.size(); f++) {
    std::set<std::string> want, got;
    for (unsigned s = 0; s < kBurst; s++) want.insert(text(f, 100 + s) + "!");
    for (unsigned s = 0; s < kBurst; s++) {
      auto r = recv_text(fds[f]);
      if (!r) break;
      got.insert(*r);
    }
    EXPECT_EQ(got, want) << "flow " << f << ": " << srv.describe();
  }
  const unsigned total = static_cast<unsigned>(fds.size()) * (5 + kBurst);
  const dp::AppStats a = srv.app_stats();
  // The uthread counts a send just after its push, which (doorbell) may
  // already have reached the client: let the last increments land.
  for (int i = 0; i < 200 && srv.stack_stats().tx_sent < total; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const StackStats st = srv.stack_stats();
  EXPECT_EQ(a.rx_delivered, total) << srv.describe();
  EXPECT_EQ(a.rx_ring_full + a.rx_no_kthread + a.tx_dropped, 0u) << srv.describe();
  EXPECT_EQ(st.rx_delivered, total);
  EXPECT_EQ(st.tx_sent, total);
  EXPECT_EQ(st.rx_no_socket + st.rx_overflow, 0u);
}

class RuntimeEchoVeth : public ::testing::Test {
 protected:
  void SetUp() override {
    veth_ = std::make_unique<VethPair>(2);
    ASSERT_TRUE(veth_->ok()) << "creating namespaces and veth failed (root?)";
    listen_ = dp::Endpoint::v4(0x0a4d0001, kPort);  // 10.77.0.1
  }
  std::unique_ptr<VethPair> veth_;
  dp::Endpoint listen_;
};

TEST_F(RuntimeEchoVeth, AfXdpPathEchoesThroughUthreadSockets) {
  std::unique_ptr<UthreadEchoServer> srv;
  std::string why;
  {
    InNetns in(veth_->server);
    dp::AfXdpConfig cfg;
    cfg.ifname = veth_->server_if;
    cfg.apps = {listen_};
    // AF_XDP where the kernel allows it, else the kernel-UDP fallback.
    srv = std::make_unique<UthreadEchoServer>(dp::make_backend_with_fallback(cfg, &why),
                                              listen_, 2);
  }
  RecordProperty("backend", srv->backend().name());
  if (!why.empty()) std::fprintf(stderr, "AF_XDP unavailable, fallback: %s\n", why.c_str());
  auto fds = open_clients(*veth_, 8);
  exercise(*srv, fds);
  for (int fd : fds) close(fd);
}

TEST_F(RuntimeEchoVeth, KernelUdpBackendEchoesThroughUthreadSockets) {
  std::unique_ptr<UthreadEchoServer> srv;
  {
    InNetns in(veth_->server);
    srv = std::make_unique<UthreadEchoServer>(dp::make_kernel_udp_backend({listen_}),
                                              listen_, 2);
  }
  EXPECT_EQ(srv->backend().name(), "kernel-udp");
  auto fds = open_clients(*veth_, 8);
  exercise(*srv, fds);
  for (int fd : fds) close(fd);
}

}  // namespace
}  // namespace kairos::net
