// The snapshot's text renderings: the status file's lines and JSON (the
// schema of tools/kairosctl/README.md), and kairos.ko's per-CPU table.
#include <kairos/kairosd/status_snapshot.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <sstream>

// std::optional <-> null or the value (nlohmann 3.11 has no such mapping).
namespace nlohmann {
template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& o) {
    if (o)
      j = *o;
    else
      j = nullptr;
  }
  static void from_json(const json& j, std::optional<T>& o) {
    if (j.is_null())
      o.reset();
    else
      o = j.get<T>();
  }
};
}  // namespace nlohmann

namespace kairos::status {

// Missing keys keep their defaults, so a reader accepts documents of the
// same version written before a field was added.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Histogram, bounds_s, counts, sum_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DaemonInfo, pid, backend, sched_ext_state, cpus,
                                                restarts, exits, last_exit, taken_ns,
                                                taken_unix_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WatchInfo, mode, watched, events, overflows,
                                                complete, event_syncs, rescans)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ClassInfo, attached, members, refused, capacity,
                                                adopted, standing_down, stand_downs)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TunablesInfo, quantum_us, period_us, source)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LcQueuedReasons, sibling, throttled, requeue,
                                                unowned)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SchedCounters, enqueued, dispatched, direct,
                                                lc_enqueued, lc_fallback, preempt_kicks,
                                                guard_throttles, rescues, cpu_online,
                                                cpu_offline, grants, revokes, guard_resumes,
                                                kthread_direct, slice_ends, owner_rekicks,
                                                lc_queued, lc_queued_wait_ns, grants_run,
                                                grants_unmatched, grant_kick_run,
                                                grant_queued_run, grant_head_age,
                                                standby_grants, standby_failed)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RuntimeInfo, pid, kthreads, running, queued)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AppInfo, id, cgroup, cls, source, guaranteed, burstable,
                                                owned, cpus, queued, head_wait_ns, enqueued,
                                                dispatched, wait_ns_total, wait_ns_max, run_ns,
                                                grants, revokes, standby, runtime, queue_delay)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IgnoredCgroup, cgroup, why)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CpuInfo, cpu, online, owner, busy, lc_app,
                                                kmod_throttles, kmod_parks, kmod_grants)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AllocatorInfo, mode, cpu, poll_interval_ns, apps,
                                                runtime_apps, kthreads, polls, poll_ns_total,
                                                poll_ns_max, quiet_polls, quiet_ns_total,
                                                quiet_poll_ns_p50, grants, revokes, failed,
                                                bad_polls, grant_apply_ns_total,
                                                set_owner_ns_avg, wake_ns_avg, grants_by_reason,
                                                revokes_by_reason, wake, poll_duration, poll_gap,
                                                grant_apply, decision_latency)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(KmodInfo, stats)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(XdpAppCounters, redirected, redirected_bytes,
                                                no_socket, dropped_bad_l4)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DataplaneApp, listen, shm, rx_delivered,
                                                rx_ring_full, rx_no_kthread, rx_oversize, tx_sent,
                                                tx_dropped, tx_strays, mode, xdp)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DataplaneInfo, backend, rx, rx_invalid, tx,
                                                tx_full, tx_no_route, rx_dropped_after_redirect,
                                                rx_no_app, apps, xdp)
// The class info is "lc_class" in C++ ("class" is a keyword), "class" in JSON.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Snapshot, daemon, watch, lc_class, tunables,
                                                sched, apps, ignored, cpus, allocator, kmod,
                                                dataplane)

std::uint64_t Histogram::count() const {
  return std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
}

std::optional<double> Histogram::quantile_le_s(double q) const {
  const std::uint64_t n = count();
  if (n == 0) return std::nullopt;
  // The rank of the sample (1-based), at least the first.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank)
      return i < bounds_s.size() ? bounds_s[i] : std::numeric_limits<double>::infinity();
  }
  return std::numeric_limits<double>::infinity();
}

std::string quantile_le_us_text(const std::optional<Histogram>& h, double q) {
  const std::optional<double> s = h ? h->quantile_le_s(q) : std::nullopt;
  if (!s) return "-";
  if (std::isinf(*s)) return "inf";
  // Fixed notation, at most ns precision, no trailing zeros ("2.048", "64").
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", *s * 1e6);
  std::string t = buf;
  t.erase(t.find_last_not_of('0') + 1);
  if (t.back() == '.') t.pop_back();
  return t;
}

