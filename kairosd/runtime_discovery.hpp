// Mechanism + small pure helpers: finds the runtime processes whose
// kthreads kairosd's allocator drives. Convention (runtime_area.h):
// a runtime in allocator mode publishes its area as shm
// "/kairos-rt.<pid>"; kairosd scans the shm directory (every daemon scan),
// attaches each area read-only after validating it, and maps the process
// to an app through /proc/<pid>/cgroup (nearest annotated ancestor).
// Anything that does not fit (bad name, dead pid, foreign owner, bad
// header, pid mismatch, not in an annotated cgroup) is ignored, with the
// reason logged once per file.
#pragma once

#include <kairos/contracts/queue_state_area.hpp>

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kairos {

// "kairos-rt.123" (a directory entry) -> 123; anything else -> nothing.
std::optional<pid_t> parse_area_file_name(std::string_view name);
// The cgroup v2 line ("0::/a/b") of /proc/<pid>/cgroup -> "a/b" ("" for
// the root); nothing when there is no v2 line.
std::optional<std::string> parse_proc_cgroup(std::string_view text);
// Nearest ancestor of `path` (itself included) in `annotated`.
std::optional<std::string> nearest_annotated(std::string path,
                                             const std::set<std::string>& annotated);

struct DiscoveredRuntime {
  pid_t pid = 0;
  std::string cgroup;  // the annotated cgroup it belongs to
  std::shared_ptr<const RuntimeAreaView> area;
};

class RuntimeDiscovery {
 public:
  using Log = std::function<void(const std::string&)>;
  explicit RuntimeDiscovery(std::string shm_dir = "/dev/shm",
                            std::string proc_dir = "/proc");

  // One scan. Areas attached in an earlier scan are kept (same file) so a
  // scan costs a readdir and a few stats; vanished ones are dropped.
  std::vector<DiscoveredRuntime> scan(const std::set<std::string>& annotated,
                                      const Log& log);

 private:
  struct Attached {
    ino_t ino = 0;
    std::shared_ptr<const RuntimeAreaView> area;
  };
  // Why `name` cannot be used, or "" with *out filled.
  std::string examine(const std::string& name, pid_t pid, Attached* out);
  void report(const std::string& name, const std::string& why, const Log& log);

  std::string shm_dir_, proc_dir_;
  std::map<pid_t, Attached> attached_;
  std::map<std::string, std::string> reported_;  // file -> reason logged
};

}  // namespace kairos
