// The Daemon's event-driven cgroup following (CgroupWatch) and its second
// backend: the threads of LC cgroups kept in kairos.ko's MicroQuanta-like
// class (ClassSync) whenever no sched_ext scheduler is attached. Kept
// apart from daemon.cpp, which owns the sched_ext side.
#include "daemon.hpp"

#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace kairos {

namespace {

// One log for the whole Daemon (defined in daemon.cpp).
constexpr void (*log)(const std::string&) = daemon_log;

}  // namespace

unsigned Daemon::nr_cpus() const {
  return sched_ ? sched_->nr_cpus() : possible_cpus();
}

void Daemon::start_watch() {
  next_rescan_ = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(opts_.rescan_interval_ms);
  if (!opts_.watch_cgroups) return;
  try {
    watch_ = std::make_unique<CgroupWatch>(opts_.cgroup_root);
    log("following " + opts_.cgroup_root + " with inotify (" +
        std::to_string(watch_->watched()) + " directories); full rescan every " +
        std::to_string(opts_.rescan_interval_ms) + " ms");
  } catch (const std::exception& e) {
    log(std::string("cannot follow cgroups with inotify (") + e.what() +
        "): rescanning them on every scan instead");
  }
}

std::string Daemon::watch_status() const {
  std::ostringstream o;
  o << "watch mode=" << (watch_ ? "inotify" : "poll");
  if (watch_)
    o << " watched=" << watch_->watched() << " events=" << watch_->events()
      << " overflows=" << watch_->overflows() << " complete=" << watch_->complete();
  o << " event_syncs=" << event_syncs_ << " rescans=" << rescans_;
  return o.str();
}

void Daemon::wait_until(std::chrono::steady_clock::time_point until) {
  if (!watch_) {
    std::this_thread::sleep_until(until);
    return;
  }
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
  pollfd p{watch_->fd(), POLLIN, 0};
  // A signal ends the wait early (EINTR); the caller looks at its flag.
  if (::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return;
  if (!watch_->drain()) return;
  ++event_syncs_;
  sync_apps();
  sync_cores();
  sync_class();
  write_status();
}

bool Daemon::attach_sched() {
  if (opts_.backend == Backend::kmod) return false;
  try {
    load();
  } catch (const std::exception& e) {
    if (opts_.backend == Backend::sched_ext) throw;
    if (attach_error_ != e.what())
      log(std::string("sched_ext scheduler not attached: ") + e.what());
    attach_error_ = e.what();
    return false;
  }
  attach_error_.clear();
  log("scheduler kairos attached (state " + sched_ext_state() + ")");
  if (class_) {
    // The scheduler orders LC threads now; as SCHED_FIFO class members
    // they would run above it, out of its control.
    class_.reset();  // closing the fd restores every member
    log("LC threads left kairos.ko's class: the sched_ext scheduler has them");
  } else if (opts_.backend == Backend::automatic) {
    const std::string why = probe_kairos_dev(opts_.kairos_dev);
    log(why.empty() ? "kairos.ko's LC class is the fallback if the scheduler exits"
                    : "no LC-class fallback if the scheduler exits: " + why);
  }
  return true;
}

void Daemon::enter_class_mode(const std::string& why) {
  class_ = std::make_unique<ClassSync>(opts_.kairos_dev, log);
  if (std::string err = class_->attach(); !err.empty()) {
    class_.reset();
    if (why.empty())  // at start: nothing would keep LC threads ahead
      throw std::runtime_error(
          opts_.backend == Backend::kmod
              ? "--backend kmod needs kairos.ko: " + err
              : "no backend: the sched_ext scheduler did not attach (" +
                    attach_error_ + ") and " + err);
    log("no LC class to fall back to: " + err);
    return;
  }
  log("LC threads of annotated cgroups go into kairos.ko's class" +
      (why.empty() ? std::string() : " (" + why + ")"));
}

bool Daemon::fall_back_to_class(const std::string& why) {
  if (opts_.backend != Backend::automatic) return false;
  if (alloc_) alloc_->stop();  // it must not touch the old scheduler
  sched_.reset();
  reattach_ = false;  // gone for good: the operator's or repeated faults
  enter_class_mode(why);
  if (!class_) return false;
  sync_apps();
  sync_class();
  write_status();
  return true;
}

void Daemon::sync_class() {
  if (!class_ || sched_) return;
  // kairosd runs no scheduler now: one that is active is someone else's.
  if (const std::string st = sched_ext_state(); foreign_sched_ext_active(st)) {
    const std::string ops = sched_ext_root_ops();
    class_->stand_down("sched_ext scheduler " + (ops.empty() ? std::string("?") : ops) +
                       " is " + st);
    return;
  }
  if (!class_->resume().empty()) return;
  std::vector<std::string> dirs;
  for (const auto& [path, app] : apps_)
    if (app.annotation.cls == AppClass::lc) dirs.push_back(opts_.cgroup_root + "/" + path);
  class_->sync(dirs);
}

void Daemon::maybe_reattach() {
  if (sched_ || !reattach_ || opts_.backend != Backend::automatic) return;
  const auto now = std::chrono::steady_clock::now();
  // Absent sched_ext ("") never comes back; "enabled" is someone else's.
  if (now < next_reattach_ || sched_ext_state() != "disabled") return;
  next_reattach_ = now + std::chrono::milliseconds(opts_.rescan_interval_ms);
  attach_sched();
}

}  // namespace kairos
