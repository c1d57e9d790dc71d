#include "allocator_mechanism.hpp"
#include <kairos/contracts/clock.hpp>

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kairos {

KairosdMechanism::KairosdMechanism(
    SchedPort& sched, DevKairosGranter* dev,
    std::function<RuntimeTarget*(policy::AppId)> runtime,
    std::function<void(const std::string&)> log, Timing timing)
    : sched_(sched),
      dev_(dev),
      runtime_(std::move(runtime)),
      log_(std::move(log)),
      timing_(timing) {}

namespace {

std::uint64_t mono_ns() { return monotonic_ns(); }

void add(std::atomic<std::uint64_t>* ns, std::atomic<std::uint64_t>* n, std::uint64_t t0) {
  if (!ns) return;
  ns->fetch_add(mono_ns() - t0, std::memory_order_relaxed);
  n->fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

bool KairosdMechanism::set_owner(policy::CoreId core, policy::AppId app) {
  const std::uint32_t a = app == policy::kNoApp ? 0 : app;
  const std::uint64_t t0 = mono_ns();
  const int err = sched_.set_owner(core, a);
  add(timing_.owner_ns, timing_.owner_calls, t0);
  if (err && log_) {
    const std::string msg = "set_owner(cpu " + std::to_string(core) + ", app " +
                            std::to_string(a) + ") failed: " + std::strerror(-err);
    if (msg != last_error_) log_(msg);
    last_error_ = msg;
  }
  return err == 0;
}

bool KairosdMechanism::kick(policy::CoreId, bool) {
  // kairos_set_owner kicked the CPU already (SCX_KICK_PREEMPT on a grant),
  // in the same BPF program run as the owner change.
  return true;
}

bool KairosdMechanism::tid_belongs(RuntimeTarget& t, std::uint32_t k,
                                   std::uint32_t tid) {
  if (t.checked_tids.size() <= k) t.checked_tids.resize(k + 1, 0);
  if (t.checked_tids[k] == tid) return true;
  // A forged area must not make kairosd wake some other process's thread.
  struct stat st {};
  const std::string p = "/proc/" + std::to_string(t.pid) + "/task/" + std::to_string(tid);
  if (::stat(p.c_str(), &st) != 0) return false;
  t.checked_tids[k] = tid;
  return true;
}

bool KairosdMechanism::wake(policy::AppId app, int kthread, policy::CoreId core) {
  RuntimeTarget* t = runtime_(app);
  std::string why;
  if (!dev_) {
    why = "no /dev/kairos";
  } else if (!t || !t->area || kthread < 0) {
    why = "not a runtime app";
  } else {
    const auto k = static_cast<std::uint32_t>(kthread);
    const std::uint32_t tid = t->area->tid(k);
    if (tid == 0 || tid > 0x7fffffffu) {
      why = "kthread " + std::to_string(k) + " has no tid yet";
    } else if (!tid_belongs(*t, k, tid)) {
      why = "tid " + std::to_string(tid) + " is not a thread of pid " + std::to_string(t->pid);
    } else {
      const std::uint64_t t0 = mono_ns();
      const int err = dev_->grant(static_cast<pid_t>(tid), core);
      add(timing_.wake_ns, timing_.wake_calls, t0);
      if (err == 0) return true;
      // -ESRCH: it is on its way into PARK (or was woken by its own
      // runtime); the policy frees the core and tries again next poll.
      if (err == -ESRCH) {
        ++wake_failures_;
        return false;
      }
      why = "GRANT tid " + std::to_string(tid) + " cpu " + std::to_string(core) +
            ": " + std::strerror(-err);
    }
  }
  ++wake_failures_;
  const std::string msg = "wake of app " + std::to_string(app) + " kthread " +
                          std::to_string(kthread) + " failed: " + why;
  if (log_ && msg != last_error_) log_(msg);
  last_error_ = msg;
  return false;
}

bool KairosdMechanism::yield(policy::AppId, int, policy::CoreId core) {
  // The owner map no longer lists the app on this CPU, so the kthread
  // runs there only as an ordinary task from its next enqueue on; the
  // flag asks the runtime to reach a safe point sooner.
  if (dev_) dev_->preempt_flag(core);
  return true;
}

}  // namespace kairos
