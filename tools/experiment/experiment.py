"""kairos experiment runner: an unmodified LC service (memcached or Redis)
next to BE stressors, under each system in turn in one boot, at several LC
loads (percent of the service's measured capacity); CSV + PNG out.
Run as root on a sched_ext kernel (tools/dev vm -- tools/experiment/run.sh ...).
See tools/experiment/README.md."""

import argparse
import os
import platform
import shlex
import statistics
import sys
import threading
import time

import cgroups
import grantlat
import plots
import table
import systems
import workload
from systems import BE_CG, LC_CG


class Build:
    def __init__(self, d):
        self.dir = os.path.abspath(d)
        self.kairosd = os.path.join(self.dir, "kairosd/kairosd")
        self.kairosctl = os.path.join(self.dir, "tools/kairosctl/kairosctl")
        self.loadgen = os.path.join(self.dir, "tools/loadgen/kairos-loadgen")
        self.ko = os.path.join(self.dir, "kmod-build/kairos.ko")


def cpulist(cpus):
    return ",".join(str(c) for c in cpus)


class Plan:
    """Which CPUs do what, scaled to the machine: with 4 or more CPUs the
    load generator gets the last quarter to itself and the rest is the
    measured set; below that it shares the measured CPUs (noted)."""

    def __init__(self, cpus):
        cpus = sorted(cpus)
        n = len(cpus)
        self.guard = None  # (quantum_us, period_us) for kairos.ko, or its default
        self.lc_slice_us = None  # kairosd --lc-slice-us for Kairos (sched_ext), or its default
        self.kairosd_args = []  # more kairosd flags for Kairos (sched_ext)
        if n >= 4:
            g = max(1, n // 4)
            self.gen, measured = cpus[n - g:], cpus[:n - g]
            self.note = ("load generator on CPUs %s, out of the measured set %s"
                         % (cpulist(self.gen), cpulist(measured)))
        else:
            self.gen, measured = [], cpus
            self.note = ("only %d CPUs: the load generator (SCHED_FIFO, every system alike) "
                         "shares the measured CPUs %s" % (n, cpulist(measured)))
        k = max(1, len(measured) // 2)
        self.measured = cpulist(measured)
        # futex wake -> run, the grant latency's peer: from the CPU kairosd's
        # allocator polls on (0, which it never grants) to a measured CPU
        self.wake_cpus = (0, measured[-1]) if 0 in cpus and measured[-1] != 0 else None
        self.lc_cpus = cpulist(measured[-k:])
        self.be_cpus = cpulist(measured[:-k])
        self.nmeasured = len(measured)
        self.lc_cores = k
        self.guaranteed = k
        # At most every measured CPU but the one kairosd's allocator polls
        # on (it never grants it); kairosctl wants burstable >= guaranteed.
        self.burstable = max(k, len(measured) - 1)
        self.service_threads = self.burstable


class Sampler(threading.Thread):
    """Samples the LC app's granted cores every 100 ms."""

    def __init__(self, system, t0):
        super().__init__(daemon=True)
        self.system, self.t0 = system, t0
        self.samples, self.stop_ev = [], threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            g = self.system.granted()
            if g is not None:
                self.samples.append((time.monotonic() - self.t0, g))
            self.stop_ev.wait(0.1)

    def finish(self):
        self.stop_ev.set()
        self.join()
        return self.samples


def log(msg):
    print("experiment: " + msg, file=sys.stderr, flush=True)


class Runner:
    def __init__(self, args):
        self.a = args
        self.build = Build(args.build)
        self.plan = Plan(os.sched_getaffinity(0))
        self.out = args.out
        self.logdir = os.path.join(self.out, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.proto, self.port, _ = workload.SERVICES[args.service]
        self.rows, self.grants, self.step_rows, self.step_grants = [], [], [], []
        self.capacity = None
        self.wake_peer = {}    # "idle" / "busy" -> kairos-wakelat's result
        self.grant_hists = {}  # (system, load) -> {hist name: (bounds_s, counts)}

    def loadgen(self, tag):
        return workload.Loadgen(self.build.loadgen, self.proto, self.port,
                                os.path.join(self.logdir, "loadgen.%s.json" % tag),
                                cpulist(self.plan.gen) if self.plan.gen else None)

    # --- one system's environment -------------------------------------------------
    def enter(self, system_cls, tag):
        systems.check_clean("before %s" % system_cls.name)
        cgroups.create(LC_CG)
        cgroups.create(BE_CG)
        if self.plan.gen:  # keep the measured work off the generator's CPUs
            cgroups.write(LC_CG, "cpuset.cpus", self.plan.measured)
            cgroups.write(BE_CG, "cpuset.cpus", self.plan.measured)
        system = system_cls(self.plan, self.build, self.logdir)
        self.current = system
        system.setup()
        self.service = workload.Service(
            self.a.service, self.plan.service_threads, LC_CG,
            os.path.join(self.logdir, "%s.%s.log" % (self.a.service, tag)), system.fifo_prio)
        system.after_service(self.service)
        # Every key exists before the measured runs (their misses would be cheaper).
        self.loadgen("warmup." + tag).run(["-m", "open", "-r", "50", "-d", "0.2"], 120)
        return system

    def leave(self):
        errors = []
        svc, self.service = getattr(self, "service", None), None
        sysm, self.current = getattr(self, "current", None), None
        for step in (lambda: svc and svc.stop(), lambda: sysm and sysm.teardown(),
                     lambda: cgroups.remove(LC_CG), lambda: cgroups.remove(BE_CG)):
            try:
                step()
            except Exception as e:  # keep tearing down; report the first failure
                errors.append(str(e))
        if errors:
            raise RuntimeError("teardown: " + "; ".join(errors))
        systems.check_clean("after %s" % (sysm.name if sysm else "?"))

    # --- measurements --------------------------------------------------------------
    def measure_capacity(self):
        """Closed loop against the service on its LC cores: alone, or with
        --capacity-beside-be while the BE work runs on the partition's BE
        CPUs (where guest CPUs share fewer host cores, BE elsewhere slows
        the LC cores too, and a load measured alone is more than it says)."""
        cgroups.create(LC_CG)
        be = None
        try:
            cgroups.write(LC_CG, "cpuset.cpus", self.plan.lc_cpus)
            if self.a.capacity_beside_be:
                cgroups.create(BE_CG)
                cgroups.write(BE_CG, "cpuset.cpus", self.plan.be_cpus)
                be = workload.BestEffort(self.plan.nmeasured, 3600, BE_CG,
                                         os.path.join(self.logdir, "be.capacity.log"))
            self.service = workload.Service(self.a.service, self.plan.service_threads, LC_CG,
                                            os.path.join(self.logdir, "capacity.log"))
            rates = []
            for i in range(3):  # the median of three: the emulated host is noisy
                r = self.loadgen("capacity.%d" % i).run(
                    ["-m", "closed", "--depth", "4", "-d", str(self.a.capacity_duration)]
                    + (["--no-warmup"] if i else []), 300)
                if r["errors"]:
                    raise RuntimeError("capacity run had %d failed requests" % r["errors"])
                rates.append(r["achieved"])
        finally:
            if be:
                be.kill()
            if self.service:
                self.service.stop()
            self.service = None
            cgroups.remove(LC_CG)
            if be:
                cgroups.remove(BE_CG)
        log("capacity runs: %s requests/s" % ", ".join("%.0f" % x for x in rates))
        return statistics.median(rates)

    def measure_wake_peer(self):
        """futex wake -> run from the allocator's CPU to a measured one, in
        this boot before any system: with that CPU idle, and with the BE work
        of the points running on every measured CPU (stock scheduler)."""
        if not self.plan.wake_cpus:
            log("no futex wake -> run peer: no CPU 0 beside the measured ones")
            return
        waker, wakee = self.plan.wake_cpus
        binary = grantlat.binary(self.build.dir)
        self.wake_peer["idle"] = grantlat.futex_peer(
            binary, waker, wakee, os.path.join(self.logdir, "wakelat.idle.json"))
        cgroups.create(BE_CG)
        be = None
        try:
            cgroups.write(BE_CG, "cpuset.cpus", self.plan.measured)
            be = workload.BestEffort(self.plan.nmeasured, 3600, BE_CG,
                                     os.path.join(self.logdir, "be.wakelat.log"))
            time.sleep(1)
            self.wake_peer["busy"] = grantlat.futex_peer(
                binary, waker, wakee, os.path.join(self.logdir, "wakelat.busy.json"))
        finally:
            if be:
                be.kill()
            cgroups.remove(BE_CG)
        for k, v in sorted(self.wake_peer.items()):
            log("futex wake -> run, CPU %d -> %d, target %s: p50 %.1f us p99 %.1f us (%d samples)"
                % (waker, wakee, "idle" if k == "idle" else "running BE work", v["p50_us"],
                   v["p99_us"], v["samples"]))

    def point(self, system, rnd, load):
        """One (system, load) run: BE for the whole window, LC load in its middle."""
        d = self.a.duration
        tag = "%s.r%d.l%g" % (system.name, rnd, load)
        be = workload.BestEffort(self.plan.nmeasured, d + 2, BE_CG,
                                 os.path.join(self.logdir, "be.%s.log" % tag))
        sched_ext = getattr(system, "backend", "") == "sched_ext"  # grant latency
        try:
            time.sleep(1)
            before = system.counters()
            grants0 = grantlat.read() if sched_ext else {}
            waits0 = self.service_sched()
            t0 = time.monotonic()
            sampler = Sampler(system, t0)
            sampler.start()
            # (marks the window in the log, e.g. to line it up with samples
            # taken outside the VM)
            log("%-12s round %d load %3g%%: window starts" % (system.name, rnd, load))
            if load > 0:
                lg = self.loadgen(tag)
                r = lg.run(["-m", "open", "-r", "%.1f" % (self.capacity * load / 100.0),
                            "-d", str(d), "--no-warmup", "--timeout", "1", "--drain", "1"],
                           d + 30)
            else:
                time.sleep(d)
                r = {}
            samples = sampler.finish()
            after = system.counters()
            grants1 = grantlat.read() if sched_ext else {}
            waits1 = self.service_sched()
            bo = be.result(d + 30)
        finally:
            be.kill()
        for t, g in samples:
            self.grants.append({"round": rnd, "system": system.name, "load_pct": load,
                                "t_s": "%.2f" % t, "granted": g})
        row = {"round": rnd, "system": system.name, "load_pct": load,
               "target_rate": "%.0f" % (self.capacity * load / 100.0)}
        for k in ("offered", "achieved", "completed", "errors", "timeouts",
                  "p50_us", "p99_us", "p999_us", "max_us"):
            row[k] = r.get(k, "")
        row["be_cpu_ops_s"], row["be_stream_ops_s"] = bo["cpu"], bo["stream"]
        # Kairos' own view of the point: how often its guard held LC back.
        for k in ("guard_throttles", "preempt_kicks", "slice_ends", "owner_rekicks",
                  "standby_grants", "lc_throttled_ms", "rescues", "lc_run_ms"):
            row[k] = (after[k] - before[k]) if k in after and k in before else ""
        # Kairos (sched_ext): why LC tasks queued in their app's DSQ (how
        # many; ms waited in all)
        for why in systems.LC_QUEUED_REASONS:
            k, kw = "lc_queued_" + why, "lc_queued_%s_wait_us" % why
            have = all(x in d for d in (before, after) for x in (k, kw))
            row[k] = (after[k] - before[k]) if have else ""
            row["lc_queued_%s_ms" % why] = (
                "%.1f" % ((after[kw] - before[kw]) / 1000.0)) if have else ""
        # Kairos (sched_ext): mean wait of the LC tasks that queued in their
        # app's DSQ during the point.
        row["lc_queue_wait_us"] = ""
        if all(k in d for d in (before, after) for k in ("lc_waits", "lc_wait_us")):
            n = after["lc_waits"] - before["lc_waits"]
            row["lc_queue_wait_us"] = ("%.0f" % ((after["lc_wait_us"] - before["lc_wait_us"]) / n)
                                       if n > 0 else "0")
        # Who waited for a CPU during the point (every system alike):
        # the service's threads and the ksoftirqd threads, ms in all.
        for k in ("lc_rq_wait_ms", "ksoftirqd_wait_ms", "lc_cpu_ms"):
            row[k] = "%.1f" % ((waits1[k] - waits0[k]) / 1e6)
        # and how much CPU the service used, and in how many runs: CPU per
        # request tells a slower service apart from one that waits longer
        row["lc_runs"] = waits1["lc_runs"] - waits0["lc_runs"]
        row["granted_mean"] = ("%.2f" % statistics.mean(g for _, g in samples)) if samples else ""
        self.grant_latency(row, system.name, load, grants0, grants1)
        self.rows.append(row)
        log("%-12s round %d load %3g%%: achieved %s/s p99 %s us errors %s | BE cpu %.0f "
            "stream %.1f ops/s | granted %s%s" % (
                system.name, rnd, load, row["achieved"], row["p99_us"], row["errors"],
                bo["cpu"], bo["stream"], row["granted_mean"] or "-",
                (" | throttles %s rescues %s slice ends %s rekicks %s standby grants %s LC "
                 "queue wait %s us (%s)"
                 % (row["guard_throttles"], row["rescues"], row["slice_ends"],
                    row["owner_rekicks"], row["standby_grants"], row["lc_queue_wait_us"],
                    " ".join("%s %s/%s ms" % (w, row["lc_queued_" + w],
                                              row["lc_queued_%s_ms" % w])
                             for w in systems.LC_QUEUED_REASONS)))
                if row["rescues"] != "" else "") +
            " | run-queue wait ms: LC %s ksoftirqd %s | LC CPU %s ms in %d runs" % (
                row["lc_rq_wait_ms"], row["ksoftirqd_wait_ms"], row["lc_cpu_ms"],
                row["lc_runs"]) +
            (" | %s grants served, grant -> run p50 <= %s us, queued -> run p50 <= %s us, "
             "queue head's wait at a grant p50 <= %s us; allocator: decision p50 <= %s us, "
             "poll gap p50/p99 <= %s/%s us" % (
                 row["grants_served"], row["grant_kick_run_p50_us"] or "-",
                 row["grant_queued_run_p50_us"] or "-", row["grant_head_age_p50_us"] or "-",
                 row["decision_latency_p50_us"] or "-",
                 row["poll_gap_p50_us"] or "-", row["poll_gap_p99_us"] or "-")
             if row["grants_served"] != "" else ""))

    def grant_latency(self, row, sysname, load, before, after):
        """Kairos (sched_ext): the point's grants that ran a queued task, and
        their latency from the grant and from the enqueue (bucket bounds,
        within a quarter of their power of two); kept per load for the
        summary over rounds."""
        row["grants_served"] = ""
        # with the allocator's part (power-of-two buckets): when it decided,
        # and how often it polled
        deltas = {h: grantlat.delta(after[h], before.get(h))
                  for h in grantlat.HISTS + grantlat.ALLOCATOR_HISTS if h in after}
        for h in grantlat.HISTS + grantlat.ALLOCATOR_HISTS:
            for q, name in ((0.5, "p50"), (0.99, "p99")):
                v = grantlat.quantile_le_us(deltas.get(h), q)
                row["%s_%s_us" % (h, name)] = "" if v is None else "%.1f" % v
        if not all(h in deltas for h in grantlat.SERVED_HISTS):
            return
        acc = self.grant_hists.setdefault((sysname, load), {})
        for h in grantlat.HISTS:
            if h in deltas:
                acc[h] = grantlat.add(acc.get(h), deltas[h])
        row["grants_served"] = grantlat.count(deltas[grantlat.SERVED_HISTS[0]])

    def service_sched(self):
        run, wait, runs = self.service.sched_totals() if self.service else (0, 0, 0)
        return {"lc_rq_wait_ms": wait, "lc_cpu_ms": run, "lc_runs": runs,
                "ksoftirqd_wait_ms": workload.ksoftirqd_wait_ns()}

    def step(self, system):
        """Low -> high -> low LC load in consecutive windows of --step-window
        seconds, BE throughout. Each window is its own kairos-loadgen run,
        started on a fixed clock so that the next one starts while the last
        drains: the offered load has no gaps, and each window has its own
        percentiles."""
        win = self.a.step_window
        phases = [("low", self.a.step_low)] * int(round(2 / win)) + \
                 [("high", self.a.step_high)] * int(round(3 / win)) + \
                 [("low", self.a.step_low)] * int(round(3 / win))
        total = len(phases) * win + 6
        be = workload.BestEffort(self.plan.nmeasured, total, BE_CG,
                                 os.path.join(self.logdir, "be.step.%s.log" % system.name))
        running = []
        try:
            time.sleep(1)
            t0 = time.monotonic()
            sampler = Sampler(system, t0)
            sampler.start()
            for i, (phase, pct) in enumerate(phases):
                delay = t0 + i * win - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                ts = time.monotonic() - t0
                lg = self.loadgen("step.%s.%d" % (system.name, i))
                running.append((i, phase, pct, ts, lg, lg.start(
                    ["-m", "open", "-r", "%.1f" % (self.capacity * pct / 100.0), "-d", str(win),
                     "--no-warmup", "--timeout", "1", "--drain", "1"])))
            for i, phase, pct, ts, lg, proc in running:
                r = lg.finish(proc, win + 60)
                self.step_rows.append({
                    "system": system.name, "window": i, "phase": phase, "load_pct": pct,
                    "t_start_s": "%.2f" % ts, "t_end_s": "%.2f" % (ts + win),
                    "achieved": r["achieved"], "errors": r["errors"], "p50_us": r["p50_us"],
                    "p99_us": r["p99_us"], "max_us": r["max_us"]})
            running = []
            for t, g in sampler.finish():
                self.step_grants.append({"system": system.name, "t_s": "%.2f" % t, "granted": g})
            be.result(total + 30)
        finally:
            for *_, proc in running:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            be.kill()
        log("%s load step done (%d windows)" % (system.name, len(phases)))

    # --- the whole experiment --------------------------------------------------------
    def run(self):
        names, loads = self.a.systems, self.a.loads
        systems.check_clean("start")
        enabled = cgroups.enable_controllers()
        try:
            log(self.plan.note)
            if self.a.capacity:  # given: runs in other boots offer the same rates
                self.capacity = self.a.capacity
                log("%s capacity given: %.0f requests/s" % (self.a.service, self.capacity))
            else:
                self.capacity = self.measure_capacity()
                log("%s capacity on CPUs %s (closed loop%s): %.0f requests/s"
                    % (self.a.service, self.plan.lc_cpus,
                       ", BE on CPUs %s" % self.plan.be_cpus if self.a.capacity_beside_be
                       else "", self.capacity))
            if any(getattr(systems.BY_NAME[n], "backend", "") == "sched_ext" for n in names):
                self.measure_wake_peer()
            for rnd in range(1, self.a.rounds + 1):
                order = names[rnd - 1:] + names[:rnd - 1]  # who goes first rotates
                for n in order:
                    system = self.enter(systems.BY_NAME[n], "%s.r%d" % (n, rnd))
                    try:
                        for load in [0] + loads:
                            self.point(system, rnd, load)
                    finally:
                        self.leave()
            self.write()  # the sweep's results stand even if the step fails
            if self.a.step:
                for n in self.step_systems(names):
                    system = self.enter(systems.BY_NAME[n], "%s.step" % n)
                    try:
                        self.step(system)
                    finally:
                        self.leave()
                self.write()
        except BaseException:
            try:
                self.leave()
            except Exception as e:
                log("cleanup after the failure: %s" % e)
            raise
        finally:
            cgroups.disable_controllers(enabled)

    def step_systems(self, names):
        """Kairos and the baseline with the lowest median LC p99 over the loads."""
        out = [n for n in ("kairos",) if n in names]
        base = [n for n in ("eevdf", "cpu_idle", "cpuset", "fifo") if n in names]
        if base:
            def score(n):
                v = [float(r["p99_us"]) for r in self.rows
                     if r["system"] == n and r["load_pct"] and r["p99_us"] != ""]
                return statistics.median(v) if v else float("inf")
            self.best_baseline = min(base, key=score)
            out.append(self.best_baseline)
        return out

    def write(self):
        import results
        results.write_all(self)
        if not self.a.no_plots:
            plots.make_all(self.out, [s.name for s in systems.ALL])
        with open(os.path.join(self.out, "tables.txt"), "w") as f:
            table.print_tables(self.out, f)
        table.print_tables(self.out)
        log("results in %s" % self.out)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--service", choices=sorted(workload.SERVICES), default="memcached")
    p.add_argument("--loads", default="10,30,50,70,90",
                   help="LC loads, percent of the service's capacity on its cores")
    p.add_argument("--systems", default="all",
                   help="comma-separated: " + ",".join(systems.BY_NAME) + " (default all)")
    p.add_argument("--duration", type=float, default=10, help="seconds per load point")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--capacity-duration", type=float, default=3)
    p.add_argument("--capacity", type=float, default=0,
                   help="requests/s the loads are percentages of, instead of measuring it "
                        "(to compare runs across boots at the same offered rates)")
    p.add_argument("--capacity-beside-be", action="store_true",
                   help="measure the capacity while BE runs on the partition's BE CPUs "
                        "(emulated VMs with more vCPUs than host cores: the LC cores "
                        "slow down when the others are busy)")
    p.add_argument("--step", action="store_true", help="also the load-step run")
    p.add_argument("--step-low", type=float, default=5)
    p.add_argument("--step-high", type=float, default=80)
    p.add_argument("--step-window", type=float, default=0.5)
    p.add_argument("--guard", default="900/1000",
                   help="QUANTUM_US/PERIOD_US for the guard of both Kairos systems, or "
                        "'module' for kairos.ko's own default (500/1000). Default 900/1000: "
                        "the LC app is guaranteed its cores, and 500/1000 caps LC at half "
                        "of each while BE waits (memcached at 50%% of its capacity needs "
                        "about that much of its core)")
    p.add_argument("--lc-slice-us", type=int, default=None,
                   help="kairosd's --lc-slice-us for Kairos (sched_ext): the LC tasks' "
                        "time slice (default: kairosd's, 500 us)")
    p.add_argument("--kairosd-args", default="",
                   help="more flags for kairosd under Kairos (sched_ext), one string, e.g. "
                        "'--allocator-rt-priority 1 --allocator-low-power --poll-us 20' "
                        "(kairosd refuses bad ones: the run fails with its message)")
    p.add_argument("--kairos-guaranteed", type=int, default=None,
                   help="guaranteed cores of the LC app under Kairos (default: the static "
                        "partition's LC cores; 0 lets the allocator grant every core)")
    p.add_argument("--build", default=os.path.join(here, "../../build/rootfs"))
    p.add_argument("--out", required=True)
    p.add_argument("--no-plots", action="store_true")
    a = p.parse_args()
    a.systems = [s.name for s in systems.ALL] if a.systems == "all" else a.systems.split(",")
    for n in a.systems:
        if n not in systems.BY_NAME:
            p.error("unknown system '%s' (known: %s)" % (n, ", ".join(systems.BY_NAME)))
    try:
        a.loads = [float(x) for x in a.loads.split(",")]
    except ValueError:
        p.error("--loads wants comma-separated percentages, got '%s'" % a.loads)
    if any(not 0 < x <= 150 for x in a.loads):
        p.error("--loads wants percentages in (0, 150]")
    if a.duration <= 0 or a.rounds < 1:
        p.error("--duration must be > 0 and --rounds >= 1")
    if a.capacity < 0 or a.capacity != a.capacity or a.capacity == float("inf"):
        p.error("--capacity wants requests/s > 0")
    guard = None
    if a.guard and a.guard != "module":
        try:
            guard = tuple(int(x) for x in a.guard.split("/"))
            if len(guard) != 2 or not 0 < guard[0] <= guard[1]:
                raise ValueError
        except ValueError:
            p.error("--guard wants QUANTUM_US/PERIOD_US with 0 < QUANTUM_US <= PERIOD_US, "
                    "got '%s'" % a.guard)
    if a.lc_slice_us is not None and not 50 <= a.lc_slice_us <= 100000:
        p.error("--lc-slice-us wants 50..100000 (kairosd's range), got %d" % a.lc_slice_us)
    if os.geteuid() != 0:
        p.error("needs root (cgroups, kairos.ko, SCHED_FIFO)")
    b = Build(a.build)
    for f in (b.loadgen, b.kairosd, b.kairosctl, grantlat.binary(b.dir)):
        if not os.access(f, os.X_OK):
            p.error("%s is not built (tools/dev build)" % f)
    r = Runner(a)
    r.plan.guard = guard
    r.plan.lc_slice_us = a.lc_slice_us
    try:
        r.plan.kairosd_args = shlex.split(a.kairosd_args)
    except ValueError as e:
        p.error("--kairosd-args: %s" % e)
    if a.kairos_guaranteed is not None:
        if not 0 <= a.kairos_guaranteed <= r.plan.burstable:
            p.error("--kairos-guaranteed wants 0..%d here" % r.plan.burstable)
        r.plan.guaranteed = a.kairos_guaranteed
    try:
        r.run()
    except (RuntimeError, OSError) as e:
        log("FAILED: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
