#include "app_rules.hpp"

#include <algorithm>

namespace kairos {

std::vector<std::string_view> split_cgroup_path(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = s.find('/', start);
    parts.push_back(s.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

namespace {

// One component against one pattern component with '*' wildcards:
// the classic greedy match with one backtrack point.
bool component_matches(std::string_view pat, std::string_view s) {
  std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (p < pat.size() && pat[p] == s[i]) {
      ++p;
      ++i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool parts_match(const std::vector<std::string_view>& pat, std::size_t p,
                 const std::vector<std::string_view>& path, std::size_t i) {
  if (p == pat.size()) return i == path.size();
  if (pat[p] == "**") {
    for (std::size_t k = i; k <= path.size(); ++k)
      if (parts_match(pat, p + 1, path, k)) return true;
    return false;
  }
  return i < path.size() && component_matches(pat[p], path[i]) &&
         parts_match(pat, p + 1, path, i + 1);
}

bool inside(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

std::string check_pattern(std::string_view pattern) {
  if (pattern.empty()) return "empty pattern";
  if (pattern.size() > 4096) return "pattern longer than 4096 characters";
  if (pattern.front() == '/')
    return "pattern starts with '/' (patterns are relative to the cgroup root, as "
           "kairosctl annotate takes paths)";
  for (const auto part : split_cgroup_path(pattern)) {
    if (part.empty()) return "empty component (\"//\" or a trailing '/')";
    if (part == "." || part == "..") return "'.' or '..' component";
    if (part != "**" && part.find("**") != std::string_view::npos)
      return "'**' must be a whole component (like \"a/**/b\")";
    for (const char c : part)
      if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
        return "space or control character in the pattern";
  }
  if (pattern == "**") return "\"**\" alone would make the whole tree one app";
  return "";
}

bool pattern_matches(std::string_view pattern, std::string_view path) {
  return parts_match(split_cgroup_path(pattern), 0, split_cgroup_path(path), 0);
}

const AppRule* first_matching_rule(const std::vector<AppRule>& rules, std::string_view path) {
  for (const auto& r : rules)
    if (pattern_matches(r.pattern, path)) return &r;
  return nullptr;
}

std::vector<RuleMatch> match_cgroups(
    const std::vector<std::string>& cgroups, const std::set<std::string>& annotated,
    const std::function<std::optional<RuleVerdict>(const std::string&)>& classify) {
  std::vector<std::string> sorted(cgroups);
  // Sorting puts each cgroup right after its ancestors ('/' sorts before
  // every character a cgroup name may hold except a few punctuation marks,
  // so compare component-wise instead).
  std::sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) {
    const auto x = split_cgroup_path(a), y = split_cgroup_path(b);
    return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end());
  });
  std::vector<RuleMatch> out;
  std::string claimed;  // the last matched or annotated cgroup; its subtree is taken
  for (const auto& path : sorted) {
    if (path.empty()) continue;  // the root is never an app
    if (!claimed.empty() && inside(path, claimed)) continue;
    if (annotated.count(path)) {
      claimed = path;
      continue;
    }
    auto v = classify(path);
    if (!v) continue;
    // An annotated cgroup below: the annotation decides for it, and apps
    // cannot nest, so this one stays unmatched.
    const auto below = annotated.upper_bound(path);
    bool has_annotated_below = false;
    for (auto it = below; it != annotated.end(); ++it)
      if (inside(*it, path)) {
        has_annotated_below = true;
        break;
      }
    if (has_annotated_below) continue;
    out.push_back({path, std::move(*v)});
    claimed = path;
  }
  return out;
}

}  // namespace kairos
