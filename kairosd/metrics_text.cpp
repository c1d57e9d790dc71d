// Written by hand: the exposition is a line format of a few rules (family
// header, samples, label escaping), and no Prometheus client library is
// packaged for C++ in Debian.
#include <kairos/kairosd/metrics_text.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <utility>

namespace kairos::status {

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string escape_label(const std::string& v) {
  std::string o;
  o.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      o += "\\\\";
    else if (c == '"')
      o += "\\\"";
    else if (c == '\n')
      o += "\\n";
    else
      o += c;
  }
  return o;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string number(std::uint64_t v) { return std::to_string(v); }

double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

class Writer {
 public:
  explicit Writer(MetricsFormat f) : f_(f) {}

  // Starts a family. For counters, `name` ends in _total; OpenMetrics names
  // the family without it.
  void family(const std::string& name, const char* type, const char* help) {
    std::string fam = name;
    if (f_ == MetricsFormat::kOpenMetrics && std::string(type) == "counter" &&
        fam.size() > 6 && fam.compare(fam.size() - 6, 6, "_total") == 0)
      fam.resize(fam.size() - 6);
    out_ += "# HELP " + fam + " " + help + "\n";
    out_ += "# TYPE " + fam + " " + type + "\n";
    if (f_ == MetricsFormat::kOpenMetrics) {
      // Units in OpenMetrics must be a suffix of the family name.
      if (fam.size() > 8 && fam.compare(fam.size() - 8, 8, "_seconds") == 0)
        out_ += "# UNIT " + fam + " seconds\n";
    }
  }

  template <typename V>
  void sample(const std::string& name, const Labels& labels, V value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k + "=\"" + escape_label(v) + "\"";
      }
      out_ += '}';
    }
    out_ += ' ' + number(value) + '\n';
  }

  // One family with a single unlabelled sample.
  template <typename V>
  void one(const std::string& name, const char* type, const char* help, V value) {
    family(name, type, help);
    sample(name, {}, value);
  }

  void histogram(const std::string& name, const char* help,
                 const std::vector<std::pair<Labels, const Histogram*>>& series) {
    family(name, "histogram", help);
    for (const auto& [labels, h] : series) {
      std::uint64_t cum = 0;
      for (std::size_t i = 0; i < h->bounds_s.size(); ++i) {
        cum += i < h->counts.size() ? h->counts[i] : 0;
        Labels l = labels;
        l.emplace_back("le", number(h->bounds_s[i]));
        sample(name + "_bucket", l, cum);
      }
      const std::uint64_t total = h->count();
      Labels inf = labels;
      inf.emplace_back("le", "+Inf");
      sample(name + "_bucket", inf, total);
      sample(name + "_sum", labels, h->sum_s);
      sample(name + "_count", labels, total);
    }
  }

  std::string finish() {
    if (f_ == MetricsFormat::kOpenMetrics) out_ += "# EOF\n";
    return std::move(out_);
  }

 private:
  MetricsFormat f_;
  std::string out_;
};

Labels app_labels(const AppInfo& a) {
  return {{"app", std::to_string(a.id)}, {"cgroup", a.cgroup}};
}

// A family with one sample per app, value from `get`.
template <typename Get>
void per_app(Writer& w, const Snapshot& s, const std::string& name, const char* type,
             const char* help, Get get) {
  w.family(name, type, help);
  for (const AppInfo& a : s.apps) w.sample(name, app_labels(a), get(a));
}

template <typename Get>
void per_cpu(Writer& w, const Snapshot& s, const std::string& name, const char* type,
             const char* help, Get get) {
  w.family(name, type, help);
  for (const CpuInfo& c : s.cpus) w.sample(name, {{"cpu", std::to_string(c.cpu)}}, get(c));
}

