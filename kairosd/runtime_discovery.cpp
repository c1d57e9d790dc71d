#include "runtime_discovery.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kairos {

namespace {

// The file name prefix: the shm name without its leading '/'.
constexpr std::string_view kPrefix = KAIROS_RUNTIME_AREA_SHM_PREFIX + 1;

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<pid_t> parse_area_file_name(std::string_view name) {
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::string_view digits = name.substr(kPrefix.size());
  if (digits.empty() || digits.size() > 10 || digits[0] == '0')
    return std::nullopt;
  long v = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size() || v <= 0 ||
      v > 0x7fffffffL)
    return std::nullopt;
  return static_cast<pid_t>(v);
}

std::optional<std::string> parse_proc_cgroup(std::string_view text) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    if (line.substr(0, 3) == "0::") {
      std::string_view p = line.substr(3);
      if (p.empty() || p[0] != '/') return std::nullopt;
      p.remove_prefix(1);
      if (p.size() >= 10 && p.substr(p.size() - 10) == " (deleted)")
        return std::nullopt;
      return std::string(p);
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

std::optional<std::string> nearest_annotated(std::string path,
                                             const std::set<std::string>& annotated) {
  for (;;) {
    if (path.empty()) return std::nullopt;  // the root is never an app
    if (annotated.count(path)) return path;
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return std::nullopt;
    path.resize(slash);
  }
}

RuntimeDiscovery::RuntimeDiscovery(std::string shm_dir, std::string proc_dir)
    : shm_dir_(std::move(shm_dir)), proc_dir_(std::move(proc_dir)) {}

void RuntimeDiscovery::report(const std::string& name, const std::string& why,
                              const Log& log) {
  auto& last = reported_[name];
  if (last == why) return;
  last = why;
  if (log) log("runtime area " + shm_dir_ + "/" + name + " ignored: " + why);
}

std::string RuntimeDiscovery::examine(const std::string& name, pid_t pid,
                                      Attached* out) {
  const std::string proc = proc_dir_ + "/" + std::to_string(pid);
  struct stat pst {};
  if (::stat(proc.c_str(), &pst) != 0)
    return "no process " + std::to_string(pid) + " (stale area)";
  const std::string path = shm_dir_ + "/" + name;
  // O_NOFOLLOW: a symlink planted in the shm directory is not followed.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::string("open: ") + std::strerror(errno);
  struct stat fst {};
  std::string why;
  if (::fstat(fd, &fst) != 0) {
    why = std::string("fstat: ") + std::strerror(errno);
  } else if (!S_ISREG(fst.st_mode)) {
    why = "not a regular file";
  } else if (fst.st_uid != 0 && fst.st_uid != pst.st_uid) {
    // Only the process's own user (or root) may speak for it.
    why = "owned by uid " + std::to_string(fst.st_uid) + ", process " +
          std::to_string(pid) + " runs as uid " + std::to_string(pst.st_uid);
  }
  if (!why.empty()) {
    ::close(fd);
    return why;
  }
  auto it = attached_.find(pid);
  if (it != attached_.end() && it->second.ino == fst.st_ino) {
    ::close(fd);
    *out = it->second;
    return "";
  }
  std::string err;
  auto view = RuntimeAreaView::attach_fd(fd, &err);
  ::close(fd);
  if (!view) return "bad area: " + err;
  if (view->pid() != static_cast<std::uint32_t>(pid))
    return "header names pid " + std::to_string(view->pid()) +
           ", file name pid " + std::to_string(pid);
  out->ino = fst.st_ino;
  out->area = std::make_shared<const RuntimeAreaView>(std::move(*view));
  return "";
}

std::vector<DiscoveredRuntime> RuntimeDiscovery::scan(
    const std::set<std::string>& annotated, const Log& log) {
  std::vector<DiscoveredRuntime> found;
  std::map<pid_t, Attached> keep;
  std::set<std::string> seen;
  if (DIR* d = ::opendir(shm_dir_.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind(kPrefix, 0) != 0) continue;
      seen.insert(name);
      const auto pid = parse_area_file_name(name);
      if (!pid) {
        report(name, "name is not " + std::string(kPrefix) + "<pid>", log);
        continue;
      }
      const auto cg = parse_proc_cgroup(
          read_small_file(proc_dir_ + "/" + std::to_string(*pid) + "/cgroup"));
      const auto app = cg ? nearest_annotated(*cg, annotated) : std::nullopt;
      Attached a;
      std::string why = examine(name, *pid, &a);
      if (why.empty() && !cg) why = "cgroup of process " + std::to_string(*pid) + " unknown";
      if (why.empty() && !app)
        why = "process " + std::to_string(*pid) + " (cgroup /" + *cg +
              ") is in no annotated cgroup";
      if (!why.empty()) {
        report(name, why, log);
        continue;
      }
      if (reported_.count(name) && !reported_[name].empty() && log)
        log("runtime area " + shm_dir_ + "/" + name + " now usable");
      reported_[name] = "";
      keep[*pid] = a;
      found.push_back({*pid, *app, a.area});
    }
    ::closedir(d);
  }
  attached_ = std::move(keep);
  // Forget reasons of files that are gone, so a new file of that name is
  // reported again.
  for (auto it = reported_.begin(); it != reported_.end();)
    it = seen.count(it->first) ? std::next(it) : reported_.erase(it);
  return found;
}

}  // namespace kairos
