// Helpers for the kairos.ko tests inside the VM: load/unload the module,
// sysfs access that reports errno, /dev/kairos calls, thread pinning.
#pragma once

#include "vm_testlib.hpp"

#include <linux/kairos.h>

#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace kairos::kmodtest {

inline constexpr const char* kSysfs = KAIROS_SYSFS_DIR;

// finit_module / delete_module; 0 or -errno.
int load_module();
int unload_module();

// Loads kairos.ko for one test and unloads it at the end (failing the
// test if that is impossible or if live-object counters are not zero).
class ModuleScope {
 public:
  ModuleScope();
  ~ModuleScope();
  bool loaded() const { return loaded_; }

 private:
  bool loaded_ = false;
};

// Writes s to a sysfs file in one write(); 0 or -errno.
int write_sysfs(const std::string& file, const std::string& s);
// The first line of a sysfs file under /sys/kernel/kairos/, no newline.
std::string read_sysfs(const std::string& file);
std::uint64_t read_stat(const std::string& name);  // stats/<name>
// Every stats/live_* counter is zero.
bool live_counters_zero(std::string* detail = nullptr);

// /dev/kairos calls; they return 0 or -errno.
int dev_open();
int ioc(int fd, unsigned long cmd, void* arg);

kairos_cpuset cpuset_of(int cpu);

// Pins the calling thread to one CPU; gettid() of the caller.
void pin_self(int cpu);
pid_t self_tid();
// sched_getscheduler without SCHED_RESET_ON_FORK (the class sets it).
int policy_of(pid_t tid);

// Drops CAP_SYS_NICE and CAP_SYS_ADMIN (what /dev/kairos checks) from the
// calling thread's effective and permitted sets, for "unprivileged caller"
// tests in a forked child. 0, or 100 (capget) / 101 (capset) on failure.
int drop_grant_capabilities();
// CPU time a thread used, in seconds (clock from pthread_getcpuclockid).
double thread_cpu_s(clockid_t c);

// A thread pinned to one CPU that spins until destroyed; its tid and CPU
// clock are known once constructed.
struct Spinner {
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  clockid_t clock{};
  std::thread th;
  explicit Spinner(int cpu);
  ~Spinner();
  // After an offline the kernel widened its affinity: pin it again.
  int repin(int cpu) const;
};

int online_cpus();
int present_cpus();  // from /sys/devices/system/cpu/present

// echo 0/1 > /sys/devices/system/cpu/cpuN/online; 0 or -errno.
int set_cpu_online(int cpu, bool on);
bool cpu_is_online(int cpu);
// One column (by its header name) of CPU cpu's line in stats/per_cpu, or
// -1 when there is no such column or line.
std::int64_t per_cpu_stat(int cpu, const std::string& column);

}  // namespace kairos::kmodtest
