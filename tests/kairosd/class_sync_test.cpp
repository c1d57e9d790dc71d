// LcMembership: which threads kairosd adds to / deletes from kairos.ko's
// LC class and how it reacts to the module's answers; the backend names and the cgroup.threads parser.
#include "class_sync.hpp"

#include <gtest/gtest.h>

#include <sched.h>

#include <cerrno>

using namespace kairos;

namespace {

std::vector<pid_t> v(std::initializer_list<pid_t> l) { return l; }

// Applies a plan as if every ioctl succeeded.
void apply_ok(LcMembership& m, const LcMembership::Step& s) {
  for (pid_t t : s.del) EXPECT_EQ(m.removed(t, 0), "");
  for (pid_t t : s.add) EXPECT_EQ(m.added(t, 0), "");
}

}  // namespace

TEST(Backend, ParsesItsNamesOnly) {
  EXPECT_EQ(parse_backend("auto"), Backend::automatic);
  EXPECT_EQ(parse_backend("sched_ext"), Backend::sched_ext);
  EXPECT_EQ(parse_backend("kmod"), Backend::kmod);
  for (const char* bad : {"", "Auto", "kmod ", "scx", "fifo"})
    EXPECT_FALSE(parse_backend(bad).has_value()) << bad;
  for (Backend b : {Backend::automatic, Backend::sched_ext, Backend::kmod})
    EXPECT_EQ(parse_backend(backend_name(b)), b);
}

TEST(Abi, OnlyTheSameMajorIsAccepted) {
  EXPECT_EQ(abi_mismatch(1, 0, 1), "");
  EXPECT_EQ(abi_mismatch(1, 7, 1), "") << "minor versions only add";
  EXPECT_EQ(abi_mismatch(2, 0, 1), "kairos.ko speaks ABI 2.0, kairosd needs 1.x");
  EXPECT_NE(abi_mismatch(0, 9, 1), "");
}

TEST(ThreadList, KeepsPositiveIdsAndSkipsGarbage) {
  EXPECT_EQ(parse_thread_list("12\n7\n12\n"), (std::set<pid_t>{7, 12}));
  EXPECT_EQ(parse_thread_list(""), std::set<pid_t>{});
  EXPECT_EQ(parse_thread_list("0\n-3\nabc\n 5\n5x\n99999999999\n42"),
            (std::set<pid_t>{42}));
}

TEST(LcMembership, AddsWhatIsWantedAndDeletesWhatLeft) {
  LcMembership m;
  auto s = m.plan({10, 11});
  EXPECT_EQ(s.add, v({10, 11}));
  EXPECT_TRUE(s.del.empty());
  apply_ok(m, s);
  EXPECT_EQ(m.members(), (std::set<pid_t>{10, 11}));
  // Nothing changed: nothing to do.
  s = m.plan({10, 11});
  EXPECT_TRUE(s.add.empty() && s.del.empty());
  // A new thread appears, one is moved out.
  s = m.plan({11, 12});
  EXPECT_EQ(s.add, v({12}));
  EXPECT_EQ(s.del, v({10}));
  apply_ok(m, s);
  EXPECT_EQ(m.members(), (std::set<pid_t>{11, 12}));
  // The annotation goes: everyone leaves.
  s = m.plan({});
  EXPECT_EQ(s.del, v({11, 12}));
  apply_ok(m, s);
  EXPECT_TRUE(m.members().empty());
}

TEST(LcMembership, RefusalsAreReportedOnceAndNotRetriedWhileWanted) {
  LcMembership m;
  auto s = m.plan({5, 6, 7, 8});
  ASSERT_EQ(s.add.size(), 4u);
  EXPECT_NE(m.added(5, -EBUSY).find("real-time"), std::string::npos);
  EXPECT_NE(m.added(6, -EEXIST).find("another owner"), std::string::npos);
  EXPECT_NE(m.added(7, -EINVAL).find("kernel thread"), std::string::npos);
  EXPECT_EQ(m.added(8, 0), "");
  EXPECT_EQ(m.refused().size(), 3u);
  // Next round: no retry of 5..7, nothing said again.
  s = m.plan({5, 6, 7, 8});
  EXPECT_TRUE(s.add.empty() && s.del.empty());
  // Thread 5 leaves the cgroup and comes back (e.g. no longer real-time):
  // tried again.
  s = m.plan({6, 7, 8});
  EXPECT_TRUE(s.add.empty());
  EXPECT_EQ(m.refused().size(), 2u);
  s = m.plan({5, 6, 7, 8});
  EXPECT_EQ(s.add, v({5}));
  EXPECT_EQ(m.added(5, 0), "");
  EXPECT_EQ(m.members(), (std::set<pid_t>{5, 8}));
}

