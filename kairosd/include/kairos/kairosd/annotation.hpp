// Policy (pure, unit-tested): what a cgroup annotation says and whether a
// requested annotation is acceptable on this machine. The xattr I/O lives
// in cgroup_xattr.{hpp,cpp}; kairosctl and kairosd share this code.
//
// Stored format: one trusted extended attribute on the cgroup directory,
//   trusted.kairos.app = "v1 class=lc guaranteed=1 burstable=2"
// One attribute, so an annotation is written (or replaced) atomically.
// trusted.* because only an administrator may make an app LC: the kernel
// lets only CAP_SYS_ADMIN read or write trusted.* attributes, while the
// owner of any delegated cgroup (a systemd user session, a rootless
// container) may write user.* ones. The older user.kairos.app is never
// acted on: kairosd reports it, and `kairosctl migrate` (root) moves it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kairos {

inline constexpr const char* kAnnotationXattr = "trusted.kairos.app";
inline constexpr const char* kUntrustedAnnotationXattr = "user.kairos.app";
// Why a cgroup that carries only the untrusted attribute is ignored.
inline constexpr const char* kUntrustedAnnotationWhy =
    "user.kairos.app is not trusted (the owner of a delegated cgroup can write "
    "user.* attributes); an administrator moves it with 'kairosctl migrate'";
inline constexpr unsigned kMaxApps = 15;  // KAIROS_MAX_APPS - 1

enum class AppClass { lc, be };

struct Annotation {
  AppClass cls = AppClass::be;
  unsigned guaranteed = 0;  // cores always owned by the app (LC only)
  unsigned burstable = 0;   // most cores the app may hold (>= guaranteed)
  bool operator==(const Annotation&) const = default;
};

// An annotated cgroup: path relative to the cgroup root ("a/b").
struct AnnotatedCgroup {
  std::string path;
  Annotation annotation;
};

// Either a value or a readable error.
template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;
  explicit operator bool() const { return value.has_value(); }
};

std::string_view class_name(AppClass c);
Parsed<AppClass> parse_class(std::string_view text);
// A whole decimal number in [0, max]; no signs, spaces or suffixes.
Parsed<unsigned> parse_count(std::string_view what, std::string_view text,
                             unsigned max);

std::string format_annotation(const Annotation& a);
Parsed<Annotation> parse_annotation(std::string_view stored);

// Normalises a cgroup given by the user (absolute under root, or relative
// to it) to "a/b" form; rejects the root itself, "..", empty parts.
Parsed<std::string> normalize_cgroup_path(std::string_view root,
                                          std::string_view path);

// Checks that `wanted` may be stored on cgroup `path` given the machine's
// CPU count and the other annotations (`existing`, which may include an
// older annotation of `path` itself: it is replaced). Returns "" if fine.
std::string check_annotation(const std::string& path, const Annotation& wanted,
                             unsigned nr_cpus,
                             const std::vector<AnnotatedCgroup>& existing);

}  // namespace kairos
