// App rules (kairosd/app_rules.*): the glob semantics, first match wins,
// outermost match per subtree, annotations win.
#include "app_rules.hpp"

#include <gtest/gtest.h>

namespace {

using namespace kairos;

TEST(AppRulesPattern, StarStaysInOneComponent) {
  EXPECT_TRUE(pattern_matches("kubepods.slice/*", "kubepods.slice/a.slice"));
  EXPECT_FALSE(pattern_matches("kubepods.slice/*", "kubepods.slice/a.slice/b.scope"));
  EXPECT_FALSE(pattern_matches("kubepods.slice/*", "kubepods.slice"));
  EXPECT_TRUE(pattern_matches("system.slice/batch-*.service", "system.slice/batch-1.service"));
  EXPECT_TRUE(pattern_matches("system.slice/batch-*.service", "system.slice/batch-.service"));
  EXPECT_FALSE(pattern_matches("system.slice/batch-*.service", "system.slice/batch-1.socket"));
  EXPECT_TRUE(pattern_matches("*/*", "a/b"));
  EXPECT_TRUE(pattern_matches("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(pattern_matches("a*b*c", "aXbYbZ"));
}

TEST(AppRulesPattern, DoubleStarSpansComponents) {
  EXPECT_TRUE(pattern_matches("**/memcached.service", "memcached.service"));
  EXPECT_TRUE(pattern_matches("**/memcached.service", "system.slice/memcached.service"));
  EXPECT_TRUE(pattern_matches("**/memcached.service", "a/b/c/memcached.service"));
  EXPECT_FALSE(pattern_matches("**/memcached.service", "a/memcached.service/x"));
  EXPECT_TRUE(pattern_matches("a/**", "a/b/c"));
  EXPECT_TRUE(pattern_matches("a/**", "a"));  // zero components
  EXPECT_TRUE(pattern_matches("a/**/z", "a/z"));
  EXPECT_TRUE(pattern_matches("a/**/z", "a/b/c/z"));
  EXPECT_FALSE(pattern_matches("a/**/z", "b/c/z"));
}

TEST(AppRulesPattern, LiteralIsExact) {
  EXPECT_TRUE(pattern_matches("system.slice/memcached.service", "system.slice/memcached.service"));
  EXPECT_FALSE(pattern_matches("system.slice/memcached.service", "system.slice/memcached.servic"));
  EXPECT_FALSE(pattern_matches("system.slice/memcached.service", "x/system.slice/memcached.service"));
}

TEST(AppRulesPattern, BadPatternsSayWhy) {
  EXPECT_EQ(check_pattern("a/*/b"), "");
  EXPECT_EQ(check_pattern("a/**/b"), "");
  EXPECT_NE(check_pattern(""), "");
  EXPECT_NE(check_pattern("/system.slice"), "");
  EXPECT_NE(check_pattern("a//b"), "");
  EXPECT_NE(check_pattern("a/"), "");
  EXPECT_NE(check_pattern("a/../b"), "");
  EXPECT_NE(check_pattern("a/./b"), "");
  EXPECT_NE(check_pattern("a/b**"), "");
  EXPECT_NE(check_pattern("a b"), "");
  EXPECT_NE(check_pattern("**"), "");
}

TEST(AppRules, FirstMatchingRuleWins) {
  const std::vector<AppRule> rules{
      {"system.slice/memcached.service", {AppClass::lc, 1, 2}, 1},
      {"system.slice/*", {AppClass::be, 0, 0}, 2},
  };
  ASSERT_NE(first_matching_rule(rules, "system.slice/memcached.service"), nullptr);
  EXPECT_EQ(first_matching_rule(rules, "system.slice/memcached.service")->line, 1u);
  EXPECT_EQ(first_matching_rule(rules, "system.slice/other.service")->line, 2u);
  EXPECT_EQ(first_matching_rule(rules, "user.slice/x"), nullptr);
  // Reversed: the broad rule shadows the narrow one.
  const std::vector<AppRule> reversed{rules[1], rules[0]};
  EXPECT_EQ(first_matching_rule(reversed, "system.slice/memcached.service")->line, 2u);
}

std::optional<RuleVerdict> by_rules(const std::vector<AppRule>& rules, const std::string& p) {
  if (const AppRule* r = first_matching_rule(rules, p))
    return RuleVerdict{r->annotation, "rule:" + r->pattern};
  return std::nullopt;
}

std::vector<std::string> paths(const std::vector<RuleMatch>& m) {
  std::vector<std::string> out;
  for (const auto& x : m) out.push_back(x.path);
  return out;
}

TEST(AppRules, OutermostMatchTakesTheSubtree) {
  const std::vector<AppRule> rules{{"**/*.slice", {AppClass::be, 0, 0}, 1}};
  const std::vector<std::string> cg{"a.slice/b.slice/c.scope", "a.slice", "a.slice/b.slice",
                                    "x", "x/y.slice", "x/y.slice/z.slice"};
  const auto m = match_cgroups(cg, {}, [&](const std::string& p) { return by_rules(rules, p); });
  EXPECT_EQ(paths(m), (std::vector<std::string>{"a.slice", "x/y.slice"}));
}

TEST(AppRules, AnnotationWinsOverARule) {
  const std::vector<AppRule> rules{{"kubepods.slice/*", {AppClass::lc, 1, 1}, 1}};
  const std::vector<std::string> cg{"kubepods.slice", "kubepods.slice/p1", "kubepods.slice/p1/c",
                                    "kubepods.slice/p2", "kubepods.slice/p3",
                                    "kubepods.slice/p3/c"};
  // p1 annotated itself; p3 has an annotated container: neither is the rule's.
  const std::set<std::string> annotated{"kubepods.slice/p1", "kubepods.slice/p3/c"};
  const auto m =
      match_cgroups(cg, annotated, [&](const std::string& p) { return by_rules(rules, p); });
  EXPECT_EQ(paths(m), (std::vector<std::string>{"kubepods.slice/p2"}));
  EXPECT_EQ(m[0].verdict.source, "rule:kubepods.slice/*");
  EXPECT_EQ(m[0].verdict.annotation, (Annotation{AppClass::lc, 1, 1}));
}

TEST(AppRules, InsideAnAnnotatedCgroupNoRuleApplies) {
  const std::vector<AppRule> rules{{"**/*.scope", {AppClass::be, 0, 0}, 1}};
  const std::vector<std::string> cg{"app", "app/w.scope", "other", "other/w.scope"};
  const auto m =
      match_cgroups(cg, {"app"}, [&](const std::string& p) { return by_rules(rules, p); });
  EXPECT_EQ(paths(m), (std::vector<std::string>{"other/w.scope"}));
}

TEST(AppRules, SiblingsWithPrefixNamesAreNotInside) {
  // "a-b" sorts between "a" and "a/..." as plain strings; still not inside "a".
  const std::vector<AppRule> rules{{"*", {AppClass::be, 0, 0}, 1}};
  const auto m = match_cgroups({"a", "a-b", "a/c"}, {},
                               [&](const std::string& p) { return by_rules(rules, p); });
  EXPECT_EQ(paths(m), (std::vector<std::string>{"a", "a-b"}));
}

}  // namespace
