// kairosd's allocator loop (kairosd/allocator_service.*) on the host:
// the real poll thread, policy and mechanism over a fake scheduler (plain
// memory behind SchedPort) and a real runtime area in a memfd. No
// /dev/kairos here, so a runtime app is managed as an unmodified one; a
// grant the scheduler refuses is rolled back and retried; unmodified apps
// get their guaranteed cores; app changes and CPU
// lists from the "daemon" are followed; stopping hands every core back.
// (The wake of runtime kthreads through /dev/kairos is covered in the VM,
// vm.allocator_vm_test.)
#include "allocator_service.hpp"
#include "fake_sched.hpp"

#include <kairos/contracts/clock.hpp>
#include <kairos/contracts/queue_state.hpp>
#include <kairos/contracts/queue_state_area.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

namespace {

using namespace kairos;
using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds t = 5s) {
  const auto end = std::chrono::steady_clock::now() + t;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return f();
}

struct Logs {
  std::mutex mu;
  std::vector<std::string> lines;
  AllocatorService::Log fn() {
    return [this](const std::string& s) {
      std::lock_guard<std::mutex> g(mu);
      lines.push_back(s);
    };
  }
  bool has(const std::string& what) {
    std::lock_guard<std::mutex> g(mu);
    for (const auto& l : lines)
      if (l.find(what) != std::string::npos) return true;
    return false;
  }
};

AllocatorOptions host_options() {
  AllocatorOptions o;
  o.poll_ns = 20'000;
  o.cpu = 0;
  o.power = AllocatorOptions::Power::kLowPower;
  o.rt_priority = 0;  // a shared test host: no real-time thread
  return o;
}

TEST(AllocatorService, UnmodifiedAppGetsItsGuaranteedCoreAndBurstsOnCongestion) {
  FakeSched s(4);
  Logs log;
  AllocatorService svc(host_options(), 4, log.fn());
  svc.update({{3, 1, 2, 0, nullptr}}, std::vector<bool>(4, true));
  svc.start(s);
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 1; })) << s.describe();
  EXPECT_EQ(s.owner(0), 0u) << "the allocator's own CPU is never granted";
  EXPECT_TRUE(log.has("granted to app 3 (guaranteed"));
  EXPECT_EQ(svc.info().decision_latency.count(), 0u) << "nothing was queued";
  // Its BPF queue holds a task enqueued 2 ms ago, older than the previous
  // poll: burst. The grant's decision latency counts from that enqueue.
  s.set_queue(3, 2, monotonic_ns() - 2'000'000);
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 2; })) << s.describe();
  const status::Histogram lat = svc.info().decision_latency;
  EXPECT_EQ(lat.count(), 1u) << "one grant answered the queued work";
  EXPECT_GE(lat.sum_s, 0.002);
  EXPECT_LT(lat.sum_s, 60.0) << "measured from the enqueue, not from boot";
  // Queue empty and the owner idle on its CPUs: back to the guarantee.
  s.set_queue(3, 0, 0);
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 1; })) << s.describe();
  svc.stop();
  EXPECT_EQ(s.owned_by(3), 0) << "stopping hands every core back";
  EXPECT_NE(svc.status_lines().find("allocator mode=low-power cpu=0"), std::string::npos);
  EXPECT_NE(svc.summary().find("polls"), std::string::npos);
}

TEST(AllocatorService, AStandbyCoreTheSchedulerClaimsIsAdoptedAndGoesBackWhenIdle) {
  FakeSched s(4);
  Logs log;
  AllocatorService svc(host_options(), 4, log.fn());
  svc.update({{3, 1, 2, 0, nullptr}}, std::vector<bool>(4, true));
  svc.start(s);
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 1 && s.standby(3) != 0; }))
      << s.describe();
  const std::uint32_t slot = s.standby(3);
  ASSERT_LE(slot, 4u);
  EXPECT_NE(slot - 1, 0u) << "the allocator's own CPU is never on standby";
  EXPECT_EQ(s.owner(slot - 1), 0u);
  status::AppInfo shown;
  shown.id = 3;
  svc.fill_app(shown);
  ASSERT_TRUE(shown.standby.has_value()) << "the status names the standby core";
  EXPECT_EQ(*shown.standby, slot - 1);
  // The app's work outgrows its core: the scheduler takes the standby.
  s.set_queue(3, 1, monotonic_ns() + 1'000'000'000);  // queued, not congested
  const int c = s.claim_standby(3);
  ASSERT_EQ(c, static_cast<int>(slot - 1));
  ASSERT_TRUE(eventually([&] { return svc.info().grants_by_reason["standby"] == 1; }));
  EXPECT_EQ(s.owned_by(3), 2);
  EXPECT_EQ(s.grants_to(3), 2u) << "adopted as it is, not granted again";
  // At its most cores (2): nothing is kept for it.
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(s.standby(3), 0u);
  EXPECT_EQ(s.owned_by(3), 2);
  // Its queue empties and the claimed core idles: it goes back, and a
  // core is kept on standby again.
  s.set_queue(3, 0, 0);
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 1 && s.standby(3) != 0; }))
      << s.describe();
  svc.stop();
  EXPECT_EQ(s.standby(3), 0u) << "stopping empties the slots";
  EXPECT_EQ(s.owned_by(3), 0);
}

