// The scene of the allocator-mode server tests in the sched_ext VM: an LC
// cgroup with no guaranteed and one burstable core, kairosd's allocator
// running, and a BE spinner on every CPU. A libkairos server in allocator
// mode started in the cgroup runs only when kairosd grants it the core.
#pragma once

#include "sched_testlib.hpp"

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace kairos::schedtest {

class BurstableCoreScene {
 public:
  // Annotates the cgroup and starts kairosd and the spinners; error()
  // says what failed.
  explicit BurstableCoreScene(const std::string& cgroup_name);
  const std::string& error() const { return error_; }
  const ScratchCgroup& cgroup() const { return lc_; }
  Kairosd& kairosd() { return *kairosd_; }
  // The app's field of kairosd's status, -1 if absent.
  long owned() const;
  long grants() const;

  // kairosd found the runtime area of process pid (one kthread) and the
  // idle app holds no core.
  bool runtime_found_idle(pid_t pid, std::chrono::seconds limit) const;

  // Samples the app's owned cores until `load` exits.
  struct Watch {
    bool load_exited = false;
    long max_owned = 0;
    long samples_owned = 0;  // samples with a core granted
  };
  Watch watch_until_exit(const Child& load, std::chrono::seconds limit) const;

  // The core went back and pid's kthreads are parked.
  bool back_to_idle(pid_t pid, std::chrono::seconds limit) const;

 private:
  ScratchCgroup lc_;
  std::string app_, error_;
  std::unique_ptr<Kairosd> kairosd_;
  std::vector<std::unique_ptr<Child>> spinners_;
};

}  // namespace kairos::schedtest
