"""Unit tests of the experiment runner's pure parts: the CPU plan, the
loadgen result check, stress-ng parsing, BE normalisation and ratios, the
grant latency's histograms and its table against the futex peer, and
vcpu_host_trace.py's report."""

import json
import os
import tempfile
import unittest

import grantlat
import results
import workload
from experiment import Plan


def loadgen_json(**counters):
    c = {"scheduled": 100, "sent": 100, "completed": 100, "hits": 90, "misses": 0,
         "stored": 10, "not_stored": 0, "error_replies": 0, "timeouts": 0, "failed": 0,
         "unanswered": 0, "not_sent": 0, "malformed": 0, "connection_failures": 0,
         "late": 0, "connects": 8}
    c.update(counters)
    return {"offered_rate": 100.0, "achieved_rate": 100.0, "counters": c,
            "latency": {"count": c["completed"], "p50_us": 10.0, "p99_us": 50.0,
                        "p999_us": 80.0, "max_us": 90.0}}


class ReadResult(unittest.TestCase):
    def read(self, j):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(j, f)
        try:
            return workload.read_result(f.name)
        finally:
            os.unlink(f.name)

    def test_balanced_run(self):
        r = self.read(loadgen_json(completed=95, timeouts=3, not_sent=2))
        self.assertEqual(r["errors"], 5)
        self.assertEqual(r["p99_us"], 50.0)

    def test_silent_loss_is_an_error(self):
        with self.assertRaisesRegex(RuntimeError, "lost silently"):
            self.read(loadgen_json(completed=97))

    def test_nothing_answered_is_counted_not_lost(self):
        j = loadgen_json(completed=0, hits=0, stored=0, timeouts=100)
        r = self.read(j)
        self.assertEqual((r["completed"], r["errors"], r["p99_us"]), (0, 100, ""))

    def test_missing_latencies_are_an_error(self):
        j = loadgen_json()
        j["latency"]["count"] = 90
        with self.assertRaisesRegex(RuntimeError, "latencies"):
            self.read(j)


class BogoOps(unittest.TestCase):
    TEXT = """stress-ng: metrc: [27837] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s
stress-ng: metrc: [27837]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)
stress-ng: metrc: [27837] cpu              1000      2.00      0.25      0.01     500.00      639013.80
stress-ng: metrc: [27837] stream              618      2.00      0.25      0.00       308.29        2450.51
"""

    def test_parses_both_stressors(self):
        self.assertEqual(workload.parse_bogo_ops(self.TEXT, "x"), {"cpu": 500.0, "stream": 308.29})

    def test_missing_stressor_is_an_error(self):
        with self.assertRaisesRegex(RuntimeError, "no bogo-ops"):
            workload.parse_bogo_ops(self.TEXT.splitlines()[2], "x")