void scheduler(Writer& w, const Snapshot& s) {
  w.family("kairos_daemon_info", "gauge", "kairosd's backend and the sched_ext state (value 1).");
  w.sample("kairos_daemon_info", {{"backend", s.daemon.backend},
                                  {"sched_ext_state", s.daemon.sched_ext_state}},
           std::uint64_t{1});
  w.one("kairos_scheduler_attached", "gauge",
        "1 while the kairos sched_ext scheduler is attached, else 0.",
        std::uint64_t{s.sched ? 1u : 0u});
  w.one("kairos_scheduler_exits_total", "counter", "Scheduler exits seen by kairosd.",
        std::uint64_t{s.daemon.exits});
  w.one("kairos_scheduler_restarts_total", "counter",
        "Scheduler reloads after a recoverable exit.", std::uint64_t{s.daemon.restarts});
  w.one("kairos_cpus", "gauge", "CPUs kairosd manages (possible CPUs).",
        std::uint64_t{s.daemon.cpus});
  w.one("kairos_snapshot_timestamp_seconds", "gauge",
        "When kairosd took the data served here (Unix time).",
        static_cast<double>(s.daemon.taken_unix_ms) / 1e3);
  w.one("kairos_guard_quantum_seconds", "gauge",
        "LC runtime allowed per guard period on each CPU.",
        static_cast<double>(s.tunables.quantum_us) / 1e6);
  w.one("kairos_guard_period_seconds", "gauge", "The guard's period.",
        static_cast<double>(s.tunables.period_us) / 1e6);
  w.one("kairos_cgroup_events_total", "counter", "cgroup changes followed through inotify.",
        s.watch.event_syncs);
  w.one("kairos_cgroup_rescans_total", "counter", "Full rescans of the cgroup tree.",
        s.watch.rescans);
  if (s.lc_class) {
    w.one("kairos_kmod_class_members", "gauge", "Threads in kairos.ko's LC class.",
          s.lc_class->members);
    w.one("kairos_kmod_class_refused", "gauge", "Threads kairos.ko's LC class refused.",
          s.lc_class->refused);
  }
  if (!s.sched) return;
  const SchedCounters& c = *s.sched;
  const std::pair<const char*, std::pair<std::uint64_t, const char*>> counters[] = {
      {"kairos_sched_enqueued_total", {c.enqueued, "Tasks enqueued by the scheduler."}},
      {"kairos_sched_dispatched_total", {c.dispatched, "Tasks dispatched to a CPU."}},
      {"kairos_sched_direct_dispatches_total",
       {c.direct, "Tasks placed directly on an idle CPU at wakeup."}},
      {"kairos_sched_lc_enqueued_total", {c.lc_enqueued, "LC tasks enqueued in their app's queue."}},
      {"kairos_sched_lc_fallbacks_total",
       {c.lc_fallback, "LC tasks with no usable owned CPU, sent to the shared queue."}},
      {"kairos_sched_preempt_kicks_total", {c.preempt_kicks, "LC wakeups that preempted other work."}},
      {"kairos_sched_slice_ends_total",
       {c.slice_ends, "LC slices ended early for a sibling waiting in the app's queue."}},
      {"kairos_sched_owner_rekicks_total",
       {c.owner_rekicks, "Kicks for an owner's work repeated because an RT task held the CPU."}},
      {"kairos_sched_guard_throttles_total",
       {c.guard_throttles, "LC tasks held back by the per-CPU guard."}},
      {"kairos_sched_rescues_total", {c.rescues, "LC tasks run off their owned CPUs to avoid a stall."}},
      {"kairos_sched_owner_grants_total", {c.grants, "CPUs granted in the scheduler's owner map."}},
      {"kairos_sched_owner_revokes_total", {c.revokes, "CPUs revoked in the scheduler's owner map."}},
      {"kairos_sched_standby_grants_total",
       {c.standby_grants, "Standby CPUs the scheduler granted when an app's work outgrew its CPUs."}},
      {"kairos_sched_standby_failed_total",
       {c.standby_failed, "Standby claims whose grant failed (CPU offline or owned meanwhile)."}},
  };
  for (const auto& [name, v] : counters) w.one(name, "counter", v.second, v.first);
  // Why LC tasks waited in their app's queue instead of starting at once.
  const std::pair<const char*, std::uint64_t LcQueuedReasons::*> reasons[] = {
      {"sibling", &LcQueuedReasons::sibling},
      {"throttled", &LcQueuedReasons::throttled},
      {"requeue", &LcQueuedReasons::requeue},
      {"unowned", &LcQueuedReasons::unowned}};
  w.family("kairos_sched_lc_queued_total", "counter",
           "LC tasks that waited in their app's queue, by reason: every owned CPU ran the app "
           "(sibling), the guard held LC back (throttled), its slice had ended and something "
           "came first (requeue), the app owned no CPU (unowned).");
  for (const auto& [r, m] : reasons)
    w.sample("kairos_sched_lc_queued_total", {{"reason", r}}, c.lc_queued.*m);
  w.family("kairos_sched_lc_queued_wait_seconds_total", "counter",
           "Time those LC tasks waited in their app's queue, by reason.");
  for (const auto& [r, m] : reasons)
    w.sample("kairos_sched_lc_queued_wait_seconds_total", {{"reason", r}},
             seconds(c.lc_queued_wait_ns.*m));
  w.one("kairos_sched_grants_run_total", "counter",
        "Grants on which a task of the app, queued before the grant, then ran.", c.grants_run);
  w.one("kairos_sched_grants_unmatched_total", "counter",
        "Grants that ended before such a task ran there.", c.grants_unmatched);
  w.histogram("kairos_sched_grant_kick_to_run_seconds",
              "From a grant (owner set, CPU kicked) to the app's queued task running there.",
              {{{}, &c.grant_kick_run}});
  w.histogram("kairos_sched_grant_queued_to_run_seconds",
              "From that task's enqueue in its app's queue to its run on the granted CPU.",
              {{{}, &c.grant_queued_run}});
  w.histogram("kairos_sched_grant_head_age_seconds",
              "At each grant to an app with tasks queued, how long the head of its queue had "
              "waited.",
              {{{}, &c.grant_head_age}});
  w.family("kairos_sched_cpu_hotplug_events_total", "counter", "CPU hotplug events seen.");
  w.sample("kairos_sched_cpu_hotplug_events_total", {{"event", "online"}}, c.cpu_online);
  w.sample("kairos_sched_cpu_hotplug_events_total", {{"event", "offline"}}, c.cpu_offline);
}

