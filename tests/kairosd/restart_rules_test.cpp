#include "restart_rules.hpp"

#include <kairos/sched_abi.h>

#include <gtest/gtest.h>

using namespace kairos;

TEST(RestartRules, RestartsWhenTheKernelAsks) {
  const auto hotplug = static_cast<std::int64_t>(KAIROS_SCX_ECODE_ACT_RESTART |
                                                 KAIROS_SCX_ECODE_RSN_HOTPLUG);
  EXPECT_TRUE(decide_restart(KAIROS_SCX_EXIT_UNREG_KERN, hotplug, 0).restart);
  EXPECT_TRUE(decide_restart(KAIROS_SCX_EXIT_UNREG_BPF,
                             static_cast<std::int64_t>(KAIROS_SCX_ECODE_ACT_RESTART), 0)
                  .restart);
  EXPECT_TRUE(decide_restart(KAIROS_SCX_EXIT_ERROR_STALL, 0, 0).restart);
  EXPECT_TRUE(decide_restart(KAIROS_SCX_EXIT_ERROR_BPF, 0, 4).restart);
}

TEST(RestartRules, StopsWhenAskedOrFlapping) {
  EXPECT_FALSE(decide_restart(KAIROS_SCX_EXIT_UNREG, 0, 0).restart);
  EXPECT_FALSE(decide_restart(KAIROS_SCX_EXIT_SYSRQ, 0, 0).restart);
  EXPECT_FALSE(decide_restart(KAIROS_SCX_EXIT_ERROR, 0, kMaxRestartsPerMinute).restart);
  EXPECT_FALSE(decide_restart(KAIROS_SCX_EXIT_UNREG_BPF, 0, 0).restart);
  EXPECT_FALSE(decide_restart(KAIROS_SCX_EXIT_ERROR, 0, kMaxRestartsPerMinute).why.empty());
}
