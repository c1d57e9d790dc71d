// kairosd's dataplane service, on the host (root): the real kairosd binary
// refusing bad --dataplane-config files before it loads anything, and the
// cross-process path: DataplaneService (AF_XDP on a veth between
// namespaces) plus the kairos-echo app in ANOTHER process, attached to the
// app's ring region by its shared-memory name.
#include "kernel_echo.hpp"
#include "netns.hpp"

#include <kairos/dataplane/service.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace kairos::dp {
namespace {

using testing::InNetns;
using testing::VethPair;

// A child process with its stdout and stderr in one pipe.
struct Child {
  pid_t pid = -1;
  int out = -1;

  Child(const std::vector<std::string>& argv) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    out = p[0];
  }
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (out >= 0) close(out);
  }
  // Output until a line containing want shows up (or EOF / timeout).
  std::string read_until(const std::string& want, int timeout_ms = 10000) {
    std::string all;
    while (all.find(want) == std::string::npos) {
      pollfd p{out, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) != 1) break;
      char buf[512];
      const ssize_t n = read(out, buf, sizeof buf);
      if (n <= 0) break;
      all.append(buf, static_cast<std::size_t>(n));
    }
    return all;
  }
  // Exit status (-1 if it did not exit normally).
  int wait_exit() {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
};

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/kairos-dp-svc-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0 || write(fd, text.data(), text.size()) != ssize_t(text.size())) return "";
  close(fd);
  return path;
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
      // kairosd never links DPDK (see scheduler/dataplane/CMakeLists.txt).
      {"interface lo\nbackend dpdk\ndpdk-arg --no-pci\napp 10.0.0.1:7 shm=" + shm + "\n",
       "built without DPDK"},
      // Parses, but the device does not exist: the backend fails and the
      // region made before it is removed again.
      {"interface kdp-none0\nbackend afxdp\napp 10.0.0.1:7 shm=" + shm + "\n", "kdp-none0"},
      {"interface lo\napp 10.0.0.1:7 mode=direct\n", ":2: mode=direct needs pin="},
      {"interface lo\napp 10.0.0.1:7 mode=direct pin=/sys/fs/bpf/" + shm + "\n"
       "app 10.0.0.1:8 shm=" + shm + "\n", ":2: a mode=direct app needs the interface to itself"},
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

}  // namespace
}  // namespace kairos::dp
