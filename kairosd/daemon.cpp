#include "daemon.hpp"

#include "core_plan.hpp"
#include "restart_rules.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace kairos {

void daemon_log(const std::string& s) {
  std::printf("kairosd: %s\n", s.c_str());
  std::fflush(stdout);
}

namespace {

constexpr void (*log)(const std::string&) = daemon_log;

}  // namespace

Daemon::Daemon(DaemonOptions opts) : opts_(std::move(opts)) {}

Daemon::~Daemon() { stop(); }

std::optional<std::string> Daemon::read_sysfs(const std::string& name) const {
  std::ifstream in(opts_.sysfs_dir + "/" + name);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Daemon::load() {
  SchedOptions so = opts_.sched;
  so.tunables.quantum_ns = tunables_.quantum_us * 1000;
  so.tunables.period_ns = tunables_.period_us * 1000;
  sched_ = std::make_unique<SchedLoader>(so);
  // A fresh scheduler knows nothing: give it every app again.
  for (auto& [path, app] : apps_) {
    sched_->set_app_class(app.id, app.annotation.cls == AppClass::lc
                                      ? KAIROS_CLASS_LC
                                      : KAIROS_CLASS_BE);
    sched_->map_cgroup(app.cgroup_id, app.id);
  }
  sched_->bump_config_gen();
}

void Daemon::start() {
  sync_tunables();
  start_watch();
  if (!attach_sched()) enter_class_mode("");
  sync_apps();
  sync_cores();
  sync_class();
  write_status();
}

// Who sets the owner map: the allocator loop (guaranteed cores, plus
// burstable ones on congestion) or, with --no-allocator, the static plan of
// guaranteed cores. Nothing while no scheduler is attached (class mode).
void Daemon::sync_cores() {
  if (!sched_) return;
  if (!opts_.allocator.enabled) {
    sync_owners();
    return;
  }
  if (!alloc_) {
    const auto online = online_cpus(sched_->nr_cpus());
    alloc_ = std::make_unique<AllocatorService>(
        opts_.allocator,
        static_cast<unsigned>(std::count(online.begin(), online.end(), true)), log);
    log(std::string("allocator on CPU ") + std::to_string(opts_.allocator.cpu) +
        ", poll every " + std::to_string(alloc_->effective_poll_ns() / 1000) + " us, " +
        (alloc_->low_power() ? "low-power (sleeps between polls)" : "spinning"));
  }
  sync_allocator();
  // (Re)started after every attach: a reload or a reattach brings a new
  // scheduler.
  if (!alloc_->running()) alloc_->start(*sched_);
}

void Daemon::sync_allocator() {
  std::set<std::string> lc;
  for (auto& [path, a] : apps_)
    if (a.annotation.cls == AppClass::lc) lc.insert(path);
  auto found = discovery_.scan(lc, log);
  std::sort(found.begin(), found.end(),
            [](const DiscoveredRuntime& x, const DiscoveredRuntime& y) { return x.pid < y.pid; });
  std::vector<AllocatorApp> want;
  std::map<std::uint32_t, pid_t> driven;
  for (auto& [path, a] : apps_) {
    if (a.annotation.cls != AppClass::lc) continue;
    AllocatorApp x;
    x.id = a.id;
    x.guaranteed = a.annotation.guaranteed;
    x.max_cores = a.annotation.burstable;
    // The CPUs its cgroup's cpuset allows; empty (any) without the controller.
    x.allowed = cpu_flags_from_file(opts_.cgroup_root + "/" + path + "/cpuset.cpus.effective",
                                    sched_->nr_cpus())
                    .value_or(std::vector<bool>{});
    // One runtime process per app is driven (the lowest pid); the app's
    // other threads are scheduled as an unmodified app's would be.
    for (const auto& r : found)
      if (r.cgroup == path) {
        x.pid = r.pid;
        x.area = r.area;
        driven[a.id] = r.pid;
        break;
      }
    want.push_back(std::move(x));
  }
  for (auto& [id, pid] : driven)
    if (driven_[id] != pid)
      log("app " + std::to_string(id) + ": allocator drives the kthreads of runtime pid " +
          std::to_string(pid));
  for (auto& [id, pid] : driven_)
    if (pid && !driven.count(id))
      log("app " + std::to_string(id) + ": runtime pid " + std::to_string(pid) + " gone");
  driven_ = driven;
  alloc_->update(std::move(want), online_cpus(sched_->nr_cpus()));
}

std::string Daemon::allocator_summary() const {
  return alloc_ ? alloc_->summary() : "";
}

std::optional<unsigned> Daemon::granted_cores(const std::string& cgroup) const {
  auto it = apps_.find(cgroup);
  if (!sched_ || it == apps_.end()) return std::nullopt;
  unsigned n = 0;
  for (std::uint32_t c = 0; c < sched_->nr_cpus(); ++c)
    if (sched_->owner(c) == it->second.id) ++n;
  return n;
}

void Daemon::sync_tunables() {
  const GuardTunables t =
      resolve_tunables(read_sysfs("quantum_us"), read_sysfs("period_us"), opts_.guard_defaults);
  if (t == tunables_ && sched_) return;
  if (!(t == tunables_))
    log("guard quantum " + std::to_string(t.quantum_us) + " us per " +
        std::to_string(t.period_us) + " us (" + t.source + ")");
  tunables_ = t;
  if (sched_) {
    kairos_tunables k = opts_.sched.tunables;
    k.quantum_ns = t.quantum_us * 1000;
    k.period_ns = t.period_us * 1000;
    sched_->set_tunables(k);
  }
}

void Daemon::sync_apps() {
  std::vector<FoundCgroup> found = scan_annotated(opts_.cgroup_root);
  // Rules ([[rule]], [kubernetes]) after the annotations, which win.
  std::map<std::string, std::string> sources;
  for (auto& f : rule_cgroups(found, sources)) found.push_back(std::move(f));
  const unsigned ncpu = nr_cpus();
  std::map<std::string, Annotation> wanted;
  std::map<std::string, std::uint64_t> ids;
  invalid_.clear();
  std::vector<AnnotatedCgroup> accepted;
  // Keep apps we already run first, so a new conflicting annotation loses.
  std::stable_partition(found.begin(), found.end(), [&](const FoundCgroup& f) {
    return apps_.count(f.path) != 0;
  });
  for (const auto& f : found) {
    if (!f.parsed) {
      invalid_.emplace_back(f.path, f.parsed.error);
      continue;
    }
    const std::string why = check_annotation(f.path, *f.parsed.value, ncpu, accepted);
    if (!why.empty()) {
      const auto src = sources.find(f.path);
      invalid_.emplace_back(f.path, src == sources.end() ? why : src->second + ": " + why);
      continue;
    }
    accepted.push_back({f.path, *f.parsed.value});
    wanted[f.path] = *f.parsed.value;
    ids[f.path] = f.id;
  }
  // Each ignored annotation is logged once, while it stays as it is.
  std::set<std::pair<std::string, std::string>> now_invalid(invalid_.begin(), invalid_.end());
  for (const auto& entry : now_invalid)
    if (!invalid_logged_.count(entry))
      log("ignored cgroup " + entry.first + ": " + entry.second);
  invalid_logged_ = std::move(now_invalid);
  bool changed = false;
  for (auto it = apps_.begin(); it != apps_.end();) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || ids[it->first] != it->second.cgroup_id) {
      log("app " + std::to_string(it->second.id) + " (" + it->first + ") retired");
      if (sched_) {
        sched_->unmap_cgroup(it->second.cgroup_id);
        for (std::uint32_t c = 0; c < ncpu; ++c)
          if (sched_->owner(c) == it->second.id) sched_->set_owner(c, 0);
        sched_->set_app_class(it->second.id, KAIROS_CLASS_NONE);
      }
      it = apps_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  std::set<std::uint32_t> used;
  for (auto& [p, a] : apps_) used.insert(a.id);
  for (auto& [path, ann] : wanted) {
    auto it = apps_.find(path);
    const auto src = sources.find(path);
    const std::string source = src == sources.end() ? "annotation" : src->second;
    if (it != apps_.end()) {
      if (!(it->second.annotation == ann) || it->second.source != source) {
        it->second.annotation = ann;
        it->second.source = source;
        if (sched_)
          sched_->set_app_class(it->second.id, ann.cls == AppClass::lc
                                                   ? KAIROS_CLASS_LC
                                                   : KAIROS_CLASS_BE);
        log("app " + std::to_string(it->second.id) + " (" + path + ") now " +
            format_annotation(ann) + " (" + source + ")");
        changed = true;
      }
      continue;
    }
    std::uint32_t id = 1;
    while (used.count(id)) ++id;
    used.insert(id);
    App app{id, ids[path], ann, source};
    if (sched_) {
      sched_->set_app_class(id, ann.cls == AppClass::lc ? KAIROS_CLASS_LC
                                                        : KAIROS_CLASS_BE);
      sched_->map_cgroup(app.cgroup_id, id);
    }
    apps_.emplace(path, app);
    log("app " + std::to_string(id) + " (" + path + "): " + format_annotation(ann) + " (" +
        source + ")");
    changed = true;
  }
  if (changed && sched_) sched_->bump_config_gen();
}

void Daemon::sync_owners() {
  if (!sched_) return;
  const unsigned ncpu = sched_->nr_cpus();
  std::vector<CoreDemand> demands;
  for (auto& [path, a] : apps_)
    if (a.annotation.cls == AppClass::lc)
      demands.push_back({a.id, a.annotation.guaranteed});
  std::sort(demands.begin(), demands.end(),
            [](const CoreDemand& x, const CoreDemand& y) { return x.app < y.app; });
  std::vector<std::uint32_t> current(ncpu);
  for (std::uint32_t c = 0; c < ncpu; ++c) current[c] = sched_->owner(c);
  const auto plan = plan_owners(demands, online_cpus(ncpu), current);
  // Revokes first, so a CPU is never owned twice.
  for (std::uint32_t c = 0; c < ncpu; ++c)
    if (current[c] && current[c] != plan[c]) sched_->set_owner(c, 0);
  for (std::uint32_t c = 0; c < ncpu; ++c)
    if (plan[c] && current[c] != plan[c]) {
      const int err = sched_->set_owner(c, plan[c]);
      if (err)
        log("granting CPU " + std::to_string(c) + " to app " +
            std::to_string(plan[c]) + " failed: " + std::to_string(err));
      else
        log("CPU " + std::to_string(c) + " granted to app " +
            std::to_string(plan[c]));
    }
}

bool Daemon::poll() {
  if (auto ex = sched_ ? sched_->exit_info() : std::nullopt) {
    std::ostringstream o;
    o << "the kernel stopped the scheduler: kind=" << ex->kind
      << " code=" << ex->code << " reason='" << ex->reason << "' msg='"
      << ex->message << "'";
    last_exit_ = o.str();
    ++exits_total_;
    log(last_exit_);
    // The kernel's dump (every CPU and runnable task at the error) is what
    // a report of the fault needs: into the log, one line per line.
    if (!ex->dump.empty()) {
      log("the kernel's debug dump of the exit follows");
      std::istringstream dump(ex->dump);
      for (std::string line; std::getline(dump, line);) log("dump: " + line);
    }
    const auto now = std::chrono::steady_clock::now();
    while (!restart_times_.empty() &&
           now - restart_times_.front() > std::chrono::minutes(1))
      restart_times_.pop_front();
    const RestartDecision d =
        decide_restart(ex->kind, ex->code, static_cast<unsigned>(restart_times_.size()));
    if (!d.restart) {
      log("not restarting: " + d.why);
      return fall_back_to_class("the scheduler exited for good");
    }
    log("restarting the scheduler: " + d.why);
    if (alloc_) alloc_->stop();  // it must not touch the old scheduler
    sched_.reset();
    for (int attempt = 0;; ++attempt) {
      try {
        load();
        break;
      } catch (const std::exception& e) {
        // e.g. a hotplug still in progress: try again shortly
        if (attempt >= 20) {
          last_exit_ += std::string("; reload failed: ") + e.what();
          log(std::string("reload failed: ") + e.what());
          return fall_back_to_class("the scheduler could not be reloaded");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    restart_times_.push_back(now);
    ++restarts_total_;
    log("scheduler kairos attached again (restart " +
        std::to_string(restarts_total_) + ")");
  }
  sync_tunables();
  maybe_reattach();
  // With the watch, annotations were followed as they changed; the full
  // rescan is the safety net. Without it, every round rescans.
  const auto now = std::chrono::steady_clock::now();
  if (!watch_ || !watch_->complete() || now >= next_rescan_) {
    ++rescans_;
    if (watch_) watch_->resync();
    next_rescan_ = now + std::chrono::milliseconds(opts_.rescan_interval_ms);
    sync_apps();
  }
  sync_cores();
  sync_class();
  write_status();
  return true;
}

void Daemon::stop() {
  if (alloc_) alloc_->stop();  // before the scheduler it polls goes away
  if (class_) class_->detach();
  if (!sched_ && !class_) return;
  sched_.reset();
  class_.reset();
  std::error_code ec;
  std::filesystem::remove(opts_.status_path, ec);
  std::filesystem::remove(opts_.status_path + ".json", ec);
}

namespace {

// Readers never see a half-written file: write beside it, then rename.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
}

}  // namespace

void Daemon::write_status() const {
  auto snap = std::make_shared<const status::Snapshot>(snapshot());
  board_->publish(snap);
  if (opts_.status_path.empty()) return;
  const std::filesystem::path p(opts_.status_path);
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  write_atomically(opts_.status_path, status::render_status_lines(*snap));
  write_atomically(opts_.status_path + ".json", status::to_json_text(*snap));
}

}  // namespace kairos