void apps(Writer& w, const Snapshot& s) {
  w.family("kairos_app_info", "gauge", "An annotated app and its class (value 1).");
  for (const AppInfo& a : s.apps) {
    Labels l = app_labels(a);
    l.emplace_back("class", a.cls);
    w.sample("kairos_app_info", l, std::uint64_t{1});
  }
  per_app(w, s, "kairos_app_guaranteed_cores", "gauge", "Cores the app is guaranteed.",
          [](const AppInfo& a) { return std::uint64_t{a.guaranteed}; });
  per_app(w, s, "kairos_app_burstable_cores", "gauge", "Most cores the app may hold.",
          [](const AppInfo& a) { return std::uint64_t{a.burstable}; });
  per_app(w, s, "kairos_app_owned_cores", "gauge", "Cores the app owns now.",
          [](const AppInfo& a) { return std::uint64_t{a.owned}; });
  per_app(w, s, "kairos_app_queued_tasks", "gauge", "App tasks waiting in its queue now.",
          [](const AppInfo& a) { return a.queued; });
  per_app(w, s, "kairos_app_head_wait_seconds", "gauge",
          "How long the oldest queued task of the app has waited.",
          [](const AppInfo& a) { return seconds(a.head_wait_ns); });
  per_app(w, s, "kairos_app_enqueued_total", "counter", "App tasks enqueued.",
          [](const AppInfo& a) { return a.enqueued; });
  per_app(w, s, "kairos_app_dispatched_total", "counter", "App tasks started from its queue.",
          [](const AppInfo& a) { return a.dispatched; });
  per_app(w, s, "kairos_app_queue_wait_seconds_total", "counter",
          "Sum of the queueing delays of the dispatched tasks (divide by "
          "kairos_app_dispatched_total for the mean).",
          [](const AppInfo& a) { return seconds(a.wait_ns_total); });
  per_app(w, s, "kairos_app_queue_wait_max_seconds", "gauge", "Longest queueing delay seen.",
          [](const AppInfo& a) { return seconds(a.wait_ns_max); });
  std::vector<std::pair<Labels, const Histogram*>> delays;
  for (const AppInfo& a : s.apps)
    if (a.queue_delay) delays.emplace_back(app_labels(a), &*a.queue_delay);
  if (!delays.empty())
    w.histogram("kairos_app_queue_delay_seconds",
                "Time the app's tasks waited in its queue before they ran.", delays);
  per_app(w, s, "kairos_app_cpu_seconds_total", "counter", "CPU time of the app's tasks.",
          [](const AppInfo& a) { return seconds(a.run_ns); });
  for (const bool grant : {true, false}) {
    const std::string name = grant ? "kairos_app_grants_total" : "kairos_app_revokes_total";
    w.family(name, "counter",
             grant ? "Cores the allocator granted to the app, by reason."
                   : "Cores the allocator took back from the app, by reason.");
    for (const AppInfo& a : s.apps)
      for (const auto& [why, n] : grant ? a.grants : a.revokes) {
        Labels l = app_labels(a);
        l.emplace_back("reason", why);
        w.sample(name, l, n);
      }
  }
  w.family("kairos_app_runtime_kthreads", "gauge", "Kthreads of the app's libkairos runtime.");
  for (const AppInfo& a : s.apps)
    if (a.runtime) w.sample("kairos_app_runtime_kthreads", app_labels(a), std::uint64_t{a.runtime->kthreads});
  w.family("kairos_app_runtime_running_kthreads", "gauge", "Of those, not parked.");
  for (const AppInfo& a : s.apps)
    if (a.runtime)
      w.sample("kairos_app_runtime_running_kthreads", app_labels(a), std::uint64_t{a.runtime->running});
  w.family("kairos_app_runtime_queued_items", "gauge", "Items in the runtime's run queues.");
  for (const AppInfo& a : s.apps)
    if (a.runtime) w.sample("kairos_app_runtime_queued_items", app_labels(a), a.runtime->queued);
  w.one("kairos_ignored_cgroups", "gauge", "Annotated cgroups kairosd ignores (see the status).",
        static_cast<std::uint64_t>(s.ignored.size()));
}

