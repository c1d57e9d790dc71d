// The Daemon's app rules: which cgroups kairosd.toml's [[rule]] and
// [kubernetes] make apps (the pure decisions are app_rules.* and
// kube_rules.*; this walks the cgroup tree and reads cpu.max), and a
// reload of them.
#include "daemon.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace kairos {
namespace {

constexpr int kMaxDepth = 16;  // as the annotation scan

void walk(const std::string& root, const std::string& rel, int depth,
          std::vector<std::string>& out) {
  if (!rel.empty()) out.push_back(rel);
  if (depth >= kMaxDepth) return;
  DIR* d = ::opendir((rel.empty() ? root : root + "/" + rel).c_str());
  if (!d) return;  // removed meanwhile
  while (dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    walk(root, rel.empty() ? e->d_name : rel + "/" + e->d_name, depth + 1, out);
  }
  ::closedir(d);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<FoundCgroup> Daemon::rule_cgroups(const std::vector<FoundCgroup>& annotated,
                                              std::map<std::string, std::string>& sources) const {
  std::vector<FoundCgroup> out;
  if (opts_.rules.empty() && !opts_.kubernetes.enabled) return out;
  std::vector<std::string> all;
  walk(opts_.cgroup_root, "", 0, all);
  std::set<std::string> marked;
  for (const auto& f : annotated) marked.insert(f.path);
  const auto classify = [&](const std::string& path) -> std::optional<RuleVerdict> {
    if (const AppRule* r = first_matching_rule(opts_.rules, path))
      return RuleVerdict{r->annotation, "rule:" + r->pattern};
    if (!opts_.kubernetes.enabled) return std::nullopt;
    const auto pod = parse_kube_pod_cgroup(path);
    if (!pod) return std::nullopt;
    return classify_kube_pod(*pod, read_file(opts_.cgroup_root + "/" + path + "/cpu.max"),
                             opts_.kubernetes);
  };
  auto matches = match_cgroups(all, marked, classify);
  // When the app table is full, be apps lose first: they run as ordinary
  // tasks anyway (check_annotation() takes the cgroups in this order).
  std::stable_partition(matches.begin(), matches.end(), [](const RuleMatch& m) {
    return m.verdict.annotation.cls == AppClass::lc;
  });
  for (auto& m : matches) {
    struct stat st {};
    if (::stat((opts_.cgroup_root + "/" + m.path).c_str(), &st) != 0) continue;  // gone
    FoundCgroup f;
    f.path = m.path;
    f.id = st.st_ino;
    f.raw = format_annotation(m.verdict.annotation);
    f.parsed.value = m.verdict.annotation;
    sources[m.path] = m.verdict.source;
    out.push_back(std::move(f));
  }
  return out;
}

void Daemon::reload_rules(std::vector<AppRule> rules, KubeSettings kubernetes,
                          GuardTunables guard_defaults) {
  opts_.rules = std::move(rules);
  opts_.kubernetes = std::move(kubernetes);
  opts_.guard_defaults = guard_defaults;
  daemon_log("configuration reloaded: " + std::to_string(opts_.rules.size()) + " rules, kubernetes " +
      (opts_.kubernetes.enabled ? "on" : "off"));
  sync_tunables();
  sync_apps();
  sync_cores();
  sync_class();
  write_status();
}

}  // namespace kairos
