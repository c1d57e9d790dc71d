#include "class_sync.hpp"

#include <kairos/contracts/devkairos.hpp>

#include <sched.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace kairos {

std::optional<Backend> parse_backend(std::string_view text) {
  if (text == "auto") return Backend::automatic;
  if (text == "sched_ext") return Backend::sched_ext;
  if (text == "kmod") return Backend::kmod;
  return std::nullopt;
}

std::string_view backend_name(Backend b) {
  switch (b) {
    case Backend::automatic: return "auto";
    case Backend::sched_ext: return "sched_ext";
    case Backend::kmod: return "kmod";
  }
  return "?";
}

std::string abi_mismatch(unsigned major, unsigned minor, unsigned want_major) {
  return devkairos_abi_mismatch(major, minor, want_major, "kairosd");
}

bool foreign_sched_ext_active(std::string_view state) {
  while (!state.empty() && (state.back() == '\n' || state.back() == ' ')) state.remove_suffix(1);
  return !state.empty() && state != "disabled";
}

std::set<pid_t> parse_thread_list(std::string_view text) {
  std::set<pid_t> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    long v = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
    if (ec != std::errc{} || end != line.data() + line.size() || v <= 0 ||
        v > 0x3fffffff)  // PID_MAX_LIMIT is 4M; anything bigger is garbage
      continue;
    out.insert(static_cast<pid_t>(v));
  }
  return out;
}

bool inherited_from_member(int policy, int priority, int class_priority) {
  return policy == SCHED_FIFO && class_priority > 0 && priority == class_priority;
}

LcMembership::Step LcMembership::plan(const std::set<pid_t>& wanted) {
  Step s;
  for (auto it = refused_.begin(); it != refused_.end();)
    it = wanted.count(it->first) ? std::next(it) : refused_.erase(it);
  for (pid_t t : wanted) {
    if (members_.count(t)) continue;
    auto r = refused_.find(t);
    if (r != refused_.end() && r->second != -ENOSPC) continue;
    s.add.push_back(t);
  }
  for (pid_t t : members_)
    if (!wanted.count(t)) s.del.push_back(t);
  full_ = false;
  return s;
}

std::string LcMembership::added(pid_t tid, int err) {
  const std::string who = "thread " + std::to_string(tid);
  if (err == 0) {
    members_.insert(tid);
    refused_.erase(tid);
    return "";
  }
  // -EEXIST cannot come from our own fd (members_ are skipped): the thread
  // belongs to another fd (a runtime's allocator), so it is left to it.
  if (err == -ESRCH) {  // exited between the read and the ioctl
    refused_.erase(tid);
    return "";
  }
  if (err == -ENOSPC) full_ = true;
  auto [it, fresh] = refused_.insert({tid, err});
  const bool changed = fresh || it->second != err;
  it->second = err;
  if (!changed) return "";
  switch (-err) {
    case EEXIST: return who + " is already in the LC class (registered by another owner)";
    case EBUSY: return who + " is already real-time: left as it is";
    case EINVAL: return who + " cannot join the LC class (kernel thread or exiting)";
    case ENOSPC: return who + " waits: the LC class is full";
    case EPERM: return who + ": not allowed to add LC threads (needs CAP_SYS_NICE)";
    default: return who + ": LC_ADD failed: " + std::strerror(-err);
  }
}

std::string LcMembership::removed(pid_t tid, int err) {
  members_.erase(tid);
  if (err == 0 || err == -ENOENT || err == -ESRCH) return "";  // -ESRCH: exited
  return "thread " + std::to_string(tid) + ": LC_DEL failed: " + std::strerror(-err);
}

void LcMembership::released() {
  members_.clear();
  full_ = false;
  for (auto it = refused_.begin(); it != refused_.end();)
    it = it->second == -ENOSPC ? refused_.erase(it) : std::next(it);
}

}  // namespace kairos