void cpus(Writer& w, const Snapshot& s) {
  per_cpu(w, s, "kairos_cpu_online", "gauge", "1 when the CPU is online.",
          [](const CpuInfo& c) { return std::uint64_t{c.online}; });
  per_cpu(w, s, "kairos_cpu_owner_app", "gauge", "Id of the app owning the CPU, 0 for none.",
          [](const CpuInfo& c) { return std::uint64_t{c.owner}; });
  per_cpu(w, s, "kairos_cpu_busy", "gauge", "1 when a task runs on the CPU now.",
          [](const CpuInfo& c) { return std::uint64_t{c.busy}; });
  per_cpu(w, s, "kairos_cpu_lc_app", "gauge",
          "Id of the LC app whose task runs on the CPU now, 0 for none.",
          [](const CpuInfo& c) { return std::uint64_t{c.lc_app}; });
  const std::pair<const char*, std::pair<std::optional<std::uint64_t> CpuInfo::*, const char*>>
      kmod[] = {
          {"kairos_cpu_guard_throttles_total",
           {&CpuInfo::kmod_throttles, "Times kairos.ko's guard throttled LC threads on the CPU."}},
          {"kairos_cpu_parks_total", {&CpuInfo::kmod_parks, "Runtime kthreads parked on the CPU."}},
          {"kairos_cpu_kmod_grants_total",
           {&CpuInfo::kmod_grants, "Parked kthreads woken on the CPU by a grant."}},
      };
  for (const auto& [name, m] : kmod) {
    bool any = false;
    for (const CpuInfo& c : s.cpus) any = any || (c.*(m.first)).has_value();
    if (!any) continue;
    w.family(name, "counter", m.second);
    for (const CpuInfo& c : s.cpus)
      if ((c.*(m.first)))
        w.sample(name, {{"cpu", std::to_string(c.cpu)}}, *(c.*(m.first)));
  }
}

