#!/usr/bin/env python3
"""How the host schedules the emulated VM's vCPUs during an experiment.

Runs on the host, around the command that boots the VM: while the command
runs it samples, every 0.2 s, each qemu vCPU thread's host schedstat (run
time, run-queue wait, times scheduled), and it time-stamps the command's
output lines. `report` then gives, for each measurement window the
runner marked ("... window starts"; windows last --window seconds), each
vCPU's host run and wait shares and its mean host wait per time it was
scheduled: whether a guest CPU could run when the guest wanted it to.

  tools/experiment/vcpu_host_trace.py record DIR -- env KAIROS_VM_CPUS=4 \\
      tools/dev vm -- 'tools/experiment/run.sh ... --duration 4 ...'
  tools/experiment/vcpu_host_trace.py report DIR --window 4
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import threading
import time


def vcpu_threads():
    """(vcpu index, schedstat path) of every qemu vCPU thread ("CPU n/TCG",
    "CPU n/KVM") on the host."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if not f.read().startswith("qemu-system"):
                    continue
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    m = re.match(r"CPU (\d+)/", f.read())
                if m:
                    out.append((int(m.group(1)), f"/proc/{pid}/task/{tid}/schedstat"))
        except OSError:
            continue  # a process or thread that went away meanwhile
    return out


def sample_loop(path, stop):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "vcpu", "run_ns", "wait_ns", "slices"])
        while not stop.is_set():
            now = time.time()
            for vcpu, stat in vcpu_threads():
                try:
                    with open(stat) as s:
                        run, wait, slices = s.read().split()[:3]
                except OSError:
                    continue
                w.writerow(["%.3f" % now, vcpu, run, wait, slices])
            f.flush()
            stop.wait(0.2)


def record(a):
    os.makedirs(a.dir, exist_ok=True)
    if not os.path.exists("/proc/self/schedstat"):
        sys.exit("vcpu_host_trace: this kernel has no /proc/PID/schedstat")
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        sys.exit("vcpu_host_trace: record needs a command after --")
    stop = threading.Event()
    sampler = threading.Thread(target=sample_loop,
                               args=(os.path.join(a.dir, "vcpu.csv"), stop))
    sampler.start()
    try:
        with open(os.path.join(a.dir, "output.log"), "w") as log:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, bufsize=1)
            for line in p.stdout:
                sys.stdout.write(line)
                log.write("%.3f %s" % (time.time(), line))
                log.flush()
            rc = p.wait()
    finally:
        stop.set()
        sampler.join()
    return rc


def report(a):
    for name in ("vcpu.csv", "output.log"):
        if not os.path.isfile(os.path.join(a.dir, name)):
            sys.exit("vcpu_host_trace: no recording in %s (%s missing; see record)"
                     % (a.dir, name))
    samples = {}
    with open(os.path.join(a.dir, "vcpu.csv")) as f:
        for r in csv.DictReader(f):
            samples.setdefault(int(r["vcpu"]), []).append(
                (float(r["t"]), int(r["run_ns"]), int(r["wait_ns"]), int(r["slices"])))
    windows = []
    with open(os.path.join(a.dir, "output.log")) as f:
        for line in f:
            m = re.match(r"([0-9.]+) experiment: (\S+)\s+round (\d+) load\s+(\S+)%: window starts",
                         line)
            if m:
                windows.append((float(m.group(1)), m.group(2), m.group(3), m.group(4)))
    if not windows or not samples:
        sys.exit("vcpu_host_trace: no marked windows or no samples in " + a.dir)

    def at(v, t):
        """The last sample of vCPU v at or before t."""
        best = None
        for s in samples[v]:
            if s[0] > t:
                break
            best = s
        return best

    print("per vCPU: host run % / wait % of the window, mean host wait per time scheduled")
    for t0, system, rnd, load in windows:
        cells = []
        for v in sorted(samples):
            s0, s1 = at(v, t0), at(v, t0 + a.window)
            if not s0 or not s1 or s1[0] <= s0[0]:
                cells.append("cpu%d -" % v)
                continue
            dt = (s1[0] - s0[0]) * 1e9
            n = max(1, s1[3] - s0[3])
            cells.append("cpu%d %3.0f/%3.0f%% %5.2f ms" % (
                v, 100 * (s1[1] - s0[1]) / dt, 100 * (s1[2] - s0[2]) / dt,
                (s1[2] - s0[2]) / n / 1e6))
        print("%-8s r%s %4s%% | %s" % (system, rnd, load, " | ".join(cells)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("record", help="run a command, sampling the vCPU threads meanwhile")
    r.add_argument("dir")
    r.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("report", help="per-window figures of a recorded run")
    p.add_argument("dir")
    p.add_argument("--window", type=float, default=4.0, help="seconds per window (--duration)")
    a = ap.parse_args()
    return record(a) if a.what == "record" else report(a)


if __name__ == "__main__":
    sys.exit(main())
