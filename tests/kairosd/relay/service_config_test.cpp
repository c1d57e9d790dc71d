// The dataplane service's config parser: a good file, and every kind of
// bad line rejected with the file and line in the message.
#include <kairos/relay/service_config.hpp>
#include <kairos/contracts/shm_rings.hpp>

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace kairos::dp {
namespace {

TEST(ServiceConfig, ParsesAGoodFile) {
  const auto c = parse_service_config(
      "# kairosd dataplane\n"
      "interface kdps0   # the server side\n"
      "queues 2\n"
      "\n"
      "backend afxdp\n"
      "app 10.77.0.1:7000 shm=kairos-echo kthreads=2\n"
      "  app [fd77::1]:7001  shm=echo6 slots=256\t\n",
      "dp.conf");
  EXPECT_EQ(c.ifname, "kdps0");
  EXPECT_EQ(c.queues, 2u);
  EXPECT_EQ(c.backend, BackendKind::kAfXdp);
  ASSERT_EQ(c.apps.size(), 2u);
  EXPECT_EQ(c.apps[0].listen, Endpoint::v4(0x0a4d0001, 7000));
  EXPECT_EQ(c.apps[0].shm_name, "kairos-echo");
  EXPECT_EQ(c.apps[0].kthreads, 2u);
  EXPECT_EQ(c.apps[0].slots, 1024u);
  EXPECT_EQ(c.apps[0].line, 6u);
  EXPECT_EQ(c.apps[1].listen.str(), "[fd77::1]:7001");
  EXPECT_EQ(c.apps[1].kthreads, 1u);
  EXPECT_EQ(c.apps[1].slots, 256u);

  const auto k = parse_service_config("backend kernel\napp [::]:53 shm=dns\n", "k");
  EXPECT_EQ(k.backend, BackendKind::kKernel);  // no interface needed
  EXPECT_TRUE(k.apps[0].listen.is_any());
  const auto d = parse_service_config(
      "interface v0\nbackend dpdk\ndpdk-arg --no-huge\ndpdk-arg --vdev=net_null0\n"
      "app 10.0.0.1:9 shm=x\n", "d");
  EXPECT_EQ(d.dpdk_args, (std::vector<std::string>{"--no-huge", "--vdev=net_null0"}));
}

// The message of the ConfigError the text raises ("" when it parses).
std::string error_of(const std::string& text) {
  try {
    parse_service_config(text, "dp.conf");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ServiceConfig, BadLinesNameTheLine) {
  const std::string app = "app 10.0.0.1:7000 shm=a\n";
  const struct {
    std::string text, want;
  } cases[] = {
      {"interface v0\nfrobnicate 1\n" + app, "dp.conf:2: unknown keyword 'frobnicate'"},
      {"interface v0\ninterface v1\n" + app, "dp.conf:2: 'interface' given twice (first on line 1)"},
      {"interface\n" + app, "dp.conf:1: 'interface' takes exactly one value"},
      {"interface a b\n" + app, "dp.conf:1: 'interface' takes exactly one value"},
      {"interface much-too-long-name0\n" + app, "dp.conf:1: bad interface name"},
      {"interface a/b\n" + app, "dp.conf:1: bad interface name"},
      {"interface v0\nqueues 300\n" + app, "dp.conf:2: queues wants a number in 0..256, got '300'"},
      {"interface v0\nqueues -1\n" + app, "dp.conf:2: queues wants a number"},
      {"interface v0\nqueues 2x\n" + app, "dp.conf:2: queues wants a number"},
      {"interface v0\nbackend rdma\n" + app, "dp.conf:2: backend wants afxdp, dpdk, kernel or auto"},
      {"interface v0\napp 10.0.0.1 shm=a\n", "dp.conf:2: bad app address '10.0.0.1'"},
      {"interface v0\napp 10.0.0.1:0 shm=a\n", "dp.conf:2: bad app address"},
      {"interface v0\napp 300.0.0.1:5 shm=a\n", "dp.conf:2: bad app address"},
      {"interface v0\napp\n", "dp.conf:2: 'app' wants ADDRESS:PORT"},
      {"interface v0\napp 10.0.0.1:5\n", "dp.conf:2: app needs shm=NAME"},
      {"interface v0\napp 10.0.0.1:5 shm=../etc\n", "dp.conf:2: bad shm name '../etc'"},
      {"interface v0\napp 10.0.0.1:5 shm=\n", "dp.conf:2: bad shm name ''"},
      {"interface v0\napp 10.0.0.1:5 shm=a kthreads=0\n", "dp.conf:2: kthreads wants a number in 1..256"},
      {"interface v0\napp 10.0.0.1:5 shm=a kthreads=257\n", "dp.conf:2: kthreads wants a number"},
      {"interface v0\napp 10.0.0.1:5 shm=a slots=1000\n", "dp.conf:2: slots must be a power of two"},
      {"interface v0\napp 10.0.0.1:5 shm=a slots=1\n", "dp.conf:2: slots wants a number in 2..65536"},
      {"interface v0\napp 10.0.0.1:5 shm=a color=red\n", "dp.conf:2: unknown app option 'color'"},
      {"interface v0\napp 10.0.0.1:5 shm=a shm=b\n", "dp.conf:2: app option 'shm' given twice"},
      {"interface v0\napp 10.0.0.1:5 shm=a kthreads\n", "dp.conf:2: app option 'kthreads' is not KEY=VALUE"},
      {"interface v0\n" + app + "app 10.0.0.2:7000 shm=a\n", "dp.conf:3: shm name 'a' already used on line 2"},
      {"interface v0\n" + app + "app 10.0.0.1:7000 shm=b\n", "dp.conf:3: app 10.0.0.1:7000 overlaps the app on line 2"},
      {"interface v0\n" + app + "app [::]:7000 shm=b\n", "dp.conf:3: app [::]:7000 overlaps"},
      {"interface v0\n# no apps\n", "dp.conf: no 'app' line"},
      {"", "dp.conf: no 'app' line"},
      {app, "dp.conf: backend afxdp needs an 'interface' line"},
      {"backend auto\n" + app, "dp.conf: backend auto needs an 'interface' line"},
      {"interface v0\ndpdk-arg -l\n" + app, "dp.conf:2: dpdk-arg given but the backend is not dpdk"},
      {"interface v0\n" + std::string("app 10.0.0.1:5 shm=a\0\n", 22), "dp.conf:2: NUL byte"},
      {"interface v0\napp 10.0.0.1:5 shm=a cgroup=\n", "dp.conf:2: bad cgroup ''"},
      {"interface v0\napp 10.0.0.1:5 shm=a cgroup=/sys/fs/cgroup/lc\n", "dp.conf:2: bad cgroup '/sys/fs/cgroup/lc'"},
      {"interface v0\napp 10.0.0.1:5 shm=a cgroup=lc/../x\n", "dp.conf:2: bad cgroup 'lc/../x'"},
      {"interface v0\napp 10.0.0.1:5 shm=a cgroup=lc//x\n", "dp.conf:2: bad cgroup 'lc//x'"},
      {"interface v0\napp 10.0.0.1:5 shm=a cgroup=lc/\n", "dp.conf:2: bad cgroup 'lc/'"},
      {"interface v0\napp 10.0.0.1:5 shm=a cgroup=./lc\n", "dp.conf:2: bad cgroup './lc'"},
      {"interface v0\napp 10.0.0.1:5 shm=a cgroup=a cgroup=b\n", "dp.conf:2: app option 'cgroup' given twice"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.want), std::string::npos)
        << "config:\n" << c.text << "\nwanted: " << c.want << "\ngot: " << e;
  }
}

TEST(ServiceConfig, CgroupOptionAndTheGrantToKthreadsPolicy) {
  const auto c = parse_service_config(
      "backend kernel\napp 127.0.0.1:9 shm=t kthreads=3 cgroup=lc/web\n"
      "app 127.0.0.1:10 shm=u\n", "c");
  EXPECT_EQ(c.apps[0].cgroup, "lc/web");
  EXPECT_EQ(c.apps[1].cgroup, "");
  using V = std::vector<std::uint32_t>;
  EXPECT_EQ(active_for_grant(0, 3), V{0});  // never none: the ring is the signal
  EXPECT_EQ(active_for_grant(1, 3), V{0});
  EXPECT_EQ(active_for_grant(2, 3), (V{0, 1}));
  EXPECT_EQ(active_for_grant(3, 3), (V{0, 1, 2}));
  EXPECT_EQ(active_for_grant(64, 3), (V{0, 1, 2}));  // capped by the kthreads
  EXPECT_EQ(active_for_grant(5, 1), V{0});
}

// mode=direct: kairosd only steers and pins; the app owns the sockets.
TEST(ServiceConfig, DirectModeAppLines) {
  const auto c = parse_service_config(
      "interface kdps0\nqueues 2\napp 10.77.0.1:7000 mode=direct pin=/sys/fs/bpf/kairos/echo\n",
      "d");
  ASSERT_EQ(c.apps.size(), 1u);
  EXPECT_EQ(c.apps[0].mode, AppMode::kDirect);
  EXPECT_EQ(c.apps[0].pin_dir, "/sys/fs/bpf/kairos/echo");
  EXPECT_EQ(c.apps[0].shm_name, "");
  const auto r = parse_service_config("interface v0\napp 10.0.0.1:5 shm=a mode=relayed\n", "r");
  EXPECT_EQ(r.apps[0].mode, AppMode::kRelayed);

  const std::string pin = " pin=/sys/fs/bpf/k/e";
  const struct {
    std::string text, want;
  } cases[] = {
      {"interface v0\napp 10.0.0.1:5 mode=fast" + pin + "\n",
       "dp.conf:2: mode wants relayed or direct, got 'fast'"},
      {"interface v0\napp 10.0.0.1:5 mode=\n", "dp.conf:2: mode wants relayed or direct, got ''"},
      {"interface v0\napp 10.0.0.1:5 mode=direct\n", "dp.conf:2: mode=direct needs pin="},
      {"interface v0\napp 10.0.0.1:5 mode=direct pin=/tmp/x\n", "dp.conf:2: bad pin directory '/tmp/x'"},
      {"interface v0\napp 10.0.0.1:5 mode=direct pin=/sys/fs/bpf/\n", "dp.conf:2: bad pin directory"},
      {"interface v0\napp 10.0.0.1:5 mode=direct pin=/sys/fs/bpf\n", "dp.conf:2: bad pin directory"},
      {"interface v0\napp 10.0.0.1:5 mode=direct pin=/sys/fs/bpf/a/../b\n", "dp.conf:2: bad pin directory"},
      {"interface v0\napp 10.0.0.1:5 mode=direct pin=/sys/fs/bpf/a//b\n", "dp.conf:2: bad pin directory"},
      {"interface v0\napp 10.0.0.1:5 mode=direct pin=/sys/fs/bpf/a b\n", "dp.conf:2: app option 'b' is not KEY=VALUE"},
      {"interface v0\napp 10.0.0.1:5 mode=direct pin=/sys/fs/bpf/a$\n", "dp.conf:2: bad pin directory"},
      {"interface v0\napp 10.0.0.1:5 mode=direct shm=a" + pin + "\n",
       "dp.conf:2: app option 'shm' does not apply to mode=direct"},
      {"interface v0\napp 10.0.0.1:5 mode=direct kthreads=2" + pin + "\n",
       "dp.conf:2: app option 'kthreads' does not apply to mode=direct"},
      {"interface v0\napp 10.0.0.1:5 mode=direct cgroup=lc" + pin + "\n",
       "dp.conf:2: app option 'cgroup' does not apply to mode=direct"},
      {"interface v0\napp 10.0.0.1:5 shm=a" + pin + "\n", "dp.conf:2: pin= applies to mode=direct only"},
      {"interface v0\napp 10.0.0.1:5 mode=direct mode=direct" + pin + "\n",
       "dp.conf:2: app option 'mode' given twice"},
      {"interface v0\napp 10.0.0.1:6 shm=a\napp 10.0.0.1:5 mode=direct" + pin + "\n",
       "dp.conf:3: a mode=direct app without queues= owns every queue of the interface"},
      {"interface v0\napp 10.0.0.1:6 mode=direct pin=/sys/fs/bpf/a\napp 10.0.0.1:5 mode=direct" +
           pin + " queues=1\n",
       "dp.conf:2: a mode=direct app without queues= owns every queue"},
      {"interface v0\nbackend auto\napp 10.0.0.1:5 mode=direct" + pin + "\n",
       "dp.conf:3: mode=direct needs backend afxdp, not auto"},
      {"backend kernel\napp 10.0.0.1:5 mode=direct" + pin + "\n",
       "dp.conf:2: mode=direct needs backend afxdp, not kernel"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.want), std::string::npos)
        << "config:\n" << c.text << "\nwanted: " << c.want << "\ngot: " << e;
  }
}

// Several direct apps, and relayed apps beside them, on one interface:
// each direct app owns its queues (queues=LIST), no two share a queue or
// a pin directory.
TEST(ServiceConfig, SeveralDirectAppsOwnDisjointQueues) {
  const auto c = parse_service_config(
      "interface kdps0\nqueues 5\n"  // queue 4: the relayed app's
      "app 10.77.0.1:7000 mode=direct pin=/sys/fs/bpf/k/a queues=0\n"
      "app 10.77.0.1:7001 mode=direct pin=/sys/fs/bpf/k/b queues=1,3\n"
      "app 10.77.0.1:7002 shm=relayed kthreads=2\n"
      "app [fd77::1]:7000 mode=direct pin=/sys/fs/bpf/k/c queues=2-2\n",
      "d");
  ASSERT_EQ(c.apps.size(), 4u);
  EXPECT_EQ(c.apps[0].queue_mask, 0x1u);
  EXPECT_EQ(c.apps[1].queue_mask, 0xau);
  EXPECT_EQ(c.apps[2].mode, AppMode::kRelayed);
  EXPECT_EQ(c.apps[2].queue_mask, 0u);
  EXPECT_EQ(c.apps[3].queue_mask, 0x4u);
  EXPECT_EQ(parse_service_config("interface v0\napp 10.0.0.1:5 mode=direct "
                                 "pin=/sys/fs/bpf/x queues=0-3,5,63\n",
                                 "r")
                .apps[0]
                .queue_mask,
            0x800000000000002fULL);

  const auto direct = [](int port, const std::string& pin, const std::string& queues) {
    return "app 10.0.0.1:" + std::to_string(port) + " mode=direct pin=/sys/fs/bpf/" + pin +
           (queues.empty() ? "" : " queues=" + queues) + "\n";
  };
  const struct {
    std::string text, want;
  } cases[] = {
      {"interface v0\n" + direct(5, "a", "x"), "dp.conf:2: bad queue list 'x'"},
      {"interface v0\n" + direct(5, "a", ""), ""},  // placeholder, replaced below
      {"interface v0\napp 10.0.0.1:5 mode=direct pin=/sys/fs/bpf/a queues=\n",
       "dp.conf:2: bad queue list ''"},
      {"interface v0\n" + direct(5, "a", "64"), "dp.conf:2: bad queue list '64'"},
      {"interface v0\n" + direct(5, "a", "3-1"), "dp.conf:2: bad queue list '3-1'"},
      {"interface v0\n" + direct(5, "a", "1,"), "dp.conf:2: bad queue list '1,'"},
      {"interface v0\n" + direct(5, "a", "-1"), "dp.conf:2: bad queue list '-1'"},
      {"interface v0\n" + direct(5, "a", "0--1"), "dp.conf:2: bad queue list"},
      {"interface v0\napp 10.0.0.1:5 shm=a queues=0\n",
       "dp.conf:2: queues= applies to mode=direct only"},
      {"interface v0\n" + direct(5, "a", "0,1") + direct(6, "b", "1-2"),
       "dp.conf:3: queue 1 already belongs to the mode=direct app on line 2"},
      {"interface v0\n" + direct(5, "a", "0") + direct(6, "a", "1"),
       "dp.conf:3: pin directory /sys/fs/bpf/a collides with /sys/fs/bpf/a of the app on line 2"},
      {"interface v0\n" + direct(5, "a/b", "0") + direct(6, "a", "1"),
       "dp.conf:3: pin directory /sys/fs/bpf/a collides with /sys/fs/bpf/a/b"},
      {"interface v0\n" + direct(5, "a", "0") + direct(6, "a/b", "1"),
       "dp.conf:3: pin directory /sys/fs/bpf/a/b collides"},
      {"interface v0\n" + direct(5, "a", "0") + direct(5, "b", "1"),
       "dp.conf:3: app 10.0.0.1:5 overlaps the app on line 2"},
      {"interface v0\nqueues 2\n" + direct(5, "a", "1-2"),
       "dp.conf:3: queues= names queue 2, beyond 'queues 2'"},
      {"interface v0\nqueues 2\n" + direct(5, "a", "0") + direct(6, "b", "1") +
           "app 10.0.0.1:7 shm=r\n",
       "dp.conf: the mode=direct apps own every queue: none is left for kairosd's relayed apps"},
      {"interface v0\nbackend auto\n" + direct(5, "a", "0") + direct(6, "b", "1"),
       "dp.conf:3: mode=direct needs backend afxdp, not auto"},
  };
  for (const auto& c : cases) {
    if (c.want.empty()) {  // one direct app alone: every queue, no error
      EXPECT_EQ(parse_service_config(c.text, "dp.conf").apps[0].queue_mask, 0u);
      continue;
    }
    const std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.want), std::string::npos)
        << "config:\n" << c.text << "\nwanted: " << c.want << "\ngot: " << e;
  }
}

