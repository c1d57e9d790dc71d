#include "devkairos_granter.hpp"

#include "../kmod/uapi/kairos.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kairos {

std::unique_ptr<DevKairosGranter> DevKairosGranter::open(std::string* why) {
  const int fd = ::open(KAIROS_DEV_PATH, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *why = std::string(KAIROS_DEV_PATH ": ") + std::strerror(errno) +
           (errno == ENOENT ? " (kairos.ko not loaded)" : "");
    return nullptr;
  }
  kairos_version v{};
  if (::ioctl(fd, KAIROS_IOC_VERSION, &v) != 0) {
    *why = std::string("KAIROS_IOC_VERSION: ") + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  if (v.major != KAIROS_ABI_MAJOR) {
    *why = KAIROS_DEV_PATH " speaks ABI " + std::to_string(v.major) + "." +
           std::to_string(v.minor) + ", kairosd was built for " +
           std::to_string(KAIROS_ABI_MAJOR) + ".x";
    ::close(fd);
    return nullptr;
  }
  const std::size_t len = static_cast<std::size_t>(v.nr_cpus) * KAIROS_CPU_PAGE_SIZE;
  void* pages = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  if (pages == MAP_FAILED) {
    *why = std::string("mmap of " KAIROS_DEV_PATH ": ") + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<DevKairosGranter>(new DevKairosGranter(fd, pages, v.nr_cpus));
}

DevKairosGranter::~DevKairosGranter() {
  ::munmap(const_cast<void*>(pages_), static_cast<std::size_t>(nr_cpus_) * KAIROS_CPU_PAGE_SIZE);
  ::close(fd_);
}

std::uint32_t DevKairosGranter::parked_on(std::uint32_t cpu) const {
  if (cpu >= nr_cpus_) return 0;
  const auto* pg = KAIROS_CPU_PAGE(const_cast<void*>(pages_), cpu);
  return __atomic_load_n(&pg->parked, __ATOMIC_RELAXED);
}

int DevKairosGranter::grant(pid_t tid, std::uint32_t cpu) {
  kairos_grant g{};
  g.cpu = cpu;
  g.tid = tid;
  return ::ioctl(fd_, KAIROS_IOC_GRANT, &g) == 0 ? 0 : -errno;
}

int DevKairosGranter::preempt_flag(std::uint32_t cpu) {
  if (cpu >= KAIROS_CPUSET_WORDS * 64) return -EINVAL;
  kairos_preempt p{};
  p.cpus.bits[cpu / 64] = 1ULL << (cpu % 64);
  p.signo = 0;  // flag only: the runtime notices preempt_gen at a safe point
  return ::ioctl(fd_, KAIROS_IOC_PREEMPT, &p) == 0 ? 0 : -errno;
}

}  // namespace kairos
