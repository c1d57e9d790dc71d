// The /dev/kairos system calls (see devkairos.hpp).
#include "devkairos.hpp"

#include "../../kmod/uapi/kairos.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kairos::detail {
namespace {

int ioc(int fd, unsigned long cmd, void* arg) {
  return ::ioctl(fd, cmd, arg) == 0 ? 0 : -errno;
}

std::string err(int e) { return std::strerror(e); }

}  // namespace

std::unique_ptr<DevKairos> DevKairos::open(std::string* why) {
  const int fd = ::open(KAIROS_DEV_PATH, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    *why = e == ENOENT ? std::string(KAIROS_DEV_PATH) +
                             " is not present (kairos.ko not loaded)"
                       : "cannot open " KAIROS_DEV_PATH ": " + err(e);
    return nullptr;
  }
  kairos_version v{};
  if (int r = ioc(fd, KAIROS_IOC_VERSION, &v)) {
    *why = "KAIROS_IOC_VERSION failed: " + err(-r);
    ::close(fd);
    return nullptr;
  }
  if (v.major != KAIROS_ABI_MAJOR) {
    *why = "kairos.ko speaks ABI " + std::to_string(v.major) + "." +
           std::to_string(v.minor) + " but libkairos was built for ABI " +
           std::to_string(KAIROS_ABI_MAJOR) + "." +
           std::to_string(KAIROS_ABI_MINOR) + " (the major must match)";
    ::close(fd);
    return nullptr;
  }
  // Waking a kthread is a GRANT, which the module allows only to
  // CAP_SYS_NICE / CAP_SYS_ADMIN. Ask the module itself (capget would miss
  // user namespaces): granting our own thread, which is not parked, is
  // -ESRCH when allowed and -EPERM when not.
  kairos_grant g{};
  g.tid = static_cast<__s32>(::syscall(SYS_gettid));
  const int r = ioc(fd, KAIROS_IOC_GRANT, &g);
  if (r != -ESRCH) {
    *why = r == -EPERM
               ? std::string("waking a parked kthread (KAIROS_IOC_GRANT) needs "
                             "CAP_SYS_NICE or CAP_SYS_ADMIN")
               : "KAIROS_IOC_GRANT probe failed: " + err(-r);
    ::close(fd);
    return nullptr;
  }
  // Read-only pages (anyone may map them so): preempt_gen, the flag that
  // KAIROS_IOC_PREEMPT raises.
  if (v.nr_cpus == 0 || v.nr_cpus > KAIROS_MAX_CPUS ||
      v.cpu_page_size != KAIROS_CPU_PAGE_SIZE) {
    *why = "kairos.ko reports " + std::to_string(v.nr_cpus) + " CPUs with " +
           std::to_string(v.cpu_page_size) + "-byte pages, expected 1.." +
           std::to_string(KAIROS_MAX_CPUS) + " of " +
           std::to_string(KAIROS_CPU_PAGE_SIZE);
    ::close(fd);
    return nullptr;
  }
  void* pages = ::mmap(nullptr, std::size_t{v.nr_cpus} * KAIROS_CPU_PAGE_SIZE,
                       PROT_READ, MAP_SHARED, fd, 0);
  if (pages == MAP_FAILED) {
    *why = "mmap of the " KAIROS_DEV_PATH " CPU pages failed: " + err(errno);
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<DevKairos>(new DevKairos(fd, v.nr_cpus, pages));
}

DevKairos::~DevKairos() {
  ::munmap(pages_, std::size_t{nr_cpus_} * KAIROS_CPU_PAGE_SIZE);
  ::close(fd_);
}

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
  const int r = ioc(fd_, KAIROS_IOC_PARK, &a);
  if (r == 0) *cpu = a.cpu;
  return r;
}

int DevKairos::grant(pid_t tid, unsigned cpu) const {
  kairos_grant g{};
  g.cpu = cpu;
  g.tid = tid;
  return ioc(fd_, KAIROS_IOC_GRANT, &g);
}

}  // namespace kairos::detail
