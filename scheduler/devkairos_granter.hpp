// Mechanism: /dev/kairos (kairos.ko) as kairosd's allocator uses it: GRANT
// a parked thread a CPU, PREEMPT (flag only) a CPU. Kept apart from the BPF
// side because both ABIs define KAIROS_MAX_CPUS.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace kairos {

// /dev/kairos opened for granting; absent when kairos.ko is not loaded.
class DevKairosGranter {
 public:
  // Opens and checks the ABI major; on failure returns null and says why.
  static std::unique_ptr<DevKairosGranter> open(std::string* why);
  ~DevKairosGranter();
  // 0 or -errno.
  int grant(pid_t tid, std::uint32_t cpu);
  int preempt_flag(std::uint32_t cpu);

 private:
  explicit DevKairosGranter(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace kairos