void allocator(Writer& w, const Snapshot& s) {
  w.one("kairos_allocator_running", "gauge", "1 while the allocator's poll loop is on.",
        std::uint64_t{s.allocator ? 1u : 0u});
  if (!s.allocator) return;
  const AllocatorInfo& a = *s.allocator;
  w.one("kairos_allocator_low_power", "gauge", "1 when the poll loop sleeps between polls.",
        std::uint64_t{a.mode == "low-power" ? 1u : 0u});
  w.one("kairos_allocator_poll_interval_seconds", "gauge", "The poll interval asked for.",
        seconds(a.poll_interval_ns));
  w.one("kairos_allocator_polls_total", "counter", "Polls done.", a.polls);
  w.one("kairos_allocator_poll_seconds_total", "counter", "Time spent in polls.",
        seconds(a.poll_ns_total));
  w.one("kairos_allocator_poll_duration_max_seconds", "gauge", "Longest poll.",
        seconds(a.poll_ns_max));
  w.one("kairos_allocator_quiet_poll_duration_median_seconds", "gauge",
        "Median cost of the recent polls without a decision.", seconds(a.quiet_poll_ns_p50));
  w.histogram("kairos_allocator_poll_duration_seconds", "Cost of one poll.",
              {{{}, &a.poll_duration}});
  w.histogram("kairos_allocator_poll_gap_seconds",
              "Time from one poll's start to the next (the interval achieved).",
              {{{}, &a.poll_gap}});
  w.histogram("kairos_allocator_grant_apply_seconds",
              "Time from a grant decision to its application (owner map, kick, wake).",
              {{{}, &a.grant_apply}});
  w.histogram("kairos_allocator_decision_latency_seconds",
              "Time from an app's queued work being seen (an unmodified app: the enqueue of its "
              "oldest queued task) to the first grant to it after that being applied.",
              {{{}, &a.decision_latency}});
  w.one("kairos_allocator_monitored_apps", "gauge", "LC apps the allocator manages.",
        std::uint64_t{a.apps});
  w.one("kairos_allocator_monitored_kthreads", "gauge", "Runtime kthreads watched every poll.",
        std::uint64_t{a.kthreads});
  for (const bool grant : {true, false}) {
    const std::string name = grant ? "kairos_allocator_grants_total" : "kairos_allocator_revokes_total";
    w.family(name, "counter", grant ? "Cores granted, by reason." : "Cores revoked, by reason.");
    for (const auto& [why, n] : grant ? a.grants_by_reason : a.revokes_by_reason)
      w.sample(name, {{"reason", why}}, n);
  }
  w.one("kairos_allocator_failed_grants_total", "counter", "Grants that could not be applied.",
        a.failed);
  w.one("kairos_allocator_refused_polls_total", "counter", "Polls whose input the policy refused.",
        a.bad_polls);
}

