// kairosctl: annotate cgroups for Kairos and show what kairosd does with
// them. Parsing and validation are pure (ctl_args, annotation); this file
// is the thin mechanism: xattrs on cgroupfs and kairosd's status file.
#include <kairos/kairosd/cgroup_xattr.hpp>
#include <kairos/kairosd/dataplane_toml.hpp>
#include "ctl_args.hpp"
#include <kairos/version.hpp>

#include <signal.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace kairos;

namespace {

int annotate(const ctl::GlobalOpts& g, const ctl::AnnotateCmd& c, unsigned ncpu) {
  auto rel = normalize_cgroup_path(g.cgroup_root, c.cgroup);
  if (!rel) {
    std::fprintf(stderr, "kairosctl: %s\n", rel.error.c_str());
    return 2;
  }
  const std::string dir = g.cgroup_root + "/" + *rel.value;
  if (auto why = check_cgroup_dir(dir); !why.empty()) {
    std::fprintf(stderr, "kairosctl: %s\n", why.c_str());
    return 2;
  }
  try {
    if (c.clear) {
      remove_annotation(dir);
      std::printf("kairosctl: %s: annotation removed\n", rel.value->c_str());
      return 0;
    }
    std::vector<AnnotatedCgroup> existing;
    for (const auto& f : scan_annotated(g.cgroup_root))
      if (f.parsed) existing.push_back({f.path, *f.parsed.value});
    const std::string why = check_annotation(*rel.value, c.annotation, ncpu, existing);
    if (!why.empty()) {
      std::fprintf(stderr, "kairosctl: %s: %s; nothing changed\n",
                   rel.value->c_str(), why.c_str());
      return 2;
    }
    const std::string text = format_annotation(c.annotation);
    write_annotation(dir, text);
    std::printf("kairosctl: %s: %s\n", rel.value->c_str(), text.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kairosctl: %s\n", e.what());
    return 1;
  }
  return 0;
}

// Each cgroup with only the untrusted attribute: its annotation, checked
// like a new one against the trusted ones, becomes trusted, and the
// untrusted attribute goes. 0 when every one moved, 1 otherwise.
int migrate(const ctl::GlobalOpts& g, unsigned ncpu) {
  int rc = 0;
  unsigned moved = 0;
  try {
    const std::vector<FoundCgroup> found = scan_annotated(g.cgroup_root);
    std::vector<AnnotatedCgroup> trusted;
    for (const auto& f : found)
      if (f.parsed) trusted.push_back({f.path, *f.parsed.value});
    for (const auto& f : found) {
      if (!f.untrusted) continue;
      const auto a = parse_annotation(f.raw);
      const std::string why =
          a ? check_annotation(f.path, *a.value, ncpu, trusted) : a.error;
      if (!why.empty()) {
        std::fprintf(stderr, "kairosctl: %s: not migrated: %s\n", f.path.c_str(), why.c_str());
        rc = 1;
        continue;
      }
      const std::string dir = g.cgroup_root + "/" + f.path;
      write_annotation(dir, format_annotation(*a.value));
      if (::removexattr(dir.c_str(), kUntrustedAnnotationXattr) != 0 && errno != ENODATA)
        std::fprintf(stderr, "kairosctl: %s: migrated, but %s stays: %s\n", f.path.c_str(),
                     kUntrustedAnnotationXattr, std::strerror(errno));
      trusted.push_back({f.path, *a.value});
      std::printf("kairosctl: %s: migrated: %s\n", f.path.c_str(),
                  format_annotation(*a.value).c_str());
      moved++;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kairosctl: %s\n", e.what());
    return 1;
  }
  if (moved == 0 && rc == 0) std::printf("kairosctl: no user.kairos.app annotation to migrate\n");
  return rc;
}

// "key=value key=value" after the first word.
std::map<std::string, std::string> fields(const std::string& line) {
  std::map<std::string, std::string> m;
  std::istringstream in(line);
  std::string w;
  in >> w;
  m["_kind"] = w;
  const auto why = line.find(" why=");
  while (in >> w) {
    const auto eq = w.find('=');
    if (eq != std::string::npos) m[w.substr(0, eq)] = w.substr(eq + 1);
  }
  if (why != std::string::npos) m["why"] = line.substr(why + 5);
  return m;
}

int status(const ctl::GlobalOpts& g) {
  std::ifstream in(g.status_file);
  std::vector<std::map<std::string, std::string>> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(fields(l));
  bool running = false;
  if (!lines.empty() && lines[0]["_kind"] == "kairosd") {
    const int pid = std::atoi(lines[0]["pid"].c_str());
    running = pid > 0 && ::kill(pid, 0) == 0;
  }
  if (!running) {
    std::printf("kairosd: not running (no live %s)\n", g.status_file.c_str());
    std::printf("%-24s %-5s %5s %5s\n", "CGROUP", "CLASS", "GUAR", "BURST");
    for (const auto& f : scan_annotated(g.cgroup_root)) {
      if (f.parsed)
        std::printf("%-24s %-5s %5u %5u\n", f.path.c_str(),
                    std::string(class_name(f.parsed.value->cls)).c_str(),
                    f.parsed.value->guaranteed, f.parsed.value->burstable);
      else if (f.untrusted)
        std::printf("%-24s ignored: %s\n", f.path.c_str(), f.parsed.error.c_str());
      else
        std::printf("%-24s invalid annotation: %s\n", f.path.c_str(),
                    f.parsed.error.c_str());
    }
    return 0;
  }
  auto& k = lines[0];
  std::printf("kairosd: running (pid %s), backend %s, sched_ext %s, %s restarts, %s CPUs\n",
              k["pid"].c_str(), k.count("backend") ? k["backend"].c_str() : "sched_ext",
              k["state"].c_str(), k["restarts"].c_str(), k["cpus"].c_str());
  for (auto& l : lines) {
    if (l["_kind"] == "watch")
      std::printf("cgroups: followed by %s, %s full rescans\n",
                  l["mode"] == "inotify" ? "inotify" : "polling", l["rescans"].c_str());
    if (l["_kind"] == "class")
      std::printf("LC class (kairos.ko): %s threads, %s refused\n", l["members"].c_str(),
                  l["refused"].c_str());
    if (l["_kind"] == "tunables")
      std::printf("guard: LC may use %s us of every %s us per CPU (%s)\n",
                  l["quantum_us"].c_str(), l["period_us"].c_str(), l["source"].c_str());
    if (l["_kind"] == "stats")
      std::printf("scheduler: %s grants, %s preempt kicks, %s guard throttles, "
                  "%s rescues, %s LC fallbacks\n",
                  l["grants"].c_str(), l["preempt_kicks"].c_str(),
                  l["guard_throttles"].c_str(), l["rescues"].c_str(),
                  l["lc_fallback"].c_str());
    if (l["_kind"] == "allocator")
      std::printf("allocator: %s on CPU %s, poll every %s us, %s ns per poll (median) "
                  "(%s ns per monitored kthread, %s kthreads), %s grants, %s revokes\n",
                  l["mode"].c_str(), l["cpu"].c_str(), l["poll_us"].c_str(),
                  l["quiet_poll_ns_p50"].c_str(), l["ns_per_kthread"].c_str(),
                  l["kthreads"].c_str(), l["grants"].c_str(), l["revokes"].c_str());
  }
  std::printf("\n%-3s %-20s %-5s %4s %5s %5s %-8s %6s %9s %9s %9s %8s %s\n", "APP",
              "CGROUP", "CLASS", "GUAR", "BURST", "OWNED", "CPUS", "QUEUED",
              "HEAD_WAIT", "WAIT_AVG", "WAIT_MAX", "RUN_MS", "SOURCE");
  std::printf("%-3s %-20s %-5s %4s %5s %5s %-8s %6s %9s %9s %9s %8s\n", "", "",
              "", "", "", "", "", "", "(us)", "(us)", "(us)", "");
  for (auto& l : lines)
    if (l["_kind"] == "app")
      std::printf("%-3s %-20s %-5s %4s %5s %5s %-8s %6s %9s %9s %9s %8s %s\n",
                  l["id"].c_str(), l["cgroup"].c_str(), l["class"].c_str(),
                  l["guaranteed"].c_str(), l["burstable"].c_str(),
                  l["owned"].c_str(), l["cpus"].c_str(), l["queued"].c_str(),
                  l["head_wait_us"].c_str(), l["wait_avg_us"].c_str(),
                  l["wait_max_us"].c_str(), l["run_ms"].c_str(),
                  l.count("source") ? l["source"].c_str() : "annotation");
  for (auto& l : lines)
    if (l["_kind"] == "ignored")
      std::printf("ignored %s: %s\n", l["cgroup"].c_str(), l["why"].c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (kairos::print_version_if_asked("kairosctl", argc, argv)) return 0;
  const long n = sysconf(_SC_NPROCESSORS_CONF);
  const unsigned ncpu = n > 0 ? static_cast<unsigned>(n) : 1;
  const ctl::ParsedCmd p =
      ctl::parse_args(std::vector<std::string>(argv + 1, argv + argc), ncpu);
  if (!p.error.empty()) {
    std::fprintf(stderr, "kairosctl: %s\n%s", p.error.c_str(), ctl::usage_text().c_str());
    return 2;
  }
  if (std::holds_alternative<ctl::HelpCmd>(p.cmd)) {
    std::fputs(ctl::usage_text().c_str(), stdout);
    return 0;
  }
  if (auto* a = std::get_if<ctl::AnnotateCmd>(&p.cmd)) return annotate(p.global, *a, ncpu);
  if (std::holds_alternative<ctl::MigrateCmd>(p.cmd)) return migrate(p.global, ncpu);
  if (auto* c = std::get_if<ctl::ConvertDataplaneCmd>(&p.cmd)) {
    // Checked as kairosd checks it; a bad file prints nothing on stdout.
    try {
      std::fputs(dataplane_to_toml(dp::load_service_config(c->path)).c_str(), stdout);
      return 0;
    } catch (const dp::ConfigError& e) {
      std::fprintf(stderr, "kairosctl: %s\n", e.what());
      return 2;
    }
  }
  return status(p.global);
}
