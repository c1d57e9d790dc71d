// Mechanism: keeps the threads of LC-annotated cgroups in kairos.ko's
// MicroQuanta-like class through /dev/kairos (KAIROS_IOC_LC_ADD / LC_DEL),
// following LcMembership (class_sync.hpp). Closing the fd (detach(), or
// kairosd dying) makes the module put every member back on its previous
// policy, so a crashed kairosd leaves nothing behind.
#pragma once

#include "class_sync.hpp"

#include <kairos/kairosd/status_snapshot.hpp>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace kairos {

class DevKairosDevice;

// Every thread in the cgroup directory dir and its descendants (their
// cgroup.threads files), depth-limited; missing directories are skipped.
std::set<pid_t> threads_of_cgroup_tree(const std::string& dir);

class ClassSync {
 public:
  using Logger = std::function<void(const std::string&)>;
  ClassSync(std::string dev_path, Logger log);
  ~ClassSync();
  ClassSync(const ClassSync&) = delete;
  ClassSync& operator=(const ClassSync&) = delete;

  // Opens the device and checks its ABI major. "" on success, else a
  // readable reason (module not loaded, old ABI, no permission).
  std::string attach();
  // Closes the fd: the module restores every member.
  void detach();
  bool attached() const { return dev_ != nullptr; }

  // One round: bring the class in line with the threads of lc_dirs.
  void sync(const std::vector<std::string>& lc_dirs);

  // A foreign sched_ext scheduler is active (foreign_sched_ext_active):
  // detach, so every member goes back to its own policy, and say why once.
  void stand_down(const std::string& why);
  // It went away: attach again (the next sync() re-adds the members).
  // "" when attached, else why not (said once).
  std::string resume();
  bool standing_down() const { return standing_down_; }

  // What the status snapshot shows of the class (its "class" line).
  status::ClassInfo info() const;
  const LcMembership& membership() const { return m_; }

 private:
  // LC_ADD, resetting a thread that inherited a member's SCHED_FIFO first.
  int add(pid_t tid);

  std::string dev_path_;
  Logger log_;
  std::unique_ptr<DevKairosDevice> dev_;
  unsigned capacity_ = 0;
  unsigned adopted_ = 0;  // inherited SCHED_FIFO reset, then added
  bool standing_down_ = false;
  unsigned stand_downs_ = 0;   // times a foreign scheduler made it stand down
  std::string resume_error_;   // the last reason resume() failed, said once
  LcMembership m_;
};

// The name in /sys/kernel/sched_ext/root/ops ("" when none).
std::string sched_ext_root_ops();

// Whether kairos.ko is usable at dev_path: "" if so, else why not.
std::string probe_kairos_dev(const std::string& dev_path);

}  // namespace kairos
