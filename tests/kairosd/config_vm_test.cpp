// kairosd.toml in the sched_ext VM (label 'vm'): app rules make apps of
// cgroups as they appear, an annotation wins over a rule, SIGHUP applies a
// good file and refuses a bad one (keeping the running rules), and the
// built-in Kubernetes rule set classes pods of a kubelet-shaped cgroup tree
// (systemd and cgroupfs drivers) by QoS and cpu.max, as pods come and go.
#include "sched_testlib.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace {

using namespace kairos::vmtest;
using namespace kairos::schedtest;
using namespace std::chrono_literals;

const std::string kRoot = "/sys/fs/cgroup/";
const std::string kConf = "/tmp/kairos-config-vm-test.toml";

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text << std::flush;
}

// Atomically, as an editor or a ConfigMap update does.
void replace_config(const std::string& text) {
  write(kConf + ".new", text);
  ASSERT_EQ(::rename((kConf + ".new").c_str(), kConf.c_str()), 0);
}

// cgroups made by the test, removed (processes killed) deepest first.
class Tree {
 public:
  ~Tree() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) remove(*it);
  }
  std::string mk(const std::string& rel) {
    const std::string dir = kRoot + rel;
    EXPECT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
    dirs_.push_back(rel);
    return dir;
  }
  static void remove(const std::string& rel) {
    const std::string dir = kRoot + rel;
    std::ofstream(dir + "/cgroup.kill") << "1";
    wait_for([&] { return read_file(dir + "/cgroup.procs").empty(); }, 5s);
    ::rmdir(dir.c_str());
  }

 private:
  std::vector<std::string> dirs_;
};

std::string app(const std::string& status, const std::string& cgroup, const std::string& key) {
  return status_field(status, "app", "cgroup=" + cgroup, key);
}

const char* kRulesA =
    "[guard]\nquantum_us = 800\nperiod_us = 1000\n"
    "[[rule]]\nmatch = \"kt-rules/web.service\"\nclass = \"lc\"\nguaranteed = 1\n"
    "[[rule]]\nmatch = \"kt-rules/batch-*.service\"\nclass = \"be\"\n";
const char* kRulesB =
    "[guard]\nquantum_us = 700\nperiod_us = 1000\n"
    "[[rule]]\nmatch = \"kt-rules/**/worker\"\nclass = \"lc\"\nburstable = 2\n";

TEST(ConfigVm, RulesAnnotationsAndReload) {
  KernelLogGuard guard;
  Tree t;
  t.mk("kt-rules");
  Child web(sleeper(), t.mk("kt-rules/web.service"));
  Child batch(sleeper(), t.mk("kt-rules/batch-1.service"));
  t.mk("kt-rules/other");
  Child worker(sleeper(), t.mk("kt-rules/other/worker"));
  write(kConf, kRulesA);
  Kairosd d({"--config", kConf, "--rescan-interval-ms", "500"});
  ASSERT_TRUE(d.wait_ready()) << d.output();

  // The rules' apps, with the rule that made each.
  ASSERT_TRUE(wait_for([&] { return app(d.status(), "kt-rules/web.service", "class") == "lc"; },
                       10s)) << d.status() << d.output();
  std::string st = d.status();
  EXPECT_EQ(app(st, "kt-rules/web.service", "guaranteed"), "1");
  EXPECT_EQ(app(st, "kt-rules/web.service", "burstable"), "1");
  EXPECT_EQ(app(st, "kt-rules/web.service", "source"), "rule:kt-rules/web.service");
  EXPECT_EQ(app(st, "kt-rules/batch-1.service", "class"), "be");
  EXPECT_EQ(app(st, "kt-rules/batch-1.service", "source"), "rule:kt-rules/batch-*.service");
  EXPECT_EQ(app(st, "kt-rules/other/worker", "class"), "");
  EXPECT_TRUE(wait_for([&] { return app(d.status(), "kt-rules/web.service", "owned") == "1"; },
                       10s)) << d.status();
  // [guard] gives the defaults when kairos.ko does not.
  if (!path_exists("/sys/kernel/kairos/quantum_us")) {
    EXPECT_EQ(status_field(st, "tunables", "", "quantum_us"), "800") << st;
  }

  // A cgroup that appears while kairosd runs: matched at once (inotify).
  Child batch2(sleeper(), t.mk("kt-rules/batch-2.service"));
  EXPECT_TRUE(wait_for([&] { return app(d.status(), "kt-rules/batch-2.service", "class") == "be"; },
                       5s)) << d.status();

  // An annotation wins over the rule, and the rule is back when it goes.
  std::string out;
  ASSERT_EQ(kairosctl({"annotate", "kt-rules/web.service", "--class", "be"}, &out), 0) << out;
  EXPECT_TRUE(wait_for([&] {
    return app(d.status(), "kt-rules/web.service", "source") == "annotation";
  }, 5s)) << d.status();
  EXPECT_EQ(app(d.status(), "kt-rules/web.service", "class"), "be");
  ASSERT_EQ(kairosctl({"annotate", "kt-rules/web.service", "--clear"}, &out), 0) << out;
  EXPECT_TRUE(wait_for([&] {
    return app(d.status(), "kt-rules/web.service", "source") == "rule:kt-rules/web.service";
  }, 5s)) << d.status();

  // A bad file: refused with FILE:LINE, kairosd runs on with the old rules.
  replace_config(std::string(kRulesB) + "[[rule]]\nmatch = \"/abs\"\nclass = \"be\"\n");
  ASSERT_EQ(::kill(d.pid(), SIGHUP), 0);
  EXPECT_TRUE(wait_for([&] {
    return d.output().find("reload refused, keeping the running configuration: " + kConf +
                           ":9: [[rule]] match '/abs'") != std::string::npos;
  }, 5s)) << d.output();
  std::this_thread::sleep_for(1500ms);  // a few scans and a full rescan
  st = d.status();
  EXPECT_TRUE(d.alive());
  EXPECT_EQ(app(st, "kt-rules/web.service", "class"), "lc") << st;
  EXPECT_EQ(app(st, "kt-rules/batch-2.service", "class"), "be") << st;
  EXPECT_EQ(app(st, "kt-rules/other/worker", "class"), "") << st;
  if (!path_exists("/sys/kernel/kairos/quantum_us")) {
    EXPECT_EQ(status_field(st, "tunables", "", "quantum_us"), "800") << st;
  }

  // A good one: the new rules apply at once, the old apps go.
  replace_config(kRulesB);
  ASSERT_EQ(::kill(d.pid(), SIGHUP), 0);
  EXPECT_TRUE(wait_for([&] { return app(d.status(), "kt-rules/other/worker", "class") == "lc"; },
                       5s)) << d.status() << d.output();
  st = d.status();
  EXPECT_EQ(app(st, "kt-rules/other/worker", "burstable"), "2");
  EXPECT_EQ(app(st, "kt-rules/other/worker", "source"), "rule:kt-rules/**/worker");
  EXPECT_EQ(app(st, "kt-rules/web.service", "class"), "") << st;
  EXPECT_EQ(app(st, "kt-rules/batch-1.service", "class"), "") << st;
  if (!path_exists("/sys/kernel/kairos/quantum_us")) {
    EXPECT_EQ(status_field(st, "tunables", "", "quantum_us"), "700") << st;
  }
  EXPECT_NE(d.output().find("configuration reloaded: 1 rules"), std::string::npos) << d.output();
  EXPECT_EQ(d.stop(SIGINT), 0) << d.output();
}