void kmod(Writer& w, const Snapshot& s) {
  w.one("kairos_kmod_loaded", "gauge", "1 when kairos.ko's statistics are readable.",
        std::uint64_t{s.kmod ? 1u : 0u});
  if (!s.kmod) return;
  struct K {
    const char* file;
    const char* name;
    const char* type;
    double scale;  // to base units
    const char* help;
  };
  static const K kK[] = {
      {"grants", "kairos_kmod_grants_total", "counter", 1, "Parked kthreads woken by a grant."},
      {"grant_misses", "kairos_kmod_grant_misses_total", "counter", 1,
       "Grants that found no parked kthread."},
      {"parks", "kairos_kmod_parks_total", "counter", 1, "Kthreads parked."},
      {"preempt_ipis", "kairos_kmod_preempt_ipis_total", "counter", 1, "Preemption IPIs sent."},
      {"preempt_signals", "kairos_kmod_preempt_signals_total", "counter", 1,
       "Preemption signals sent."},
      {"throttles", "kairos_kmod_throttles_total", "counter", 1, "LC class throttles."},
      {"unthrottles", "kairos_kmod_unthrottles_total", "counter", 1, "LC class unthrottles."},
      {"throttled_periods", "kairos_kmod_throttled_periods_total", "counter", 1,
       "Guard periods with a throttle."},
      {"policy_errors", "kairos_kmod_policy_errors_total", "counter", 1,
       "Scheduling-policy changes that failed."},
      {"lc_runtime_ns", "kairos_kmod_lc_runtime_seconds_total", "counter", 1e-9,
       "CPU time of LC class threads."},
      {"lc_throttled_ns", "kairos_kmod_lc_throttled_seconds_total", "counter", 1e-9,
       "Time LC class threads spent throttled."},
      {"lc_overrun_ns", "kairos_kmod_lc_overrun_seconds_total", "counter", 1e-9,
       "LC runtime beyond the quantum."},
      {"lc_overrun_max_ns", "kairos_kmod_lc_overrun_max_seconds", "gauge", 1e-9,
       "Longest overrun of the quantum."},
      {"live_files", "kairos_kmod_open_files", "gauge", 1, "Open /dev/kairos files."},
      {"live_mappings", "kairos_kmod_mappings", "gauge", 1, "Mappings of /dev/kairos."},
      {"live_parked", "kairos_kmod_parked_kthreads", "gauge", 1, "Kthreads parked now."},
      {"live_lc_threads", "kairos_kmod_lc_threads", "gauge", 1, "Threads in the LC class now."},
  };
  for (const K& k : kK) {
    const auto it = s.kmod->stats.find(k.file);
    if (it == s.kmod->stats.end()) continue;
    if (k.scale == 1)
      w.one(k.name, k.type, k.help, it->second);
    else
      w.one(k.name, k.type, k.help, static_cast<double>(it->second) * k.scale);
  }
}

