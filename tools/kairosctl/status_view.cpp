#include "status_view.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace kairos::ctl {

namespace {

std::string printf_line(const char* fmt, auto... args) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

std::string cpus_text(const std::vector<unsigned>& cpus) {
  std::string s;
  for (unsigned c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s.empty() ? "-" : s;
}

std::string num(std::uint64_t v) { return std::to_string(v); }

}  // namespace

std::string status_json_path(const std::string& status_file) { return status_file + ".json"; }

StatusRead read_status(const std::string& status_file, bool (*pid_alive)(int)) {
  StatusRead r;
  const std::string path = status_json_path(status_file);
  std::ifstream in(path);
  if (!in) {
    r.why_not = "no live " + status_file;
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string err;
  auto s = status::from_json_text(ss.str(), &err);
  if (!s) {
    r.why_not = path + ": " + err;
    return r;
  }
  if (s->daemon.pid <= 0 || !pid_alive(s->daemon.pid)) {
    r.why_not = "no live " + status_file;
    return r;
  }
  r.snapshot = std::move(s);
  return r;
}

std::string render_status_text(const status::Snapshot& s) {
  std::string o;
  const auto& d = s.daemon;
  o += printf_line("kairosd: running (pid %d), backend %s, sched_ext %s, %u restarts, %u CPUs\n",
                   d.pid, d.backend.c_str(), d.sched_ext_state.c_str(), d.restarts, d.cpus);
  if (!d.last_exit.empty()) o += "last scheduler exit: " + d.last_exit + "\n";
  o += printf_line("cgroups: followed by %s, %s full rescans\n",
                   s.watch.mode == "inotify" ? "inotify" : "polling", num(s.watch.rescans).c_str());
  if (s.lc_class)
    o += printf_line("LC class (kairos.ko): %s threads, %s refused\n",
                     num(s.lc_class->members).c_str(), num(s.lc_class->refused).c_str());
  o += printf_line("guard: LC may use %s us of every %s us per CPU (%s)\n",
                   num(s.tunables.quantum_us).c_str(), num(s.tunables.period_us).c_str(),
                   s.tunables.source.c_str());
  const status::SchedCounters st = s.sched.value_or(status::SchedCounters{});
  o += printf_line("scheduler: %s grants, %s preempt kicks, %s guard throttles, "
                   "%s rescues, %s LC fallbacks\n",
                   num(st.grants).c_str(), num(st.preempt_kicks).c_str(),
                   num(st.guard_throttles).c_str(), num(st.rescues).c_str(),
                   num(st.lc_fallback).c_str());
  if (const auto& a = s.allocator) {
    std::ostringstream poll;
    poll << static_cast<double>(a->poll_interval_ns) / 1000.0;
    o += printf_line("allocator: %s on CPU %u, poll every %s us, %s ns per poll (median) "
                     "(%s ns per monitored kthread, %u kthreads), %s grants, %s revokes\n",
                     a->mode.c_str(), a->cpu, poll.str().c_str(),
                     num(a->quiet_poll_ns_p50).c_str(),
                     num(a->kthreads ? a->quiet_poll_ns_p50 / a->kthreads : 0).c_str(),
                     a->kthreads, num(a->grants).c_str(), num(a->revokes).c_str());
    o += printf_line("allocator latency (p99, at most): %s us from queued work to its "
                     "grant decision, %s us to apply a grant\n",
                     status::quantile_le_us_text(a->decision_latency, 0.99).c_str(),
                     status::quantile_le_us_text(a->grant_apply, 0.99).c_str());
  }
  const char* row = "%-3s %-20s %-5s %4s %5s %5s %-8s %6s %9s %9s %9s %9s %8s %s\n";
  o += "\n" + printf_line(row, "APP", "CGROUP", "CLASS", "GUAR", "BURST", "OWNED", "CPUS",
                          "QUEUED", "HEAD_WAIT", "WAIT_AVG", "WAIT_P99", "WAIT_MAX", "RUN_MS",
                          "SOURCE");
  o += printf_line(row, "", "", "", "", "", "", "", "", "(us)", "(us)", "(<= us)", "(us)", "",
                   "");
  for (const auto& a : s.apps)
    o += printf_line(row, num(a.id).c_str(), a.cgroup.c_str(), a.cls.c_str(),
                     num(a.guaranteed).c_str(), num(a.burstable).c_str(), num(a.owned).c_str(),
                     cpus_text(a.cpus).c_str(), num(a.queued).c_str(),
                     num(a.head_wait_ns / 1000).c_str(),
                     num(a.dispatched ? a.wait_ns_total / a.dispatched / 1000 : 0).c_str(),
                     status::quantile_le_us_text(a.queue_delay, 0.99).c_str(),
                     num(a.wait_ns_max / 1000).c_str(), num(a.run_ns / 1000000).c_str(),
                     a.source.empty() ? "annotation" : a.source.c_str());
  for (const auto& i : s.ignored) o += "ignored " + i.cgroup + ": " + i.why + "\n";
  return o;
}

std::string render_offline_text(const std::string& why_not, const std::vector<OfflineApp>& apps) {
  std::string o = "kairosd: not running (" + why_not + ")\n";
  o += printf_line("%-24s %-5s %5s %5s\n", "CGROUP", "CLASS", "GUAR", "BURST");
  for (const auto& a : apps) {
    if (!a.cls.empty())
      o += printf_line("%-24s %-5s %5u %5u\n", a.cgroup.c_str(), a.cls.c_str(), a.guaranteed,
                       a.burstable);
    else if (a.untrusted)
      o += printf_line("%-24s ignored: %s\n", a.cgroup.c_str(), a.error.c_str());
    else
      o += printf_line("%-24s invalid annotation: %s\n", a.cgroup.c_str(), a.error.c_str());
  }
  return o;
}

std::string render_status_json(const status::Snapshot& s) {
  nlohmann::json j = nlohmann::json::parse(status::to_json_text(s, -1));
  j["running"] = true;
  return j.dump(2) + "\n";
}

std::string render_offline_json(const std::string& why_not, const std::vector<OfflineApp>& apps) {
  nlohmann::json j;
  j["schema"] = status::kSchemaName;
  j["version"] = status::kSchemaVersion;
  j["running"] = false;
  j["why_not"] = why_not;
  j["annotations"] = nlohmann::json::array();
  for (const auto& a : apps) {
    nlohmann::json x{{"cgroup", a.cgroup}};
    if (!a.cls.empty()) {
      x["class"] = a.cls;
      x["guaranteed"] = a.guaranteed;
      x["burstable"] = a.burstable;
    } else {
      x["error"] = a.error;
      x["untrusted"] = a.untrusted;
    }
    j["annotations"].push_back(std::move(x));
  }
  return j.dump(2) + "\n";
}

}  // namespace kairos::ctl
