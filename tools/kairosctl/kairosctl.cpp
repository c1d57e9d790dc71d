// kairosctl: annotate cgroups for Kairos and show what kairosd does with
// them. Parsing and validation are pure (ctl_args, annotation); this file
// is the thin mechanism: xattrs on cgroupfs and kairosd's status file.
#include <kairos/kairosd/cgroup_xattr.hpp>
#include <kairos/kairosd/dataplane_toml.hpp>
#include "ctl_args.hpp"
#include <kairos/version.hpp>
#include "status_view.hpp"
#include "top.hpp"

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

bool pid_alive(int pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// Annotated cgroups straight from the cgroup tree (kairosd not running).
std::vector<ctl::OfflineApp> offline_apps(const ctl::GlobalOpts& g) {
  std::vector<ctl::OfflineApp> out;
  for (const auto& f : scan_annotated(g.cgroup_root)) {
    ctl::OfflineApp a;
    a.cgroup = f.path;
    if (f.parsed) {
      a.cls = std::string(class_name(f.parsed.value->cls));
      a.guaranteed = f.parsed.value->guaranteed;
      a.burstable = f.parsed.value->burstable;
    } else {
      a.error = f.parsed.error;
      a.untrusted = f.untrusted;
    }
    out.push_back(std::move(a));
  }
  return out;
}

int show_status(const ctl::GlobalOpts& g, const ctl::StatusCmd& c) {
  const ctl::StatusRead r = ctl::read_status(g.status_file, pid_alive);
  std::string text;
  if (r.snapshot)
    text = c.json ? ctl::render_status_json(*r.snapshot) : ctl::render_status_text(*r.snapshot);
  else
    text = c.json ? ctl::render_offline_json(r.why_not, offline_apps(g))
                  : ctl::render_offline_text(r.why_not, offline_apps(g));
  std::fputs(text.c_str(), stdout);
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
  if (auto* t = std::get_if<ctl::TopCmd>(&p.cmd)) return ctl::run_top(p.global.status_file, t->interval_ms);
  return show_status(p.global, std::get<ctl::StatusCmd>(p.cmd));
}
