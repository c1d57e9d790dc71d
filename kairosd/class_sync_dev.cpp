#include "class_sync_dev.hpp"

#include <kairos/contracts/devkairos.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kairos {

namespace {

constexpr int kMaxDepth = 16;  // as deep as the annotation scan goes

void collect(const std::string& dir, int depth, std::set<pid_t>& out) {
  std::ifstream in(dir + "/cgroup.threads");
  if (!in) return;  // removed meanwhile
  std::stringstream ss;
  ss << in.rdbuf();
  const auto mine = parse_thread_list(ss.str());
  out.insert(mine.begin(), mine.end());
  if (depth >= kMaxDepth) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_DIR && e->d_name[0] != '.')
      collect(dir + "/" + e->d_name, depth + 1, out);
  ::closedir(d);
}

int lc_ioctl(const DevKairosDevice& dev, unsigned long cmd, pid_t tid) {
  kairos_lc arg{};
  arg.tid = tid;
  return dev.ioctl(cmd, &arg);
}

}  // namespace

std::set<pid_t> threads_of_cgroup_tree(const std::string& dir) {
  std::set<pid_t> out;
  collect(dir, 0, out);
  return out;
}

ClassSync::ClassSync(std::string dev_path, Logger log)
    : dev_path_(std::move(dev_path)), log_(std::move(log)) {}

ClassSync::~ClassSync() { detach(); }

std::string ClassSync::attach() {
  if (dev_) return "";
  std::string why;
  dev_ = DevKairosDevice::open("kairosd", &why, dev_path_);
  if (!dev_) return why;
  capacity_ = dev_->version().max_lc_threads;
  return "";
}

void ClassSync::detach() {
  if (!dev_) return;
  dev_.reset();
  m_.released();
}

void ClassSync::sync(const std::vector<std::string>& lc_dirs) {
  if (!dev_) return;
  std::set<pid_t> wanted;
  for (const auto& d : lc_dirs) {
    const auto t = threads_of_cgroup_tree(d);
    wanted.insert(t.begin(), t.end());
  }
  const auto step = m_.plan(wanted);
  // Deletes first: they free slots for the adds.
  for (pid_t t : step.del)
    if (auto msg = m_.removed(t, lc_ioctl(*dev_, KAIROS_IOC_LC_DEL, t)); !msg.empty())
      log_(msg);
  for (pid_t t : step.add)
    if (auto msg = m_.added(t, add(t)); !msg.empty())
      log_(msg);
}

int ClassSync::add(pid_t tid) {
  const int err = lc_ioctl(*dev_, KAIROS_IOC_LC_ADD, tid);
  if (err != -EBUSY) return err;
  sched_param p{};
  const int policy = ::sched_getscheduler(tid);
  if (policy < 0 || ::sched_getparam(tid, &p)) return err;
  unsigned prio = 0;
  std::ifstream(std::string(KAIROS_SYSFS_DIR) + "/lc_rt_priority") >> prio;
  if (!inherited_from_member(policy & ~SCHED_RESET_ON_FORK, p.sched_priority,
                             static_cast<int>(prio)))
    return err;
  sched_param normal{};
  if (::sched_setscheduler(tid, SCHED_OTHER, &normal)) return err;
  log_("thread " + std::to_string(tid) +
       " was born SCHED_FIFO from an LC class member: reset and added");
  ++adopted_;
  return lc_ioctl(*dev_, KAIROS_IOC_LC_ADD, tid);
}

void ClassSync::stand_down(const std::string& why) {
  if (standing_down_) return;
  standing_down_ = true;
  ++stand_downs_;
  resume_error_.clear();
  detach();  // the module puts every member back on its own policy
  if (log_) log_("kairos.ko's LC class stands down, its threads back on their own policy: " + why);
}

std::string ClassSync::resume() {
  if (!standing_down_) return dev_ ? "" : "not attached";
  std::string err = attach();
  if (!err.empty()) {
    if (err != resume_error_ && log_) log_("kairos.ko's LC class cannot resume: " + err);
    resume_error_ = err;
    return err;
  }
  standing_down_ = false;
  resume_error_.clear();
  if (log_) log_("kairos.ko's LC class resumes: no sched_ext scheduler is active");
  return "";
}

std::string sched_ext_root_ops() {
  std::ifstream in("/sys/kernel/sched_ext/root/ops");
  std::string s;
  std::getline(in, s);
  return s;
}

status::ClassInfo ClassSync::info() const {
  return {dev_ != nullptr, m_.members().size(), m_.refused().size(), capacity_, adopted_,
          standing_down_, stand_downs_};
}

std::string probe_kairos_dev(const std::string& dev_path) {
  ClassSync c(dev_path, [](const std::string&) {});
  return c.attach();
}

}  // namespace kairos
