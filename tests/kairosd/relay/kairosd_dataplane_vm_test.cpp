// In the sched_ext VM: kairosd itself runs the dataplane from its config
// file's [dataplane] (the direct-mode test: the deprecated line-based
// --dataplane-config file) next to the scheduler, and the kairos-echo app,
// another process, attaches to its ring region by name and answers UDP
// through it. Kernel-UDP backend on loopback (the VM's network is lo).
// The app line names an annotated cgroup (cgroup=): kairosd narrows the
// app's active kthreads to the one core the cgroup is guaranteed.
#include "sched_testlib.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace kairos::schedtest {
namespace {

using vmtest::build_path;
using vmtest::wait_for;
using namespace std::chrono_literals;

TEST(KairosdDataplane, ServesAnAppInAnotherProcessBesideTheScheduler) {
  vmtest::KernelLogGuard guard;
  const std::string shm = "kairos-vm-echo";
  const std::string conf = "/tmp/kairos-dp-vm.toml";
  ScratchCgroup lc("kt-dp-lc");
  std::string ctl;
  ASSERT_EQ(kairosctl({"annotate", lc.name(), "--class", "lc", "--guaranteed", "1",
                       "--burstable", "1"}, &ctl), 0) << ctl;
  {
    // kairosd.toml's [dataplane] section (the old file's successor).
    std::ofstream f(conf);
    f << "# loopback: the kernel-UDP backend\n[dataplane]\nbackend = \"kernel\"\n"
         "[[dataplane.app]]\nlisten = \"127.0.0.1:7400\"\nshm = \"" << shm
      << "\"\nkthreads = 2\ncgroup = \"" << lc.name() << "\"\n";
  }
  Kairosd kd({"--config", conf});
  ASSERT_TRUE(kd.wait_ready()) << kd.output();
  EXPECT_EQ(kd.output().find("deprecated"), std::string::npos) << kd.output();
  EXPECT_NE(kd.output().find("kairosd: dataplane backend=kernel-udp"), std::string::npos)
      << kd.output();
  Child echo({build_path("tools/udpload/kairos-echo"), "--shm", shm});
  ASSERT_TRUE(wait_for([&] { return echo.output().find("ready") != std::string::npos; }, 20s))
      << echo.output();
  EXPECT_NE(echo.output().find("kairos-echo ready 127.0.0.1:7400 kthreads=2"),
            std::string::npos) << echo.output();

  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(7400);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  constexpr int kN = 20;
  const std::string tag = "|" + std::to_string(echo.pid());
  for (int i = 0; i < kN; i++) {
    const std::string m = "vm " + std::to_string(i);
    ASSERT_EQ(send(fd, m.data(), m.size(), 0), ssize_t(m.size()));
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 10000), 1) << "no echo for " << m << "\n" << kd.output();
    char buf[256];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), m + tag);
  }
  close(fd);
  EXPECT_EQ(echo.stop(SIGTERM), 0) << echo.output();
  EXPECT_NE(echo.output().find("rx_delivered=" + std::to_string(kN) + " tx_sent=" +
                               std::to_string(kN)),
            std::string::npos) << echo.output();
  EXPECT_EQ(kd.stop(SIGINT), 0) << kd.output();
  // Its exit report counts the same datagrams; the region is gone.
  EXPECT_NE(kd.output().find("app 127.0.0.1:7400 shm=" + shm + " delivered=" +
                             std::to_string(kN) + " ring_full=0"),
            std::string::npos) << kd.output();
  // Two kthreads, one granted core: only kthread 0 received traffic.
  EXPECT_NE(kd.output().find("cgroup=" + lc.name() + " active=0\n"), std::string::npos)
      << kd.output();
  EXPECT_NE(access(("/dev/shm/" + shm).c_str(), F_OK), 0);
  unlink(conf.c_str());
}

// mode=direct beside the scheduler: kairosd only steers (XDP on lo, generic
// mode) and pins the XSKMAP; kairos-echo --direct owns lo's AF_XDP socket
// and answers; kairosd's exit removes the pins.
// Sets a sysctl file for the scope, restores the old value after.
class SysctlFor {
 public:
  SysctlFor(std::string path, const std::string& value) : path_(std::move(path)) {
    std::ifstream in(path_);
    std::getline(in, old_);
    std::ofstream(path_) << value;
  }
  ~SysctlFor() { std::ofstream(path_) << old_; }

 private:
  std::string path_, old_;
};

TEST(KairosdDataplane, DirectModeAppOwnsTheQueueBesideTheScheduler) {
  vmtest::KernelLogGuard guard;
  // A reply the app transmits on lo comes back in with no route attached
  // (it did not come from a local socket), so the kernel checks its
  // source: 127.0.0.1 on input is a martian and a local source address
  // is refused, unless lo allows both (a real NIC needs neither).
  SysctlFor localnet("/proc/sys/net/ipv4/conf/lo/route_localnet", "1");
  SysctlFor local("/proc/sys/net/ipv4/conf/lo/accept_local", "1");
  const std::string conf = "/tmp/kairos-dp-vm-direct.conf";
  const std::string pin = "/sys/fs/bpf/kairos-vm/echo";
  {
    std::ofstream f(conf);
    f << "interface lo\nbackend afxdp\napp 127.0.0.1:7401 mode=direct pin=" << pin << "\n";
  }
  Kairosd kd({"--dataplane-config", conf});
  ASSERT_TRUE(kd.wait_ready()) << kd.output();
  // The old line-based file is still read, with a warning.
  EXPECT_NE(kd.output().find("--dataplane-config is deprecated"), std::string::npos)
      << kd.output();
  EXPECT_NE(kd.output().find("kairosd: dataplane mode=direct interface=lo queues=1"),
            std::string::npos) << kd.output();
  Child echo({build_path("tools/udpload/kairos-echo"), "--direct", pin});
  ASSERT_TRUE(wait_for([&] { return echo.output().find("ready") != std::string::npos; }, 20s))
      << echo.output();
  EXPECT_NE(echo.output().find("kairos-echo ready 127.0.0.1:7401 direct queues=1"),
            std::string::npos) << echo.output();

  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(7401);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  constexpr int kN = 10;
  const std::string tag = "|" + std::to_string(echo.pid()) + ":0";
  for (int i = 0; i < kN; i++) {
    const std::string m = "direct " + std::to_string(i);
    ASSERT_EQ(send(fd, m.data(), m.size(), 0), ssize_t(m.size()));
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 10000), 1) << "no echo for " << m << "\n" << echo.output();
    char buf[256];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << echo.output();
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), m + tag);
  }
  close(fd);
  EXPECT_EQ(echo.stop(SIGTERM), 0) << echo.output();
  EXPECT_NE(echo.output().find("rx=" + std::to_string(kN) + " tx=" + std::to_string(kN)),
            std::string::npos) << echo.output();
  EXPECT_EQ(kd.stop(SIGINT), 0) << kd.output();
  EXPECT_NE(kd.output().find("pin=" + pin + " redirected=" + std::to_string(kN)),
            std::string::npos) << kd.output();
  EXPECT_NE(access((pin + "/info").c_str(), F_OK), 0);
  EXPECT_NE(access("/sys/fs/bpf/kairos-vm", F_OK), 0);
  unlink(conf.c_str());
}

}  // namespace
}  // namespace kairos::schedtest
