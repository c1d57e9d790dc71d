#include "kmod_testlib.hpp"

#include <linux/capability.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

namespace kairos::kmodtest {

using kairos::vmtest::build_path;
using kairos::vmtest::path_exists;
using kairos::vmtest::read_file;

int load_module() {
  const std::string ko = build_path("kmod-build/kairos.ko");
  const int fd = ::open(ko.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const long r = ::syscall(SYS_finit_module, fd, "", 0);
  const int err = r ? -errno : 0;
  ::close(fd);
  return err;
}

int unload_module() {
  return ::syscall(SYS_delete_module, "kairos", O_NONBLOCK) ? -errno : 0;
}

ModuleScope::ModuleScope() {
  if (path_exists(kSysfs)) {
    ADD_FAILURE() << "kairos.ko is already loaded: a previous test leaked it";
    unload_module();
  }
  const int r = load_module();
  EXPECT_EQ(r, 0) << std::strerror(-r);
  loaded_ = r == 0;
}

ModuleScope::~ModuleScope() {
  if (!loaded_) return;
  std::string detail;
  EXPECT_TRUE(live_counters_zero(&detail)) << detail;
  EXPECT_EQ(unload_module(), 0);
  EXPECT_FALSE(path_exists(kSysfs));
}

int write_sysfs(const std::string& file, const std::string& s) {
  const std::string path = std::string(kSysfs) + "/" + file;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const ssize_t n = ::write(fd, s.data(), s.size());
  const int err = n < 0 ? -errno : 0;
  ::close(fd);
  return err;
}

std::string read_sysfs(const std::string& file) {
  std::string s = read_file(std::string(kSysfs) + "/" + file);
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::uint64_t read_stat(const std::string& name) {
  return std::stoull(read_sysfs("stats/" + name));
}

bool live_counters_zero(std::string* detail) {
  bool ok = true;
  for (const char* n : {"live_files", "live_mappings", "live_parked",
                        "live_lc_threads"}) {
    const std::string v = read_sysfs(std::string("stats/") + n);
    if (v != "0") {
      ok = false;
      if (detail) *detail += std::string(n) + "=" + v + " ";
    }
  }
  return ok;
}

int dev_open() {
  const int fd = ::open(KAIROS_DEV_PATH, O_RDWR | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int ioc(int fd, unsigned long cmd, void* arg) {
  return ::ioctl(fd, cmd, arg) ? -errno : 0;
}

kairos_cpuset cpuset_of(int cpu) {
  kairos_cpuset s{};
  s.bits[cpu / 64] |= 1ULL << (cpu % 64);
  return s;
}

void pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ASSERT_EQ(::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set), 0);
  ::sched_yield();
}

double thread_cpu_s(clockid_t c) {
  timespec ts{};
  ::clock_gettime(c, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

Spinner::Spinner(int cpu) {
  th = std::thread([this, cpu] {
    pin_self(cpu);
    ::pthread_getcpuclockid(::pthread_self(), &clock);
    tid = self_tid();
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  vmtest::wait_for([this] { return tid.load() != 0; }, std::chrono::seconds(5));
}

Spinner::~Spinner() {
  stop = true;
  th.join();
}

int Spinner::repin(int cpu) const {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  return ::sched_setaffinity(tid, sizeof(s), &s);
}

int policy_of(pid_t tid) { return ::sched_getscheduler(tid) & ~SCHED_RESET_ON_FORK; }

pid_t self_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

int online_cpus() { return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)); }

int present_cpus() {
  // "0-1" or "0,2-3": count the CPUs of each range.
  std::stringstream in(read_file("/sys/devices/system/cpu/present"));
  std::string part;
  int n = 0;
  while (std::getline(in, part, ',')) {
    if (part.empty() || part == "\n") continue;
    const auto dash = part.find('-');
    const int lo = std::atoi(part.c_str());
    const int hi = dash == std::string::npos ? lo : std::atoi(part.c_str() + dash + 1);
    n += hi - lo + 1;
  }
  return n;
}

int set_cpu_online(int cpu, bool on) {
  const std::string path =
      "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/online";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const ssize_t n = ::write(fd, on ? "1" : "0", 1);
  const int err = n < 0 ? -errno : 0;
  ::close(fd);
  return err;
}

bool cpu_is_online(int cpu) {
  const std::string s = read_file("/sys/devices/system/cpu/cpu" +
                                  std::to_string(cpu) + "/online");
  return !s.empty() && s[0] == '1';
}

std::int64_t per_cpu_stat(int cpu, const std::string& column) {
  std::stringstream in(read_file(std::string(kSysfs) + "/stats/per_cpu"));
  std::string line, word;
  std::getline(in, line);
  std::stringstream header(line);
  int col = -1;
  for (int i = 0; header >> word; ++i)
    if (word == column) col = i;
  if (col < 0) return -1;
  while (std::getline(in, line)) {
    std::stringstream row(line);
    std::vector<std::string> f;
    while (row >> word) f.push_back(word);
    if (f.size() > static_cast<std::size_t>(col) && std::atoi(f[0].c_str()) == cpu)
      return std::stoll(f[col]);
  }
  return -1;
}

int drop_grant_capabilities() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &hdr, data)) return 100;
  for (int cap : {CAP_SYS_NICE, CAP_SYS_ADMIN}) {
    data[cap / 32].effective &= ~(1u << (cap % 32));
    data[cap / 32].permitted &= ~(1u << (cap % 32));
  }
  return ::syscall(SYS_capset, &hdr, data) ? 101 : 0;
}

}  // namespace kairos::kmodtest
