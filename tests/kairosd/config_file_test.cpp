// kairosd.toml (kairosd/config_file.*): the shipped example parses, every
// section refuses bad input with "FILE:LINE: what", unknown keys are
// errors, flags override the file, and the old dataplane file converts.
#include "config_file.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace {

using namespace kairos;

KairosdConfigFile parse(const std::string& text, unsigned ncpu = 8) {
  return parse_config_file(text, "k.toml", ncpu);
}

// The error for text; "" when it parses.
std::string error_of(const std::string& text, unsigned ncpu = 8) {
  try {
    parse(text, ncpu);
  } catch (const ConfigFileError& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_REFUSED(text, line, needle)                                     \
  do {                                                                         \
    const std::string e_ = error_of(text);                                     \
    EXPECT_EQ(e_.rfind("k.toml:" #line ": ", 0), 0u) << (text) << " -> " << e_; \
    EXPECT_NE(e_.find(needle), std::string::npos) << (text) << " -> " << e_;   \
  } while (0)

TEST(ConfigFile, ShippedExampleParses) {
  const std::string path = std::string(KAIROS_SOURCE_DIR) + "/deploy/kairosd.toml";
  const auto c = load_config_file(path, 4);
  EXPECT_EQ(c.scan_interval_ms, 200);
  EXPECT_EQ(c.backend, Backend::automatic);
  EXPECT_EQ(c.power, AllocatorOptions::Power::kAuto);
  EXPECT_EQ(c.quantum_us, 900u);
  ASSERT_EQ(c.rules.size(), 2u);
  EXPECT_EQ(c.rules[0].pattern, "system.slice/memcached.service");
  EXPECT_EQ(c.rules[0].annotation, (Annotation{AppClass::lc, 1, 2}));
  EXPECT_EQ(c.rules[1].annotation, (Annotation{AppClass::be, 0, 0}));
  EXPECT_FALSE(c.kubernetes.enabled);
  EXPECT_FALSE(c.kubernetes.burstable);
  EXPECT_FALSE(c.dataplane);
}

// The toml the Kubernetes ConfigMap carries (its block scalar under
// "kairosd.toml: |", indented by four spaces).
TEST(ConfigFile, KubernetesConfigMapParses) {
  std::ifstream in(std::string(KAIROS_SOURCE_DIR) + "/deploy/kubernetes/configmap.yaml");
  ASSERT_TRUE(in);
  std::string line, toml;
  bool inside = false;
  unsigned lines = 0;
  while (std::getline(in, line)) {
    if (line == "  kairosd.toml: |") {
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (!line.empty() && line.rfind("    ", 0) != 0) break;
    toml += (line.empty() ? line : line.substr(4)) + "\n";
    ++lines;
  }
  ASSERT_GT(lines, 5u);
  const auto c = parse(toml);
  EXPECT_TRUE(c.kubernetes.enabled);
  EXPECT_FALSE(c.kubernetes.burstable);
  EXPECT_EQ(c.status_file, "/run/kairos/status");
}

TEST(ConfigFile, EmptyFileChangesNothing) {
  const auto c = parse("");
  EXPECT_FALSE(c.scan_interval_ms);
  EXPECT_TRUE(c.rules.empty());
  KairosdCommandLine cmd;
  apply_config_file(c, cmd);
  const KairosdCommandLine defaults;
  EXPECT_EQ(cmd.scan_ms, defaults.scan_ms);
  EXPECT_EQ(cmd.daemon.cgroup_root, defaults.daemon.cgroup_root);
}

TEST(ConfigFile, SyntaxErrorNamesTheLine) {
  EXPECT_REFUSED("[daemon]\nscan_interval_ms = 20\nbackend = auto\n", 3, "");
  EXPECT_REFUSED("\n\n[daemon\n", 3, "");
  EXPECT_REFUSED("[daemon]\nscan_interval_ms = 1\nscan_interval_ms = 2\n", 3, "");
}

TEST(ConfigFile, UnknownKeysAndSectionsAreErrors) {
  EXPECT_REFUSED("[daemon]\nscan_intervall_ms = 20\n", 2, "unknown key 'scan_intervall_ms'");
  EXPECT_REFUSED("\n[deamon]\n", 2, "unknown key 'deamon'");
  EXPECT_REFUSED("[allocator]\nenable = true\n", 2, "unknown key 'enable' in [allocator]");
  EXPECT_REFUSED("[guard]\nquantum = 5\n", 2, "unknown key 'quantum'");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a\"\nclass = \"be\"\nclas = \"lc\"\n", 4,
                 "unknown key 'clas' in [[rule]]");
  EXPECT_REFUSED("[kubernetes]\nenable = true\n", 2, "unknown key 'enable'");
  EXPECT_REFUSED("[kubernetes.burstable]\nclass = \"be\"\ncores = 1\n", 3, "unknown key 'cores'");
  EXPECT_REFUSED("[dataplane]\ninterfaces = \"x\"\n", 2, "unknown key 'interfaces'");
  EXPECT_REFUSED(
      "[dataplane]\ninterface = \"x\"\n[[dataplane.app]]\nlisten = \"10.0.0.1:1\"\nshm = "
      "\"a\"\nthreads = 2\n",
      6, "unknown key 'threads' in [[dataplane.app]]");
}

TEST(ConfigFile, DaemonSection) {
  const auto c = parse(
      "[daemon]\nscan_interval_ms = 50\nrescan_interval_ms = 500\nstats_interval_ms = 1000\n"
      "slice_us = 3000\nlc_slice_us = 400\ncgroup_root = \"/tmp/cg\"\nstatus_file = "
      "\"/tmp/st\"\nkairos_dev = \"/dev/null\"\nbackend = \"kmod\"\ncgroup_watch = false\n");
  KairosdCommandLine cmd;
  apply_config_file(c, cmd);
  EXPECT_EQ(cmd.scan_ms, 50);
  EXPECT_EQ(cmd.stats_ms, 1000);
  EXPECT_EQ(cmd.daemon.rescan_interval_ms, 500u);
  EXPECT_EQ(cmd.daemon.sched.tunables.be_slice_ns, 3000000u);
  EXPECT_EQ(cmd.daemon.sched.tunables.lc_slice_ns, 400000u);
  EXPECT_EQ(cmd.daemon.cgroup_root, "/tmp/cg");
  EXPECT_EQ(cmd.daemon.status_path, "/tmp/st");
  EXPECT_EQ(cmd.daemon.kairos_dev, "/dev/null");
  EXPECT_EQ(cmd.daemon.backend, Backend::kmod);
  EXPECT_FALSE(cmd.daemon.watch_cgroups);

  EXPECT_REFUSED("[daemon]\nscan_interval_ms = \"50\"\n", 2, "wants an integer, got a string");
  EXPECT_REFUSED("[daemon]\nscan_interval_ms = 5.0\n", 2, "wants an integer, got a float");
  EXPECT_REFUSED("[daemon]\nscan_interval_ms = 9\n", 2, "10..10000, got 9");
  EXPECT_REFUSED("[daemon]\nrescan_interval_ms = 3600001\n", 2, "100..3600000");
  EXPECT_REFUSED("[daemon]\nslice_us = -1\n", 2, "50..100000, got -1");
  EXPECT_REFUSED("[daemon]\ncgroup_root = \"sys/fs/cgroup\"\n", 2, "absolute path");
  EXPECT_REFUSED("[daemon]\nstatus_file = 3\n", 2, "wants a string, got an integer");
  EXPECT_REFUSED("[daemon]\nbackend = \"ebpf\"\n", 2, "auto, sched_ext or kmod");
  EXPECT_REFUSED("[daemon]\ncgroup_watch = \"yes\"\n", 2, "true or false");
  EXPECT_REFUSED("daemon = 3\n", 1, "must be a table");
}

TEST(ConfigFile, AllocatorSection) {
  const auto c = parse(
      "[allocator]\nenabled = false\npoll_us = 20\ncpu = 3\npower = \"spin\"\nrt_priority = 5\n"
      "standby = false\n",
      4);
  KairosdCommandLine cmd;
  apply_config_file(c, cmd);
  EXPECT_FALSE(cmd.daemon.allocator.enabled);
  EXPECT_EQ(cmd.daemon.allocator.poll_ns, 20000u);
  EXPECT_EQ(cmd.daemon.allocator.cpu, 3u);
  EXPECT_EQ(cmd.daemon.allocator.power, AllocatorOptions::Power::kSpin);
  EXPECT_EQ(cmd.daemon.allocator.rt_priority, 5);
  EXPECT_FALSE(cmd.daemon.allocator.standby);
  EXPECT_EQ(parse("[allocator]\npower = \"low-power\"\n").power,
            AllocatorOptions::Power::kLowPower);

  EXPECT_REFUSED("[allocator]\ncpu = 8\n", 2, "0..7, got 8");  // a CPU the machine lacks
  EXPECT_REFUSED("[allocator]\ncpu = -1\n", 2, "0..7");
  EXPECT_REFUSED("[allocator]\ncpu = \"0-1\"\n", 2, "wants an integer");
  EXPECT_REFUSED("[allocator]\npoll_us = 0\n", 2, "1..1000000");
  EXPECT_REFUSED("[allocator]\nrt_priority = 100\n", 2, "0..99");
  EXPECT_REFUSED("[allocator]\npower = \"turbo\"\n", 2, "auto, low-power or spin");
  EXPECT_REFUSED("[allocator]\nenabled = 1\n", 2, "true or false, got an integer");
  EXPECT_REFUSED("[allocator]\nstandby = \"on\"\n", 2, "true or false, got a string");
}

TEST(ConfigFile, GuardSection) {
  const auto c = parse("[guard]\nquantum_us = 400\nperiod_us = 2000\n");
  DaemonOptions d;
  apply_reloadable(c, d);
  EXPECT_EQ(d.guard_defaults.quantum_us, 400u);
  EXPECT_EQ(d.guard_defaults.period_us, 2000u);
  // The file's defaults are what resolve_tunables falls back to.
  const auto t = resolve_tunables(std::nullopt, std::nullopt, d.guard_defaults);
  EXPECT_EQ(t.quantum_us, 400u);
  EXPECT_EQ(t.period_us, 2000u);
  EXPECT_EQ(resolve_tunables(std::string("100"), std::string("1000"), d.guard_defaults).quantum_us,
            100u);  // kairos.ko's values still win

  EXPECT_REFUSED("[guard]\nquantum_us = 2000\n", 2, "must not exceed period_us (1000)");
  EXPECT_REFUSED("[guard]\nquantum_us = 500\nperiod_us = 400\n", 2, "must not exceed");
  EXPECT_REFUSED("[guard]\nquantum_us = 0\n", 2, "1..10000000");
  EXPECT_REFUSED("[guard]\nperiod_us = 10000001\n", 2, "1..10000000");
  EXPECT_REFUSED("[guard]\nperiod_us = true\n", 2, "wants an integer, got a boolean");
}

TEST(ConfigFile, RuleSection) {
  const auto c = parse(
      "[[rule]]\nmatch = \"a/*\"\nclass = \"lc\"\nguaranteed = 2\n\n"
      "[[rule]]\nmatch = \"b/**/c\"\nclass = \"lc\"\n\n"
      "[[rule]]\nmatch = \"d\"\nclass = \"be\"\n");
  ASSERT_EQ(c.rules.size(), 3u);
  EXPECT_EQ(c.rules[0].annotation, (Annotation{AppClass::lc, 2, 2}));  // burstable >= guaranteed
  EXPECT_EQ(c.rules[0].line, 1u);
  EXPECT_EQ(c.rules[1].annotation, (Annotation{AppClass::lc, 0, 1}));  // may burst to one core
  EXPECT_EQ(c.rules[1].line, 6u);
  EXPECT_EQ(c.rules[2].annotation, (Annotation{AppClass::be, 0, 0}));

  EXPECT_REFUSED("[[rule]]\nclass = \"lc\"\n", 1, "needs match");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a\"\n", 1, "needs class");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a\"\nclass = \"rt\"\n", 3, "lc or be");
  EXPECT_REFUSED("[[rule]]\nmatch = \"/a\"\nclass = \"be\"\n", 2, "starts with '/'");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a/../b\"\nclass = \"be\"\n", 2, "'..'");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a/b**\"\nclass = \"be\"\n", 2, "whole component");
  EXPECT_REFUSED("[[rule]]\nmatch = \"\"\nclass = \"be\"\n", 2, "empty pattern");
  EXPECT_REFUSED("[[rule]]\nmatch = [\"a\"]\nclass = \"be\"\n", 2, "wants a string");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a\"\nclass = \"be\"\nguaranteed = 1\n", 4,
                 "be app cannot have");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a\"\nclass = \"lc\"\nguaranteed = 2\nburstable = 1\n", 5,
                 "must be at least guaranteed");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a\"\nclass = \"lc\"\nburstable = 0\n", 4,
                 "at least 1");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a\"\nclass = \"lc\"\nguaranteed = 4097\n", 4, "0..4096");
  EXPECT_REFUSED("[[rule]]\nmatch = \"a\"\nclass = \"lc\"\nguaranteed = -1\n", 4, "0..4096");
  // The same pattern twice: the second could never apply.
  EXPECT_REFUSED(
      "[[rule]]\nmatch = \"a/*\"\nclass = \"be\"\n[[rule]]\nmatch = \"a/*\"\nclass = \"lc\"\n",
      5, "already given on line 2");
  EXPECT_REFUSED("[rule]\nmatch = \"a\"\n", 1, "array of tables");
}