class RunQueueWait(unittest.TestCase):
    def test_reads_schedstat_run_delay(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "schedstat"), "w") as f:
                f.write("123456 789000 42\n")
            self.assertEqual(workload.run_delay_ns(d), 789000)
            self.assertEqual(workload.schedstat(d), (123456, 789000, 42))

    def test_a_gone_or_malformed_task_counts_zero(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(workload.run_delay_ns(os.path.join(d, "gone")), 0)
            with open(os.path.join(d, "schedstat"), "w") as f:
                f.write("garbage\n")
            self.assertEqual(workload.run_delay_ns(d), 0)
            self.assertEqual(workload.schedstat(d), (0, 0, 0))

    def test_own_process(self):
        self.assertGreaterEqual(workload.run_delay_ns("/proc/self"), 0)
        self.assertGreaterEqual(workload.ksoftirqd_wait_ns(), 0)


class CpuPlan(unittest.TestCase):
    def test_two_cpus_share_the_generator(self):
        p = Plan({0, 1})
        self.assertEqual((p.lc_cpus, p.be_cpus, p.gen), ("1", "0", []))
        self.assertIn("shares", p.note)
        self.assertEqual((p.guaranteed, p.burstable), (1, 1))
        self.assertEqual(p.wake_cpus, (0, 1))
        self.assertIsNone(Plan({0}).wake_cpus)  # nowhere to wake across

    def test_generator_gets_its_own_cpus_from_four(self):
        p = Plan(range(8))
        self.assertEqual(p.gen, [6, 7])
        self.assertEqual(p.measured, "0,1,2,3,4,5")
        self.assertEqual((p.lc_cpus, p.be_cpus), ("3,4,5", "0,1,2"))
        self.assertEqual((p.guaranteed, p.burstable), (3, 5))
        self.assertEqual(p.wake_cpus, (0, 5))  # allocator's CPU -> a measured one

    def test_scales_to_many_cpus(self):
        p = Plan(range(64))
        self.assertEqual(len(p.gen), 16)
        self.assertEqual(p.lc_cores, 24)
        self.assertLessEqual(p.burstable, 47)


class GrantLatency(unittest.TestCase):
    BOUNDS = [1e-6, 2e-6, 4e-6]  # three bounds, four buckets (the last +Inf)

    def status(self, counts, served):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "status.json")
        h = {"bounds_s": self.BOUNDS, "counts": counts, "sum_s": 0.0}
        with open(path, "w") as f:
            json.dump({"sched": {"grants_run": served, "grant_kick_run": h,
                                 "grant_queued_run": h},
                       "allocator": {"decision_latency": h, "poll_gap": h}}, f)
        return path

    def test_reads_and_subtracts_two_readings(self):
        before = grantlat.read(self.status([1, 0, 0, 0], 1))
        after = grantlat.read(self.status([1, 3, 1, 1], 6))
        self.assertEqual(after["grants_run"], 6)
        self.assertEqual(after["poll_gap"], (self.BOUNDS, [1, 3, 1, 1]))  # the allocator's too
        d = grantlat.delta(after["grant_kick_run"], before["grant_kick_run"])
        self.assertEqual(d, (self.BOUNDS, [0, 3, 1, 1]))
        self.assertEqual(grantlat.count(d), 5)
        # rank ceil(0.5 * 5) = 3: the second bucket; 0.99 -> 5: the +Inf one
        self.assertAlmostEqual(grantlat.quantile_le_us(d, 0.5), 2.0)
        self.assertEqual(grantlat.quantile_le_us(d, 0.99), float("inf"))
        self.assertEqual(grantlat.add(d, d)[1], [0, 6, 2, 2])
        # the scheduler reloaded between the readings: its counters restarted
        self.assertEqual(grantlat.delta((self.BOUNDS, [0, 1, 0, 0]), after["grant_kick_run"]),
                         (self.BOUNDS, [0, 1, 0, 0]))
        self.assertIsNone(grantlat.quantile_le_us((self.BOUNDS, [0, 0, 0, 0]), 0.5))

    def test_no_status_or_other_buckets(self):
        self.assertEqual(grantlat.read("/nonexistent/status.json"), {})
        with self.assertRaises(ValueError):
            grantlat.delta((self.BOUNDS, [1, 1, 1, 1]), ([1e-6], [1, 1]))

    def test_rows_per_load_and_overall_with_ratios_to_the_peer(self):
        h = lambda c: (self.BOUNDS, c)
        hists = {("kairos", 25.0): {"grant_kick_run": h([0, 2, 0, 0]),
                                    "grant_queued_run": h([0, 0, 2, 0])},
                 ("kairos", 50.0): {"grant_kick_run": h([0, 0, 2, 0]),
                                    "grant_queued_run": h([0, 0, 0, 2])}}
        peer = {"idle": {"p50_us": 1.0, "p99_us": 3.0}, "busy": {"p50_us": 4.0, "p99_us": 9.0}}
        rows = results.grant_latency(hists, peer)
        self.assertEqual([(r["load_pct"], r["grants_served"]) for r in rows],
                         [(25.0, 2), (50.0, 2), ("all", 4)])
        self.assertEqual((rows[0]["kick_run_p50_us"], rows[0]["kick_p50_over_futex_idle"],
                          rows[0]["kick_p50_over_futex_busy"]), ("2.0", "2.00", "0.50"))
        self.assertEqual(rows[1]["queued_run_p99_us"], "inf")
        self.assertEqual(rows[2]["kick_run_p99_us"], "4.0")  # both loads' samples
        self.assertEqual(rows[2]["futex_busy_p99_us"], "9.0")
        self.assertEqual(results.grant_latency(hists, {})[0]["kick_p50_over_futex_idle"], "")