TEST(LcMembership, ThreadGoneBeforeTheAddIsForgottenQuietly) {
  LcMembership m;
  m.plan({9});
  EXPECT_EQ(m.added(9, -ESRCH), "");
  EXPECT_TRUE(m.members().empty());
  EXPECT_TRUE(m.refused().empty());
}

TEST(LcMembership, FullClassIsRetriedEveryRoundButReportedOnce) {
  LcMembership m;
  m.plan({1, 2});
  EXPECT_EQ(m.added(1, 0), "");
  EXPECT_NE(m.added(2, -ENOSPC).find("full"), std::string::npos);
  EXPECT_TRUE(m.full());
  auto s = m.plan({1, 2});
  EXPECT_EQ(s.add, v({2}));  // retried
  EXPECT_EQ(m.added(2, -ENOSPC), "");  // but not reported again
  s = m.plan({1, 2});
  EXPECT_EQ(m.added(2, 0), "");
  EXPECT_FALSE(m.full());
  EXPECT_EQ(m.members(), (std::set<pid_t>{1, 2}));
}

TEST(LcMembership, ExitedMembersAreForgottenWithoutAnyMessage) {
  // kairos.ko frees an exited member's slot itself: LC_DEL -ESRCH only
  // means the thread is gone.
  LcMembership m;
  auto s = m.plan({1, 2, 3});
  apply_ok(m, s);
  s = m.plan({3});
  EXPECT_EQ(s.del, v({1, 2}));
  for (pid_t t : s.del) EXPECT_EQ(m.removed(t, -ESRCH), "");
  EXPECT_EQ(m.members(), (std::set<pid_t>{3}));
  EXPECT_TRUE(m.plan({3}).add.empty());
}

TEST(LcMembership, OtherDeleteErrorsAreReported) {
  LcMembership m;
  apply_ok(m, m.plan({3}));
  m.plan({});
  EXPECT_NE(m.removed(3, -EPERM), "");
  EXPECT_TRUE(m.members().empty());
  apply_ok(m, m.plan({4}));
  m.plan({});
  EXPECT_EQ(m.removed(4, -ENOENT), "") << "not ours any more: nothing to say";
}

TEST(InheritedFromMember, OnlyFifoAtTheClassPriority) {
  EXPECT_TRUE(inherited_from_member(SCHED_FIFO, 10, 10));
  EXPECT_FALSE(inherited_from_member(SCHED_FIFO, 80, 10)) << "deliberately real-time";
  EXPECT_FALSE(inherited_from_member(SCHED_RR, 10, 10));
  EXPECT_FALSE(inherited_from_member(SCHED_OTHER, 0, 10));
  EXPECT_FALSE(inherited_from_member(SCHED_FIFO, 0, 0)) << "unknown class priority";
}

TEST(ForeignSchedExt, ActiveUnlessDisabledOrAbsent) {
  EXPECT_FALSE(kairos::foreign_sched_ext_active(""));  // no sched_ext at all
  EXPECT_FALSE(kairos::foreign_sched_ext_active("disabled"));
  EXPECT_FALSE(kairos::foreign_sched_ext_active("disabled\n"));
  EXPECT_TRUE(kairos::foreign_sched_ext_active("enabled"));
  EXPECT_TRUE(kairos::foreign_sched_ext_active("enabled\n"));
  EXPECT_TRUE(kairos::foreign_sched_ext_active("enabling"));
  EXPECT_TRUE(kairos::foreign_sched_ext_active("disabling"));
}
