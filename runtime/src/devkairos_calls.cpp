// The /dev/kairos system calls libkairos makes (see devkairos_calls.hpp).
#include "devkairos_calls.hpp"

#include <kairos/contracts/devkairos.hpp>

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kairos::detail {
namespace {

std::string err(int e) { return std::strerror(e); }

}  // namespace

std::unique_ptr<DevKairos> DevKairos::open(std::string* why) {
  auto dev = DevKairosDevice::open("libkairos", why);
  if (!dev) return nullptr;
  // Waking a kthread is a GRANT, which the module allows only to
  // CAP_SYS_NICE / CAP_SYS_ADMIN. Ask the module itself (capget would miss
  // user namespaces): granting our own thread, which is not parked, is
  // -ESRCH when allowed and -EPERM when not.
  kairos_grant g{};
  g.tid = static_cast<__s32>(::syscall(SYS_gettid));
  const int r = dev->ioctl(KAIROS_IOC_GRANT, &g);
  if (r != -ESRCH) {
    *why = r == -EPERM
               ? std::string("waking a parked kthread (KAIROS_IOC_GRANT) needs "
                             "CAP_SYS_NICE or CAP_SYS_ADMIN")
               : "KAIROS_IOC_GRANT probe failed: " + err(-r);
    return nullptr;
  }
  // Read-only pages (anyone may map them so): preempt_gen, the flag that
  // KAIROS_IOC_PREEMPT raises.
  const void* pages = dev->cpu_pages(why);
  if (!pages) return nullptr;
  const unsigned n = dev->version().nr_cpus;
  return std::unique_ptr<DevKairos>(new DevKairos(std::move(dev), n, pages));
}

DevKairos::DevKairos(std::unique_ptr<DevKairosDevice> dev, unsigned nr_cpus,
                     const void* pages)
    : dev_(std::move(dev)), nr_cpus_(nr_cpus), pages_(pages) {}

DevKairos::~DevKairos() = default;

std::uint64_t page_preempt_gen(const void* pages, unsigned cpu) {
  const kairos_cpu_page* pg = KAIROS_CPU_PAGE(pages, cpu);
  // The kernel bumps it with a plain store: a volatile read sees it.
  return *static_cast<const volatile __u64*>(&pg->preempt_gen);
}

std::uint32_t page_parked(const void* pages, unsigned cpu) {
  const kairos_cpu_page* pg = KAIROS_CPU_PAGE(pages, cpu);
  return *static_cast<const volatile __u32*>(&pg->parked);
}

int DevKairos::park(std::uint64_t timeout_ns, std::uint64_t spin_ns,
                    unsigned* cpu) const {
  kairos_park a{};
  a.timeout_ns = timeout_ns;
  a.spin_ns = spin_ns;
  const int r = dev_->ioctl(KAIROS_IOC_PARK, &a);
  if (r == 0) *cpu = a.cpu;
  return r;
}

int DevKairos::grant(pid_t tid, unsigned cpu) const {
  kairos_grant g{};
  g.cpu = cpu;
  g.tid = tid;
  return dev_->ioctl(KAIROS_IOC_GRANT, &g);
}

}  // namespace kairos::detail
