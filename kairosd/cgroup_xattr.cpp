#include <kairos/kairosd/cgroup_xattr.hpp>

#include <dirent.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kairos {

namespace {

constexpr int kMaxDepth = 16;

void walk(const std::string& root, const std::string& rel, int depth,
          std::vector<FoundCgroup>& out) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  if (!rel.empty()) {
    struct stat st {};
    if (auto raw = read_annotation(dir)) {
      if (::stat(dir.c_str(), &st) == 0)
        out.push_back({rel, st.st_ino, *raw, parse_annotation(*raw)});
    } else if (auto untrusted = read_untrusted_annotation(dir)) {
      if (::stat(dir.c_str(), &st) == 0)
        out.push_back({rel, st.st_ino, *untrusted,
                       Parsed<Annotation>{std::nullopt, kUntrustedAnnotationWhy}, true});
    }
  }
  if (depth >= kMaxDepth) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;  // removed meanwhile
  while (dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    walk(root, rel.empty() ? e->d_name : rel + "/" + e->d_name, depth + 1, out);
  }
  ::closedir(d);
}

}  // namespace

std::string check_cgroup_dir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return "cgroup '" + dir + "' does not exist (" + std::strerror(errno) + ")";
  if (!S_ISDIR(st.st_mode)) return "'" + dir + "' is not a directory";
  if (::access((dir + "/cgroup.procs").c_str(), F_OK) != 0)
    return "'" + dir + "' is not a cgroup (no cgroup.procs)";
  return "";
}

namespace {

// Without CAP_SYS_ADMIN the kernel answers ENODATA for trusted.* reads and
// EPERM for writes.
std::string denied_hint(int err) {
  return err == EPERM ? " (only an administrator, CAP_SYS_ADMIN, may annotate cgroups)" : "";
}

std::optional<std::string> read_xattr(const std::string& dir, const char* name) {
  char buf[256];
  const ssize_t n = ::getxattr(dir.c_str(), name, buf, sizeof buf);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOENT) return std::nullopt;
    throw std::runtime_error("reading " + std::string(name) + " of " + dir + ": " +
                             std::strerror(errno));
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

void remove_xattr(const std::string& dir, const char* name) {
  if (::removexattr(dir.c_str(), name) && errno != ENODATA)
    throw std::runtime_error("removing " + std::string(name) + " of " + dir + ": " +
                             std::strerror(errno) + denied_hint(errno));
}

}  // namespace

std::optional<std::string> read_annotation(const std::string& dir) {
  return read_xattr(dir, kAnnotationXattr);
}

std::optional<std::string> read_untrusted_annotation(const std::string& dir) {
  return read_xattr(dir, kUntrustedAnnotationXattr);
}

void write_annotation(const std::string& dir, const std::string& value) {
  if (::setxattr(dir.c_str(), kAnnotationXattr, value.data(), value.size(), 0))
    throw std::runtime_error("storing the annotation on " + dir + ": " +
                             std::strerror(errno) + denied_hint(errno));
}

void remove_annotation(const std::string& dir) {
  remove_xattr(dir, kAnnotationXattr);
  remove_xattr(dir, kUntrustedAnnotationXattr);
}

std::vector<FoundCgroup> scan_annotated(const std::string& root) {
  std::vector<FoundCgroup> out;
  walk(root, "", 0, out);
  return out;
}

}  // namespace kairos