TEST(ConfigFile, KubernetesSection) {
  auto c = parse("[kubernetes]\nenabled = true\n");
  EXPECT_TRUE(c.kubernetes.enabled);
  EXPECT_FALSE(c.kubernetes.burstable);
  c = parse("[kubernetes]\nenabled = true\n[kubernetes.burstable]\nclass = \"lc\"\nburstable = 2\n");
  ASSERT_TRUE(c.kubernetes.burstable);
  EXPECT_EQ(*c.kubernetes.burstable, (Annotation{AppClass::lc, 0, 2}));
  c = parse("[kubernetes.burstable]\nclass = \"be\"\n");
  EXPECT_EQ(*c.kubernetes.burstable, (Annotation{AppClass::be, 0, 0}));
  c = parse("[kubernetes.burstable]\nclass = \"none\"\n");
  EXPECT_FALSE(c.kubernetes.burstable);

  EXPECT_REFUSED("[kubernetes]\nenabled = \"true\"\n", 2, "true or false");
  EXPECT_REFUSED("[kubernetes]\nburstable = \"lc\"\n", 2, "must be a table");
  EXPECT_REFUSED("[kubernetes.burstable]\nclass = \"none\"\nburstable = 1\n", 1,
                 "class none takes no cores");
  EXPECT_REFUSED("[kubernetes.burstable]\nclass = \"be\"\nburstable = 1\n", 3, "be app cannot");
  EXPECT_REFUSED("[kubernetes.burstable]\nclass = \"lc\"\nguaranteed = 3\nburstable = 2\n", 4,
                 "at least guaranteed");
}

