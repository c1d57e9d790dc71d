#include "cgroup_watch.hpp"

#include <dirent.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kairos {

namespace {

constexpr int kMaxDepth = 16;
constexpr std::uint32_t kMask = IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MOVED_FROM |
                                IN_MOVED_TO | IN_DELETE_SELF | IN_ONLYDIR |
                                IN_DONT_FOLLOW | IN_EXCL_UNLINK;

int depth_of(const std::string& rel) {
  return rel.empty() ? 0 : 1 + static_cast<int>(std::count(rel.begin(), rel.end(), '/'));
}

}  // namespace

CgroupWatch::CgroupWatch(std::string root) : root_(std::move(root)) {
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0)
    throw std::runtime_error(std::string("inotify_init1: ") + std::strerror(errno));
  watch_tree("", 0);
  if (paths_.empty()) {
    ::close(fd_);
    throw std::runtime_error("cannot watch " + root_ + " with inotify");
  }
}

CgroupWatch::~CgroupWatch() {
  if (fd_ >= 0) ::close(fd_);
}

void CgroupWatch::watch_tree(const std::string& rel, int depth) {
  const std::string dir = rel.empty() ? root_ : root_ + "/" + rel;
  const int wd = ::inotify_add_watch(fd_, dir.c_str(), kMask);
  if (wd < 0) {
    // ENOENT/ENOTDIR: gone meanwhile. ENOSPC: the watch limit; the
    // fallback rescan covers what is not watched.
    if (errno == ENOSPC) complete_ = false;
    return;
  }
  paths_[wd] = rel;  // the same wd again if it was watched already
  if (depth >= kMaxDepth) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_DIR && e->d_name[0] != '.')
      watch_tree(rel.empty() ? e->d_name : rel + "/" + e->d_name, depth + 1);
  ::closedir(d);
}

void CgroupWatch::resync() {
  complete_ = true;
  watch_tree("", 0);
}

bool CgroupWatch::drain() {
  alignas(inotify_event) char buf[8192];
  bool relevant = false;
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: nothing more queued
    for (const char* p = buf; p < buf + n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(p);
      p += sizeof(inotify_event) + e->len;
      ++events_;
      if (e->mask & IN_Q_OVERFLOW) {
        ++overflows_;
        relevant = true;
        resync();
        continue;
      }
      if (e->mask & IN_IGNORED) {  // the directory went (or was unwatched)
        paths_.erase(e->wd);
        continue;
      }
      const auto it = paths_.find(e->wd);
      if (it == paths_.end()) continue;
      // Only directories are cgroups; files inside never carry annotations.
      const bool on_self = e->len == 0;
      if (!on_self && !(e->mask & IN_ISDIR)) continue;
      if (e->mask & (IN_CREATE | IN_MOVED_TO)) {
        const std::string rel =
            it->second.empty() ? std::string(e->name) : it->second + "/" + e->name;
        if (depth_of(rel) <= kMaxDepth) watch_tree(rel, depth_of(rel));
      }
      relevant = true;
    }
  }
  return relevant;
}

}  // namespace kairos
