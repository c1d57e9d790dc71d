// Policy (pure, unit-tested): app rules from kairosd.toml. A rule names
// cgroups by a path pattern (relative to the cgroup root) and gives them a
// class and cores, as `kairosctl annotate` would, without writing anything
// on the cgroup.
//
// Patterns: components separated by '/'. In a component, '*' matches any
// run of characters (none included) but never '/'; every other character
// matches itself. A component that is exactly "**" matches zero or more
// whole components. So "kubepods.slice/*" names the direct children of
// kubepods.slice, "**/memcached.service" that unit at any depth.
//
// Which rule: the first rule in file order whose pattern matches (as
// firewall rules: put the narrow rules first). Which cgroups: walking from
// the root, a matched cgroup becomes the app and its descendants belong to
// it (a task belongs to its nearest app ancestor), so they are not matched
// again. An annotation (trusted.kairos.app) wins: no rule applies to an
// annotated cgroup, to one inside it, or to one that has an annotated
// cgroup inside it (apps cannot nest).
#pragma once

#include <kairos/kairosd/annotation.hpp>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kairos {

// "a/b/c" -> {"a", "b", "c"}; views into s.
std::vector<std::string_view> split_cgroup_path(std::string_view s);

struct AppRule {
  std::string pattern;
  Annotation annotation;
  unsigned line = 0;  // in the config file, for messages
};

// "" when pattern is usable, else why not.
std::string check_pattern(std::string_view pattern);
// Whether a (checked) pattern matches a cgroup path "a/b/c".
bool pattern_matches(std::string_view pattern, std::string_view path);
// The first rule matching path, nullptr when none does.
const AppRule* first_matching_rule(const std::vector<AppRule>& rules, std::string_view path);

// What a rule (or the built-in Kubernetes set) makes of one cgroup.
struct RuleVerdict {
  Annotation annotation;
  std::string source;  // for logs and status: "rule:LINE" or "kubernetes:QOS"
};

struct RuleMatch {
  std::string path;
  RuleVerdict verdict;
};

// Decides which cgroups become apps by rule. cgroups: every cgroup path
// under the root; annotated: those carrying an annotation (valid or not);
// classify: the rules' verdict for one path (nullopt: no rule matches).
// Result in path order.
std::vector<RuleMatch> match_cgroups(
    const std::vector<std::string>& cgroups, const std::set<std::string>& annotated,
    const std::function<std::optional<RuleVerdict>(const std::string&)>& classify);

}  // namespace kairos