const char* kDataplane =
    "[dataplane]\n"                      // 1
    "interface = \"kdps0\"\n"            // 2
    "queues = 4\n"                       // 3
    "backend = \"afxdp\"\n"              // 4
    "[[dataplane.app]]\n"                // 5
    "listen = \"10.77.0.1:7000\"\n"      // 6
    "shm = \"kairos-echo\"\n"            // 7
    "kthreads = 2\n"                     // 8
    "cgroup = \"lc\"\n"                  // 9
    "[[dataplane.app]]\n"                // 10
    "listen = \"10.77.0.1:7001\"\n"      // 11
    "mode = \"direct\"\n"                // 12
    "pin = \"/sys/fs/bpf/kairos/d\"\n"   // 13
    "queues = \"2-3\"\n";                // 14

TEST(ConfigFile, DataplaneSection) {
  const auto c = parse(kDataplane);
  ASSERT_TRUE(c.dataplane);
  EXPECT_EQ(c.dataplane->ifname, "kdps0");
  EXPECT_EQ(c.dataplane->queues, 4u);
  ASSERT_EQ(c.dataplane->apps.size(), 2u);
  EXPECT_EQ(c.dataplane->apps[0].shm_name, "kairos-echo");
  EXPECT_EQ(c.dataplane->apps[0].kthreads, 2u);
  EXPECT_EQ(c.dataplane->apps[0].cgroup, "lc");
  EXPECT_EQ(c.dataplane->apps[0].line, 5u);
  EXPECT_EQ(c.dataplane->apps[1].mode, dp::AppMode::kDirect);
  EXPECT_EQ(c.dataplane->apps[1].queue_mask, 0xcu);

  auto with = [](const std::string& from, const std::string& to) {
    std::string t = kDataplane;
    const auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  EXPECT_REFUSED(with("listen = \"10.77.0.1:7000\"", "listen = \"10.77.0.1\""), 5,
                 "bad app address");
  EXPECT_REFUSED(with("kthreads = 2", "kthreads = 0"), 5, "kthreads wants a number");
  EXPECT_REFUSED(with("kthreads = 2", "kthreads = \"2\""), 8, "wants an integer");
  EXPECT_REFUSED(with("queues = \"2-3\"", "queues = \"3-2\""), 10, "bad queue list");
  EXPECT_REFUSED(with("queues = \"2-3\"", "queues = \"2,x\""), 10, "bad queue list");
  EXPECT_REFUSED(with("queues = \"2-3\"", "queues = \"2-5\""), 10, "beyond 'queues 4'");
  EXPECT_REFUSED(with("queues = 4", "queues = 257"), 3, "0..256");
  EXPECT_REFUSED(with("backend = \"afxdp\"", "backend = \"xdp\""), 4, "backend wants");
  EXPECT_REFUSED(with("shm = \"kairos-echo\"", "shm = \"a b\""), 7, "without spaces");
  EXPECT_REFUSED(with("cgroup = \"lc\"", "cgroup = \"/lc\""), 5, "bad cgroup");
  EXPECT_REFUSED(with("listen = \"10.77.0.1:7001\"", "listen = \"10.77.0.1:7000\""), 10,
                 "overlaps the app on line 5");
  EXPECT_REFUSED(with("interface = \"kdps0\"", "interface = \"a/b\""), 2, "bad interface name");
  // Two apps on one ring region, two direct apps on one queue.
  EXPECT_REFUSED(std::string(kDataplane) +
                     "[[dataplane.app]]\nlisten = \"10.77.0.1:7002\"\nshm = \"kairos-echo\"\n",
                 15, "shm name 'kairos-echo' already used on line 5");
  EXPECT_REFUSED(std::string(kDataplane) +
                     "[[dataplane.app]]\nlisten = \"10.77.0.1:7003\"\nmode = \"direct\"\n"
                     "pin = \"/sys/fs/bpf/kairos/e\"\nqueues = \"3\"\n",
                 15, "queue 3 already belongs to the mode=direct app on line 10");
  EXPECT_REFUSED(with("interface = \"kdps0\"\n", ""), 1, "needs interface");
  EXPECT_REFUSED("[dataplane]\ninterface = \"x\"\n", 1, "needs at least one [[dataplane.app]]");
  EXPECT_REFUSED(with("[[dataplane.app]]\nlisten = \"10.77.0.1:7001\"",
                      "[[dataplane.app]]\nlisten = \"10.77.0.1:7001\"\nshm = \"kairos-echo\""),
                 10, "does not apply to mode=direct");
  EXPECT_REFUSED("[dataplane]\ninterface = \"x\"\ndpdk_args = \"--no-huge\"\n", 3,
                 "array of strings");
}

TEST(ConfigFile, OldDataplaneFileConverts) {
  const std::string old =
      "interface kdps0\nqueues 4\nbackend afxdp\n"
      "app 10.77.0.1:7000 shm=kairos-echo kthreads=2 slots=512 cgroup=system.slice/x\n"
      "app 10.77.0.1:7001 mode=direct pin=/sys/fs/bpf/kairos/d queues=1,3\n";
  const auto before = dp::parse_service_config(old, "old.conf");
  const std::string toml = dataplane_to_toml(before);
  const auto after = parse(toml);
  ASSERT_TRUE(after.dataplane) << toml;
  const auto& a = *after.dataplane;
  EXPECT_EQ(a.ifname, before.ifname);
  EXPECT_EQ(a.queues, before.queues);
  EXPECT_EQ(a.backend, before.backend);
  ASSERT_EQ(a.apps.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a.apps[i].listen, before.apps[i].listen);
    EXPECT_EQ(a.apps[i].shm_name, before.apps[i].shm_name);
    EXPECT_EQ(a.apps[i].kthreads, before.apps[i].kthreads);
    EXPECT_EQ(a.apps[i].slots, before.apps[i].slots);
    EXPECT_EQ(a.apps[i].cgroup, before.apps[i].cgroup);
    EXPECT_EQ(a.apps[i].mode, before.apps[i].mode);
    EXPECT_EQ(a.apps[i].pin_dir, before.apps[i].pin_dir);
    EXPECT_EQ(a.apps[i].queue_mask, before.apps[i].queue_mask);
  }
  const auto dpdk = dp::parse_service_config(
      "interface x\nbackend dpdk\ndpdk-arg --no-huge\ndpdk-arg --vdev=net_null0\n"
      "app [fd00::1]:80 shm=s\n",
      "old.conf");
  const auto back = parse(dataplane_to_toml(dpdk));
  EXPECT_EQ(back.dataplane->dpdk_args, dpdk.dpdk_args);
  EXPECT_EQ(back.dataplane->apps[0].listen, dpdk.apps[0].listen);
}

