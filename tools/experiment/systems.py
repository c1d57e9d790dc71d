"""The systems compared, each a setup and a teardown around the same
workload: stock EEVDF, BE at cpu.idle, a static cpuset partition, LC
SCHED_FIFO, Kairos (sched_ext + allocator) and Kairos (kairos.ko's class
only). Every teardown leaves the machine as the next system expects it;
check_clean() verifies that."""

import os
import re
import signal
import subprocess
import time

import cgroups

LC_CG, BE_CG = "kx-lc", "kx-be"
SCX_STATE = "/sys/kernel/sched_ext/state"
STATUS = "/run/kairos/status"


def scx_state():
    try:
        with open(SCX_STATE) as f:
            return f.read().strip()
    except OSError:
        return "absent"


def module_loaded(name="kairos"):
    return os.path.isdir("/sys/module/" + name)


def check_clean(where):
    """Raises unless nothing of a system is left: no scheduler, no module,
    no runner cgroups."""
    left = []
    if scx_state() not in ("disabled", "absent"):
        left.append("sched_ext state is %s" % scx_state())
    if module_loaded():
        left.append("kairos.ko is loaded")
    for cg in (LC_CG, BE_CG):
        if os.path.isdir(cgroups.path(cg)):
            left.append("cgroup %s exists" % cg)
    if os.path.exists(STATUS):
        left.append("%s exists (kairosd running?)" % STATUS)
    if left:
        raise RuntimeError("%s: not clean: %s" % (where, "; ".join(left)))


# kairosd's reasons an LC task waited in its app's queue (status line lc_queued)
LC_QUEUED_REASONS = ("sibling", "throttled", "requeue", "unowned")


def line_fields(line):
    """The key=value fields of one line of kairosd's status file."""
    return dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)


class System:
    name = ""
    label = ""
    fifo_prio = 0  # the LC service's SCHED_FIFO priority (0: SCHED_OTHER)

    def __init__(self, plan, build, logdir):
        self.plan, self.build, self.logdir = plan, build, logdir

    def setup(self):
        pass

    def after_service(self, service):
        pass

    def teardown(self):
        pass

    def granted(self):
        """Cores granted to the LC app now (Kairos), else None."""
        return None

    def counters(self):
        """Kairos' cumulative counters now ({} for the baselines)."""
        return {}


class Stock(System):
    name, label = "eevdf", "stock EEVDF"


class BeIdle(System):
    name, label = "cpu_idle", "BE cpu.idle=1"

    def setup(self):
        cgroups.write(BE_CG, "cpu.idle", 1)


class Partition(System):
    name, label = "cpuset", "static cpuset"

    def setup(self):
        cgroups.write(LC_CG, "cpuset.cpus", self.plan.lc_cpus)
        cgroups.write(BE_CG, "cpuset.cpus", self.plan.be_cpus)


class LcFifo(System):
    name, label = "fifo", "LC SCHED_FIFO"
    fifo_prio = 50


