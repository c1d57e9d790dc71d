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

  // "class attached=1 members=N refused=N capacity=N adopted=N".
  std::string status_line() const;
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
  LcMembership m_;
};

// Whether kairos.ko is usable at dev_path: "" if so, else why not.
std::string probe_kairos_dev(const std::string& dev_path);

}  // namespace kairos