TEST(AllocatorService, AClaimOfTheCoreThePollGrantsAnywayIsOneGrant) {
  // Congestion seen by the poll grants the app its own standby core; the
  // scheduler claimed that core a moment before. kairosd finds the slot
  // empty and the core the app's: nothing to adopt, nothing to take back.
  FakeSched s(4);
  Logs log;
  AllocatorService svc(host_options(), 4, log.fn());
  svc.update({{3, 1, 2, 0, nullptr}}, std::vector<bool>(4, true));
  svc.start(s);
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 1 && s.standby(3) != 0; }))
      << s.describe();
  s.claim_racing_grants();
  s.set_queue(3, 2, monotonic_ns() - 2'000'000);  // congested
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 2; })) << s.describe();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(s.owned_by(3), 2) << "the granted core was taken back\n" << s.describe();
  EXPECT_EQ(svc.info().grants_by_reason["standby"], 0u);
  EXPECT_EQ(svc.info().grants_by_reason["congested"], 1u);
  svc.stop();
}

TEST(AllocatorService, WithoutStandbyNoCoreIsKeptAndThePollsStillBurst) {
  FakeSched s(4);
  Logs log;
  AllocatorOptions o = host_options();
  o.standby = false;
  AllocatorService svc(o, 4, log.fn());
  svc.update({{3, 1, 2, 0, nullptr}}, std::vector<bool>(4, true));
  svc.start(s);
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 1; })) << s.describe();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(s.standby(3), 0u);
  s.set_queue(3, 2, monotonic_ns() - 2'000'000);
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 2; })) << s.describe();
  EXPECT_EQ(s.standby(3), 0u);
  svc.stop();
}

// A runtime area in a memfd, written like a runtime writes it.
class FakeRuntime {
 public:
  explicit FakeRuntime(std::uint32_t n) {
    fd_ = memfd_create("kairos-test-area", MFD_CLOEXEC);
    len_ = runtime_area_size(n);
    EXPECT_EQ(ftruncate(fd_, static_cast<off_t>(len_)), 0);
    base_ = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    runtime_area_init(base_, n, 9, static_cast<std::uint32_t>(getpid()));
    std::string err;
    auto v = RuntimeAreaView::attach_fd(fd_, &err);
    EXPECT_TRUE(v) << err;
    view_ = std::make_shared<const RuntimeAreaView>(std::move(*v));
    // Written through the writable mapping (the view is read-only).
    const auto* h = static_cast<const kairos_runtime_area*>(base_);
    for (std::uint32_t k = 0; k < n; ++k) {
      writers_.emplace_back(reinterpret_cast<kairos_queue_state*>(
          static_cast<char*>(base_) + h->lines_offset + k * KAIROS_QUEUE_STATE_LINE_SIZE));
      writers_.back().set_parked(1);
    }
  }
  ~FakeRuntime() {
    munmap(base_, len_);
    close(fd_);
  }
  QueueStateWriter& line(std::uint32_t k) { return writers_.at(k); }
  std::shared_ptr<const RuntimeAreaView> view() const { return view_; }

 private:
  int fd_ = -1;
  std::size_t len_ = 0;
  void* base_ = nullptr;
  std::shared_ptr<const RuntimeAreaView> view_;
  std::vector<QueueStateWriter> writers_;
};

