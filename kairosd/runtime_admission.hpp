// Which runtime processes kairos.ko lets park (KAIROS_IOC_ADMIT): exactly
// the ones the allocator drives, kept in step with each discovery scan.
// Pure bookkeeping over an injected admit call, so it is unit-tested
// without the module; DevKairosGranter::admit is the real call.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <set>
#include <string>

namespace kairos {

class RuntimeAdmission {
 public:
  // admit(tgid, true) admits, admit(tgid, false) revokes: 0 or -errno.
  using Admit = std::function<int(pid_t tgid, bool admit)>;
  using Log = std::function<void(const std::string&)>;
  RuntimeAdmission(Admit admit, Log log);

  // Admits the processes of `want` not admitted yet and revokes those no
  // longer in it. A failed admission is tried again at the next call and
  // logged once per process and error; a failed revocation is dropped
  // (the process is gone, and the module forgets exited groups itself).
  void sync(const std::set<pid_t>& want);
  const std::set<pid_t>& admitted() const { return admitted_; }

 private:
  Admit admit_;
  Log log_;
  std::set<pid_t> admitted_;
  std::map<pid_t, int> failed_;  // the last error logged for a process
};

}  // namespace kairos