// The command: kairosctl convert-dataplane OLD > new.toml, then kairosd
// --config new.toml reads it; a bad old file is refused with its line.
TEST(ConfigFile, ConvertDataplaneCommand) {
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/old.conf") << "# old\ninterface kdps0\napp 10.0.0.1:7000 shm=s kthreads=2\n";
  std::ofstream(dir + "/bad.conf") << "interface kdps0\napp 10.0.0.1:7000\n";
  const std::string cmd = std::string(KAIROSCTL_BIN) + " convert-dataplane ";
  ASSERT_EQ(std::system((cmd + dir + "/old.conf > " + dir + "/new.toml").c_str()), 0);
  const auto c = load_config_file(dir + "/new.toml", 4);
  ASSERT_TRUE(c.dataplane);
  EXPECT_EQ(c.dataplane->ifname, "kdps0");
  EXPECT_EQ(c.dataplane->apps.at(0).kthreads, 2u);
  EXPECT_NE(std::system((cmd + dir + "/bad.conf > " + dir + "/out 2> " + dir + "/err").c_str()),
            0);
  std::ifstream err(dir + "/err");
  std::stringstream ss;
  ss << err.rdbuf();
  EXPECT_NE(ss.str().find("bad.conf:2: app needs shm=NAME"), std::string::npos) << ss.str();
}