class Kairos(System):
    """kairos.ko + kairosd; BACKEND sched_ext (with the allocator) or kmod."""
    name, label, backend = "kairos", "Kairos (sched_ext)", "sched_ext"
    extra_args = []  # kairosd's, before --kairosd-args

    def setup(self):
        if not os.path.exists(self.build.ko):
            raise RuntimeError("%s is not built" % self.build.ko)
        subprocess.run(["insmod", self.build.ko], check=True)
        guard = self.guard()
        if guard:  # the guard's budget: LC run time per period while BE waits
            q, p = guard
            with open("/sys/kernel/kairos/period_us", "w") as f:
                f.write(str(p))
            with open("/sys/kernel/kairos/quantum_us", "w") as f:
                f.write(str(q))
        subprocess.run([self.build.kairosctl, "annotate", LC_CG, "--class", "lc",
                        "--guaranteed", str(self.plan.guaranteed),
                        "--burstable", str(self.plan.burstable)],
                       check=True, stdout=subprocess.DEVNULL)
        self.log_path = os.path.join(self.logdir, "kairosd.%s.log" % self.name)
        self.log = open(self.log_path, "a")
        args = [self.build.kairosd, "--backend", self.backend]
        if self.backend == "sched_ext" and self.plan.lc_slice_us:
            args += ["--lc-slice-us", str(self.plan.lc_slice_us)]
        if self.backend == "sched_ext":
            args += self.extra_args + self.plan.kairosd_args
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait(lambda st: ("backend=%s" % self.backend) in st and self._ready(st),
                   "kairosd did not take over")

    def guard(self):
        return self.plan.guard

    def _ready(self, st):
        return scx_state() == "enabled" and self._app_line(st) is not None

    def _app_line(self, st):
        m = re.search(r"^app .*cgroup=%s .*$" % LC_CG, st, re.M)
        return m.group(0) if m else None

    def _wait(self, cond, what, timeout_s=30.0):
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s: kairosd exited with %s (see %s)"
                                   % (what, self.proc.returncode, self.log_path))
            st = read_status()
            if cond(st):
                return st
            if time.monotonic() > deadline:
                raise RuntimeError("%s in %.0f s (see %s; status: %s)"
                                   % (what, timeout_s, self.log_path, st.strip()))
            time.sleep(0.1)

    def after_service(self, service):
        # The scheduler knows the app (and granted its guarantee) before load.
        want = min(1, self.plan.guaranteed)
        self._wait(lambda st: self._app_line(st) is not None and
                   int(re.search(r" owned=(\d+)", self._app_line(st)).group(1)) >= want,
                   "kairosd granted no core to the LC app")

    def granted(self):
        line = self._app_line(read_status())
        return int(re.search(r" owned=(\d+)", line).group(1)) if line else None

    def counters(self):
        st = read_status()  # one snapshot: every figure below from the same one
        m = re.search(r"^stats .*$", st, re.M)
        if not m:
            return {}
        kv = line_fields(m.group(0))
        out = {"guard_throttles": int(kv.get("guard_throttles", 0)),
               "preempt_kicks": int(kv.get("preempt_kicks", 0)),
               "slice_ends": int(kv.get("slice_ends", 0)),
               "owner_rekicks": int(kv.get("owner_rekicks", 0)),
               "standby_grants": int(kv.get("standby_grants", 0)),
               "rescues": int(kv.get("rescues", 0))}
        # Why LC tasks waited in their app's queue, how many and how long.
        m = re.search(r"^lc_queued .*$", st, re.M)
        if m:
            kv = line_fields(m.group(0))
            for why in LC_QUEUED_REASONS:
                out["lc_queued_" + why] = int(kv.get(why, 0))
                out["lc_queued_%s_wait_us" % why] = int(kv.get(why + "_wait_us", 0))
        # The LC app's queue: how many of its tasks waited in its DSQ, and
        # for how long in all (a stuck worker shows here and in rescues).
        line = self._app_line(st)
        if line:
            app = line_fields(line)
            if "wait_total_us" in app:
                out["lc_waits"] = int(app.get("dispatched", 0))
                out["lc_wait_us"] = int(app["wait_total_us"])
            if "run_ms" in app:  # the LC app's CPU time
                out["lc_run_ms"] = int(app["run_ms"])
        return out

    def teardown(self):
        if getattr(self, "proc", None) and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            if rc != 0:
                raise RuntimeError("kairosd exited with %d on SIGTERM (see %s)"
                                   % (rc, self.log_path))
        if getattr(self, "log", None):
            self.log.close()
        deadline = time.monotonic() + 10
        while scx_state() not in ("disabled", "absent") and time.monotonic() < deadline:
            time.sleep(0.1)
        if module_loaded():
            for _ in range(50):  # the class's users may take a moment to go
                if subprocess.run(["rmmod", "kairos"], stderr=subprocess.DEVNULL).returncode == 0:
                    break
                time.sleep(0.1)


class KairosKmod(Kairos):
    name, label, backend = "kairos_kmod", "Kairos (kairos.ko class)", "kmod"

    def _ready(self, st):
        return scx_state() == "disabled" and re.search(r"^class attached=1", st, re.M)

    def after_service(self, service):
        def classed(st):
            m = re.search(r"^class .*members=(\d+)", st, re.M)
            return m is not None and int(m.group(1)) >= 1
        self._wait(classed, "kairosd put no thread of the LC app in kairos.ko's class")

    def granted(self):
        return None

    def counters(self):
        out = {}
        for key, f, scale in (("guard_throttles", "throttles", 1),
                              ("lc_throttled_ms", "lc_throttled_ns", 1e-6)):
            try:
                with open("/sys/kernel/kairos/stats/" + f) as fh:
                    out[key] = round(int(fh.read().split()[0]) * scale, 1)
            except (OSError, ValueError, IndexError):
                pass
        return out


class KairosGuardOff(Kairos):
    """Kairos (sched_ext) with the guard's quantum equal to its period: LC
    may use its cores whole while BE waits; isolates the guard's share."""
    name, label = "kairos_noguard", "Kairos (sched_ext), guard off"

    def guard(self):
        with open("/sys/kernel/kairos/period_us") as f:
            period = int(f.read())
        return (period, period)


class KairosNoStandby(Kairos):
    """Kairos (sched_ext) with kairosd's --no-standby: only the allocator's
    polls grant burstable cores; isolates what the standby core does."""
    name, label = "kairos_nostandby", "Kairos (sched_ext), no standby core"
    extra_args = ["--no-standby"]


def read_status():
    try:
        with open(STATUS) as f:
            return f.read()
    except OSError:
        return ""


ALL = [Stock, BeIdle, Partition, LcFifo, Kairos, KairosKmod, KairosGuardOff, KairosNoStandby]
BY_NAME = {s.name: s for s in ALL}
