// kairos-kv's UDP over the runtime's direct AF_XDP path: the server runs
// in one namespace of a 2-queue veth pair with --udp-xdp, its kthreads own
// the queues' AF_XDP sockets, and kernel UDP clients in the other
// namespace talk memcached's UDP protocol to it. Host kernel, root.
#include "kv_server_process.hpp"
#include "netns.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

using kairos::dp::testing::connected_udp_clients;
using kairos::dp::testing::VethPair;

constexpr std::uint16_t kUdpPort = 7411;

// The joined payload of the datagrams answering id (what came, on timeout).
std::string ask(int fd, std::uint16_t id, const std::string& req, int timeout_ms = 1000) {
  const std::chrono::milliseconds t(timeout_ms);
  return kairos::kv::test::udp_exchange(fd, id, req, t, t, true).payload;
}

TEST(KvUdpXdp, ServesMemcachedUdpOverDirectAfXdp) {
  VethPair veth(2);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  const pid_t pid = fork();
  if (pid == 0) {
    const int ns = open(veth.server.path().c_str(), O_RDONLY);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(126);
    execl(KAIROS_KV_BIN, KAIROS_KV_BIN, "-p", "0", "-U", std::to_string(kUdpPort).c_str(),
          "-l", veth.server_ip.c_str(), "-t", "2", "--udp-xdp", veth.server_if.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto fds = connected_udp_clients(veth.client, veth.server_ip, kUdpPort, 4);
  // Ready once it answers (the AF_XDP sockets take a moment to bind).
  std::string v;
  for (int i = 0; i < 50 && v.empty(); ++i) {
    int st = 0;
    ASSERT_NE(waitpid(pid, &st, WNOHANG), pid) << "kairos-kv exited, status " << st;
    v = ask(fds[0], static_cast<std::uint16_t>(i), "version\r\n", 200);
  }
  EXPECT_TRUE(v.starts_with("VERSION ")) << v;

  EXPECT_EQ(ask(fds[1], 100, "set a 0 0 3\r\nabc\r\n"), "STORED\r\n");
  EXPECT_EQ(ask(fds[2], 101, "get a zz\r\n"), "VALUE a 0 3\r\nabc\r\nEND\r\n");
  EXPECT_EQ(ask(fds[3], 102, "bogus\r\n"), "ERROR\r\n");
  // The meta protocol over the same path (the replies are memcached's:
  // kv_differential_test compares them over TCP and UDP).
  EXPECT_EQ(ask(fds[0], 110, "ms m 2 T0 F3 k\r\nhi\r\n"), "HD km\r\n");
  EXPECT_EQ(ask(fds[1], 111, "mg m v k f t\r\n"), "VA 2 km f3 t-1\r\nhi\r\n");
  EXPECT_EQ(ask(fds[2], 112, "ma cnt N0 J5 v\r\n"), "VA 1\r\n5\r\n");
  EXPECT_EQ(ask(fds[3], 113, "md m q\r\nmn\r\n"), "MN\r\n");
  EXPECT_EQ(ask(fds[0], 114, "mg m\r\n"), "EN\r\n");
  EXPECT_EQ(ask(fds[1], 115, "mg m z\r\n"), "CLIENT_ERROR invalid flag\r\n");
  // A reply of several datagrams: four 1000-byte values.
  std::string want;
  for (int k = 0; k < 4; ++k) {
    const std::string key = "big" + std::to_string(k);
    const std::string val(1000, static_cast<char>('a' + k));
    ASSERT_EQ(ask(fds[k % 4], static_cast<std::uint16_t>(200 + k),
                  "set " + key + " 0 0 1000\r\n" + val + "\r\n"),
              "STORED\r\n");
    want += "VALUE " + key + " 0 1000\r\n" + val + "\r\n";
  }
  EXPECT_EQ(ask(fds[0], 300, "get big0 big1 big2 big3\r\n"), want + "END\r\n");
  // Every flow is answered (both queues' kthreads serve).
  for (unsigned i = 0; i < fds.size(); ++i)
    EXPECT_EQ(ask(fds[i], static_cast<std::uint16_t>(400 + i), "incr nope 1\r\n"), "NOT_FOUND\r\n");

  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
  for (int fd : fds) close(fd);
}

}  // namespace
