// The one way userspace opens /dev/kairos (kairos.ko, <linux/kairos.h>):
// open, check the module's ABI major, and say why not in one wording.
// What each user then does with the device (libkairos parks and grants,
// kairosd's allocator grants and preempts, kairosd's class sync adds LC
// threads) stays with that user.
#pragma once

#include <linux/kairos.h>

#include <cstdint>
#include <memory>
#include <string>

namespace kairos {

// "" when a module speaking ABI major.minor serves a user built for
// want_major.x, else the sentence that says why not, naming user (e.g.
// "kairosd", "libkairos").
std::string devkairos_abi_mismatch(unsigned major, unsigned minor,
                                   unsigned want_major, const std::string& user);

class DevKairosDevice {
 public:
  // Opens path (O_RDWR) and checks its ABI major against the one this
  // program was built for. Null with *why set when the module is absent,
  // does not answer KAIROS_IOC_VERSION, or speaks another major.
  static std::unique_ptr<DevKairosDevice> open(const std::string& user, std::string* why,
                                               const std::string& path = KAIROS_DEV_PATH);
  ~DevKairosDevice();
  DevKairosDevice(const DevKairosDevice&) = delete;
  DevKairosDevice& operator=(const DevKairosDevice&) = delete;

  int fd() const { return fd_; }
  const kairos_version& version() const { return version_; }
  // ioctl(fd(), cmd, arg): 0 or -errno.
  int ioctl(unsigned long cmd, void* arg) const;
  // The per-CPU pages (version().nr_cpus of KAIROS_CPU_PAGE_SIZE bytes),
  // mapped read-only on the first call and unmapped with the device; null
  // with *why set when the module reports an unusable layout or mmap
  // fails (EPERM without CAP_SYS_NICE / CAP_SYS_ADMIN, or inside a pid
  // namespace: the pages show host-wide thread ids).
  const void* cpu_pages(std::string* why);

 private:
  DevKairosDevice(int fd, const kairos_version& v) : fd_(fd), version_(v) {}
  int fd_;
  kairos_version version_;
  void* pages_ = nullptr;
};

}  // namespace kairos
