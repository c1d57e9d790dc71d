// Helpers of the sched_ext vm tests: kairosd and workloads as child
// processes, scratch cgroups, and where a process last ran.
#pragma once

#include "vm_testlib.hpp"

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace kairos::schedtest {

std::string sched_state();

// A child process whose stdout/stderr go to a temp file.
class Child {
 public:
  // argv[0] is a path; cgroup "" keeps the parent's cgroup.
  Child(std::vector<std::string> argv, const std::string& cgroup_dir = "");
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  bool alive() const;
  // Sends sig, waits, returns exit status or 128+signal (-1 if not running).
  int stop(int sig);
  // Waits for a normal exit (no signal sent).
  int wait();
  std::string output() const;

 private:
  pid_t pid_ = -1;
  std::string out_path_;
};

// A busy loop (/bin/sh) and a sleeper, optionally in a cgroup.
std::vector<std::string> spinner();
std::vector<std::string> sleeper();
// n spinners in the caller's cgroup (BE work), killed when destroyed.
std::vector<std::unique_ptr<Child>> spinners(long n);

// kairosd with a private status file.
class Kairosd : public Child {
 public:
  explicit Kairosd(std::vector<std::string> extra = {});
  static std::string status_path();
  std::string status() const;
  // Waits until the scheduler is enabled and kairosd published its status.
  bool wait_ready(std::chrono::milliseconds t = std::chrono::seconds(30)) const;
};

// A scratch cgroup under /sys/fs/cgroup, removed (with its processes
// killed) at destruction.
class ScratchCgroup {
 public:
  explicit ScratchCgroup(const std::string& name);
  ~ScratchCgroup();
  const std::string& dir() const { return dir_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_, dir_;
};

// Runs kairosctl; returns its exit status, output in *out.
int kairosctl(const std::vector<std::string>& args, std::string* out = nullptr);

// The CPU the process last ran on (/proc/PID/stat), -1 if gone.
int last_cpu(pid_t pid);
// utime+stime of the process in clock ticks, -1 if gone.
long cpu_ticks(pid_t pid);
// Per-CPU idle+iowait ticks from /proc/stat.
std::vector<unsigned long long> idle_ticks();

// Field "key=value" of the status line starting with `kind`, matching
// `match` (e.g. "cgroup=lc"); "" if absent.
std::string status_field(const std::string& status, const std::string& kind,
                         const std::string& match, const std::string& key);
// The same field as a number; -1 if absent.
long status_number(const std::string& status, const std::string& kind,
                   const std::string& match, const std::string& key);

}  // namespace kairos::schedtest