TEST(AllocatorService, WithoutDevKairosARuntimeAppIsManagedAsUnmodified) {
  ASSERT_NE(access("/dev/kairos", F_OK), 0) << "unit tests expect no kairos.ko";
  FakeSched s(3);
  Logs log;
  AllocatorService svc(host_options(), 3, log.fn());
  EXPECT_TRUE(log.has("runtime kthreads cannot be woken"));
  FakeRuntime rt(2);
  svc.update({{5, 0, 1, getpid(), rt.view()}}, std::vector<bool>(3, true));
  svc.start(s);
  ASSERT_TRUE(eventually([&] {
    return svc.status_lines().find(" apps=1 runtime_apps=0 ") != std::string::npos;
  })) << svc.status_lines();
  // Work on a kthread line is not acted on (nothing could wake it); no
  // grant is attempted and none fails.
  rt.line(0).rq_push();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(s.grants_to(5), 0u) << s.describe();
  EXPECT_NE(svc.status_lines().find(" failed=0 "), std::string::npos) << svc.status_lines();
  svc.stop();
}

TEST(AllocatorService, AFailedGrantIsRolledBackAndRetried) {
  FakeSched s(3);
  Logs log;
  AllocatorService svc(host_options(), 3, log.fn());
  s.refuse_app(5);  // the BPF side says no (e.g. the app was just retired)
  svc.update({{5, 1, 1, 0, nullptr}}, std::vector<bool>(3, true));
  svc.start(s);
  ASSERT_TRUE(eventually([&] { return s.refused() >= 3; })) << s.describe();
  EXPECT_EQ(s.owned_by(5), 0);
  EXPECT_EQ(svc.status_lines().find(" failed=0 "), std::string::npos) << svc.status_lines();
  EXPECT_TRUE(log.has("set_owner(cpu ")) << "the failure is reported";
  // Accepted again: the next poll's retry lands.
  s.refuse_app(0);
  ASSERT_TRUE(eventually([&] { return s.owned_by(5) == 1; })) << s.describe();
  // The app goes away (annotation removed): nothing of it stays.
  svc.update({}, std::vector<bool>(3, true));
  ASSERT_TRUE(eventually([&] { return s.owned_by(5) == 0; })) << s.describe();
  ASSERT_TRUE(eventually([&] {
    return svc.status_lines().find(" apps=0 ") != std::string::npos;
  })) << svc.status_lines();
  svc.stop();
}

TEST(AllocatorService, SettledAppsArePolledRarely) {
  FakeSched s(3);
  Logs log;
  AllocatorService svc(host_options(), 3, log.fn());
  svc.update({{2, 1, 1, 0, nullptr}}, std::vector<bool>(3, true));  // G1 B1: static
  svc.start(s);
  ASSERT_TRUE(eventually([&] { return s.owned_by(2) == 1; })) << s.describe();
  auto polls = [&] {
    const std::string st = svc.status_lines();
    const auto i = st.find(" polls=");
    return std::stoull(st.substr(i + 7));
  };
  const auto p0 = polls();
  std::this_thread::sleep_for(200ms);
  // 20 us polls would be ~10000 here; settled, about 20 (10 ms apart).
  EXPECT_LT(polls() - p0, 200u);
  // A burstable app arrives: polls speed up again and it is served.
  svc.update({{2, 1, 1, 0, nullptr}, {3, 0, 1, 0, nullptr}}, std::vector<bool>(3, true));
  s.set_queue(3, 1, 1);
  ASSERT_TRUE(eventually([&] { return s.owned_by(3) == 1; })) << s.describe();
  svc.stop();
}

TEST(AllocatorService, OfflineCpusAreNotGrantedAndHotplugRebuilds) {
  FakeSched s(4);
  Logs log;
  AllocatorService svc(host_options(), 4, log.fn());
  // CPUs 1 and 2 offline: only CPU 3 may be granted.
  svc.update({{2, 1, 1, 0, nullptr}}, {true, false, false, true});
  svc.start(s);
  ASSERT_TRUE(eventually([&] { return s.owner(3) == 2; })) << s.describe();
  // Too much asked of what is left: refused with a reason, nothing owned.
  svc.update({{2, 1, 1, 0, nullptr}, {4, 1, 1, 0, nullptr}}, {true, false, false, true});
  ASSERT_TRUE(eventually([&] { return log.has("app 4 not managed"); }));
  EXPECT_EQ(s.owned_by(4), 0);
  // CPU 1 comes online: a fresh policy, both apps served.
  svc.update({{2, 1, 1, 0, nullptr}, {4, 1, 1, 0, nullptr}}, {true, true, false, true});
  ASSERT_TRUE(eventually([&] { return s.owned_by(2) == 1 && s.owned_by(4) == 1; }))
      << s.describe();
  EXPECT_EQ(s.owner(0), 0u);
  EXPECT_EQ(s.owner(2), 0u);
  svc.stop();
}

}  // namespace