class Summaries(unittest.TestCase):
    def rows(self):
        out = []
        for rnd, sysname, load, p99, cpu in [
                (1, "eevdf", 0, "", 100), (1, "eevdf", 50, 1000, 60),
                (1, "kairos", 0, "", 90), (1, "kairos", 50, 500, 80),
                (2, "eevdf", 0, "", 50), (2, "eevdf", 50, 2000, 30),
                (2, "kairos", 0, "", 50), (2, "kairos", 50, 400, 50)]:
            out.append({"round": rnd, "system": sysname, "load_pct": load, "p99_us": p99,
                        "be_cpu_ops_s": cpu, "be_stream_ops_s": cpu, "achieved": "",
                        "p50_us": "", "p999_us": "", "granted_mean": "", "errors": ""})
        return out

    def test_be_is_normalised_to_the_same_rounds_stock_idle_point(self):
        rows = self.rows()
        results.normalise_be(rows)
        self.assertEqual([r["be_norm"] for r in rows if r["load_pct"] == 50],
                         ["0.600", "0.800", "0.600", "1.000"])

    def test_ratios_are_medians_of_per_round_ratios(self):
        rows = self.rows()
        results.normalise_be(rows)
        r = [x for x in results.ratios(rows) if x["baseline"] == "eevdf"]
        self.assertEqual(len(r), 1)
        # per round: 0.5 and 0.2 -> 0.35; BE 0.8/0.6 and 1.0/0.6 -> 1.5
        self.assertEqual((r[0]["p99_ratio"], r[0]["be_ratio"], r[0]["rounds"]),
                         ("0.35", "1.50", 2))


if __name__ == "__main__":
    unittest.main()


class VcpuHostTrace(unittest.TestCase):
    """vcpu_host_trace.py's report from recorded files, and its bad input."""

    TOOL = os.path.join(os.path.dirname(workload.__file__), "vcpu_host_trace.py")

    def run_tool(self, *args):
        import subprocess
        import sys
        return subprocess.run([sys.executable, self.TOOL, *args], capture_output=True,
                              text=True, timeout=30)

    def test_report_per_window(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "vcpu.csv"), "w") as f:
                f.write("t,vcpu,run_ns,wait_ns,slices\n"
                        "10.0,0,0,0,0\n14.0,0,2000000000,1000000000,100\n")
            with open(os.path.join(d, "output.log"), "w") as f:
                f.write("10.0 experiment: kairos       round 1 load  25%: window starts\n")
            r = self.run_tool("report", d, "--window", "4")
            self.assertEqual(r.returncode, 0, r.stderr)
            # 2 s run and 1 s waited of 4 s; 1 s over 100 times scheduled
            self.assertIn("kairos   r1   25% | cpu0  50/ 25% 10.00 ms", r.stdout)

    def test_bad_input_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as d:
            r = self.run_tool("record", d)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("needs a command", r.stderr)
            with open(os.path.join(d, "vcpu.csv"), "w") as f:
                f.write("t,vcpu,run_ns,wait_ns,slices\n")
            with open(os.path.join(d, "output.log"), "w") as f:
                f.write("1.0 no windows here\n")
            r = self.run_tool("report", d)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("no marked windows or no samples", r.stderr)
            r = self.run_tool("report", os.path.join(d, "absent"))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("no recording", r.stderr)
