"""The experiment's processes: the LC service (memcached or redis-server,
unmodified), the BE stressors (stress-ng) and kairos-loadgen runs."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import cgroups

SERVICES = {
    # name: (loadgen protocol, port, command for THREADS worker threads)
    "memcached": ("memcached", 11311,
                  lambda port, threads: ["memcached", "-u", "root", "-l", "127.0.0.1",
                                         "-p", str(port), "-U", "0", "-t", str(threads),
                                         "-m", "64", "-c", "1024"]),
    "redis": ("redis", 6399,
              lambda port, threads: ["redis-server", "--port", str(port),
                                     "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no", "--protected-mode", "no",
                                     "--io-threads", str(threads)]),
}


class Service:
    """The LC service, started in cgroup CG (optionally SCHED_FIFO)."""

    def __init__(self, name, threads, cg, log_path, fifo_prio=0):
        self.name = name
        self.protocol, self.port, argv = SERVICES[name]
        argv = argv(self.port, threads)
        if fifo_prio:
            argv = ["chrt", "-f", str(fifo_prio)] + argv
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=cgroups.joiner(cg))
        self._wait_listening()

    def _wait_listening(self, timeout_s=20.0):
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s before it listened (see %s)"
                                   % (self.name, self.proc.returncode, self.log.name))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("%s does not listen on port %d" % (self.name, self.port))
                time.sleep(0.1)

    def threads(self):
        return [int(t) for t in os.listdir("/proc/%d/task" % self.proc.pid)]

    def sched_totals(self):
        """The service's threads' schedstat, summed: (ns run on a CPU, ns
        waited runnable for one, times run)."""
        tot = [0, 0, 0]
        for t in self.threads():
            for i, v in enumerate(schedstat("/proc/%d/task/%d" % (self.proc.pid, t))):
                tot[i] += v
        return tuple(tot)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def schedstat(proc_dir):
    """/proc/PID[/task/TID]/schedstat: (ns run, ns waited runnable, times
    run); zeros if gone."""
    try:
        with open(proc_dir + "/schedstat") as f:
            run, wait, slices = (int(x) for x in f.read().split()[:3])
            return run, wait, slices
    except (OSError, ValueError):
        return 0, 0, 0


def run_delay_ns(proc_dir):
    """run_delay of /proc/PID[/task/TID]: ns waited runnable, 0 if gone."""
    return schedstat(proc_dir)[1]


def ksoftirqd_wait_ns():
    """run_delay summed over the ksoftirqd threads: softirq work (the
    loopback's packets among it) that waited for a CPU."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % pid) as f:
                if not f.read().startswith("ksoftirqd/"):
                    continue
        except OSError:
            continue
        total += run_delay_ns("/proc/" + pid)
    return total


class BestEffort:
    """stress-ng --cpu N (compute) and --stream N (memory) in cgroup CG for
    SECONDS; result() gives bogo-ops/s per stressor."""

    def __init__(self, ncpu, seconds, cg, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            ["stress-ng", "--cpu", str(ncpu), "--stream", str(ncpu),
             "--stream-l3-size", "1M", "--timeout", "%.1f" % seconds,
             "--metrics-brief", "--temp-path", "/tmp"],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=cgroups.joiner(cg))

    def result(self, timeout_s):
        try:
            rc = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("stress-ng did not finish (see %s)" % self.log_path)
        self.log.close()
        with open(self.log_path) as f:
            text = f.read()
        if rc != 0:
            raise RuntimeError("stress-ng failed with %d (see %s)" % (rc, self.log_path))
        return parse_bogo_ops(text, self.log_path)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def parse_bogo_ops(text, where):
    """{stressor: bogo-ops/s (real time)} from stress-ng --metrics-brief."""
    out = {}
    for m in re.finditer(r"metrc: \[\d+\]\s+(cpu|stream)\s+(\d+)\s+([\d.]+)\s+[\d.]+\s+"
                         r"[\d.]+\s+([\d.]+)", text):
        out[m.group(1)] = float(m.group(4))
    if set(out) != {"cpu", "stream"}:
        raise RuntimeError("no bogo-ops for cpu and stream in %s" % where)
    return out


class Loadgen:
    """One kairos-loadgen run; the client runs SCHED_FIFO above everything
    measured (every system alike), pinned to CPUS where there are any."""

    FIFO_PRIO = 90

    def __init__(self, binary, protocol, port, json_path, cpus=None):
        self.binary, self.protocol, self.port = binary, protocol, port
        self.json_path, self.cpus = json_path, cpus

    def argv(self, extra):
        argv = ["chrt", "-f", str(self.FIFO_PRIO)]
        if self.cpus:
            argv += ["taskset", "-c", self.cpus]
        return argv + [self.binary, "-P", self.protocol, "-s", "127.0.0.1:%d" % self.port,
                       "--keys", "2000", "--value-size", "64", "-c", "8", "-t", "1",
                       "--progress", "off", "-q", "--json", self.json_path] + extra

    def start(self, extra):
        return subprocess.Popen(self.argv(extra), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def finish(self, proc, timeout_s):
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError("kairos-loadgen did not finish in %.0f s" % timeout_s)
        if proc.returncode != 0:
            # A run in which the server answered nothing still wrote its
            # counters: every request is counted as failed, not lost.
            r = None
            if "no request was answered" in out and os.path.exists(self.json_path):
                r = read_result(self.json_path)
            if r is None or r["completed"] != 0:
                raise RuntimeError("kairos-loadgen failed (%d): %s" % (proc.returncode, out.strip()))
            return r
        return read_result(self.json_path)

    def run(self, extra, timeout_s):
        return self.finish(self.start(extra), timeout_s)


# Every scheduled request must end in exactly one of these (engine.hpp).
OUTCOMES = ("completed", "error_replies", "timeouts", "failed", "unanswered", "not_sent")


def read_result(json_path):
    """The fields the runner records from kairos-loadgen's JSON; raises when
    the counters do not add up (requests lost silently)."""
    with open(json_path) as f:
        j = json.load(f)
    c, lat = j["counters"], j["latency"]
    accounted = sum(c[k] for k in OUTCOMES)
    if c["scheduled"] != accounted:
        raise RuntimeError("%s: %d requests scheduled but %d accounted for: requests lost "
                           "silently" % (json_path, c["scheduled"], accounted))
    if c["completed"] != lat["count"]:
        raise RuntimeError("%s: %d completed but %d latencies recorded"
                           % (json_path, c["completed"], lat["count"]))
    errors = c["error_replies"] + c["timeouts"] + c["failed"] + c["unanswered"] + c["not_sent"]
    if c["completed"] == 0:  # no latency to report: the errors say what happened
        for k in ("p50_us", "p99_us", "p999_us", "max_us"):
            lat[k] = ""
    return {"offered": j["offered_rate"], "achieved": j["achieved_rate"],
            "scheduled": c["scheduled"], "completed": c["completed"], "errors": errors,
            "timeouts": c["timeouts"], "p50_us": lat["p50_us"], "p99_us": lat["p99_us"],
            "p999_us": lat["p999_us"], "max_us": lat["max_us"]}
