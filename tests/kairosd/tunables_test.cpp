#include "tunables.hpp"

#include <gtest/gtest.h>

using namespace kairos;

TEST(Tunables, DefaultsWithoutTheModule) {
  auto t = resolve_tunables(std::nullopt, std::nullopt);
  EXPECT_EQ(t.quantum_us, kDefaultQuantumUs);
  EXPECT_EQ(t.period_us, kDefaultPeriodUs);
  EXPECT_EQ(t.source, "defaults");
  EXPECT_EQ(resolve_tunables("500\n", std::nullopt).source, "defaults");
}

TEST(Tunables, TakesTheModuleValues) {
  auto t = resolve_tunables("500\n", "2000\n");
  EXPECT_EQ(t.quantum_us, 500u);
  EXPECT_EQ(t.period_us, 2000u);
  EXPECT_EQ(t.source, "kairos.ko");
}

TEST(Tunables, UnusableModuleValuesFallBack) {
  for (auto [q, p] : std::vector<std::pair<std::string, std::string>>{
           {"2000", "1000"}, {"0", "1000"}, {"abc", "1000"}, {"1", "0"},
           {"-5", "1000"}, {"", ""}}) {
    auto t = resolve_tunables(q, p);
    EXPECT_EQ(t.quantum_us, kDefaultQuantumUs) << q << "/" << p;
    EXPECT_NE(t.source, "kairos.ko");
  }
}
