// The load generator against the baseline kernel echo server, inside a
// network namespace the test makes (loopback only).
#include "kernel_echo.hpp"
#include "loadgen.hpp"
#include "netns.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace kairos::udpload {
namespace {

TEST(UdpLoad, OpenLoopAgainstKernelEchoLosesNothingAtLowRate) {
  dp::testing::Netns ns;
  ASSERT_EQ(ns.sh("ip link set lo up"), 0);
  dp::testing::InNetns in(ns);
  const auto ep = *dp::Endpoint::parse("127.0.0.1:9100");
  KernelEcho server(ep, 1);
  std::vector<int> fds = dp::testing::connected_udp_clients(ns, "127.0.0.1", 9100, 2, 0);
  LoadConfig cfg;
  cfg.rate = 2000;
  cfg.duration_s = 0.5;
  cfg.drain_s = 1.0;
  const LoadResult r = run_load(fds, cfg);
  EXPECT_NEAR(static_cast<double>(r.sent), 1000, 50);  // the schedule holds
  EXPECT_EQ(r.received, r.sent);
  EXPECT_GT(r.p50_us, 0);
  EXPECT_LE(r.p50_us, r.p99_us);
  EXPECT_LE(r.p99_us, r.p999_us);
  cfg.size = 8;
  EXPECT_THROW(run_load(fds, cfg), std::invalid_argument);
  EXPECT_THROW(run_load({}, LoadConfig{}), std::invalid_argument);
  for (int fd : fds) close(fd);
}

}  // namespace
}  // namespace kairos::udpload
