// kairosctl top's view-model (host): rates between two snapshots, the
// history, sorting, a restarted kairosd, and kairosd not running.
#include "top_model.hpp"

#include <gtest/gtest.h>

namespace {

using namespace kairos;
using namespace kairos::ctl;

status::Snapshot snap(std::uint64_t t_ns, std::uint64_t grants1, std::uint64_t disp1,
                      std::uint64_t wait1_ns, int pid = 10) {
  status::Snapshot s;
  s.daemon.pid = pid;
  s.daemon.backend = "sched_ext";
  s.daemon.sched_ext_state = "enabled";
  s.daemon.cpus = 3;
  s.daemon.taken_ns = t_ns;
  s.tunables = {900, 1000, "defaults"};
  s.sched = status::SchedCounters{};
  s.sched->guard_throttles = t_ns / 100'000'000;  // 10 per second
  status::AppInfo a;
  a.id = 1;
  a.cgroup = "lc-a";
  a.cls = "lc";
  a.owned = 1;
  a.burstable = 2;
  a.grants = {{"congested", grants1}};
  a.dispatched = disp1;
  a.wait_ns_total = wait1_ns;
  status::AppInfo b;
  b.id = 2;
  b.cgroup = "lc-b";
  b.cls = "lc";
  b.owned = 2;
  b.burstable = 2;
  b.dispatched = disp1;
  b.wait_ns_total = wait1_ns * 3;
  s.apps = {a, b};
  for (unsigned c = 0; c < 3; ++c) {
    status::CpuInfo ci;
    ci.cpu = c;
    ci.online = true;
    ci.owner = c == 0 ? 0 : c;
    ci.busy = c == 1;
    ci.kmod_throttles = t_ns / 1'000'000'000 * c;
    s.cpus.push_back(ci);
  }
  status::AllocatorInfo al;
  al.mode = "spin";
  al.poll_interval_ns = 5000;
  al.polls = t_ns / 10'000;  // 100000 per second
  al.poll_ns_total = al.polls * 300;
  al.quiet_poll_ns_p50 = 250;
  s.allocator = al;
  return s;
}

TEST(TopModel, NotRunningSaysSo) {
  TopModel m;
  m.update(std::nullopt, "no live /run/kairos/status");
  const TopView v = m.view();
  EXPECT_FALSE(v.running);
  EXPECT_EQ(v.message, "kairosd is not running (no live /run/kairos/status); waiting for it");
}

TEST(TopModel, RatesOverTheLastInterval) {
  TopModel m;
  m.update(snap(1'000'000'000, 10, 100, 100 * 5'000));
  TopView v = m.view();
  ASSERT_TRUE(v.running);
  EXPECT_EQ(v.header, "kairosd pid 10, sched_ext enabled, 3 CPUs, 0 restarts");
  EXPECT_EQ(v.apps[0].grants_per_s, 0) << "one snapshot: no rate yet";
  // 2 s later: 40 more grants, 200 tasks started that waited 8 us each.
  m.update(snap(3'000'000'000, 50, 300, 100 * 5'000 + 200 * 8'000));
  v = m.view();
  ASSERT_EQ(v.apps.size(), 2u);
  EXPECT_EQ(v.apps[0].id, 1u);
  EXPECT_DOUBLE_EQ(v.apps[0].grants_per_s, 20.0);
  EXPECT_DOUBLE_EQ(v.apps[0].wait_us, 8.0);
  EXPECT_DOUBLE_EQ(v.apps[1].wait_us, 24.0);
  EXPECT_EQ(v.apps[0].grants_history, (std::vector<double>{0, 20}));
  ASSERT_EQ(v.cpus.size(), 3u);
  EXPECT_EQ(v.cpus[2].owner, 2u);
  EXPECT_TRUE(v.cpus[1].busy);
  EXPECT_EQ(v.cpus[2].throttles_per_s, 2u);  // 2 per second on CPU 2
  EXPECT_NE(v.allocator.find("100000 polls/s"), std::string::npos) << v.allocator;
  EXPECT_NE(v.allocator.find("250 ns median"), std::string::npos) << v.allocator;
  EXPECT_EQ(v.guard, "guard 900/1000 us: 30 throttles (10/s)");
  EXPECT_EQ(v.last_exit, "");
  // The same snapshot again changes nothing.
  m.update(snap(3'000'000'000, 50, 300, 100 * 5'000 + 200 * 8'000));
  EXPECT_EQ(m.view().apps[0].grants_history.size(), 2u);
}

TEST(TopModel, SortsAndCycles) {
  TopModel m;
  m.update(snap(1'000'000'000, 0, 100, 1000));
  m.update(snap(2'000'000'000, 5, 200, 2000));
  EXPECT_EQ(m.view().apps[0].id, 1u);
  m.set_sort(next(m.sort()));
  EXPECT_EQ(m.sort(), TopSort::kWait);
  EXPECT_EQ(m.view().apps[0].id, 2u);  // waits 3x longer
  m.set_sort(next(m.sort()));
  EXPECT_EQ(m.sort(), TopSort::kGrants);
  EXPECT_EQ(m.view().apps[0].id, 1u);
  m.set_sort(next(m.sort()));
  EXPECT_EQ(m.view().apps[0].id, 2u);  // owns 2
  EXPECT_EQ(next(m.sort()), TopSort::kId);
  EXPECT_STREQ(to_string(TopSort::kGrants), "grants/s");
}

TEST(TopModel, ANewKairosdStartsAfresh) {
  TopModel m;
  m.update(snap(1'000'000'000, 100, 100, 1000));
  m.update(snap(2'000'000'000, 200, 200, 2000));
  m.update(snap(2'500'000'000, 1, 1, 10, /*pid=*/11));
  const TopView v = m.view();
  EXPECT_EQ(v.apps[0].grants_per_s, 0) << "no rate across two daemons";
  EXPECT_EQ(v.apps[0].grants_history.size(), 1u);
  auto s = snap(3'000'000'000, 1, 1, 10, 11);
  s.daemon.last_exit = "the kernel stopped the scheduler: kind=1025";
  m.update(s);
  EXPECT_EQ(m.view().last_exit, s.daemon.last_exit);
}

TEST(TopModel, Sparkline) {
  EXPECT_EQ(sparkline({}), "");
  EXPECT_EQ(sparkline({0, 0}), "▁▁");
  EXPECT_EQ(sparkline({0, 1, 2}), "▁▅█");
}

}  // namespace