// Pod uids as each driver spells them.
const std::string kUid[] = {"1a2b3c4d_0000_4000_8000_00000000000a",
                            "1a2b3c4d_0000_4000_8000_00000000000b",
                            "1a2b3c4d_0000_4000_8000_00000000000c",
                            "1a2b3c4d-0000-4000-8000-00000000000d",
                            "1a2b3c4d-0000-4000-8000-00000000000e",
                            "1a2b3c4d-0000-4000-8000-00000000000f",
                            "1a2b3c4d-0000-4000-8000-000000000010",
                            "1a2b3c4d-0000-4000-8000-000000000011"};

TEST(ConfigVm, KubernetesPods) {
  KernelLogGuard guard;
  // The kubelet enables the cpu controller down to the pods, to write cpu.max.
  const bool have_cpu = read_file(kRoot + "cgroup.controllers").find("cpu") != std::string::npos;
  ASSERT_TRUE(have_cpu) << "no cpu controller: " << read_file(kRoot + "cgroup.controllers");
  const bool root_had_cpu =
      read_file(kRoot + "cgroup.subtree_control").find("cpu") != std::string::npos;
  write(kRoot + "cgroup.subtree_control", "+cpu");
  {
    Tree t;
    std::vector<std::unique_ptr<Child>> procs;
    // A pod: its cgroup, cpu.max, one container with a process.
    auto pod = [&](const std::string& rel, const std::string& container,
                   const std::string& cpu_max) {
      t.mk(rel);
      if (!cpu_max.empty()) write(kRoot + rel + "/cpu.max", cpu_max);
      procs.push_back(std::make_unique<Child>(sleeper(), t.mk(rel + "/" + container)));
    };
    const std::string sd = "kubepods.slice", fs = "kubepods";
    const std::string sdg = sd + "/kubepods-pod" + kUid[0] + ".slice";
    const std::string sdb = sd + "/kubepods-burstable.slice/kubepods-burstable-pod" + kUid[1] +
                            ".slice";
    const std::string sde = sd + "/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUid[2] +
                            ".slice";
    const std::string fsg = fs + "/pod" + kUid[3];
    const std::string fsb = fs + "/burstable/pod" + kUid[4];
    const std::string fse = fs + "/besteffort/pod" + kUid[5];
    for (const std::string& q : {sd, sd + "/kubepods-burstable.slice",
                                 sd + "/kubepods-besteffort.slice", fs, fs + "/burstable",
                                 fs + "/besteffort"}) {
      t.mk(q);
      write(kRoot + q + "/cgroup.subtree_control", "+cpu");
    }
    pod(sdg, "cri-containerd-aaaa.scope", "100000 100000");  // 1 CPU
    pod(sdb, "cri-containerd-bbbb.scope", "300000 100000");
    pod(sde, "cri-containerd-cccc.scope", "");
    pod(fsg, "dddd", "50000 100000");  // 500m
    pod(fsb, "eeee", "");
    pod(fse, "ffff", "");
    ASSERT_EQ(read_file(kRoot + sdg + "/cpu.max"), "100000 100000\n");

    write(kConf,
          "[kubernetes]\nenabled = true\n[kubernetes.burstable]\nclass = \"lc\"\n"
          "burstable = 1\n");
    Kairosd d({"--config", kConf, "--rescan-interval-ms", "500"});
    ASSERT_TRUE(d.wait_ready()) << d.output();
    ASSERT_TRUE(wait_for([&] { return app(d.status(), fse, "class") == "be"; }, 10s))
        << d.status() << d.output();
    std::string st = d.status();
    // Guaranteed: LC, guaranteed = request rounded down, bursting to the limit.
    EXPECT_EQ(app(st, sdg, "class"), "lc") << st;
    EXPECT_EQ(app(st, sdg, "guaranteed"), "1");
    EXPECT_EQ(app(st, sdg, "burstable"), "1");
    EXPECT_EQ(app(st, sdg, "source"), "kubernetes:guaranteed");
    EXPECT_EQ(app(st, fsg, "class"), "lc");
    EXPECT_EQ(app(st, fsg, "guaranteed"), "0");
    EXPECT_EQ(app(st, fsg, "burstable"), "1");
    // Burstable as configured; BestEffort BE.
    EXPECT_EQ(app(st, sdb, "class"), "lc");
    EXPECT_EQ(app(st, sdb, "source"), "kubernetes:burstable");
    EXPECT_EQ(app(st, fsb, "class"), "lc");
    EXPECT_EQ(app(st, sde, "class"), "be");
    EXPECT_EQ(app(st, sde, "source"), "kubernetes:besteffort");
    // The pod is the app: its containers, the QoS and kubepods cgroups are not.
    EXPECT_EQ(app(st, sdg + "/cri-containerd-aaaa.scope", "class"), "");
    EXPECT_EQ(app(st, sd, "class"), "");
    EXPECT_EQ(app(st, fs + "/besteffort", "class"), "");
    EXPECT_TRUE(wait_for([&] { return app(d.status(), sdg, "owned") == "1"; }, 10s))
        << d.status();
    // kairosctl status says who made each app.
    std::string table;
    ASSERT_EQ(kairosctl({"--status-file", Kairosd::status_path(), "status"}, &table), 0);
    const auto row = table.find(" " + fse + " ");
    ASSERT_NE(row, std::string::npos) << table;
    EXPECT_NE(table.substr(row, table.find('\n', row) - row).find("kubernetes:besteffort"),
              std::string::npos) << table;

    // A pod that comes while kairosd runs, and one asking more than the
    // machine can guarantee (2 CPUs here: at most 1), reported, not applied.
    const std::string fsn = fs + "/besteffort/pod" + kUid[6];
    pod(fsn, "gggg", "");
    EXPECT_TRUE(wait_for([&] { return app(d.status(), fsn, "class") == "be"; }, 5s))
        << d.status();
    const std::string big = fs + "/pod" + kUid[7];
    pod(big, "hhhh", "200000 100000");
    EXPECT_TRUE(wait_for([&] {
      return d.status().find("ignored cgroup=" + big + " why=kubernetes:guaranteed: ") !=
             std::string::npos;
    }, 5s)) << d.status();
    EXPECT_EQ(app(d.status(), big, "class"), "");

    // A pod that goes: its app is retired.
    Tree::remove(sdg + "/cri-containerd-aaaa.scope");
    Tree::remove(sdg);
    EXPECT_TRUE(wait_for([&] { return app(d.status(), sdg, "class").empty(); }, 5s))
        << d.status();
    EXPECT_EQ(app(d.status(), fsg, "class"), "lc");
    EXPECT_NE(d.output().find("(" + sdg + ") retired"), std::string::npos) << d.output();

    // Turned off by a reload: every pod app goes.
    replace_config("[kubernetes]\nenabled = false\n");
    ASSERT_EQ(::kill(d.pid(), SIGHUP), 0);
    EXPECT_TRUE(wait_for([&] { return app(d.status(), fse, "class").empty(); }, 5s))
        << d.status();
    EXPECT_EQ(app(d.status(), fsg, "class"), "");
    EXPECT_EQ(d.stop(SIGINT), 0) << d.output();
    procs.clear();
  }
  if (!root_had_cpu) write(kRoot + "cgroup.subtree_control", "-cpu");
}

}  // namespace
