#include "runtime_admission.hpp"

#include <cstring>

namespace kairos {

RuntimeAdmission::RuntimeAdmission(Admit admit, Log log)
    : admit_(std::move(admit)), log_(std::move(log)) {}

void RuntimeAdmission::sync(const std::set<pid_t>& want) {
  for (auto it = admitted_.begin(); it != admitted_.end();) {
    if (want.count(*it)) {
      ++it;
      continue;
    }
    admit_(*it, false);  // -ESRCH when it exited: nothing left to revoke
    it = admitted_.erase(it);
  }
  for (auto it = failed_.begin(); it != failed_.end();)
    it = want.count(it->first) ? std::next(it) : failed_.erase(it);
  for (pid_t pid : want) {
    if (admitted_.count(pid)) continue;
    const int r = admit_(pid, true);
    if (r == 0) {
      admitted_.insert(pid);
      failed_.erase(pid);
      continue;
    }
    auto [f, fresh] = failed_.try_emplace(pid, r);
    if ((fresh || f->second != r) && log_)
      log_("runtime pid " + std::to_string(pid) +
           ": kairos.ko does not admit it to park (KAIROS_IOC_ADMIT: " +
           std::strerror(-r) + "); its kthreads get grants only if it may park by itself");
    f->second = r;
  }
}

}  // namespace kairos
