// Mechanism: load the kairos sched_ext scheduler from its libbpf skeleton,
// attach it, read what it publishes, detach it.
#pragma once

#include <kairos_sched_abi.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

struct kairos_sched;  // the libbpf skeleton
struct bpf_link;

namespace kairos {

struct SchedOptions {
  std::uint64_t slice_ns = 5'000'000;
};

struct SchedExit {
  std::uint32_t kind = 0;
  std::int64_t code = 0;
  std::string reason;
  std::string message;
};

class SchedLoader {
 public:
  // Loads and attaches; throws std::runtime_error with a readable reason.
  explicit SchedLoader(const SchedOptions& opts);
  ~SchedLoader();
  SchedLoader(const SchedLoader&) = delete;
  SchedLoader& operator=(const SchedLoader&) = delete;

  kairos_sched_stats stats() const;
  // Set once the kernel has stopped the scheduler (error, watchdog, sysrq).
  std::optional<SchedExit> exit_info() const;

 private:
  ::kairos_sched* skel_ = nullptr;
  ::bpf_link* link_ = nullptr;
};

// Text of /sys/kernel/sched_ext/state, or "" when the kernel has no sched_ext.
std::string sched_ext_state();

}  // namespace kairos
