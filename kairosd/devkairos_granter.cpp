#include "devkairos_granter.hpp"

#include <kairos/contracts/devkairos.hpp>

#include <cerrno>

namespace kairos {

std::unique_ptr<DevKairosGranter> DevKairosGranter::open(std::string* why) {
  auto dev = DevKairosDevice::open("kairosd", why);
  if (!dev) return nullptr;
  const void* pages = dev->cpu_pages(why);
  if (!pages) return nullptr;
  const std::uint32_t n = dev->version().nr_cpus;
  return std::unique_ptr<DevKairosGranter>(new DevKairosGranter(std::move(dev), pages, n));
}

DevKairosGranter::DevKairosGranter(std::unique_ptr<DevKairosDevice> dev, const void* pages,
                                   std::uint32_t nr_cpus)
    : dev_(std::move(dev)), pages_(pages), nr_cpus_(nr_cpus) {}

DevKairosGranter::~DevKairosGranter() = default;

std::uint32_t DevKairosGranter::parked_on(std::uint32_t cpu) const {
  if (cpu >= nr_cpus_) return 0;
  const auto* pg = KAIROS_CPU_PAGE(const_cast<void*>(pages_), cpu);
  return __atomic_load_n(&pg->parked, __ATOMIC_RELAXED);
}

int DevKairosGranter::grant(pid_t tid, std::uint32_t cpu) {
  kairos_grant g{};
  g.cpu = cpu;
  g.tid = tid;
  return dev_->ioctl(KAIROS_IOC_GRANT, &g);
}

int DevKairosGranter::preempt_flag(std::uint32_t cpu) {
  if (cpu >= KAIROS_CPUSET_WORDS * 64) return -EINVAL;
  kairos_preempt p{};
  p.cpus.bits[cpu / 64] = 1ULL << (cpu % 64);
  p.signo = 0;  // flag only: the runtime notices preempt_gen at a safe point
  return dev_->ioctl(KAIROS_IOC_PREEMPT, &p);
}

int DevKairosGranter::admit(pid_t tgid, bool admit) {
  kairos_admit a{};
  a.tgid = tgid;
  a.flags = admit ? 0 : KAIROS_ADMIT_REVOKE;
  return dev_->ioctl(KAIROS_IOC_ADMIT, &a);
}

}  // namespace kairos
