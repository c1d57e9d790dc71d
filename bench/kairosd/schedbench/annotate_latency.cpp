// annotate_latency BUILD_DIR [ROUNDS]: how long an annotation takes to
// reach kairosd, from just before `kairosctl annotate` runs to the app's
// line in kairosd's status file (and from `--clear` to the line going),
// with kairosd polling the cgroups every scan (--no-cgroup-watch, the old
// behaviour, 200 ms scans) against kairosd following them with inotify.
// Run as root in the sched_ext VM (kairosd attaches its scheduler):
//   tools/dev vm -- build/rootfs/bench/kairosd/schedbench/annotate_latency build/rootfs 20
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& argv, const char* out) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (out && !std::freopen(out, "w", stdout)) _exit(126);
    if (out) ::dup2(1, 2);
    std::vector<char*> av;
    for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    ::execv(av[0], av.data());
    _exit(127);
  }
  return pid;
}

int run(const std::vector<std::string>& argv) {
  int st = 0;
  ::waitpid(spawn(argv, "/dev/null"), &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool wait_status(const std::string& path, const std::string& needle, bool present) {
  const auto until = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < until) {
    if ((slurp(path).find(needle) != std::string::npos) == present) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Summary {
  double p50, p90, max;
};
Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return {0, 0, 0};
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 9 / 10)], v.back()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: annotate_latency BUILD_DIR [ROUNDS]\n");
    return 2;
  }
  const std::string build = argv[1];
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  const std::string kairosd = build + "/kairosd/kairosd";
  const std::string ctl = build + "/tools/kairosctl/kairosctl";
  const std::string status = "/tmp/kairos-annotate-bench-status";
  struct Mode {
    const char* name;
    std::vector<std::string> args;
    std::vector<double> add, clear, ctl_only, after_ctl;
  };
  std::vector<Mode> modes{{"poll (200 ms scans, before)", {"--no-cgroup-watch"}, {}, {}, {}, {}},
                          {"inotify (after)", {}, {}, {}, {}, {}}};
  for (auto& m : modes) {
    std::vector<std::string> a{kairosd, "--status-file", status};
    a.insert(a.end(), m.args.begin(), m.args.end());
    ::unlink(status.c_str());
    const pid_t d = spawn(a, "/tmp/kairos-annotate-bench-kairosd.out");
    if (!wait_status(status, "pid=" + std::to_string(d) + " ", true)) {
      std::fprintf(stderr, "kairosd did not start:\n%s",
                   slurp("/tmp/kairos-annotate-bench-kairosd.out").c_str());
      ::kill(d, SIGKILL);
      return 1;
    }
    for (int r = 0; r < rounds; ++r) {
      const std::string name = "kb-ann-" + std::to_string(r);
      const std::string dir = "/sys/fs/cgroup/" + name;
      ::mkdir(dir.c_str(), 0755);
      // Start at varying points of kairosd's scan period.
      std::this_thread::sleep_for(std::chrono::milliseconds(23 + 37 * (r % 5)));
      auto t0 = Clock::now();
      if (run({ctl, "annotate", name, "--class", "be"}) != 0) return 1;
      m.ctl_only.push_back(ms_since(t0));
      if (!wait_status(status, "cgroup=" + name + " ", true)) return 1;
      m.add.push_back(ms_since(t0));
      m.after_ctl.push_back(m.add.back() - m.ctl_only.back());
      std::this_thread::sleep_for(std::chrono::milliseconds(41 + 29 * (r % 7)));
      t0 = Clock::now();
      if (run({ctl, "annotate", name, "--clear"}) != 0) return 1;
      if (!wait_status(status, "cgroup=" + name + " ", false)) return 1;
      m.clear.push_back(ms_since(t0));
      ::rmdir(dir.c_str());
    }
    ::kill(d, SIGTERM);
    ::waitpid(d, nullptr, 0);
  }
  std::printf("annotation -> kairosd status, %d rounds each (ms, emulated clock)\n", rounds);
  std::printf("%-28s %8s %8s %8s | %9s %8s %8s | %9s | %s\n", "kairosd", "add p50", "p90",
              "max", "clear p50", "p90", "max", "ctl alone", "after ctl p50 p90");
  for (auto& m : modes) {
    const auto a = summarize(m.add), c = summarize(m.clear), k = summarize(m.ctl_only),
               w = summarize(m.after_ctl);
    std::printf("%-28s %8.1f %8.1f %8.1f | %9.1f %8.1f %8.1f | %9.1f | %.1f %.1f\n", m.name,
                a.p50, a.p90, a.max, c.p50, c.p90, c.max, k.p50, w.p50, w.p90);
  }
  const auto before = summarize(modes[0].add), after = summarize(modes[1].add);
  const auto wb = summarize(modes[0].after_ctl), wa = summarize(modes[1].after_ctl);
  std::printf("add p50 after/before: %.2f; after kairosctl returned: %.2f\n",
              before.p50 > 0 ? after.p50 / before.p50 : 0.0, wb.p50 > 0 ? wa.p50 / wb.p50 : 0.0);
  return 0;
}
