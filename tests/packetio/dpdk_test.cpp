// The DPDK backend without a NIC: EAL with --no-huge --no-pci and the
// net_af_xdp virtual device on the server end of a veth pair in namespaces
// made by the test; the same echo app and client as the AF_XDP test. The
// PMD loads the Kairos steering program (xdp_prog=), the backend fills its
// app map, so ARP and ping keep working beside the DPDK app.
#include <kairos/packetio/backends.hpp>
#include <kairos/bench/echo_app.hpp>
#include "netns.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <set>

namespace kairos::dp {
namespace {

using testing::EchoApp;
using testing::InNetns;
using testing::VethPair;

TEST(DpdkBackend, EchoOverNetAfXdpOnVeth) {
  VethPair veth(1);
  ASSERT_TRUE(veth.ok());
  const Endpoint ep = Endpoint::v4(0x0a4d0001, 7000);
  std::unique_ptr<EchoApp> app;
  {
    InNetns in(veth.server);
    auto backend = make_dpdk_backend(
        {"--no-huge", "-m", "256", "--no-pci", "--no-telemetry",
         "--file-prefix=kairos-dp-test-" + std::to_string(getpid()),
         "--log-level=error", "-l", "0",
         "--vdev=net_af_xdp0,iface=" + veth.server_if +
             ",force_copy=1,xdp_prog=" KAIROS_STEER_BPF_OBJ},
        {ep});
    ASSERT_EQ(backend->name(), "dpdk");
    app = std::make_unique<EchoApp>(std::move(backend), ep, 2);
  }
  // No static neighbour: ARP and ICMP pass through kairos_steer (loaded by
  // the PMD) to the server's kernel.
  EXPECT_EQ(veth.client.sh("ping -c 2 -i 0.2 -W 2 " + veth.server_ip + " >/dev/null"), 0);
  const int fd = testing::connected_udp_clients(veth.client, veth.server_ip, 7000, 1, 0)[0];
  std::set<int> kthreads;
  for (int i = 0; i < 20; i++) {
    char msg[16];
    const int n = std::snprintf(msg, sizeof msg, "dpdk %d", i);
    ASSERT_EQ(send(fd, msg, n, 0), n);
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 3000), 1) << "no echo for request " << i;
    char buf[64];
    ASSERT_EQ(recv(fd, buf, sizeof buf, 0), n + 1);
    EXPECT_EQ(std::string(buf, n), std::string(msg, n));
    kthreads.insert(buf[n]);
  }
  EXPECT_EQ(kthreads.size(), 1u);  // one flow, one kthread
  EXPECT_EQ(app->dataplane().stats(app->app()).tx_sent, 20u);
  // A second EAL in one process is refused with a clear error.
  EXPECT_THROW(make_dpdk_backend({"--no-huge"}, {ep}), std::runtime_error);
  close(fd);
  app.reset();
}

}  // namespace
}  // namespace kairos::dp
