// Mechanism: /dev/kairos (kairos.ko) as kairosd's allocator uses it: GRANT
// a parked thread a CPU, PREEMPT (flag only) a CPU, ADMIT the runtime
// processes it drives (only admitted or privileged threads may park).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace kairos {

class DevKairosDevice;

// /dev/kairos opened for granting; absent when kairos.ko is not loaded.
class DevKairosGranter {
 public:
  // Opens and checks the ABI major; on failure returns null and says why.
  static std::unique_ptr<DevKairosGranter> open(std::string* why);
  ~DevKairosGranter();
  // 0 or -errno.
  int grant(pid_t tid, std::uint32_t cpu);
  int preempt_flag(std::uint32_t cpu);
  // KAIROS_IOC_ADMIT: lets the threads of process tgid park (admit), or no
  // longer (!admit), for as long as this granter lives. 0 or -errno.
  int admit(pid_t tgid, bool admit);
  // Threads parked in the module on `cpu` right now, read from the
  // read-only mapping of the per-CPU pages (no system call); 0 for a CPU
  // out of range.
  std::uint32_t parked_on(std::uint32_t cpu) const;

 private:
  DevKairosGranter(std::unique_ptr<DevKairosDevice> dev, const void* pages,
                   std::uint32_t nr_cpus);
  std::unique_ptr<DevKairosDevice> dev_;
  const void* pages_;
  std::uint32_t nr_cpus_;
};

}  // namespace kairos
