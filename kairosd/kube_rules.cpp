#include "kube_rules.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <vector>

namespace kairos {
namespace {

// A pod uid as the kubelet names it: hex digits and '-' (cgroupfs) or
// '_' (systemd, which reserves '-' for the slice hierarchy).
bool valid_uid(std::string_view u) {
  if (u.empty() || u.size() > 64) return false;
  return std::all_of(u.begin(), u.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-' || c == '_';
  });
}

// "<prefix>pod<uid><suffix>" -> uid, or "" when it is not one.
std::string_view uid_of(std::string_view name, std::string_view prefix, std::string_view suffix) {
  if (name.size() <= prefix.size() + 3 + suffix.size()) return {};
  if (name.substr(0, prefix.size()) != prefix) return {};
  name.remove_prefix(prefix.size());
  if (name.substr(0, 3) != "pod") return {};
  name.remove_prefix(3);
  if (name.substr(name.size() - suffix.size()) != suffix) return {};
  name.remove_suffix(suffix.size());
  return valid_uid(name) ? name : std::string_view{};
}

struct CpuMax {
  bool limited = false;
  std::uint64_t quota = 0, period = 0;
};

std::optional<CpuMax> parse_cpu_max(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const auto sp = s.find(' ');
  if (sp == std::string::npos) return std::nullopt;
  const std::string_view q(s.data(), sp), p(s.data() + sp + 1, s.size() - sp - 1);
  auto num = [](std::string_view t, std::uint64_t& v) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return !t.empty() && ec == std::errc() && end == t.data() + t.size();
  };
  CpuMax m;
  if (!num(p, m.period) || m.period == 0) return std::nullopt;
  if (q == "max") return m;
  if (!num(q, m.quota) || m.quota == 0) return std::nullopt;
  m.limited = true;
  return m;
}

}  // namespace

std::string_view kube_qos_name(KubeQos q) {
  switch (q) {
    case KubeQos::guaranteed: return "guaranteed";
    case KubeQos::burstable: return "burstable";
    case KubeQos::besteffort: return "besteffort";
  }
  return "?";
}

std::optional<KubePod> parse_kube_pod_cgroup(std::string_view path) {
  const auto parts = split_cgroup_path(path);
  std::size_t k = 0;
  while (k < parts.size() && parts[k] != "kubepods.slice" && parts[k] != "kubepods") ++k;
  if (k == parts.size()) return std::nullopt;
  const bool systemd = parts[k] == "kubepods.slice";
  const std::vector<std::string_view> rest(parts.begin() + static_cast<long>(k) + 1, parts.end());
  KubePod pod;
  std::string_view uid;
  if (systemd) {
    if (rest.size() == 1) {
      uid = uid_of(rest[0], "kubepods-", ".slice");
      pod.qos = KubeQos::guaranteed;
    } else if (rest.size() == 2 && rest[0] == "kubepods-burstable.slice") {
      uid = uid_of(rest[1], "kubepods-burstable-", ".slice");
      pod.qos = KubeQos::burstable;
    } else if (rest.size() == 2 && rest[0] == "kubepods-besteffort.slice") {
      uid = uid_of(rest[1], "kubepods-besteffort-", ".slice");
      pod.qos = KubeQos::besteffort;
    }
  } else {
    if (rest.size() == 1) {
      uid = uid_of(rest[0], "", "");
      pod.qos = KubeQos::guaranteed;
    } else if (rest.size() == 2 && rest[0] == "burstable") {
      uid = uid_of(rest[1], "", "");
      pod.qos = KubeQos::burstable;
    } else if (rest.size() == 2 && rest[0] == "besteffort") {
      uid = uid_of(rest[1], "", "");
      pod.qos = KubeQos::besteffort;
    }
  }
  if (uid.empty()) return std::nullopt;
  pod.uid = uid;
  return pod;
}

std::optional<RuleVerdict> classify_kube_pod(const KubePod& pod,
                                             const std::optional<std::string>& cpu_max,
                                             const KubeSettings& settings) {
  RuleVerdict v;
  v.source = "kubernetes:" + std::string(kube_qos_name(pod.qos));
  switch (pod.qos) {
    case KubeQos::besteffort:
      v.annotation = Annotation{AppClass::be, 0, 0};
      return v;
    case KubeQos::burstable:
      if (!settings.burstable) return std::nullopt;
      v.annotation = *settings.burstable;
      return v;
    case KubeQos::guaranteed: {
      // Unreadable or unlimited: LC without cores of its own, it bursts.
      v.annotation = Annotation{AppClass::lc, 0, 1};
      const auto m = cpu_max ? parse_cpu_max(*cpu_max) : std::nullopt;
      if (m && m->limited) {
        const std::uint64_t floor = m->quota / m->period;
        const std::uint64_t ceil = (m->quota + m->period - 1) / m->period;
        constexpr std::uint64_t kCap = 4096;  // more CPUs than any machine
        v.annotation.guaranteed = static_cast<unsigned>(std::min(floor, kCap));
        v.annotation.burstable = static_cast<unsigned>(std::clamp<std::uint64_t>(ceil, 1, kCap));
      }
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace kairos
