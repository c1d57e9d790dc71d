// kairosctl status's view (host): the status document read back from
// kairosd's JSON, rendered as text and as --json, with and without kairosd.
#include "status_view.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace {

using namespace kairos;
using namespace kairos::ctl;

status::Snapshot snapshot() {
  status::Snapshot s;
  s.daemon.pid = 4242;
  s.daemon.backend = "sched_ext";
  s.daemon.sched_ext_state = "enabled";
  s.daemon.cpus = 2;
  s.daemon.restarts = 1;
  s.watch.mode = "inotify";
  s.watch.rescans = 3;
  s.tunables = {900, 1000, "defaults"};
  s.sched = status::SchedCounters{};
  s.sched->grants = 5;
  s.sched->guard_throttles = 2;
  status::AppInfo a;
  a.id = 1;
  a.cgroup = "kt-lc";
  a.cls = "lc";
  a.guaranteed = 1;
  a.burstable = 1;
  a.owned = 1;
  a.cpus = {1};
  a.dispatched = 10;
  a.wait_ns_total = 50'000;
  s.apps.push_back(a);
  s.ignored.push_back({"bad", "not trusted"});
  status::AllocatorInfo al;
  al.mode = "low-power";
  al.cpu = 0;
  al.poll_interval_ns = 50'000;
  al.quiet_poll_ns_p50 = 900;
  s.allocator = al;
  return s;
}

bool alive(int) { return true; }
bool dead(int) { return false; }

std::string write_status(const std::string& name, const std::string& json) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(status_json_path(path)) << json;
  return path;
}

TEST(StatusView, ReadsTheJsonBesideTheStatusFile) {
  const std::string path = write_status("st-live", status::to_json_text(snapshot()));
  EXPECT_EQ(status_json_path("/run/kairos/status"), "/run/kairos/status.json");
  auto r = read_status(path, alive);
  ASSERT_TRUE(r.snapshot) << r.why_not;
  EXPECT_EQ(*r.snapshot, snapshot());
  r = read_status(path, dead);
  EXPECT_FALSE(r.snapshot);
  EXPECT_EQ(r.why_not, "no live " + path);
  r = read_status(::testing::TempDir() + "/st-missing", alive);
  EXPECT_FALSE(r.snapshot);
  EXPECT_NE(r.why_not.find("no live"), std::string::npos);
  const std::string bad = write_status("st-bad", "{\"schema\":\"kairos.status\",\"version\":7}");
  r = read_status(bad, alive);
  EXPECT_FALSE(r.snapshot);
  EXPECT_NE(r.why_not.find("schema version 7"), std::string::npos) << r.why_not;
}

TEST(StatusView, TextKeepsItsWording) {
  const std::string t = render_status_text(snapshot());
  for (const char* line : {
           "kairosd: running (pid 4242), backend sched_ext, sched_ext enabled, 1 restarts, 2 CPUs\n",
           "cgroups: followed by inotify, 3 full rescans\n",
           "guard: LC may use 900 us of every 1000 us per CPU (defaults)\n",
           "scheduler: 5 grants, 0 preempt kicks, 2 guard throttles, 0 rescues, 0 LC fallbacks\n",
           "allocator: low-power on CPU 0, poll every 50 us, 900 ns per poll (median) (0 ns per "
           "monitored kthread, 0 kthreads), 0 grants, 0 revokes\n",
           "allocator latency (p99, at most): - us from queued work to its grant decision, "
           "- us to apply a grant\n",
           "QUEUED HEAD_WAIT  WAIT_AVG  WAIT_P99  WAIT_MAX",
           "1   kt-lc                lc       1     1     1 1             0         0         5 ",
           "ignored bad: not trusted\n"})
    EXPECT_NE(t.find(line), std::string::npos) << line << "in\n" << t;
  EXPECT_EQ(t.find("last scheduler exit"), std::string::npos);
  auto s = snapshot();
  s.daemon.last_exit = "the kernel stopped the scheduler: kind=1025";
  EXPECT_NE(render_status_text(s).find("last scheduler exit: the kernel stopped"),
            std::string::npos);
}

TEST(StatusView, JsonIsTheDocumentWithRunning) {
  const auto j = nlohmann::json::parse(render_status_json(snapshot()));
  EXPECT_EQ(j["schema"], "kairos.status");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["running"], true);
  EXPECT_EQ(j["apps"][0]["cgroup"], "kt-lc");
  EXPECT_EQ(j["apps"][0]["owned"], 1);
  EXPECT_EQ(j["allocator"]["poll_interval_ns"], 50000);
  std::string err;
  const auto back = status::from_json_text(j.dump(), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(*back, snapshot());
}

TEST(StatusView, OfflineTextAndJson) {
  const std::vector<OfflineApp> apps{{"svc", "lc", 1, 2, "", false},
                                     {"old", "", 0, 0, "user.kairos.app is not trusted", true},
                                     {"junk", "", 0, 0, "bad annotation", false}};
  const std::string t = render_offline_text("no live /run/kairos/status", apps);
  EXPECT_NE(t.find("kairosd: not running (no live /run/kairos/status)\n"), std::string::npos) << t;
  EXPECT_NE(t.find("svc                      lc        1     2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("old                      ignored: user.kairos.app is not trusted"),
            std::string::npos) << t;
  EXPECT_NE(t.find("junk                     invalid annotation: bad annotation"),
            std::string::npos) << t;
  const auto j = nlohmann::json::parse(render_offline_json("no live x", apps));
  EXPECT_EQ(j["running"], false);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["why_not"], "no live x");
  ASSERT_EQ(j["annotations"].size(), 3u);
  EXPECT_EQ(j["annotations"][0]["class"], "lc");
  EXPECT_EQ(j["annotations"][0]["burstable"], 2);
  EXPECT_EQ(j["annotations"][1]["untrusted"], true);
  EXPECT_EQ(j["annotations"][2]["error"], "bad annotation");
}

}  // namespace