TEST(ServiceConfig, LoadsFilesAndReportsUnreadableOnes) {
  char path[] = "/tmp/kairos-dp-conf-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "backend kernel\napp 127.0.0.1:9 shm=t\nqueues x\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
  close(fd);
  try {
    load_service_config(path);
    ADD_FAILURE() << "bad file accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(std::string(path) + ":3: queues", 0), 0u) << e.what();
  }
  unlink(path);
  EXPECT_THROW(load_service_config(path), ConfigError);  // gone
  EXPECT_THROW(load_service_config("/"), ConfigError);   // a directory
}

TEST(NamedRegion, CreateAttachAndUnlink) {
  const std::string name = "kairos-dp-test-" + std::to_string(getpid());
  const Endpoint app = Endpoint::v4(0x0a000001, 4242);
  {
    auto r = ShmRegion::create_named(name, 2, 8, app);
    EXPECT_EQ(r.name(), name);
    // The name of a live dataplane's region is never reused.
    EXPECT_THROW(ShmRegion::create_named(name, 1, 8), std::system_error);
    EXPECT_EQ(r.replaced_dead_pid(), 0);
    auto other = ShmRegion::attach_named(name);
    EXPECT_EQ(other.nr_kthreads(), 2u);
    EXPECT_EQ(other.app(), app);
    // Same memory: a push on one side is seen on the other.
    const std::uint8_t b[3] = {1, 2, 3};
    ASSERT_TRUE(r.rings(1).rx.try_push(app, app, 7, b));
    EXPECT_EQ(other.rings(1).rx.occupancy(), 1u);
  }
  // The creator unlinked it.
  EXPECT_THROW(ShmRegion::attach_named(name), std::system_error);
  for (const char* bad : {"", ".hidden", "a/b", "sp ace", "x\n"}) {
    EXPECT_FALSE(ShmRegion::valid_name(bad)) << bad;
    EXPECT_THROW(ShmRegion::create_named(bad, 1, 8), std::invalid_argument) << bad;
    EXPECT_THROW(ShmRegion::attach_named(bad), std::invalid_argument) << bad;
  }
  EXPECT_THROW(ShmRegion::create_named(name, 0, 8), std::invalid_argument);
  EXPECT_THROW(ShmRegion::attach_named(name), std::system_error);  // nothing left
}

TEST(NamedRegion, AttachRejectsAnObjectThatIsNotARegion) {
  const std::string name = "kairos-dp-junk-" + std::to_string(getpid());
  {
    std::ofstream f("/dev/shm/" + name);
    f << std::string(4096, 'x');
  }
  try {
    ShmRegion::attach_named(name);
    ADD_FAILURE() << "junk attached";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bad magic"), std::string::npos) << e.what();
  }
  unlink(("/dev/shm/" + name).c_str());
}

}  // namespace
}  // namespace kairos::dp
