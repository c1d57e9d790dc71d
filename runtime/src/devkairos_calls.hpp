// Mechanism only: the /dev/kairos calls libkairos makes (<linux/kairos.h>),
// on the device opened through contracts' one wrapper (devkairos.hpp).
// Opening also checks that this process may grant;
// the policy of when to park and whom to wake lives in park_devkairos.cpp.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace kairos {
class DevKairosDevice;
}

namespace kairos::detail {

class DevKairos {
 public:
  // Opens /dev/kairos; null with *why set (a sentence) when it is absent,
  // speaks another ABI major, or this process lacks CAP_SYS_NICE /
  // CAP_SYS_ADMIN (needed to grant).
  static std::unique_ptr<DevKairos> open(std::string* why);
  ~DevKairos();
  DevKairos(const DevKairos&) = delete;
  DevKairos& operator=(const DevKairos&) = delete;

  // KAIROS_IOC_PARK on the calling thread (0 timeout = none), polling
  // its CPU page for spin_ns first. 0 when a grant woke it (*cpu = the CPU
  // it now runs on), else -EINTR, -ETIMEDOUT or another -errno.
  int park(std::uint64_t timeout_ns, std::uint64_t spin_ns, unsigned* cpu) const;
  // KAIROS_IOC_GRANT: wake thread tid (parked on any CPU) and run it on
  // cpu. 0, -ESRCH (not parked), -EINVAL (bad CPU) or another -errno.
  int grant(pid_t tid, unsigned cpu) const;
  unsigned nr_cpus() const { return nr_cpus_; }
  // The per-CPU pages (nr_cpus() of them), mapped read-only when opened.
  const void* pages() const { return pages_; }

 private:
  DevKairos(std::unique_ptr<DevKairosDevice> dev, unsigned nr_cpus, const void* pages);
  std::unique_ptr<DevKairosDevice> dev_;
  unsigned nr_cpus_;
  const void* pages_;
};

// CPU cpu's preempt_gen in pages mapped from /dev/kairos (a flag the
// module bumps on each KAIROS_IOC_PREEMPT of that CPU).
std::uint64_t page_preempt_gen(const void* pages, unsigned cpu);
// How many threads are parked on CPU cpu now (the page's parked count).
std::uint32_t page_parked(const void* pages, unsigned cpu);

// The longest timeout the module accepts for one PARK (it refuses more).
inline constexpr std::uint64_t kDevKairosMaxParkNs = 3600ull * 1000000000ull;

}  // namespace kairos::detail
