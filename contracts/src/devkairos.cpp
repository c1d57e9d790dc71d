// The one place userspace opens /dev/kairos (see devkairos.hpp); the lint
// test (tests/lint) keeps it so.
#include <kairos/contracts/devkairos.hpp>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kairos {

std::string devkairos_abi_mismatch(unsigned major, unsigned minor,
                                   unsigned want_major, const std::string& user) {
  if (major == want_major) return "";
  return "kairos.ko speaks ABI " + std::to_string(major) + "." + std::to_string(minor) +
         ", " + user + " needs " + std::to_string(want_major) + ".x";
}

std::unique_ptr<DevKairosDevice> DevKairosDevice::open(const std::string& user,
                                                       std::string* why,
                                                       const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    *why = e == ENOENT ? "kairos.ko is not loaded (" + path + " is not present)"
                       : "cannot open " + path + ": " + std::strerror(e);
    return nullptr;
  }
  kairos_version v{};
  if (::ioctl(fd, KAIROS_IOC_VERSION, &v) != 0) {
    *why = path + " does not answer KAIROS_IOC_VERSION (" + std::strerror(errno) +
           "): not kairos.ko, or a much older one";
    ::close(fd);
    return nullptr;
  }
  if (std::string m = devkairos_abi_mismatch(v.major, v.minor, KAIROS_ABI_MAJOR, user);
      !m.empty()) {
    *why = m;
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<DevKairosDevice>(new DevKairosDevice(fd, v));
}

DevKairosDevice::~DevKairosDevice() {
  if (pages_) ::munmap(pages_, std::size_t{version_.nr_cpus} * KAIROS_CPU_PAGE_SIZE);
  ::close(fd_);
}

int DevKairosDevice::ioctl(unsigned long cmd, void* arg) const {
  return ::ioctl(fd_, cmd, arg) == 0 ? 0 : -errno;
}

const void* DevKairosDevice::cpu_pages(std::string* why) {
  if (pages_) return pages_;
  const kairos_version& v = version_;
  if (v.nr_cpus == 0 || v.nr_cpus > KAIROS_MAX_CPUS ||
      v.cpu_page_size != KAIROS_CPU_PAGE_SIZE) {
    *why = "kairos.ko reports " + std::to_string(v.nr_cpus) + " CPUs with " +
           std::to_string(v.cpu_page_size) + "-byte pages, expected 1.." +
           std::to_string(KAIROS_MAX_CPUS) + " of " +
           std::to_string(KAIROS_CPU_PAGE_SIZE);
    return nullptr;
  }
  void* p = ::mmap(nullptr, std::size_t{v.nr_cpus} * KAIROS_CPU_PAGE_SIZE, PROT_READ,
                   MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    *why = e == EPERM ? std::string("mapping the " KAIROS_DEV_PATH
                                    " CPU pages needs CAP_SYS_NICE or CAP_SYS_ADMIN "
                                    "and the host's pid namespace (they show "
                                    "host-wide thread ids)")
                      : std::string("mmap of the " KAIROS_DEV_PATH " CPU pages failed: ") +
                            std::strerror(e);
    return nullptr;
  }
  pages_ = p;
  return pages_;
}

}  // namespace kairos
