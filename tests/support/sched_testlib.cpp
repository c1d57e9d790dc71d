#include "sched_testlib.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace kairos::schedtest {

using namespace kairos::vmtest;

std::string sched_state() {
  std::string s = read_file("/sys/kernel/sched_ext/state");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

Child::Child(std::vector<std::string> argv, const std::string& cgroup_dir) {
  char tmpl[] = "/tmp/kairos-child-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  out_path_ = tmpl;
  pid_ = ::fork();
  if (pid_ == 0) {
    if (!cgroup_dir.empty()) {
      const int cg = ::open((cgroup_dir + "/cgroup.procs").c_str(), O_WRONLY);
      if (cg < 0 || ::write(cg, "0", 1) != 1) _exit(126);
      ::close(cg);
    }
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> av;
    for (auto& a : argv) av.push_back(a.data());
    av.push_back(nullptr);
    ::execv(av[0], av.data());
    _exit(127);
  }
  ::close(fd);
}

Child::~Child() {
  stop(SIGKILL);
  ::unlink(out_path_.c_str());
}

bool Child::alive() const {
  if (pid_ <= 0) return false;
  // A zombie still answers kill(0): look at its state.
  const std::string st = read_file("/proc/" + std::to_string(pid_) + "/stat");
  const auto rp = st.rfind(')');
  return rp != std::string::npos && rp + 2 < st.size() && st[rp + 2] != 'Z';
}

int Child::stop(int sig) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  return wait();
}

int Child::wait() {
  if (pid_ <= 0) return -1;
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string Child::output() const { return read_file(out_path_); }

std::vector<std::string> spinner() { return {"/bin/sh", "-c", "while :; do :; done"}; }
std::vector<std::string> sleeper() { return {"/bin/sleep", "1000"}; }

std::vector<std::unique_ptr<Child>> spinners(long n) {
  std::vector<std::unique_ptr<Child>> v;
  for (long i = 0; i < n; ++i) v.push_back(std::make_unique<Child>(spinner()));
  return v;
}

namespace {
std::vector<std::string> kairosd_argv(std::vector<std::string> extra) {
  std::vector<std::string> a{build_path("kairosd/kairosd"), "--status-file",
                             Kairosd::status_path(), "--scan-interval-ms", "100"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}
}  // namespace

Kairosd::Kairosd(std::vector<std::string> extra) : Child(kairosd_argv(std::move(extra))) {}

std::string Kairosd::status_path() { return "/tmp/kairos-test-status"; }

std::string Kairosd::status() const { return read_file(status_path()); }

bool Kairosd::wait_ready(std::chrono::milliseconds t) const {
  return wait_for(
      [&] {
        const std::string s = status();
        return sched_state() == "enabled" &&
               s.find("pid=" + std::to_string(pid()) + " ") != std::string::npos;
      },
      t);
}

ScratchCgroup::ScratchCgroup(const std::string& name)
    : name_(name), dir_("/sys/fs/cgroup/" + name) {
  ::mkdir(dir_.c_str(), 0755);
}

ScratchCgroup::~ScratchCgroup() {
  // cgroup.kill ends every process inside, then the directory can go.
  std::ofstream(dir_ + "/cgroup.kill") << "1";
  wait_for([&] { return read_file(dir_ + "/cgroup.procs").empty(); },
           std::chrono::seconds(5));
  ::rmdir(dir_.c_str());
}

int kairosctl(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv{build_path("tools/kairosctl/kairosctl")};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c(argv);
  const int rc = c.wait();
  if (out) *out = c.output();
  return rc;
}

namespace {
// Fields after the ")" of /proc/PID/stat; fields[0] is field 3 (state).
std::vector<std::string> stat_fields(pid_t pid) {
  const std::string st = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto rp = st.rfind(')');
  std::vector<std::string> f;
  if (rp == std::string::npos) return f;
  std::istringstream in(st.substr(rp + 2));
  for (std::string w; in >> w;) f.push_back(w);
  return f;
}
}  // namespace

int last_cpu(pid_t pid) {
  const auto f = stat_fields(pid);
  return f.size() > 36 ? std::atoi(f[36].c_str()) : -1;  // field 39
}

long cpu_ticks(pid_t pid) {
  const auto f = stat_fields(pid);
  return f.size() > 12 ? std::atol(f[11].c_str()) + std::atol(f[12].c_str()) : -1;
}

std::vector<unsigned long long> idle_ticks() {
  std::ifstream in("/proc/stat");
  std::vector<unsigned long long> out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 || !isdigit(line[3])) continue;
    std::istringstream ls(line);
    std::string name;
    unsigned long long v[8] = {};
    ls >> name;
    for (auto& x : v) ls >> x;
    const unsigned cpu = std::stoul(name.substr(3));
    if (out.size() <= cpu) out.resize(cpu + 1);
    out[cpu] = v[3] + v[4];
  }
  return out;
}

std::string status_field(const std::string& status, const std::string& kind,
                         const std::string& match, const std::string& key) {
  std::istringstream in(status);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(kind + " ", 0) != 0) continue;
    if (!match.empty() && (" " + line + " ").find(" " + match + " ") == std::string::npos)
      continue;
    std::istringstream ws(line);
    for (std::string w; ws >> w;)
      if (w.rfind(key + "=", 0) == 0) return w.substr(key.size() + 1);
  }
  return "";
}

long status_number(const std::string& status, const std::string& kind,
                   const std::string& match, const std::string& key) {
  const std::string v = status_field(status, kind, match, key);
  return v.empty() ? -1 : std::stol(v);
}

}  // namespace kairos::schedtest