TEST(ConfigFile, FlagsOverrideTheFile) {
  const auto f = parse(
      "[daemon]\nscan_interval_ms = 50\nbackend = \"kmod\"\ncgroup_watch = false\n"
      "[allocator]\npower = \"spin\"\npoll_us = 20\n");
  KairosdCommandLine base;
  apply_config_file(f, base);
  // Unflagged settings come from the file; flagged ones from the flags.
  auto p = parse_kairosd_args({"--config", "k.toml", "--scan-interval-ms", "300",
                               "--allocator-low-power"},
                              4, base);
  ASSERT_EQ(p.action, ParsedKairosdArgs::Action::kRun) << p.error;
  EXPECT_EQ(p.cmd.config_path, "k.toml");
  EXPECT_EQ(p.cmd.scan_ms, 300);
  EXPECT_EQ(p.cmd.daemon.allocator.power, AllocatorOptions::Power::kLowPower);
  EXPECT_EQ(p.cmd.daemon.backend, Backend::kmod);
  EXPECT_FALSE(p.cmd.daemon.watch_cgroups);
  EXPECT_EQ(p.cmd.daemon.allocator.poll_ns, 20000u);
  p = parse_kairosd_args({"--backend", "sched_ext", "--poll-us", "7"}, 4, base);
  EXPECT_EQ(p.cmd.daemon.backend, Backend::sched_ext);
  EXPECT_EQ(p.cmd.daemon.allocator.poll_ns, 7000u);
  EXPECT_EQ(p.cmd.scan_ms, 50);
}

TEST(ConfigFile, UnreadableFile) {
  try {
    load_config_file("/nonexistent/kairosd.toml", 4);
    FAIL();
  } catch (const ConfigFileError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/kairosd.toml: cannot read"),
              std::string::npos);
  }
}

}  // namespace
