// kairosd's dataplane service, on the host (root): the real kairosd binary
// refusing bad --dataplane-config files before it loads anything, and the
// cross-process path: DataplaneService (AF_XDP on a veth between
// namespaces) plus the kairos-echo app in ANOTHER process, attached to the
// app's ring region by its shared-memory name.
#include "child_process.hpp"
#include "kernel_echo.hpp"
#include "netns.hpp"
#include "txq_by_port.skel.h"

#include "dataplane_status.hpp"

#include <kairos/kairosd/metrics_text.hpp>
#include <kairos/relay/service.hpp>

#include <bpf/libbpf.h>
#include <net/if.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kairos::dp {
namespace {

using status::DataplaneInfo;
using status::MetricsFormat;
using status::render_metrics;
using status::Snapshot;

using testing::Child;
using testing::InNetns;
using testing::VethPair;

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/kairos-dp-svc-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0 || write(fd, text.data(), text.size()) != ssize_t(text.size())) return "";
  close(fd);
  return path;
}

// promtool check metrics over a rendering of the service's counters; its
// exit status, with its output in *out.
int promtool(const std::string& metrics, std::string* out) {
  const std::string path = write_temp(metrics);
  FILE* p = popen(("promtool check metrics < '" + path + "' 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) *out += buf;
  const int st = pclose(p);
  unlink(path.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool shm_exists(const std::string& name) {
  return access(("/dev/shm/" + name).c_str(), F_OK) == 0;
}

TEST(KairosdDataplaneConfig, BadFilesStopKairosdBeforeAnythingStarts) {
  const std::string shm = "kairos-dp-kd-" + std::to_string(getpid());
  const struct {
    std::string text, want;
  } cases[] = {
      {"interface lo\nqueues many\napp 10.0.0.1:7 shm=" + shm + "\n", ":2: queues wants a number"},
      {"interface lo\napp 10.0.0.1:7 shm=" + shm + " kthreads=0\n", ":2: kthreads wants"},
      {"bogus\n", ":1: unknown keyword 'bogus'"},
      {"interface lo\n", ": no 'app' line"},
      // kairosd never links DPDK (see packetio/CMakeLists.txt).
      {"interface lo\nbackend dpdk\ndpdk-arg --no-pci\napp 10.0.0.1:7 shm=" + shm + "\n",
       "built without DPDK"},
      // Parses, but the device does not exist: the backend fails and the
      // region made before it is removed again.
      {"interface kdp-none0\nbackend afxdp\napp 10.0.0.1:7 shm=" + shm + "\n", "kdp-none0"},
      {"interface lo\napp 10.0.0.1:7 mode=direct\n", ":2: mode=direct needs pin="},
      {"interface lo\napp 10.0.0.1:7 mode=direct pin=/sys/fs/bpf/" + shm + "\n"
       "app 10.0.0.1:8 shm=" + shm + "\n", ":2: a mode=direct app without queues= owns every queue"},
      // Two direct apps on one queue, and on one pin directory.
      {"interface lo\napp 10.0.0.1:7 mode=direct pin=/sys/fs/bpf/" + shm + " queues=0\n"
       "app 10.0.0.1:8 mode=direct pin=/sys/fs/bpf/" + shm + "-b queues=0\n",
       ":3: queue 0 already belongs to the mode=direct app on line 2"},
      {"interface lo\napp 10.0.0.1:7 mode=direct pin=/sys/fs/bpf/" + shm + " queues=0\n"
       "app 10.0.0.1:8 mode=direct pin=/sys/fs/bpf/" + shm + " queues=1\n",
       ":3: pin directory /sys/fs/bpf/" + shm + " collides"},
      // Parses, but lo has one queue: named with its line, nothing left.
      {"interface lo\napp 10.0.0.1:7 mode=direct pin=/sys/fs/bpf/" + shm + " queues=1\n",
       "line 2: queues=1, but lo has 1 queues"},
      {"interface kdp-none0\napp 10.0.0.1:7 mode=direct pin=/sys/fs/bpf/" + shm + "\n",
       "kdp-none0"},
  };
  for (const auto& c : cases) {
    const std::string path = write_temp(c.text);
    ASSERT_FALSE(path.empty());
    Child kd({KAIROSD_BIN, "--dataplane-config", path});
    ASSERT_GT(kd.pid, 0);
    const std::string out = kd.read_until("\n\n");  // until EOF
    EXPECT_EQ(kd.wait_exit(), 2) << out;
    EXPECT_NE(out.find("kairosd: dataplane: "), std::string::npos) << out;
    EXPECT_NE(out.find(c.want), std::string::npos) << "wanted '" << c.want << "' in: " << out;
    if (c.want.rfind(":", 0) == 0) {  // line-numbered errors name the file too
      EXPECT_NE(out.find(path + c.want), std::string::npos) << out;
    }
    // Never half-configured: nothing of the dataplane (and no scheduler:
    // it exits before loading one) is left behind.
    EXPECT_FALSE(shm_exists(shm));
    EXPECT_NE(access(("/sys/fs/bpf/" + shm).c_str(), F_OK), 0);  // no pins either
    EXPECT_EQ(out.find("scheduler"), std::string::npos) << out;
    unlink(path.c_str());
  }
  Child missing({KAIROSD_BIN, "--dataplane-config", "/nonexistent/dp.conf"});
  const std::string out = missing.read_until("\n\n");
  EXPECT_EQ(missing.wait_exit(), 2);
  EXPECT_NE(out.find("/nonexistent/dp.conf: cannot read"), std::string::npos) << out;
}

// kairos-echo's command line: every bad flag is a clear error (exit 2);
// a region that never appears is one too (exit 1), after --wait-s.
TEST(KairosEcho, BadFlagsAndAMissingRegion) {
  const struct {
    std::vector<std::string> args;
    int rc;
    std::string want;
  } cases[] = {
      {{}, 2, "--shm NAME is required"},
      {{"--shm", "x", "--direct", "/sys/fs/bpf/x"}, 2, "--shm and --direct exclude each other"},
      {{"--shm", "x", "--poll"}, 2, "--poll applies to --direct only"},
      {{"--direct", "/sys/fs/bpf/x", "--servers", "2"}, 2, "--servers applies to --shm only"},
      {{"--direct", ""}, 2, "--direct wants a pin directory"},
      {{"--shm"}, 2, "missing value after --shm"},
      {{"--shm", "x", "--servers", "0"}, 2, "--servers wants 1..1024"},
      {{"--shm", "x", "--servers", "3z"}, 2, "--servers wants 1..1024"},
      {{"--shm", "x", "--wait-s", "-1"}, 2, "--wait-s wants 0..3600"},
      {{"--bogus", "1"}, 2, "unknown option --bogus"},
      {{"--shm", "../x", "--wait-s", "0"}, 1, "bad shared-memory name '../x'"},
      {{"--shm", "kairos-dp-none-" + std::to_string(getpid()), "--wait-s", "0.1"}, 1,
       "open /dev/shm/kairos-dp-none-"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv{KAIROS_ECHO_BIN};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Child echo(argv);
    ASSERT_GT(echo.pid, 0);
    const std::string out = echo.read_until("\n\n");  // until EOF
    EXPECT_EQ(echo.wait_exit(), c.rc) << out;
    EXPECT_NE(out.find(c.want), std::string::npos) << "wanted '" << c.want << "' in: " << out;
  }
}

TEST(DataplaneService, FailsWholeAndLeavesNothingBehind) {
  const std::string shm = "kairos-dp-svc-" + std::to_string(getpid());
  testing::Netns ns;
  InNetns in(ns);
  auto cfg = parse_service_config(
      "interface kdp-none0\napp 10.0.0.1:7 shm=" + shm + "\n", "t");
  EXPECT_THROW(DataplaneService s(cfg), std::exception);
  EXPECT_FALSE(shm_exists(shm));
  // An existing name is never taken over (nor removed).
  auto squatter = ShmRegion::create_named(shm, 1, 8);
  auto kcfg = parse_service_config(
      "backend kernel\napp 127.0.0.1:7 shm=" + shm + "\n", "t");
  try {
    DataplaneService s(kcfg);
    ADD_FAILURE() << "took over an existing region";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("exists"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(shm_exists(shm));
}

// The allocator's hook: grants name kthreads of the app; anything else is
// refused and changes nothing.
TEST(DataplaneService, SetActiveChecksItsInput) {
  const std::string shm = "kairos-dp-grant-" + std::to_string(getpid());
  testing::Netns ns;
  ASSERT_EQ(ns.sh("ip link set lo up"), 0);
  InNetns in(ns);
  DataplaneService s(parse_service_config(
      "backend kernel\napp 127.0.0.1:7301 shm=" + shm + " kthreads=2\n", "t"));
  EXPECT_EQ(s.backend().name(), "kernel-udp");
  EXPECT_EQ(s.nr_apps(), 1u);
  EXPECT_TRUE(shm_exists(shm));
  EXPECT_THROW(s.set_active(1, {0}), std::out_of_range);     // no such app
  EXPECT_THROW(s.set_active(0, {0, 2}), std::out_of_range);  // no kthread 2
  s.start();
  s.set_active(0, {1});
  // Applied by the loop at its next poll: every bucket on kthread 1.
  bool moved = false;
  for (int i = 0; i < 200 && !moved; i++) {
    const auto t = s.dataplane().table(0);
    moved = t.active() == std::vector<std::uint32_t>{1};
    if (!moved) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(moved);
  EXPECT_NE(s.describe().find("app 127.0.0.1:7301 shm=" + shm), std::string::npos);
  EXPECT_THROW(s.start(), std::logic_error);  // already running
  s.stop();
}

// kairosd's allocator hook: an app with cgroup= follows the cores its
// cgroup holds (unknown: left alone); an app without it is never touched.
TEST(DataplaneService, FollowsTheGrantsOfItsCgroup) {
  const std::string shm = "kairos-dp-follow-" + std::to_string(getpid());
  testing::Netns ns;
  ASSERT_EQ(ns.sh("ip link set lo up"), 0);
  InNetns in(ns);
  DataplaneService s(parse_service_config(
      "backend kernel\napp 127.0.0.1:7302 shm=" + shm + "a kthreads=3 cgroup=lc\n"
      "app 127.0.0.1:7303 shm=" + shm + "b kthreads=2\n", "t"));
  using V = std::vector<std::uint32_t>;
  std::map<std::string, std::optional<unsigned>> grants;
  std::vector<std::string> asked;
  auto granted = [&](const std::string& cg) {
    asked.push_back(cg);
    return grants[cg];
  };
  EXPECT_EQ(s.follow_grants(granted), 0u);  // lc unknown yet: all kthreads stay
  EXPECT_EQ(s.active(0), (V{0, 1, 2}));
  EXPECT_EQ(asked, std::vector<std::string>{"lc"});  // only apps with cgroup=
  grants["lc"] = 1;
  EXPECT_EQ(s.follow_grants(granted), 1u);
  EXPECT_EQ(s.active(0), V{0});
  EXPECT_EQ(s.follow_grants(granted), 0u);  // no change, no set_active
  grants["lc"] = 0;
  EXPECT_EQ(s.follow_grants(granted), 0u);  // still kthread 0 (never none)
  grants["lc"] = 2;
  EXPECT_EQ(s.follow_grants(granted), 1u);
  EXPECT_EQ(s.active(0), (V{0, 1}));
  EXPECT_EQ(s.active(1), (V{0, 1}));  // the other app: untouched
  s.start();  // the loop applies the last grant
  bool applied = false;
  for (int i = 0; i < 400 && !applied; i++) {
    applied = s.dataplane().table(0).active() == V{0, 1};
    if (!applied) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(applied);
  EXPECT_NE(s.describe().find("cgroup=lc active=0,1"), std::string::npos) << s.describe();
  s.stop();
}

using testing::recv_text;

// Sends m on fd and waits for one reply (nullopt: none within 3 s).
std::optional<std::string> echo(int fd, const std::string& m) {
  EXPECT_EQ(send(fd, m.data(), m.size(), 0), ssize_t(m.size())) << m;
  return recv_text(fd);
}

// A burst: per_flow datagrams "b<flow> <seq>" on every flow, without
// waiting for replies. Returns how many were sent.
unsigned send_burst(const std::vector<int>& fds, unsigned per_flow) {
  unsigned sent = 0;
  for (unsigned s = 0; s < per_flow; s++)
    for (unsigned f = 0; f < fds.size(); f++) {
      const std::string m = "b" + std::to_string(f) + " " + std::to_string(s);
      EXPECT_EQ(send(fds[f], m.data(), m.size(), 0), ssize_t(m.size())) << m;
      sent++;
    }
  return sent;
}

TEST(DataplaneService, EchoAppInAnotherProcessAttachesByName) {
  VethPair veth(2);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  const std::string shm = "kairos-dp-echo-" + std::to_string(getpid());
  std::unique_ptr<DataplaneService> svc;
  {
    InNetns in(veth.server);
    // No spinning and a 30 s bound on the idle sleep: each reply gets
    // out only if the app's TX push rings the doorbell it took from this
    // process (pidfd_getfd), else recv_text's 3 s run out.
    DataplaneConfig dcfg;
    dcfg.idle_spins = 0;
    dcfg.idle_block_us = 30'000'000;
    svc = std::make_unique<DataplaneService>(
        parse_service_config("interface " + veth.server_if + "\nqueues 2\nbackend afxdp\n"
                             "app 10.77.0.1:7300 shm=" + shm + " kthreads=2 slots=512\n",
                             "test"),
        dcfg);
  }
  EXPECT_EQ(svc->backend().name(), "af_xdp");
  svc->start();
  // The app is another process: it knows only the region's name.
  Child app({KAIROS_ECHO_BIN, "--shm", shm, "--servers", "4"});
  ASSERT_GT(app.pid, 0);
  const std::string ready = app.read_until("\n");
  ASSERT_NE(ready.find("kairos-echo ready 10.77.0.1:7300 kthreads=2"), std::string::npos)
      << ready;
  const std::string tag = "|" + std::to_string(app.pid);

  auto fds = testing::connected_udp_clients(veth.client, veth.server_ip, 7300, 8);
  unsigned sent = 0;
  for (unsigned s = 0; s < 4; s++)
    for (unsigned f = 0; f < fds.size(); f++) {
      const std::string m = "f" + std::to_string(f) + " s" + std::to_string(s);
      sent++;
      auto r = echo(fds[f], m);
      ASSERT_TRUE(r) << "no echo for " << m << ": " << svc->describe();
      EXPECT_EQ(*r, m + tag);  // answered by the other process
    }
  // A bounded burst on every flow: nothing lost.
  constexpr unsigned kBurst = 32;
  sent += send_burst(fds, kBurst);
  for (unsigned f = 0; f < fds.size(); f++) {
    std::set<std::string> want, got;
    for (unsigned s = 0; s < kBurst; s++)
      want.insert("b" + std::to_string(f) + " " + std::to_string(s) + tag);
    for (unsigned s = 0; s < kBurst; s++) {
      auto r = recv_text(fds[f]);
      if (!r) break;
      got.insert(*r);
    }
    EXPECT_EQ(got, want) << "flow " << f << ": " << svc->describe();
  }
  const AppStats a = svc->app_stats(0);
  EXPECT_EQ(a.rx_delivered, sent) << svc->describe();
  EXPECT_EQ(a.tx_sent, sent) << svc->describe();
  EXPECT_EQ(a.rx_ring_full + a.rx_no_kthread + a.rx_oversize + a.tx_dropped, 0u);
  // The status snapshot shows the backend's own XDP program, per reason
  // and for the app.
  const status::DataplaneInfo info = dataplane_info(*svc);
  EXPECT_EQ(info.backend, "af_xdp");
  EXPECT_EQ(info.xdp.at("redirect"), sent);
  ASSERT_EQ(info.apps.size(), 1u);
  EXPECT_EQ(info.apps[0].mode, "relayed");
  EXPECT_EQ(info.apps[0].rx_delivered, sent);
  ASSERT_TRUE(info.apps[0].xdp);
  EXPECT_EQ(info.apps[0].xdp->redirected, sent);
  EXPECT_EQ(info.apps[0].xdp->no_socket, 0u);
  // Ordinary traffic still reaches the server's kernel.
  EXPECT_EQ(veth.client.sh("ping -c 1 -W 2 " + veth.server_ip + " >/dev/null"), 0);

  // The app stops cleanly and counted the same datagrams.
  kill(app.pid, SIGTERM);
  const std::string bye = app.read_until("rx_overflow=");
  EXPECT_EQ(app.wait_exit(), 0) << bye;
  EXPECT_NE(bye.find("rx_delivered=" + std::to_string(sent) + " tx_sent=" +
                     std::to_string(sent) + " rx_no_socket=0 rx_overflow=0"),
            std::string::npos)
      << bye;
  EXPECT_GT(svc->dataplane().doorbell_sleeps(), 0u);
  for (int fd : fds) close(fd);
  svc.reset();
  EXPECT_FALSE(shm_exists(shm));  // the service unlinked the region's name
}

// The app can tell that the dataplane stopped (ring_abi.h "Liveness"):
// kairos-echo notices the stopped region by itself and exits 3.
TEST(DataplaneService, AppNoticesThatTheDataplaneStopped) {
  VethPair veth(1);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  const std::string shm = "kairos-dp-stop-" + std::to_string(getpid());
  std::unique_ptr<DataplaneService> svc;
  {
    InNetns in(veth.server);
    svc = std::make_unique<DataplaneService>(parse_service_config(
        "interface " + veth.server_if + "\nbackend afxdp\n"
        "app 10.77.0.1:7301 shm=" + shm + " kthreads=1 slots=64\n",
        "test"));
  }
  svc->start();
  Child app({KAIROS_ECHO_BIN, "--shm", shm, "--servers", "1"});
  ASSERT_GT(app.pid, 0);
  const std::string ready = app.read_until("\n");
  ASSERT_NE(ready.find("kairos-echo ready 10.77.0.1:7301"), std::string::npos) << ready;
  svc.reset();  // kairosd's dataplane goes away; the app is not told otherwise
  const std::string bye = app.read_until("rx_overflow=");
  EXPECT_NE(bye.find("the dataplane stopped"), std::string::npos) << bye;
  EXPECT_EQ(app.wait_exit(), 3) << bye;
}

// kairosd restarting its dataplane while clients keep sending: the new
// service binds the same device queues the old one closed a moment before
// (the kernel releases them in deferred work after close) and serves again.
// Rounds 0-3 stop cleanly and start again at once; round 4 follows a
// dataplane process killed with SIGKILL (no destructor closed anything):
// its ring region is left behind, and the new service replaces it.
// Datagrams sent while no service runs are lost (UDP), never answered by
// the wrong app; every probe after a restart is answered.
TEST(DataplaneService, RestartsUnderTrafficOnTheSameQueues) {
  VethPair veth(2);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  const std::string shm = "kairos-dp-restart-" + std::to_string(getpid());
  const auto config = [&](const std::string& name) {
    return parse_service_config("interface " + veth.server_if + "\nqueues 2\nbackend afxdp\n"
                                "app 10.77.0.1:7330 shm=" + name + " kthreads=2 slots=256\n",
                                "restart");
  };
  // Background load: 4 flows, a datagram on each every millisecond, replies
  // drained without waiting, for the whole test.
  std::atomic<bool> stop{false};
  std::atomic<unsigned> bg_sent{0}, bg_answered{0};
  std::thread load([&, fds = testing::connected_udp_clients(veth.client, veth.server_ip, 7330, 4)] {
    while (!stop) {
      for (int fd : fds) {
        const std::string m = "bg " + std::to_string(bg_sent.load());
        if (send(fd, m.data(), m.size(), MSG_DONTWAIT) == ssize_t(m.size())) bg_sent++;
        char buf[256];
        while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) bg_answered++;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int fd : fds) close(fd);
  });
  auto probes = testing::connected_udp_clients(veth.client, veth.server_ip, 7330, 6);
  // Every probe flow answered by the app with this tag (stale replies of
  // an earlier round are skipped); false after 10 s.
  const auto all_answered = [&](const std::string& tag, int round) {
    for (unsigned f = 0; f < probes.size(); f++) {
      const std::string m = "r" + std::to_string(round) + " f" + std::to_string(f);
      bool ok = false;
      for (int tries = 0; tries < 20 && !ok; tries++) {
        send(probes[f], m.data(), m.size(), 0);
        for (auto r = recv_text(probes[f], 500); r && !ok; r = recv_text(probes[f], 100))
          ok = *r == m + tag;
      }
      if (!ok) return false;
    }
    return true;
  };
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; round++) {
    const std::string name = shm + "-" + std::to_string(round);
    std::unique_ptr<DataplaneService> svc;
    pid_t dead = -1;
    if (round == kRounds - 1) {
      // The dataplane of a process that dies: SIGKILL under traffic.
      int ready[2];
      ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
      dead = fork();
      ASSERT_GE(dead, 0);
      if (dead == 0) {
        if (setns(veth.server.fd(), CLONE_NEWNET)) _exit(10);
        try {
          (new DataplaneService(config(name)))->start();
        } catch (...) {
          _exit(11);
        }
        (void)!write(ready[1], "r", 1);
        pause();
        _exit(0);
      }
      close(ready[1]);
      char c = 0;
      ASSERT_EQ(read(ready[0], &c, 1), 1) << "the dataplane process did not start";
      close(ready[0]);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ASSERT_EQ(kill(dead, SIGKILL), 0);
      ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
    }
    try {
      InNetns in(veth.server);
      svc = std::make_unique<DataplaneService>(config(name));
    } catch (const std::exception& e) {
      FAIL() << "round " << round << ": the restarted dataplane did not start: " << e.what();
    }
    if (dead > 0) {  // it left its region behind; the name was taken over
      EXPECT_NE(svc->describe().find("shm=" + name + " delivered=0"), std::string::npos);
      EXPECT_NE(svc->describe().find("(replaced the region left by dead pid " +
                                     std::to_string(dead) + ")"),
                std::string::npos) << svc->describe();
    }
    svc->start();
    Child app({KAIROS_ECHO_BIN, "--shm", name, "--servers", "2"});
    ASSERT_GT(app.pid, 0);
    const std::string ready = app.read_until("\n");
    ASSERT_NE(ready.find("kairos-echo ready 10.77.0.1:7330"), std::string::npos) << ready;
    EXPECT_TRUE(all_answered("|" + std::to_string(app.pid), round))
        << "round " << round << ": " << svc->describe();
    kill(app.pid, SIGTERM);
    EXPECT_EQ(app.wait_exit(), 0) << app.read_until("rx_overflow=");
    svc.reset();  // and the next round starts at once, under traffic
  }
  stop = true;
  load.join();
  for (int fd : probes) close(fd);
  std::printf("background: %u sent, %u answered across %d restarts\n", bg_sent.load(),
              bg_answered.load(), kRounds);
  EXPECT_GT(bg_answered.load(), 0u);
}

// Direct mode across processes: the service (kairosd's side) only steers
// and pins the XSKMAP; kairos-echo --direct, another process in the
// server's namespace, owns one AF_XDP socket per queue and answers.
bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string direct_config(const VethPair& veth, const std::string& pin, std::uint16_t port) {
  return "interface " + veth.server_if + "\nqueues 2\nbackend afxdp\napp 10.77.0.1:" +
         std::to_string(port) + " mode=direct pin=" + pin + "\n";
}

TEST(DataplaneService, DirectAppInAnotherProcessOwnsEveryQueue) {
  VethPair veth(2);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  const std::string top = "/sys/fs/bpf/kairos-test-" + std::to_string(getpid());
  const std::string pin = top + "/echo";
  constexpr std::uint16_t kPort = 7310, kKernelPort = 7311;
  std::unique_ptr<DataplaneService> svc;
  std::unique_ptr<udpload::KernelEcho> kernel_echo;
  {
    InNetns in(veth.server);
    // The app first: no pins yet, a clear error (exit 1).
    Child early({KAIROS_ECHO_BIN, "--direct", pin, "--wait-s", "0"});
    const std::string e = early.read_until("\n\n");
    EXPECT_EQ(early.wait_exit(), 1) << e;
    EXPECT_NE(e.find("cannot open " + pin + "/info"), std::string::npos) << e;
    EXPECT_NE(e.find("is kairosd running with 'app ... mode=direct pin=" + pin), std::string::npos)
        << e;
    svc = std::make_unique<DataplaneService>(
        parse_service_config(direct_config(veth, pin, kPort), "test"));
    kernel_echo = std::make_unique<udpload::KernelEcho>(
        *Endpoint::parse("10.77.0.1:" + std::to_string(kKernelPort)), 1);
  }
  EXPECT_TRUE(svc->direct());
  EXPECT_THROW(svc->backend(), std::logic_error);
  EXPECT_THROW(svc->set_active(0, {0}), std::logic_error);
  EXPECT_TRUE(exists(pin + "/xsks_map"));
  EXPECT_TRUE(exists(pin + "/info"));
  svc->start();
  // A second service on the same pins is refused and removes nothing.
  {
    VethPair other(1);
    ASSERT_TRUE(other.ok());
    InNetns in(other.server);
    try {
      DataplaneService s2(parse_service_config(direct_config(other, pin, kPort), "t2"));
      ADD_FAILURE() << "took over existing pins";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(pin + "/xsks_map already exists"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_TRUE(exists(pin + "/info"));
  // Wrong places: a path with no pins, one outside bpffs, the wrong
  // network namespace (this thread's: the device is not here).
  for (const auto& [args, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--direct", top + "/nope"}, "cannot open " + top + "/nope/info"},
           {{"--direct", "/tmp"}, "cannot open /tmp/info"},
           {{"--direct", pin}, "is not in this network namespace"}}) {
    std::vector<std::string> argv{KAIROS_ECHO_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--wait-s", "0"});
    Child bad(argv);
    const std::string out = bad.read_until("\n\n");
    EXPECT_EQ(bad.wait_exit(), 1) << out;
    EXPECT_NE(out.find(want), std::string::npos) << "wanted '" << want << "' in: " << out;
  }

  std::unique_ptr<Child> app;
  {
    InNetns in(veth.server);  // the child starts in the server's namespace
    app = std::make_unique<Child>(std::vector<std::string>{KAIROS_ECHO_BIN, "--direct", pin});
  }
  ASSERT_GT(app->pid, 0);
  const std::string ready = app->read_until("\n");
  ASSERT_NE(ready.find("kairos-echo ready 10.77.0.1:7310 direct queues=2"), std::string::npos)
      << ready;
  const std::string tag = "|" + std::to_string(app->pid) + ":";

  auto fds = testing::connected_udp_clients(veth.client, veth.server_ip, kPort, 32);
  std::vector<std::set<std::string>> queue_of(fds.size());
  std::set<std::string> queues;
  unsigned sent = 0;
  for (unsigned s = 0; s < 3; s++)
    for (unsigned f = 0; f < fds.size(); f++) {
      const std::string m = "f" + std::to_string(f) + " s" + std::to_string(s);
      sent++;
      auto r = echo(fds[f], m);
      ASSERT_TRUE(r) << "no echo for " << m << ": " << svc->describe();
      ASSERT_EQ(r->rfind(m + tag, 0), 0u) << *r;  // answered by the other process
      const std::string q = r->substr(m.size() + tag.size());
      queue_of[f].insert(q);
      queues.insert(q);
    }
  EXPECT_EQ(queues, (std::set<std::string>{"0", "1"})) << "32 flows: both queues answer";
  for (unsigned f = 0; f < fds.size(); f++)
    EXPECT_EQ(queue_of[f].size(), 1u) << "flow " << f << " moved between queues";
  // A bounded burst on every flow: nothing lost.
  constexpr unsigned kBurst = 16;
  sent += send_burst(fds, kBurst);
  unsigned got = 0;
  for (unsigned f = 0; f < fds.size(); f++)
    for (unsigned s = 0; s < kBurst; s++) got += recv_text(fds[f]).has_value();
  EXPECT_EQ(got, fds.size() * kBurst) << svc->describe();
  const kairos_xdp_app_stats st = svc->direct_steering()->app_stats(0);
  EXPECT_EQ(st.redirected, sent);
  EXPECT_EQ(st.no_socket, 0u);
  EXPECT_NE(svc->describe().find("mode=direct"), std::string::npos) << svc->describe();
  // Ordinary traffic: ping and kernel UDP on another port.
  EXPECT_EQ(veth.client.sh("ping -c 1 -W 2 " + veth.server_ip + " >/dev/null"), 0);
  auto kfd = testing::connected_udp_clients(veth.client, veth.server_ip, kKernelPort, 1);
  ASSERT_EQ(send(kfd[0], "kernel", 6, 0), 6);
  EXPECT_EQ(recv_text(kfd[0]), "kernel");
  close(kfd[0]);

  // The app stops cleanly and counted the same datagrams; its sockets
  // leave the XSKMAP, so the port passes to the kernel again.
  kill(app->pid, SIGTERM);
  const std::string bye = app->read_until("per_queue=");
  EXPECT_EQ(app->wait_exit(), 0) << bye;
  EXPECT_NE(bye.find("rx=" + std::to_string(sent) + " tx=" + std::to_string(sent) +
                     " dropped=0"),
            std::string::npos)
      << bye;
  ASSERT_EQ(send(fds[0], "late", 4, 0), 4);
  EXPECT_FALSE(recv_text(fds[0], 300));  // no socket: the kernel has no listener
  EXPECT_GE(svc->direct_steering()->app_stats(0).no_socket, 1u);

  // An app still running when the service stops notices and exits 3.
  {
    InNetns in(veth.server);
    app = std::make_unique<Child>(
        std::vector<std::string>{KAIROS_ECHO_BIN, "--direct", pin, "--poll"});
  }
  ASSERT_NE(app->read_until("\n").find("direct queues=2"), std::string::npos);
  for (int fd : fds) close(fd);
  svc.reset();
  const std::string gone = app->read_until("per_queue=");
  EXPECT_NE(gone.find("the dataplane stopped"), std::string::npos) << gone;
  EXPECT_EQ(app->wait_exit(), 3) << gone;
  // The pins and the directories the service made are gone.
  EXPECT_FALSE(exists(pin + "/info"));
  EXPECT_FALSE(exists(pin));
  EXPECT_FALSE(exists(top));
}

// A service that dies without cleaning up leaves its pins, but its
// program detaches with its process: the app refuses the stale pins, a
// new service refuses to take them over, and they go by hand.
TEST(DataplaneService, StalePinsOfADeadServiceAreRefused) {
  VethPair veth(1);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  const std::string top = "/sys/fs/bpf/kairos-stale-" + std::to_string(getpid());
  const std::string cfg = "interface " + veth.server_if + "\nbackend afxdp\n"
                          "app 10.77.0.1:7320 mode=direct pin=" + top + "\n";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the "kairosd" that dies: no destructors run
    if (setns(veth.server.fd(), CLONE_NEWNET)) _exit(10);
    try {
      new DataplaneService(parse_service_config(cfg, "dead"));
    } catch (...) {
      _exit(11);
    }
    _exit(0);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  ASSERT_TRUE(exists(top + "/info"));  // left behind
  std::unique_ptr<Child> app;
  {
    InNetns in(veth.server);
    app = std::make_unique<Child>(
        std::vector<std::string>{KAIROS_ECHO_BIN, "--direct", top, "--wait-s", "0"});
  }
  const std::string out = app->read_until("\n\n");
  EXPECT_EQ(app->wait_exit(), 1) << out;
  EXPECT_NE(out.find("is no longer attached to kdps0: stale pins of kairosd pid " +
                     std::to_string(pid)),
            std::string::npos)
      << out;
  {
    InNetns in(veth.server);
    try {
      DataplaneService s(parse_service_config(cfg, "t"));
      ADD_FAILURE() << "took over stale pins";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(exists(top + "/info"));  // never removed by someone else
  EXPECT_EQ(unlink((top + "/info").c_str()), 0);
  EXPECT_EQ(unlink((top + "/xsks_map").c_str()), 0);
  EXPECT_EQ(rmdir(top.c_str()), 0);
}

// Several apps on one interface (issue 7): each mode=direct app has its
// own XSKMAP and owns the device queues of its queues= (the kernel binds
// one AF_XDP socket per queue); kairosd's relayed sockets take the rest.
// On veth a flow's rx queue is the client socket's TX queue (a per-socket
// hash): a flow that lands on an app's queue is answered by that app, one
// that lands on another app's queue passes to the kernel, which has no
// socket on the port (ICMP port unreachable, no reply), and is never
// taken by the other app. A real NIC steers an app's port to its queues
// (ntuple rules, RSS contexts).
struct Probed {
  unsigned answered = 0, unanswered = 0;
  std::vector<int> answered_fds;
};

// rounds requests on every flow; a reply must be m + tag + one of tails.
// A flow is answered in every round or in none (its queue never moves).
Probed probe(const std::vector<int>& fds, const std::string& name, const std::string& tag,
             const std::set<std::string>& tails, unsigned rounds = 2) {
  Probed p;
  std::vector<int> state(fds.size(), -1);
  for (unsigned r = 0; r < rounds; r++)
    for (unsigned f = 0; f < fds.size(); f++) {
      int e = 0;  // drop an ICMP error left from the last round
      socklen_t len = sizeof e;
      getsockopt(fds[f], SOL_SOCKET, SO_ERROR, &e, &len);
      const std::string m = name + " f" + std::to_string(f) + " r" + std::to_string(r);
      EXPECT_EQ(send(fds[f], m.data(), m.size(), 0), ssize_t(m.size())) << m;
      const auto reply = recv_text(fds[f], 1000);
      const int got = reply.has_value();
      if (got) {
        EXPECT_EQ(reply->rfind(m + tag, 0), 0u) << "wrong app answered " << m << ": " << *reply;
        if (reply->rfind(m + tag, 0) == 0) {
          EXPECT_EQ(tails.count(reply->substr(m.size() + tag.size())), 1u) << *reply;
        }
      }
      if (state[f] < 0) state[f] = got;
      EXPECT_EQ(state[f], got) << "flow " << f << " of " << name << " changed queue";
      (got ? p.answered : p.unanswered)++;
      if (got && r == 0) p.answered_fds.push_back(fds[f]);
    }
  return p;
}

// per_flow datagrams on every fd, then every reply back (none lost).
void burst_all_answered(const std::vector<int>& fds, unsigned per_flow, const std::string& why) {
  send_burst(fds, per_flow);
  unsigned got = 0;
  for (int fd : fds)
    for (unsigned s = 0; s < per_flow; s++) got += recv_text(fd).has_value();
  EXPECT_EQ(got, fds.size() * per_flow) << why;
}

TEST(DataplaneService, TwoDirectAppsShareOneInterfaceOnTheirOwnQueues) {
  VethPair veth(2);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  // Every passed frame gets its ICMP answer at once (no 1 s rate limit).
  ASSERT_EQ(veth.server.sh("sysctl -qw net.ipv4.icmp_ratelimit=0"), 0);
  const std::string top = "/sys/fs/bpf/kairos-two-" + std::to_string(getpid());
  const std::string pin_a = top + "/a", pin_b = top + "/b";
  constexpr std::uint16_t kPortA = 7330, kPortB = 7331, kKernelPort = 7332;
  std::unique_ptr<DataplaneService> svc;
  std::unique_ptr<udpload::KernelEcho> kernel_echo;
  std::unique_ptr<Child> a, b;
  {
    InNetns in(veth.server);
    svc = std::make_unique<DataplaneService>(parse_service_config(
        "interface " + veth.server_if + "\nqueues 2\nbackend afxdp\n"
        "app 10.77.0.1:7330 mode=direct pin=" + pin_a + " queues=0\n"
        "app 10.77.0.1:7331 mode=direct pin=" + pin_b + " queues=1\n",
        "test"));
    kernel_echo = std::make_unique<udpload::KernelEcho>(
        *Endpoint::parse("10.77.0.1:" + std::to_string(kKernelPort)), 1);
    svc->start();
    a = std::make_unique<Child>(std::vector<std::string>{KAIROS_ECHO_BIN, "--direct", pin_a});
    b = std::make_unique<Child>(std::vector<std::string>{KAIROS_ECHO_BIN, "--direct", pin_b});
  }
  EXPECT_TRUE(svc->direct());
  EXPECT_EQ(svc->direct_queues(0), std::vector<std::uint32_t>{0});
  EXPECT_EQ(svc->direct_queues(1), std::vector<std::uint32_t>{1});
  EXPECT_THROW(svc->app_stats(0), std::logic_error);
  ASSERT_GT(a->pid, 0);
  ASSERT_GT(b->pid, 0);
  std::string ready = a->read_until("\n");
  ASSERT_NE(ready.find("kairos-echo ready 10.77.0.1:7330 direct queues=1"), std::string::npos)
      << ready;
  ready = b->read_until("\n");
  ASSERT_NE(ready.find("kairos-echo ready 10.77.0.1:7331 direct queues=1"), std::string::npos)
      << ready;
  // A second process on a's pins cannot take a's queue: refused after
  // the bind's bounded wait (AfXdpConfig::bind_busy_wait).
  {
    InNetns in(veth.server);
    Child dup({KAIROS_ECHO_BIN, "--direct", pin_a, "--wait-s", "0"});
    const std::string out = dup.read_until("\n\n");
    EXPECT_EQ(dup.wait_exit(), 1) << out;
    EXPECT_NE(out.find("queue 0 of kdps0: still bound to another AF_XDP socket after"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("another process or app holds it"), std::string::npos) << out;
  }

  // 24 flows per app: odds that none lands on the app's queue 2^-24.
  auto fa = testing::connected_udp_clients(veth.client, veth.server_ip, kPortA, 24);
  auto fb = testing::connected_udp_clients(veth.client, veth.server_ip, kPortB, 24);
  const Probed pa = probe(fa, "a", "|" + std::to_string(a->pid) + ":", {"0"});
  const Probed pb = probe(fb, "b", "|" + std::to_string(b->pid) + ":", {"1"});
  EXPECT_GT(pa.answered, 0u) << svc->describe();
  EXPECT_GT(pb.answered, 0u) << svc->describe();
  // 48 flows on 2 queues: some land on the other app's queue (odds of
  // none: 2^-47); they pass to the kernel, never to the other app.
  EXPECT_GT(pa.unanswered + pb.unanswered, 0u);
  std::printf("app a: %u answered, %u passed; app b: %u answered, %u passed\n", pa.answered,
              pa.unanswered, pb.answered, pb.unanswered);
  const XdpSteering& x = *svc->direct_steering();
  EXPECT_EQ(x.app_stats(0).redirected, pa.answered) << svc->describe();
  EXPECT_EQ(x.app_stats(0).no_socket, pa.unanswered) << svc->describe();
  EXPECT_EQ(x.app_stats(1).redirected, pb.answered) << svc->describe();
  EXPECT_EQ(x.app_stats(1).no_socket, pb.unanswered) << svc->describe();
  // A bounded burst on each app's flows: nothing lost.
  constexpr unsigned kBurst = 16;
  burst_all_answered(pa.answered_fds, kBurst, svc->describe());
  burst_all_answered(pb.answered_fds, kBurst, svc->describe());
  const std::string d = svc->describe();
  EXPECT_NE(d.find("pin=" + pin_a + " redirected="), std::string::npos) << d;
  EXPECT_NE(d.find(" queues=1"), std::string::npos) << d;
  // Ordinary traffic: ping and kernel UDP on another port.
  EXPECT_EQ(veth.client.sh("ping -c 1 -W 2 " + veth.server_ip + " >/dev/null"), 0);
  auto kfd = testing::connected_udp_clients(veth.client, veth.server_ip, kKernelPort, 1);
  ASSERT_EQ(send(kfd[0], "kernel", 6, 0), 6);
  EXPECT_EQ(recv_text(kfd[0]), "kernel");
  close(kfd[0]);

  // a stops cleanly with its own count; b keeps serving its flows.
  const unsigned a_rx = pa.answered + static_cast<unsigned>(pa.answered_fds.size()) * kBurst;
  kill(a->pid, SIGTERM);
  const std::string bye = a->read_until("per_queue=");
  EXPECT_EQ(a->wait_exit(), 0) << bye;
  EXPECT_NE(bye.find("rx=" + std::to_string(a_rx) + " tx=" + std::to_string(a_rx) + " dropped=0"),
            std::string::npos)
      << bye;
  const Probed again = probe(pb.answered_fds, "b2", "|" + std::to_string(b->pid) + ":", {"1"}, 1);
  EXPECT_EQ(again.answered, pb.answered_fds.size());
  for (int fd : fa) close(fd);
  for (int fd : fb) close(fd);
  svc.reset();
  const std::string gone = b->read_until("per_queue=");
  EXPECT_NE(gone.find("the dataplane stopped"), std::string::npos) << gone;
  EXPECT_EQ(b->wait_exit(), 3) << gone;
  EXPECT_FALSE(exists(pin_a + "/info"));
  EXPECT_FALSE(exists(pin_b + "/xsks_map"));
  EXPECT_FALSE(exists(top));
}

TEST(DataplaneService, RelayedAndDirectAppsShareOneInterface) {
  VethPair veth(2);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  ASSERT_EQ(veth.server.sh("sysctl -qw net.ipv4.icmp_ratelimit=0"), 0);
  const std::string shm = "kairos-dp-mix-" + std::to_string(getpid());
  const std::string pin = "/sys/fs/bpf/kairos-mix-" + std::to_string(getpid());
  constexpr std::uint16_t kRelayed = 7340, kDirect = 7341;
  std::unique_ptr<DataplaneService> svc;
  std::unique_ptr<Child> direct;
  {
    InNetns in(veth.server);
    svc = std::make_unique<DataplaneService>(parse_service_config(
        "interface " + veth.server_if + "\nqueues 2\nbackend afxdp\n"
        "app 10.77.0.1:7340 shm=" + shm + " kthreads=1 slots=256\n"
        "app 10.77.0.1:7341 mode=direct pin=" + pin + " queues=1\n",
        "test"));
    svc->start();
    direct = std::make_unique<Child>(std::vector<std::string>{KAIROS_ECHO_BIN, "--direct", pin});
  }
  EXPECT_FALSE(svc->direct());
  EXPECT_EQ(svc->backend().name(), "af_xdp");
  EXPECT_EQ(svc->backend().stats().rx_per_queue.size(), 1u) << "kairosd's sockets: queue 0 only";
  EXPECT_THROW(svc->set_active(1, {0}), std::logic_error);
  EXPECT_THROW(svc->app_stats(1), std::logic_error);
  svc->set_active(0, {0});
  Child relayed({KAIROS_ECHO_BIN, "--shm", shm, "--servers", "1"});
  ASSERT_GT(relayed.pid, 0);
  ASSERT_GT(direct->pid, 0);
  std::string ready = relayed.read_until("\n");
  ASSERT_NE(ready.find("kairos-echo ready 10.77.0.1:7340"), std::string::npos) << ready;
  ready = direct->read_until("\n");
  ASSERT_NE(ready.find("kairos-echo ready 10.77.0.1:7341 direct queues=1"), std::string::npos)
      << ready;

  auto fr = testing::connected_udp_clients(veth.client, veth.server_ip, kRelayed, 24);
  auto fd = testing::connected_udp_clients(veth.client, veth.server_ip, kDirect, 24);
  const Probed pr = probe(fr, "r", "|" + std::to_string(relayed.pid), {""});
  const Probed pd = probe(fd, "d", "|" + std::to_string(direct->pid) + ":", {"1"});
  EXPECT_GT(pr.answered, 0u) << svc->describe();
  EXPECT_GT(pd.answered, 0u) << svc->describe();
  EXPECT_GT(pr.unanswered + pd.unanswered, 0u);
  std::printf("relayed: %u answered, %u passed; direct: %u answered, %u passed\n", pr.answered,
              pr.unanswered, pd.answered, pd.unanswered);
  const XdpSteering& x = *svc->direct_steering();
  EXPECT_EQ(x.app_stats(0).redirected, pr.answered) << svc->describe();
  EXPECT_EQ(x.app_stats(0).no_socket, pr.unanswered) << svc->describe();
  EXPECT_EQ(x.app_stats(1).redirected, pd.answered) << svc->describe();
  EXPECT_EQ(x.app_stats(1).no_socket, pd.unanswered) << svc->describe();
  // The relayed app's burst fits half its 256-slot ring however many of
  // the 24 flows landed on queue 0 (a burst over the ring's size is
  // dropped as ring_full by design, and 17 or more flows of 24 land there
  // in about 3% of runs).
  const unsigned r_burst =
      std::max(1u, 128u / static_cast<unsigned>(std::max<std::size_t>(1, pr.answered_fds.size())));
  constexpr unsigned kBurst = 16;
  burst_all_answered(pr.answered_fds, r_burst, svc->describe());
  burst_all_answered(pd.answered_fds, kBurst, svc->describe());
  const unsigned r_rx = pr.answered + static_cast<unsigned>(pr.answered_fds.size()) * r_burst;
  const AppStats st = svc->app_stats(0);
  EXPECT_EQ(st.rx_delivered, r_rx) << svc->describe();
  EXPECT_EQ(st.tx_sent, r_rx) << svc->describe();
  const std::string d = svc->describe();
  EXPECT_NE(d.find("shm=" + shm + " delivered=" + std::to_string(r_rx)), std::string::npos) << d;
  EXPECT_NE(d.find("pin=" + pin + " redirected="), std::string::npos) << d;
  // The status snapshot and the metrics endpoint show both apps' XDP
  // counters; only the relayed one has ring counters.
  const unsigned d_rx = pd.answered + static_cast<unsigned>(pd.answered_fds.size()) * kBurst;
  Snapshot snap;
  snap.dataplane = dataplane_info(*svc);
  const DataplaneInfo& info = *snap.dataplane;
  ASSERT_EQ(info.apps.size(), 2u);
  EXPECT_EQ(info.apps[0].mode, "relayed");
  EXPECT_EQ(info.apps[0].rx_delivered, r_rx);
  ASSERT_TRUE(info.apps[0].xdp);
  EXPECT_EQ(info.apps[0].xdp->redirected, r_rx);
  EXPECT_EQ(info.apps[0].xdp->no_socket, pr.unanswered);
  EXPECT_EQ(info.apps[1].mode, "direct");
  EXPECT_EQ(info.apps[1].shm, "");
  ASSERT_TRUE(info.apps[1].xdp);
  EXPECT_EQ(info.apps[1].xdp->redirected, d_rx);
  EXPECT_EQ(info.apps[1].xdp->no_socket, pd.unanswered);
  EXPECT_EQ(info.xdp.at("redirect"), r_rx + d_rx);
  const std::string m = render_metrics(snap, MetricsFormat::kPrometheus);
  for (const std::string& line : {
           "kairos_xdp_app_packets_total{listen=\"10.77.0.1:7341\",mode=\"direct\","
           "outcome=\"redirected\"} " + std::to_string(d_rx) + "\n",
           "kairos_xdp_app_packets_total{listen=\"10.77.0.1:7340\",mode=\"relayed\","
           "outcome=\"passed_no_socket\"} " + std::to_string(pr.unanswered) + "\n",
           "kairos_dataplane_app_rx_delivered_total{listen=\"10.77.0.1:7340\",shm=\"" + shm +
               "\"} " + std::to_string(r_rx) + "\n",
           "kairos_xdp_packets_total{reason=\"redirect\"} " + std::to_string(r_rx + d_rx) + "\n"})
    EXPECT_NE(m.find(line), std::string::npos) << line << "in\n" << m;
  EXPECT_EQ(m.find("kairos_dataplane_app_rx_delivered_total{listen=\"10.77.0.1:7341\""),
            std::string::npos) << "a direct app has no ring counters";
  std::string out;
  EXPECT_EQ(promtool(m, &out), 0) << out << m;
  EXPECT_EQ(veth.client.sh("ping -c 1 -W 2 " + veth.server_ip + " >/dev/null"), 0);

  for (int f : fr) close(f);
  for (int f : fd) close(f);
  kill(relayed.pid, SIGTERM);
  EXPECT_EQ(relayed.wait_exit(), 0);
  svc.reset();
  const std::string gone = direct->read_until("per_queue=");
  EXPECT_EQ(direct->wait_exit(), 3) << gone;
  EXPECT_FALSE(shm_exists(shm));
  EXPECT_FALSE(exists(pin));
}

// A direct app may not take the queues kairosd's relayed sockets need:
// found at start-up (the device's queue count), nothing left behind.
TEST(DataplaneService, DirectAppsOwningEveryQueueLeaveNoneForRelayedApps) {
  VethPair veth(2);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  const std::string shm = "kairos-dp-full-" + std::to_string(getpid());
  const std::string pin = "/sys/fs/bpf/kairos-full-" + std::to_string(getpid());
  InNetns in(veth.server);
  try {
    DataplaneService s(parse_service_config(
        "interface " + veth.server_if + "\nbackend afxdp\n"  // no 'queues': ask the device
        "app 10.77.0.1:7350 shm=" + shm + "\n"
        "app 10.77.0.1:7351 mode=direct pin=" + pin + " queues=0-1\n",
        "t"));
    ADD_FAILURE() << "started with no queue for the relayed app";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("own every queue of kdps0: none is left"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(shm_exists(shm));
  EXPECT_FALSE(exists(pin));
  __u32 id = 0;
  EXPECT_EQ(bpf_xdp_query_id(static_cast<int>(if_nametoindex("kdps0")), 0, &id), 0);
  EXPECT_EQ(id, 0u) << "the steering program stayed attached";
}

// What a NIC's flow steering does for apps on their own queues (ethtool
// -N ... dst-port P action Q), on veth from the sending side: a tcx
// program on the client's device gives packets to port P the flow hash
// whose TX queue (skb_tx_hash) is Q, and veth delivers TX queue Q on the
// peer's RX queue Q. Held in the client's namespace until destruction.
class SteerPortsToQueues {
 public:
  SteerPortsToQueues(const VethPair& veth, unsigned nr_queues) : queues_(nr_queues) {
    InNetns in(veth.client);
    skel_ = txq_by_port__open_and_load();
    if (!skel_) return;
    link_ = bpf_program__attach_tcx(skel_->progs.txq_by_port,
                                    static_cast<int>(if_nametoindex(veth.client_if.c_str())),
                                    nullptr);
  }
  ~SteerPortsToQueues() {
    bpf_link__destroy(link_);
    txq_by_port__destroy(skel_);
  }
  bool ok() const { return skel_ && link_; }
  bool steer(std::uint16_t port, unsigned queue) {
    // The smallest hash h with reciprocal_scale(h, queues) == queue.
    const auto h = static_cast<std::uint32_t>(((std::uint64_t{queue} << 32) / queues_) + 1);
    return bpf_map__update_elem(skel_->maps.port_hash, &port, sizeof port, &h, sizeof h,
                                BPF_ANY) == 0;
  }

 private:
  unsigned queues_;
  txq_by_port* skel_ = nullptr;
  bpf_link* link_ = nullptr;
};

// Two direct apps and a relayed one on a 3-queue device whose flow
// steering puts each app's port on its queues: every flow of every app is
// answered by its app, on its queue, nothing passes to the kernel.
TEST(DataplaneService, ThreeAppsWithFlowSteeringAnswerEveryFlow) {
  VethPair veth(3);
  ASSERT_TRUE(veth.ok()) << "creating namespaces and veth failed (root?)";
  SteerPortsToQueues steering(veth, 3);
  ASSERT_TRUE(steering.ok()) << "tcx program on the client's veth";
  constexpr std::uint16_t kRelayed = 7360, kA = 7361, kB = 7362;
  ASSERT_TRUE(steering.steer(kRelayed, 0));
  ASSERT_TRUE(steering.steer(kA, 1));
  ASSERT_TRUE(steering.steer(kB, 2));
  const std::string shm = "kairos-dp-three-" + std::to_string(getpid());
  const std::string top = "/sys/fs/bpf/kairos-three-" + std::to_string(getpid());
  std::unique_ptr<DataplaneService> svc;
  std::unique_ptr<Child> a, b;
  {
    InNetns in(veth.server);
    svc = std::make_unique<DataplaneService>(parse_service_config(
        "interface " + veth.server_if + "\nqueues 3\nbackend afxdp\n"
        "app 10.77.0.1:7360 shm=" + shm + " kthreads=1 slots=256\n"
        "app 10.77.0.1:7361 mode=direct pin=" + top + "/a queues=1\n"
        "app 10.77.0.1:7362 mode=direct pin=" + top + "/b queues=2\n",
        "test"));
    svc->start();
    a = std::make_unique<Child>(std::vector<std::string>{KAIROS_ECHO_BIN, "--direct", top + "/a"});
    b = std::make_unique<Child>(std::vector<std::string>{KAIROS_ECHO_BIN, "--direct", top + "/b"});
  }
  Child relayed({KAIROS_ECHO_BIN, "--shm", shm, "--servers", "1"});
  ASSERT_GT(relayed.pid, 0);
  ASSERT_NE(relayed.read_until("\n").find("kairos-echo ready 10.77.0.1:7360"), std::string::npos);
  ASSERT_NE(a->read_until("\n").find("ready 10.77.0.1:7361 direct queues=1"), std::string::npos);
  ASSERT_NE(b->read_until("\n").find("ready 10.77.0.1:7362 direct queues=1"), std::string::npos);

  auto fr = testing::connected_udp_clients(veth.client, veth.server_ip, kRelayed, 8);
  auto fa = testing::connected_udp_clients(veth.client, veth.server_ip, kA, 8);
  auto fb = testing::connected_udp_clients(veth.client, veth.server_ip, kB, 8);
  const Probed pr = probe(fr, "r", "|" + std::to_string(relayed.pid), {""});
  const Probed pa = probe(fa, "a", "|" + std::to_string(a->pid) + ":", {"1"});
  const Probed pb = probe(fb, "b", "|" + std::to_string(b->pid) + ":", {"2"});
  EXPECT_EQ(pr.unanswered + pa.unanswered + pb.unanswered, 0u) << svc->describe();
  EXPECT_EQ(pr.answered, 16u);
  EXPECT_EQ(pa.answered, 16u);
  EXPECT_EQ(pb.answered, 16u);
  constexpr unsigned kBurst = 16;
  burst_all_answered(fr, kBurst, svc->describe());
  burst_all_answered(fa, kBurst, svc->describe());
  burst_all_answered(fb, kBurst, svc->describe());
  const unsigned each = 16 + 8 * kBurst;
  const XdpSteering& x = *svc->direct_steering();
  for (std::uint32_t app = 0; app < 3; app++) {
    EXPECT_EQ(x.app_stats(app).redirected, each) << "app " << app << ": " << svc->describe();
    EXPECT_EQ(x.app_stats(app).no_socket, 0u) << "app " << app << ": " << svc->describe();
  }
  EXPECT_EQ(svc->app_stats(0).rx_delivered, each) << svc->describe();
  EXPECT_EQ(veth.client.sh("ping -c 1 -W 2 " + veth.server_ip + " >/dev/null"), 0);

  for (auto* fds : {&fr, &fa, &fb})
    for (int fd : *fds) close(fd);
  kill(relayed.pid, SIGTERM);
  EXPECT_EQ(relayed.wait_exit(), 0);
  for (auto* app : {&a, &b}) {
    kill((*app)->pid, SIGTERM);
    const std::string bye = (*app)->read_until("per_queue=");
    EXPECT_EQ((*app)->wait_exit(), 0) << bye;
    EXPECT_NE(bye.find("rx=" + std::to_string(each) + " tx=" + std::to_string(each) +
                       " dropped=0"),
              std::string::npos)
        << bye;
  }
  svc.reset();
  EXPECT_FALSE(shm_exists(shm));
  EXPECT_FALSE(exists(top));
}

}  // namespace
}  // namespace kairos::dp