namespace {

// "congested:3,parked:2" (reasons with a count only; "-" when none).
std::string by_reason(const ReasonCounts& r) {
  std::string out;
  for (const auto& [why, n] : r)
    if (n) out += (out.empty() ? "" : ",") + why + ":" + std::to_string(n);
  return out.empty() ? "-" : out;
}

std::string cpu_list(const std::vector<unsigned>& cpus) {
  std::string s;
  for (unsigned c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s.empty() ? "-" : s;
}

}  // namespace

std::string render_status_lines(const Snapshot& s) {
  std::ostringstream o;
  const DaemonInfo& d = s.daemon;
  o << "kairosd pid=" << d.pid << " state=" << d.sched_ext_state << " restarts=" << d.restarts
    << " cpus=" << d.cpus << " backend=" << d.backend << " exits=" << d.exits << "\n";
  o << "watch mode=" << s.watch.mode;
  if (s.watch.mode == "inotify")
    o << " watched=" << s.watch.watched << " events=" << s.watch.events
      << " overflows=" << s.watch.overflows << " complete=" << s.watch.complete;
  o << " event_syncs=" << s.watch.event_syncs << " rescans=" << s.watch.rescans << "\n";
  if (const auto& c = s.lc_class)
    o << "class attached=" << c->attached << " members=" << c->members
      << " refused=" << c->refused << " capacity=" << c->capacity << " adopted=" << c->adopted
      << " standing_down=" << c->standing_down << " stand_downs=" << c->stand_downs << "\n";
  o << "tunables quantum_us=" << s.tunables.quantum_us << " period_us=" << s.tunables.period_us
    << " source=" << s.tunables.source << "\n";
  const SchedCounters st = s.sched.value_or(SchedCounters{});
  o << "stats enqueued=" << st.enqueued << " dispatched=" << st.dispatched
    << " direct=" << st.direct << " lc_enqueued=" << st.lc_enqueued
    << " lc_fallback=" << st.lc_fallback << " preempt_kicks=" << st.preempt_kicks
    << " guard_throttles=" << st.guard_throttles << " rescues=" << st.rescues
    << " cpu_online=" << st.cpu_online << " cpu_offline=" << st.cpu_offline
    << " grants=" << st.grants << " revokes=" << st.revokes
    << " guard_resumes=" << st.guard_resumes << " kthread_direct=" << st.kthread_direct
    << " slice_ends=" << st.slice_ends << " owner_rekicks=" << st.owner_rekicks
    << " standby_grants=" << st.standby_grants << " standby_failed=" << st.standby_failed << "\n";
  // Why LC tasks waited in their app's queue, and for how long in all.
  const LcQueuedReasons &n = st.lc_queued, &w = st.lc_queued_wait_ns;
  o << "lc_queued sibling=" << n.sibling << " sibling_wait_us=" << w.sibling / 1000
    << " throttled=" << n.throttled << " throttled_wait_us=" << w.throttled / 1000
    << " requeue=" << n.requeue << " requeue_wait_us=" << w.requeue / 1000
    << " unowned=" << n.unowned << " unowned_wait_us=" << w.unowned / 1000 << "\n";
  // How long a granted CPU took to run the queued task it was granted for.
  o << "grant_latency run=" << st.grants_run << " unmatched=" << st.grants_unmatched
    << " kick_run_p50_le_us=" << quantile_le_us_text(st.grant_kick_run, 0.5)
    << " kick_run_p99_le_us=" << quantile_le_us_text(st.grant_kick_run, 0.99)
    << " queued_run_p50_le_us=" << quantile_le_us_text(st.grant_queued_run, 0.5)
    << " queued_run_p99_le_us=" << quantile_le_us_text(st.grant_queued_run, 0.99)
    << " head_age_p50_le_us=" << quantile_le_us_text(st.grant_head_age, 0.5) << "\n";
  for (const AppInfo& a : s.apps)
    o << "app id=" << a.id << " cgroup=" << a.cgroup << " class=" << a.cls
      << " guaranteed=" << a.guaranteed << " burstable=" << a.burstable << " owned=" << a.owned
      << " cpus=" << cpu_list(a.cpus) << " queued=" << a.queued
      << " head_wait_us=" << a.head_wait_ns / 1000 << " dispatched=" << a.dispatched
      << " wait_avg_us=" << (a.dispatched ? a.wait_ns_total / a.dispatched / 1000 : 0)
      << " wait_max_us=" << a.wait_ns_max / 1000 << " wait_total_us=" << a.wait_ns_total / 1000
      << " run_ms=" << a.run_ns / 1000000 << " source=" << (a.source.empty() ? "-" : a.source)
      << " wait_p50_le_us=" << quantile_le_us_text(a.queue_delay, 0.5)
      << " wait_p99_le_us=" << quantile_le_us_text(a.queue_delay, 0.99)
      << " standby=" << (a.standby ? std::to_string(*a.standby) : "-") << "\n";
  for (const IgnoredCgroup& i : s.ignored)
    o << "ignored cgroup=" << i.cgroup << " why=" << i.why << "\n";
  if (const auto& al = s.allocator) {
    const AllocatorInfo& a = *al;
    o << "allocator mode=" << a.mode << " cpu=" << a.cpu
      << " poll_us=" << static_cast<double>(a.poll_interval_ns) / 1000.0 << " apps=" << a.apps
      << " runtime_apps=" << a.runtime_apps << " kthreads=" << a.kthreads
      << " polls=" << a.polls << " poll_ns_avg=" << (a.polls ? a.poll_ns_total / a.polls : 0)
      << " poll_ns_max=" << a.poll_ns_max << " quiet_polls=" << a.quiet_polls
      << " quiet_ns=" << a.quiet_ns_total
      << " quiet_poll_ns_avg=" << (a.quiet_polls ? a.quiet_ns_total / a.quiet_polls : 0)
      << " quiet_poll_ns_p50=" << a.quiet_poll_ns_p50
      << " ns_per_kthread=" << (a.kthreads ? a.quiet_poll_ns_p50 / a.kthreads : 0)
      << " grants=" << a.grants << " revokes=" << a.revokes << " failed=" << a.failed
      << " grant_apply_ns_avg=" << (a.grants ? a.grant_apply_ns_total / a.grants : 0)
      << " set_owner_ns_avg=" << a.set_owner_ns_avg << " wake_ns_avg=" << a.wake_ns_avg
      << " bad_polls=" << a.bad_polls << " grants_by_reason=" << by_reason(a.grants_by_reason)
      << " revokes_by_reason=" << by_reason(a.revokes_by_reason) << " wake=" << a.wake
      << " poll_gap_p99_le_us=" << quantile_le_us_text(a.poll_gap, 0.99)
      << " decision_p99_le_us=" << quantile_le_us_text(a.decision_latency, 0.99)
      << " grant_apply_p99_le_us=" << quantile_le_us_text(a.grant_apply, 0.99) << "\n";
    for (const AppInfo& app : s.apps)
      if (const auto& r = app.runtime)
        o << "runtime app=" << app.id << " pid=" << r->pid << " kthreads=" << r->kthreads
          << " running=" << r->running << " queued=" << r->queued << "\n";
  }
  return o.str();
}

std::string to_json_text(const Snapshot& s, int indent) {
  nlohmann::json j = s;
  // "lc_class" is the C++ name; the document says "class".
  j["class"] = std::move(j["lc_class"]);
  j.erase("lc_class");
  j["schema"] = kSchemaName;
  j["version"] = kSchemaVersion;
  return j.dump(indent);
}

std::optional<Snapshot> from_json_text(const std::string& text, std::string* error) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) {
      *error = "not a JSON object";
      return std::nullopt;
    }
    if (j.value("schema", std::string{}) != kSchemaName) {
      *error = std::string("not a ") + kSchemaName + " document";
      return std::nullopt;
    }
    if (!j.contains("version") || !j["version"].is_number_integer() ||
        j["version"].get<int>() != kSchemaVersion) {
      *error = "schema version " + (j.contains("version") ? j["version"].dump() : "missing") +
               ", this reader knows " + std::to_string(kSchemaVersion);
      return std::nullopt;
    }
    if (j.contains("class")) j["lc_class"] = j["class"];
    return j.get<Snapshot>();
  } catch (const nlohmann::json::exception& e) {
    *error = e.what();
    return std::nullopt;
  }
}

std::vector<std::map<std::string, std::uint64_t>> parse_kmod_per_cpu(const std::string& text) {
  std::vector<std::map<std::string, std::uint64_t>> rows;
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) return rows;
  std::vector<std::string> cols;
  {
    std::istringstream h(line);
    for (std::string w; h >> w;) cols.push_back(w);
  }
  if (cols.empty() || cols[0] != "cpu") return rows;
  while (std::getline(in, line)) {
    std::istringstream ws(line);
    std::map<std::string, std::uint64_t> row;
    std::size_t i = 0;
    bool ok = true;
    for (std::string w; ws >> w; ++i) {
      std::int64_t v = 0;  // "throttled" may be -1 (unknown)
      const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
      if (i >= cols.size() || ec != std::errc{} || end != w.data() + w.size()) {
        ok = false;
        break;
      }
      row[cols[i]] = v < 0 ? 0 : static_cast<std::uint64_t>(v);
    }
    if (ok && i == cols.size()) rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace kairos::status
