"""Grant latency: the scheduler's grant histograms from kairosd's status JSON
(per point, as the difference of two readings), and its peer measured in the
same boot, kairos-wakelat's futex wake -> run across two CPUs, with the
target CPU idle and with BE work on it."""

import json
import math
import os
import subprocess

STATUS_JSON = "/run/kairos/status.json"
HISTS = ("grant_kick_run", "grant_queued_run", "grant_head_age")
SERVED_HISTS = HISTS[:2]  # one sample per grant served (grants_served)
# the allocator's own part: queued work seen -> grant applied, and the
# interval its polls achieve (kairosd's allocator histograms)
ALLOCATOR_HISTS = ("decision_latency", "poll_gap")


def read(path=STATUS_JSON):
    """{"grants_run": n, "grant_kick_run": (bounds_s, counts), ...} from
    kairosd's status JSON; {} when it has none (no scheduler, an older
    kairosd, no file)."""
    try:
        with open(path) as f:
            status = json.load(f)
    except (OSError, ValueError):
        return {}
    sched, alloc = status.get("sched") or {}, status.get("allocator") or {}
    out = {}
    if "grants_run" in sched:
        out["grants_run"] = int(sched["grants_run"])
    for part, names in ((sched, HISTS), (alloc, ALLOCATOR_HISTS)):
        for h in names:
            v = part.get(h) or {}
            if v.get("counts"):
                out[h] = (list(v["bounds_s"]), [int(c) for c in v["counts"]])
    return out


def delta(after, before):
    """after - before of one histogram (bounds_s, counts); before may be
    None. A bucket that went down means the scheduler was reloaded between
    the readings (its counters start again from 0): then after alone."""
    bounds, counts = after
    if before is None:
        return bounds, list(counts)
    if before[0] != bounds or len(before[1]) != len(counts):
        raise ValueError("grant histograms with different buckets")
    if any(a < b for a, b in zip(counts, before[1])):
        return bounds, list(counts)
    return bounds, [a - b for a, b in zip(counts, before[1])]


def add(a, b):
    """The sum of two histograms (either may be None)."""
    if a is None:
        return b
    if b is None:
        return a
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        raise ValueError("grant histograms with different buckets")
    return a[0], [x + y for x, y in zip(a[1], b[1])]


def quantile_le_us(hist, q):
    """The bound (us) of the bucket holding the q-quantile sample, as
    kairosd reports it; inf above the last bound; None with no samples."""
    if hist is None:
        return None
    bounds, counts = hist
    n = sum(counts)
    if n <= 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for i, c in enumerate(counts):
        seen += c
        if seen >= rank:
            return bounds[i] * 1e6 if i < len(bounds) else float("inf")
    return float("inf")


def count(hist):
    return sum(hist[1]) if hist else 0


def futex_peer(binary, waker_cpu, wakee_cpu, log_path, samples=2000, gap_us=1000):
    """kairos-wakelat's JSON (p50_us, p99_us, ...); raises with its message."""
    proc = subprocess.run([binary, "--waker-cpu", str(waker_cpu), "--wakee-cpu", str(wakee_cpu),
                           "-n", str(samples), "--gap-us", str(gap_us)],
                          capture_output=True, text=True, timeout=samples * gap_us / 1e6 + 60)
    with open(log_path, "w") as f:
        f.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError("kairos-wakelat failed (%d): %s" % (proc.returncode,
                                                              proc.stderr.strip()))
    return json.loads(proc.stdout)


def binary(build_dir):
    return os.path.join(build_dir, "tools/wakelat/kairos-wakelat")
