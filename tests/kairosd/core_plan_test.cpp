// Guaranteed cores -> CPU owners.
#include "core_plan.hpp"

#include <gtest/gtest.h>

using namespace kairos;
using V = std::vector<std::uint32_t>;

TEST(CorePlan, TakesCpusFromTheTopAndKeepsTheFirstFree) {
  EXPECT_EQ(plan_owners({{1, 1}}, {true, true}, {0, 0}), (V{0, 1}));
  EXPECT_EQ(plan_owners({{1, 2}, {2, 1}}, std::vector<bool>(4, true), V(4, 0)),
            (V{0, 2, 1, 1}));
  // asking for everything still leaves the first CPU
  EXPECT_EQ(plan_owners({{1, 4}}, std::vector<bool>(4, true), V(4, 0)),
            (V{0, 1, 1, 1}));
}

TEST(CorePlan, KeepsCurrentOwnersToAvoidChurn) {
  EXPECT_EQ(plan_owners({{1, 1}}, std::vector<bool>(4, true), {0, 1, 0, 0}),
            (V{0, 1, 0, 0}));
  // shrinking keeps a subset of what it had
  EXPECT_EQ(plan_owners({{1, 1}}, std::vector<bool>(4, true), {0, 0, 1, 1}),
            (V{0, 0, 1, 0}));
  // an app that is gone loses its CPUs
  EXPECT_EQ(plan_owners({}, std::vector<bool>(4, true), {0, 3, 3, 0}), V(4, 0));
}

TEST(CorePlan, FollowsHotplug) {
  // CPU 3 offline: the app moves to CPU 2
  EXPECT_EQ(plan_owners({{1, 1}}, {true, true, true, false}, {0, 0, 0, 1}),
            (V{0, 0, 1, 0}));
  // CPU 0 offline: CPU 1 becomes the one kept free
  EXPECT_EQ(plan_owners({{1, 1}}, {false, true, true}, {0, 1, 0}), (V{0, 0, 1}));
  // too few CPUs: first app served first
  EXPECT_EQ(plan_owners({{1, 1}, {2, 1}}, {true, true}, {0, 0}), (V{0, 1}));
}
