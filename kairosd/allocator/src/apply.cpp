#include <kairos/allocator/apply.hpp>

namespace kairos::policy {

ApplyStats apply_decisions(std::span<const Decision> decisions, Mechanism& m,
                           CoreAllocator& alloc) {
  ApplyStats st;
  for (const Decision& d : decisions) {
    if (d.kind == DecisionKind::kRevoke) {
      ++st.revokes;
      m.set_owner(d.core, kNoApp);
      if (d.reason == Reason::kPreempted && d.kthread != kNoKthread)
        m.yield(d.app, d.kthread, d.core);
      continue;
    }
    ++st.grants;
    const bool preempt = d.preempts_be || d.preempted_app != kNoApp;
    bool ok = m.set_owner(d.core, d.app) && m.kick(d.core, preempt);
    if (ok && d.kthread != kNoKthread) ok = m.wake(d.app, d.kthread, d.core);
    if (!ok) {
      ++st.failed;
      m.set_owner(d.core, kNoApp);
      alloc.grant_failed(d);
    }
  }
  return st;
}

}  // namespace kairos::policy
