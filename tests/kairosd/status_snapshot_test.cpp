// The status snapshot's renderings (host): the status file's lines, the
// versioned JSON schema, the Prometheus/OpenMetrics exposition (checked by
// promtool), kairos.ko's per-CPU table, the allocator's histogram, and the
// --metrics-listen address.
#include "grant_histogram.hpp"
#include "log2_histogram.hpp"
#include "metrics_listen.hpp"

#include <kairos/kairosd/metrics_text.hpp>
#include <kairos/kairosd/status_snapshot.hpp>

#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cmath>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

using namespace kairos::status;

Snapshot sample() {
  Snapshot s;
  s.daemon = {4242, "sched_ext", "enabled", 4, 1, 2, "the kernel stopped the scheduler: kind=1024",
              123456789, 1700000000123};
  s.watch = {"inotify", 20, 7, 0, true, 3, 11};
  s.tunables = {900, 1000, "kairos.ko"};
  s.sched = SchedCounters{10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 12, 11, 0, 0, 0, 0,
                          {40, 3, 2, 1}, {5'000'000, 2'500'000, 200'000, 999},
                          4, 2, {}, {}, {}};
  {
    kairos_grant_hist kick{}, queued{};
    kick.count[kairos_grant_bucket(20'000)] = 3;   // (18432, 20480] ns
    kick.count[kairos_grant_bucket(900'000)] = 1;  // (786432, 917504] ns
    kick.sum_ns = 3 * 20'000 + 900'000;
    queued.count[kairos_grant_bucket(1ull << 30)] = 4;  // beyond 2^27 ns
    queued.sum_ns = 4ull << 30;
    s.sched->grant_kick_run = kairos::grant_histogram(kick);
    s.sched->grant_queued_run = kairos::grant_histogram(queued);
  }
  AppInfo lc;
  lc.id = 1;
  lc.cgroup = "svc/memcached";
  lc.cls = "lc";
  lc.guaranteed = 1;
  lc.burstable = 2;
  lc.owned = 2;
  lc.cpus = {1, 3};
  lc.queued = 4;
  lc.head_wait_ns = 25'000;
  lc.enqueued = 100;
  lc.dispatched = 96;
  lc.wait_ns_total = 96 * 7'000;
  lc.wait_ns_max = 80'000;
  {
    std::array<std::uint64_t, kairos::Log2Histogram::kBuckets> c{};
    c[3] = 90;  // up to 2 us
    c[7] = 5;   // up to 32 us
    c[20] = 1;  // beyond 2^27 ns
    lc.queue_delay = kairos::Log2Histogram::from_counts(c, lc.wait_ns_total);
  }
  lc.run_ns = 3'500'000'000;
  lc.grants = {{"congested", 5}, {"guaranteed", 1}};
  lc.revokes = {{"idle", 4}};
  lc.runtime = RuntimeInfo{777, 3, 1, 9};
  AppInfo be;
  be.id = 2;
  be.cgroup = "batch \"x\"";
  be.cls = "be";
  s.apps = {lc, be};
  s.ignored = {{"bad", "v2 is not a version this kairosd reads"}};
  for (unsigned c = 0; c < 4; ++c) {
    CpuInfo ci;
    ci.cpu = c;
    ci.online = true;
    ci.owner = (c == 1 || c == 3) ? 1 : 0;
    ci.busy = c != 2;
    ci.lc_app = c == 1 ? 1 : 0;
    ci.kmod_throttles = c * 10;
    ci.kmod_parks = c;
    ci.kmod_grants = c + 1;
    s.cpus.push_back(ci);
  }
  AllocatorInfo a;
  a.mode = "spin";
  a.cpu = 0;
  a.poll_interval_ns = 5000;
  a.apps = 1;
  a.runtime_apps = 1;
  a.kthreads = 3;
  a.polls = 1000;
  a.poll_ns_total = 400'000;
  a.poll_ns_max = 9000;
  a.quiet_polls = 990;
  a.quiet_ns_total = 380'000;
  a.quiet_poll_ns_p50 = 350;
  a.grants = 6;
  a.revokes = 4;
  a.grant_apply_ns_total = 60'000;
  a.set_owner_ns_avg = 4000;
  a.wake_ns_avg = 3000;
  a.grants_by_reason = {{"congested", 5}, {"guaranteed", 1}};
  a.revokes_by_reason = {{"idle", 4}};
  a.wake = "devkairos";
  kairos::Log2Histogram h;
  h.record(100);
  h.record(300);
  h.record(5000);
  h.record(1'000'000'000);
  a.poll_duration = h.read();
  a.poll_gap = h.read();
  a.grant_apply = h.read();
  s.allocator = a;
  s.kmod = KmodInfo{{{"grants", 3}, {"parks", 5}, {"lc_runtime_ns", 2'000'000'000},
                     {"lc_overrun_max_ns", 1500}, {"live_parked", 1}}};
  DataplaneInfo d;
  d.backend = "af_xdp";
  d.rx = 100;
  d.tx = 90;
  d.apps = {{"10.0.0.1:11211", "kairos-mc", 95, 1, 2, 0, 90, 0, 0, "relayed",
             XdpAppCounters{95, 9500, 3, 0}},
            {"10.0.0.1:11212", "", 0, 0, 0, 0, 0, 0, 0, "direct", XdpAppCounters{40, 4000, 0, 1}}};
  d.xdp = {{"redirect", 95}, {"pass_unmanaged", 5}};
  s.dataplane = d;
  return s;
}

TEST(StatusSnapshot, JsonRoundTripsAndIsVersioned) {
  const Snapshot s = sample();
  const std::string text = to_json_text(s);
  EXPECT_NE(text.find("\"schema\": \"kairos.status\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"version\": 1"), std::string::npos) << text;
  EXPECT_NE(text.find("\"class\": null"), std::string::npos) << text;
  std::string err;
  const auto back = from_json_text(text, &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(*back, s);
  // One line too.
  const auto one = from_json_text(to_json_text(s, -1), &err);
  ASSERT_TRUE(one) << err;
  EXPECT_EQ(*one, s);
}

TEST(StatusSnapshot, JsonWithoutOptionalPartsAndWithUnknownFields) {
  Snapshot s;
  s.daemon.pid = 1;
  s.daemon.backend = "kmod";
  s.lc_class = ClassInfo{true, 2, 0, 64, 0};
  std::string err;
  auto back = from_json_text(to_json_text(s), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(*back, s);
  EXPECT_FALSE(back->sched);
  EXPECT_FALSE(back->allocator);
  // Fields added later within version 1 are ignored by this reader;
  // missing ones keep their defaults.
  back = from_json_text(R"({"schema":"kairos.status","version":1,"future":{"x":1},
                            "daemon":{"pid":9,"new_field":true}})",
                        &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(back->daemon.pid, 9);
  EXPECT_EQ(back->daemon.backend, "");
}

TEST(StatusSnapshot, BadJsonIsRefusedWithAReason) {
  const struct {
    const char* text;
    const char* says;
  } cases[] = {
      {"", "parse error"},
      {"{\"schema\":\"kairos.status\"", "parse error"},
      {"[1,2]", "not a JSON object"},
      {"{\"version\":1}", "not a kairos.status document"},
      {"{\"schema\":\"other\",\"version\":1}", "not a kairos.status document"},
      {"{\"schema\":\"kairos.status\"}", "schema version missing"},
      {"{\"schema\":\"kairos.status\",\"version\":2}", "schema version 2, this reader knows 1"},
      {"{\"schema\":\"kairos.status\",\"version\":\"1\"}", "schema version \"1\""},
      {"{\"schema\":\"kairos.status\",\"version\":1,\"daemon\":{\"pid\":\"x\"}}", "type_error"},
      {"{\"schema\":\"kairos.status\",\"version\":1,\"apps\":{}}", "type_error"},
  };
  for (const auto& c : cases) {
    std::string err;
    EXPECT_FALSE(from_json_text(c.text, &err)) << c.text;
    EXPECT_NE(err.find(c.says), std::string::npos) << c.text << " -> " << err;
  }
}

TEST(StatusSnapshot, HistogramQuantilesAreTheBoundsOfTheirBuckets) {
  Histogram h{{1e-6, 2e-6, 4e-6}, {0, 0, 0, 0}, 0};
  EXPECT_FALSE(h.quantile_le_s(0.5));  // no samples
  EXPECT_EQ(quantile_le_us_text(h, 0.5), "-");
  EXPECT_EQ(quantile_le_us_text(std::nullopt, 0.5), "-");
  h.counts = {50, 45, 4, 1};  // 100 samples, one above the largest bound
  EXPECT_EQ(h.quantile_le_s(0.01), 1e-6);
  EXPECT_EQ(h.quantile_le_s(0.5), 1e-6);    // the 50th sample
  EXPECT_EQ(h.quantile_le_s(0.51), 2e-6);   // the 51st
  EXPECT_EQ(h.quantile_le_s(0.99), 4e-6);   // the 99th
  EXPECT_TRUE(std::isinf(*h.quantile_le_s(1.0)));
  EXPECT_EQ(quantile_le_us_text(h, 0.95), "2");
  EXPECT_EQ(quantile_le_us_text(h, 1.0), "inf");
  h.bounds_s = {2.048e-6, 1.073741824, 4.0};
  EXPECT_EQ(quantile_le_us_text(h, 0.5), "2.048");
  EXPECT_EQ(quantile_le_us_text(h, 0.95), "1073741.824");
}

TEST(StatusSnapshot, StatusLinesKeepTheirFormat) {
  const std::string t = render_status_lines(sample());
  for (const char* line : {
           "kairosd pid=4242 state=enabled restarts=1 cpus=4 backend=sched_ext exits=2\n",
           "watch mode=inotify watched=20 events=7 overflows=0 complete=1 event_syncs=3 "
           "rescans=11\n",
           "tunables quantum_us=900 period_us=1000 source=kairos.ko\n",
           "stats enqueued=10 dispatched=9 direct=8 lc_enqueued=7 lc_fallback=6 "
           "preempt_kicks=5 guard_throttles=4 rescues=3 cpu_online=2 cpu_offline=1 grants=12 "
           "revokes=11 guard_resumes=0 kthread_direct=0 slice_ends=0 owner_rekicks=0 "
           "standby_grants=0 standby_failed=0\n",
           "lc_queued sibling=40 sibling_wait_us=5000 throttled=3 throttled_wait_us=2500 "
           "requeue=2 requeue_wait_us=200 unowned=1 unowned_wait_us=0\n",
           "grant_latency run=4 unmatched=2 kick_run_p50_le_us=20.48 kick_run_p99_le_us=917.504 "
           "queued_run_p50_le_us=inf queued_run_p99_le_us=inf head_age_p50_le_us=-\n",
           "app id=1 cgroup=svc/memcached class=lc guaranteed=1 burstable=2 owned=2 cpus=1,3 "
           "queued=4 head_wait_us=25 dispatched=96 wait_avg_us=7 wait_max_us=80 wait_total_us=672 "
           "run_ms=3500 source=- wait_p50_le_us=2.048 wait_p99_le_us=inf standby=-\n",
           "ignored cgroup=bad why=v2 is not a version this kairosd reads\n",
           "allocator mode=spin cpu=0 poll_us=5 apps=1 runtime_apps=1 kthreads=3 polls=1000 "
           "poll_ns_avg=400 poll_ns_max=9000 quiet_polls=990 quiet_ns=380000 "
           "quiet_poll_ns_avg=383 quiet_poll_ns_p50=350 ns_per_kthread=116 grants=6 revokes=4 "
           "failed=0 grant_apply_ns_avg=10000 set_owner_ns_avg=4000 wake_ns_avg=3000 "
           "bad_polls=0 grants_by_reason=congested:5,guaranteed:1 revokes_by_reason=idle:4 "
           "wake=devkairos poll_gap_p99_le_us=inf decision_p99_le_us=- "
           "grant_apply_p99_le_us=inf\n",
           "runtime app=1 pid=777 kthreads=3 running=1 queued=9\n"})
    EXPECT_NE(t.find(line), std::string::npos) << line << "in\n" << t;
  EXPECT_EQ(t.rfind("kairosd ", 0), 0u) << t;
  EXPECT_EQ(t.find("class attached"), std::string::npos) << t;  // no kmod class here

  Snapshot k;
  k.daemon.backend = "kmod";
  k.watch.mode = "poll";
  k.lc_class = ClassInfo{true, 2, 1, 64, 0};
  const std::string kt = render_status_lines(k);
  EXPECT_NE(kt.find("watch mode=poll event_syncs=0 rescans=0\n"), std::string::npos) << kt;
  EXPECT_NE(kt.find("class attached=1 members=2 refused=1 capacity=64 adopted=0 "
                    "standing_down=0 stand_downs=0\n"),
            std::string::npos) << kt;
  EXPECT_EQ(kt.find("allocator "), std::string::npos) << kt;
}

TEST(StatusSnapshot, KmodPerCpuTable) {
  const std::string text =
      "cpu grants grant_misses parks preempt_ipis preempt_signals throttles unthrottles "
      "lc_runtime_ns parked throttled lc_overrun_ns online        \n"
      "0 1 0 2 0 0 7 7 100 0 0 0 1     \n"
      "1 3 1 4 0 0 9 9 200 1 -1 5 0   \n"
      "2 oops\n"
      "3 1 2 3\n";
  const auto rows = parse_kmod_per_cpu(text);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("cpu"), 0u);
  EXPECT_EQ(rows[0].at("throttles"), 7u);
  EXPECT_EQ(rows[1].at("cpu"), 1u);
  EXPECT_EQ(rows[1].at("parks"), 4u);
  EXPECT_EQ(rows[1].at("throttled"), 0u);  // -1: unknown
  EXPECT_EQ(rows[1].at("online"), 0u);
  EXPECT_TRUE(parse_kmod_per_cpu("").empty());
  EXPECT_TRUE(parse_kmod_per_cpu("grants parks\n1 2\n").empty());
}

// The scheduler's bucket function (sched_abi.h) and the bounds kairosd
// exposes must agree: bucket b holds exactly (bound[b-1], bound[b]].
TEST(GrantHistogram, BucketsMatchTheExposedBounds) {
  constexpr unsigned last = KAIROS_GRANT_HIST_BUCKETS - 1;
  EXPECT_EQ(kairos_grant_bucket(0), 0u);
  EXPECT_EQ(kairos_grant_bucket(1024), 0u);
  EXPECT_EQ(kairos_grant_bucket(1025), 1u);
  EXPECT_EQ(kairos::grant_bucket_bound_ns(1), 1280u);  // a quarter of 1024 above it
  EXPECT_EQ(kairos::grant_bucket_bound_ns(last - 1), 1ull << 27);
  EXPECT_EQ(kairos_grant_bucket((1ull << 27) + 1), last);
  EXPECT_EQ(kairos_grant_bucket(~0ull), last);
  for (unsigned b = 0; b < last; ++b) {
    const std::uint64_t hi = kairos::grant_bucket_bound_ns(b);
    EXPECT_EQ(kairos_grant_bucket(hi), b) << hi;
    EXPECT_EQ(kairos_grant_bucket(hi + 1), b + 1) << hi;
    // within a quarter of the bucket's power of two
    if (b > 0) {
      EXPECT_LE(hi - kairos::grant_bucket_bound_ns(b - 1), hi / 4) << b;
    }
  }
  kairos_grant_hist g{};
  g.count[0] = 1;
  g.count[last] = 2;
  g.sum_ns = 5'000;
  const Histogram h = kairos::grant_histogram(g);
  ASSERT_EQ(h.bounds_s.size() + 1, h.counts.size());
  EXPECT_EQ(h.counts.size(), std::size_t{KAIROS_GRANT_HIST_BUCKETS});
  EXPECT_EQ(h.count(), 3u);
  EXPECT_DOUBLE_EQ(h.sum_s, 5e-6);
}

TEST(Log2Histogram, BucketsArePowersOfTwoFrom256Ns) {
  using H = kairos::Log2Histogram;
  EXPECT_EQ(H::index(0), 0u);
  EXPECT_EQ(H::index(256), 0u);
  EXPECT_EQ(H::index(257), 1u);
  EXPECT_EQ(H::index(512), 1u);
  EXPECT_EQ(H::index(513), 2u);
  EXPECT_EQ(H::index(~0ull), H::kBuckets - 1);
  H h;
  h.record(256);
  h.record(1000);
  h.record(1ull << 40);
  const Histogram r = h.read();
  ASSERT_EQ(r.bounds_s.size() + 1, r.counts.size());
  EXPECT_DOUBLE_EQ(r.bounds_s[0], 256e-9);
  EXPECT_DOUBLE_EQ(r.bounds_s[2], 1024e-9);
  EXPECT_EQ(r.counts[0], 1u);
  EXPECT_EQ(r.counts[2], 1u);
  EXPECT_EQ(r.counts.back(), 1u);
  EXPECT_EQ(r.count(), 3u);
  EXPECT_NEAR(r.sum_s, (256 + 1000 + (1ull << 40)) / 1e9, 1e-9);
}

// Runs promtool check metrics over text; its exit status and output.
int promtool(const std::string& text, std::string* out) {
  const std::string path = ::testing::TempDir() + "/kairos-metrics.txt";
  std::ofstream(path) << text;
  FILE* p = ::popen(("promtool check metrics < '" + path + "' 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 512> buf;
  while (std::fgets(buf.data(), buf.size(), p)) *out += buf.data();
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(Metrics, PrometheusTextHasTheSnapshotsValues) {
  const std::string m = render_metrics(sample(), MetricsFormat::kPrometheus);
  for (const char* line : {
           "# TYPE kairos_scheduler_restarts_total counter\n",
           "kairos_scheduler_restarts_total 1\n",
           "kairos_scheduler_exits_total 2\n",
           "kairos_scheduler_attached 1\n",
           "kairos_guard_quantum_seconds 9e-04\n",
           "kairos_app_owned_cores{app=\"1\",cgroup=\"svc/memcached\"} 2\n",
           "kairos_app_info{app=\"2\",cgroup=\"batch \\\"x\\\"\",class=\"be\"} 1\n",
           "kairos_app_head_wait_seconds{app=\"1\",cgroup=\"svc/memcached\"} 2.5e-05\n",
           "kairos_app_grants_total{app=\"1\",cgroup=\"svc/memcached\",reason=\"congested\"} 5\n",
           "kairos_app_revokes_total{app=\"1\",cgroup=\"svc/memcached\",reason=\"idle\"} 4\n",
           "kairos_app_cpu_seconds_total{app=\"1\",cgroup=\"svc/memcached\"} 3.5\n",
           "kairos_app_runtime_queued_items{app=\"1\",cgroup=\"svc/memcached\"} 9\n",
           "kairos_cpu_owner_app{cpu=\"3\"} 1\n",
           "kairos_cpu_busy{cpu=\"2\"} 0\n",
           "kairos_cpu_guard_throttles_total{cpu=\"3\"} 30\n",
           "kairos_sched_guard_throttles_total 4\n",
           "kairos_sched_lc_queued_total{reason=\"sibling\"} 40\n",
           "kairos_sched_lc_queued_total{reason=\"unowned\"} 1\n",
           "kairos_sched_lc_queued_wait_seconds_total{reason=\"throttled\"} 0.0025\n",
           "kairos_sched_grants_run_total 4\n",
           "kairos_sched_grants_unmatched_total 2\n",
           "kairos_sched_grant_kick_to_run_seconds_bucket{le=\"2.048e-05\"} 3\n",
           "kairos_sched_grant_kick_to_run_seconds_count 4\n",
           "kairos_sched_grant_queued_to_run_seconds_bucket{le=\"+Inf\"} 4\n",
           "kairos_sched_grant_head_age_seconds_count 0\n",
           "kairos_allocator_polls_total 1000\n",
           "kairos_allocator_poll_interval_seconds 5e-06\n",
           "# TYPE kairos_allocator_poll_duration_seconds histogram\n",
           "kairos_allocator_poll_duration_seconds_bucket{le=\"2.56e-07\"} 1\n",
           "kairos_allocator_poll_duration_seconds_bucket{le=\"5.12e-07\"} 2\n",
           "kairos_allocator_poll_duration_seconds_bucket{le=\"+Inf\"} 4\n",
           "kairos_allocator_poll_duration_seconds_count 4\n",
           "kairos_allocator_grants_total{reason=\"guaranteed\"} 1\n",
           "kairos_kmod_lc_runtime_seconds_total 2\n",
           "kairos_kmod_parked_kthreads 1\n",
           "kairos_dataplane_rx_packets_total{backend=\"af_xdp\"} 100\n",
           "kairos_dataplane_app_rx_drops_total{listen=\"10.0.0.1:11211\",shm=\"kairos-mc\","
           "reason=\"no_kthread\"} 2\n",
           "kairos_xdp_packets_total{reason=\"redirect\"} 95\n",
           "# TYPE kairos_app_queue_delay_seconds histogram\n",
           "kairos_app_queue_delay_seconds_bucket{app=\"1\",cgroup=\"svc/memcached\",le=\"2.048e-06\"} 90\n",
           "kairos_app_queue_delay_seconds_bucket{app=\"1\",cgroup=\"svc/memcached\",le=\"3.2768e-05\"} 95\n",
           "kairos_app_queue_delay_seconds_bucket{app=\"1\",cgroup=\"svc/memcached\",le=\"+Inf\"} 96\n",
           "kairos_app_queue_delay_seconds_count{app=\"1\",cgroup=\"svc/memcached\"} 96\n",
           "kairos_app_queue_delay_seconds_sum{app=\"1\",cgroup=\"svc/memcached\"} 0.000672\n",
           "kairos_xdp_app_packets_total{listen=\"10.0.0.1:11211\",mode=\"relayed\","
           "outcome=\"passed_no_socket\"} 3\n",
           "kairos_xdp_app_packets_total{listen=\"10.0.0.1:11212\",mode=\"direct\","
           "outcome=\"dropped_bad_l4\"} 1\n",
           "kairos_xdp_app_redirected_bytes_total{listen=\"10.0.0.1:11212\",mode=\"direct\"} 4000\n",
       })
    EXPECT_NE(m.find(line), std::string::npos) << line << "in\n" << m;
  // A direct app owns its queues: the relay has no ring counters for it.
  EXPECT_EQ(m.find("kairos_dataplane_app_tx_sent_total{listen=\"10.0.0.1:11212\""),
            std::string::npos) << m;
  EXPECT_EQ(m.find("# EOF"), std::string::npos);
  std::string out;
  EXPECT_EQ(promtool(m, &out), 0) << out << m;
  EXPECT_EQ(out.find("problem"), std::string::npos) << out;
}

TEST(Metrics, OpenMetricsNamesCounterFamiliesWithoutTotalAndEnds) {
  const std::string m = render_metrics(sample(), MetricsFormat::kOpenMetrics);
  EXPECT_NE(m.find("# TYPE kairos_scheduler_restarts counter\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nkairos_scheduler_restarts_total 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# UNIT kairos_allocator_poll_duration_seconds seconds\n"), std::string::npos);
  EXPECT_EQ(m.size() - m.rfind("# EOF\n"), 6u) << "ends with # EOF";
  // (promtool 2.53 checks the Prometheus format only.) Everything else is
  // the Prometheus text: the same samples, line for line.
  const std::string p = render_metrics(sample(), MetricsFormat::kPrometheus);
  auto samples = [](const std::string& t) {
    std::string out;
    std::size_t i = 0;
    while (i < t.size()) {
      const std::size_t e = t.find('\n', i);
      if (t[i] != '#') out += t.substr(i, e - i + 1);
      i = e + 1;
    }
    return out;
  };
  EXPECT_EQ(samples(m), samples(p));
}

TEST(Metrics, EmptySnapshotIsStillValid) {
  Snapshot s;
  s.daemon.backend = "kmod";
  const std::string m = render_metrics(s, MetricsFormat::kPrometheus);
  EXPECT_NE(m.find("kairos_scheduler_attached 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("kairos_allocator_running 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("kairos_kmod_loaded 0\n"), std::string::npos) << m;
  EXPECT_EQ(m.find("kairos_sched_enqueued_total"), std::string::npos) << m;
  std::string out;
  EXPECT_EQ(promtool(m, &out), 0) << out << m;
}

TEST(Metrics, ContentNegotiation) {
  EXPECT_EQ(negotiate_metrics_format(""), MetricsFormat::kPrometheus);
  EXPECT_EQ(negotiate_metrics_format("text/plain;version=0.0.4;q=0.3,*/*;q=0.2"),
            MetricsFormat::kPrometheus);
  EXPECT_EQ(negotiate_metrics_format(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
            MetricsFormat::kOpenMetrics);
  EXPECT_NE(std::string(metrics_content_type(MetricsFormat::kOpenMetrics))
                .find("application/openmetrics-text"),
            std::string::npos);
}

TEST(MetricsListen, GoodAddresses) {
  std::string err;
  auto m = kairos::parse_metrics_listen("9187", &err);
  ASSERT_TRUE(m) << err;
  EXPECT_EQ(m->describe(), "127.0.0.1:9187");
  m = kairos::parse_metrics_listen("0.0.0.0:80", &err);
  ASSERT_TRUE(m) << err;
  EXPECT_EQ(m->host, "0.0.0.0");
  EXPECT_EQ(m->port, 80);
  m = kairos::parse_metrics_listen("localhost:65535", &err);
  ASSERT_TRUE(m) << err;
  EXPECT_EQ(m->describe(), "127.0.0.1:65535");
  m = kairos::parse_metrics_listen("[::1]:9187", &err);
  ASSERT_TRUE(m) << err;
  EXPECT_EQ(m->host, "::1");
  EXPECT_EQ(m->describe(), "[::1]:9187");
  m = kairos::parse_metrics_listen("unix:/run/kairos/metrics.sock", &err);
  ASSERT_TRUE(m) << err;
  EXPECT_EQ(m->kind, kairos::MetricsListen::Kind::kUnix);
  EXPECT_EQ(m->path, "/run/kairos/metrics.sock");
}

TEST(MetricsListen, BadAddressesSayWhy) {
  const struct {
    const char* text;
    const char* says;
  } cases[] = {
      {"", "the port must be a number in 1..65535"},
      {"0", "the port must be a number in 1..65535"},
      {"65536", "the port must be a number"},
      {"-1", "the port must be a number"},
      {"http", "the port must be a number"},
      {"127.0.0.1:", "the port must be a number"},
      {"127.0.0.1:9x", "the port must be a number"},
      {"300.1.1.1:80", "'300.1.1.1' is not an IPv4 address"},
      {"example.com:80", "'example.com' is not an IPv4 address"},
      {"::1:80", "is not an IPv4 address (IPv6 goes in brackets)"},
      {"[::1]", "an IPv6 address is written [ADDR]:PORT"},
      {"[zz]:80", "'zz' is not an IPv6 address"},
      {"unix:", "the socket path must be absolute"},
      {"unix:relative.sock", "the socket path must be absolute"},
  };
  for (const auto& c : cases) {
    std::string err;
    EXPECT_FALSE(kairos::parse_metrics_listen(c.text, &err)) << c.text;
    EXPECT_NE(err.find(c.says), std::string::npos) << c.text << " -> " << err;
    EXPECT_EQ(err.rfind("--metrics-listen wants", 0), 0u) << err;
  }
  std::string err;
  EXPECT_FALSE(kairos::parse_metrics_listen("unix:/" + std::string(200, 'a'), &err));
  EXPECT_NE(err.find("longer than"), std::string::npos) << err;
}

}  // namespace
