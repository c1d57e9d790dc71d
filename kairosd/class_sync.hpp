// Policy (pure, unit-tested): which threads kairosd keeps in kairos.ko's
// MicroQuanta-like LC class when no sched_ext scheduler is attached, and
// which backend kairosd runs. The /dev/kairos calls and the cgroup.threads
// reads live in class_sync_dev.{hpp,cpp}.
//
// Model: `wanted` is every thread of every LC-annotated cgroup (and its
// descendants); `members` are the threads kairosd added through its own
// /dev/kairos fd. Each round adds wanted - members and deletes
// members - wanted. The module's answers decide what is remembered:
//  - LC_ADD refused (already real-time, a member of another fd, a kernel
//    thread, no capability): the thread is not retried while it stays
//    wanted, and the refusal is reported once.
//  - LC_ADD -ENOSPC (the class is full): retried every round, reported once.
//  - LC_DEL -ESRCH: the thread exited; kairos.ko has freed its slot itself.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kairos {

// --backend: auto (sched_ext if it attaches, else the module's class, and
// the class again if the scheduler exits for good), sched_ext, kmod.
enum class Backend { automatic, sched_ext, kmod };
std::optional<Backend> parse_backend(std::string_view text);
std::string_view backend_name(Backend b);

// "" when kairos.ko's ABI (from KAIROS_IOC_VERSION) is one kairosd speaks
// (same major), else a readable reason.
std::string abi_mismatch(unsigned major, unsigned minor, unsigned want_major);

// Whether /sys/kernel/sched_ext/state (its text, "" when the kernel has no
// sched_ext) says a sched_ext scheduler is in place or on its way in or
// out. kairosd runs the class only while it runs no scheduler itself, so
// such a scheduler is someone else's: the class's SCHED_FIFO/SCHED_IDLE
// flips would move its members in and out of that scheduler every period
// (which some 7.x kernels' watchdog misreads as a stall), so the class
// stands down until the state is "disabled" again.
bool foreign_sched_ext_active(std::string_view state);

// Thread ids from a cgroup.threads / cgroup.procs text: one positive
// decimal per line; anything else is skipped.
std::set<pid_t> parse_thread_list(std::string_view text);

// kairos.ko runs members SCHED_FIFO at its lc_rt_priority; before it set
// SCHED_RESET_ON_FORK (ABI 1.1), a thread a member started was born SCHED_FIFO
// at that priority without being a member (unbounded, and LC_ADD refuses
// it as "already real-time"). Such a thread, refused with -EBUSY (which the
// module only returns for non-members), is taken as inherited: kairosd puts
// it back to SCHED_OTHER and adds it. Deliberately real-time threads at
// other priorities (cyclictest -p 80) are left alone.
bool inherited_from_member(int policy, int priority, int class_priority);

class LcMembership {
 public:
  struct Step {
    std::vector<pid_t> add;
    std::vector<pid_t> del;
  };

  // What to do to reach `wanted`. Forgets refusals of threads that are no
  // longer wanted (a thread that comes back is tried again).
  Step plan(const std::set<pid_t>& wanted);
  // Result of LC_ADD / LC_DEL (0 or -errno). Returns a line worth logging
  // ("" when there is nothing new to say).
  std::string added(pid_t tid, int err);
  std::string removed(pid_t tid, int err);

  // The fd was closed: the module released every member.
  void released();

  const std::set<pid_t>& members() const { return members_; }
  const std::map<pid_t, int>& refused() const { return refused_; }
  bool full() const { return full_; }

 private:
  std::set<pid_t> members_;
  std::map<pid_t, int> refused_;  // tid -> -errno of LC_ADD
  bool full_ = false;             // the last round hit -ENOSPC
};

}  // namespace kairos
