// Mechanism: follows the cgroup tree with inotify, so kairosd learns at
// once that a cgroup was created or removed or that an annotation was
// stored or cleared. cgroupfs (kernfs) reports mkdir/rmdir as
// IN_CREATE/IN_DELETE and setxattr/removexattr as IN_ATTRIB (seen on the
// 7.3 kernel: on the directory's own watch and on its parent's), so
// `kairosctl annotate` needs no other way to poke kairosd.
// Not reported by cgroupfs: processes and threads moving between cgroups
// (cgroup.procs/cgroup.threads get no events), so those are polled.
// A queue overflow or a full watch table (fs.inotify.max_user_watches) is
// survived: the caller's slower fallback rescan still finds everything.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace kairos {

class CgroupWatch {
 public:
  // Watches root and every directory below it (16 levels, as the
  // annotation scan). Throws std::runtime_error when inotify is unusable.
  explicit CgroupWatch(std::string root);
  ~CgroupWatch();
  CgroupWatch(const CgroupWatch&) = delete;
  CgroupWatch& operator=(const CgroupWatch&) = delete;

  // The inotify fd (non-blocking): poll it for POLLIN.
  int fd() const { return fd_; }
  // Reads every queued event; watches new directories. True when one of
  // them can change which cgroups are annotated (a directory appeared or
  // went, an attribute changed, or events were lost).
  bool drain();
  // Watches directories that appeared unseen (after an overflow, or
  // created inside a new directory before it was watched).
  void resync();

  std::size_t watched() const { return paths_.size(); }
  std::uint64_t events() const { return events_; }
  std::uint64_t overflows() const { return overflows_; }
  // False while some directory could not be watched (watch limit).
  bool complete() const { return complete_; }

 private:
  void watch_tree(const std::string& rel, int depth);

  std::string root_;
  int fd_ = -1;
  std::unordered_map<int, std::string> paths_;  // wd -> path relative to root
  std::uint64_t events_ = 0;
  std::uint64_t overflows_ = 0;
  bool complete_ = true;
};

}  // namespace kairos