void dataplane(Writer& w, const Snapshot& s) {
  if (!s.dataplane) return;
  const DataplaneInfo& d = *s.dataplane;
  const Labels b{{"backend", d.backend}};
  auto fam = [&](const char* name, const char* help, std::uint64_t v) {
    w.family(name, "counter", help);
    w.sample(name, b, v);
  };
  fam("kairos_dataplane_rx_packets_total", "Packets received by the dataplane.", d.rx);
  fam("kairos_dataplane_rx_invalid_total", "Received packets that were not valid UDP.",
      d.rx_invalid);
  fam("kairos_dataplane_rx_no_app_total", "Received packets for no known app.", d.rx_no_app);
  fam("kairos_dataplane_rx_dropped_after_redirect_total",
      "Packets redirected by XDP but dropped before the dataplane.", d.rx_dropped_after_redirect);
  fam("kairos_dataplane_tx_packets_total", "Packets sent.", d.tx);
  fam("kairos_dataplane_tx_full_total", "Sends refused: TX ring full.", d.tx_full);
  fam("kairos_dataplane_tx_no_route_total", "Sends refused: no route.", d.tx_no_route);
  // The relay's ring counters exist for relayed apps only.
  std::vector<const DataplaneApp*> relayed;
  for (const auto& a : d.apps)
    if (a.mode != "direct") relayed.push_back(&a);
  auto app = [](const DataplaneApp* a) { return Labels{{"listen", a->listen}, {"shm", a->shm}}; };
  w.family("kairos_dataplane_app_rx_delivered_total", "counter",
           "Packets copied into the app's RX rings.");
  for (const auto* a : relayed)
    w.sample("kairos_dataplane_app_rx_delivered_total", app(a), a->rx_delivered);
  w.family("kairos_dataplane_app_rx_drops_total", "counter", "Packets for the app dropped, by reason.");
  for (const auto* a : relayed)
    for (const auto& [why, n] : {std::pair<const char*, std::uint64_t>{"ring_full", a->rx_ring_full},
                                 {"no_kthread", a->rx_no_kthread},
                                 {"oversize", a->rx_oversize}}) {
      Labels l = app(a);
      l.emplace_back("reason", why);
      w.sample("kairos_dataplane_app_rx_drops_total", l, n);
    }
  w.family("kairos_dataplane_app_tx_sent_total", "counter", "Replies of the app sent.");
  for (const auto* a : relayed) w.sample("kairos_dataplane_app_tx_sent_total", app(a), a->tx_sent);
  w.family("kairos_dataplane_app_tx_dropped_total", "counter", "Replies of the app refused.");
  for (const auto* a : relayed)
    w.sample("kairos_dataplane_app_tx_dropped_total", app(a), a->tx_dropped);
  if (!d.xdp.empty()) {
    w.family("kairos_xdp_packets_total", "counter", "The XDP steering program's frames, by reason.");
    for (const auto& [why, n] : d.xdp) w.sample("kairos_xdp_packets_total", {{"reason", why}}, n);
  }
  // Per app, relayed or direct: what the XDP program did with its frames.
  auto xdp_app = [](const DataplaneApp& a) {
    return Labels{{"listen", a.listen}, {"mode", a.mode}};
  };
  if (std::none_of(d.apps.begin(), d.apps.end(), [](const DataplaneApp& a) { return a.xdp; }))
    return;
  w.family("kairos_xdp_app_packets_total", "counter",
           "The app's frames at the XDP program, by outcome: redirected to an AF_XDP socket, "
           "passed to the kernel for want of a socket on the queue, dropped for a bad L4 header.");
  for (const auto& a : d.apps) {
    if (!a.xdp) continue;
    for (const auto& [what, n] :
         {std::pair<const char*, std::uint64_t>{"redirected", a.xdp->redirected},
          {"passed_no_socket", a.xdp->no_socket},
          {"dropped_bad_l4", a.xdp->dropped_bad_l4}}) {
      Labels l = xdp_app(a);
      l.emplace_back("outcome", what);
      w.sample("kairos_xdp_app_packets_total", l, n);
    }
  }
  w.family("kairos_xdp_app_redirected_bytes_total", "counter",
           "Bytes of the app's frames redirected to an AF_XDP socket.");
  for (const auto& a : d.apps)
    if (a.xdp) w.sample("kairos_xdp_app_redirected_bytes_total", xdp_app(a), a.xdp->redirected_bytes);
}

}  // namespace

std::string render_metrics(const Snapshot& s, MetricsFormat f) {
  Writer w(f);
  scheduler(w, s);
  apps(w, s);
  cpus(w, s);
  allocator(w, s);
  kmod(w, s);
  dataplane(w, s);
  return w.finish();
}

const char* metrics_content_type(MetricsFormat f) {
  return f == MetricsFormat::kOpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

MetricsFormat negotiate_metrics_format(const std::string& accept) {
  return accept.find("application/openmetrics-text") != std::string::npos
             ? MetricsFormat::kOpenMetrics
             : MetricsFormat::kPrometheus;
}

}  // namespace kairos::status
