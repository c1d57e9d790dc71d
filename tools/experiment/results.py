"""CSV files of an experiment: every run, the per-load summary (median
over rounds), Kairos' ratios to each baseline, grants, the grant latency
against its futex peer, and the load step."""

import csv
import os
import platform
import statistics

import grantlat
from plots import KAIROS_SHORT

BASELINES = ("eevdf", "cpu_idle", "cpuset", "fifo")


def write_csv(path, rows, fields=None):
    if not rows:
        return
    fields = fields or list(rows[0])
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def normalise_be(rows):
    """be_norm: BE throughput over BE alone (the same round's stock EEVDF
    with the LC service idle; else that system's own idle point), the mean
    of the cpu and stream stressors' ratios."""
    alone = {}
    for r in rows:
        if r["load_pct"] == 0:
            alone.setdefault((r["round"], r["system"]), r)
    for r in rows:
        ref = alone.get((r["round"], "eevdf")) or alone[(r["round"], r["system"])]
        r["be_norm"] = "%.3f" % statistics.mean(
            [r["be_cpu_ops_s"] / ref["be_cpu_ops_s"], r["be_stream_ops_s"] / ref["be_stream_ops_s"]])


def median(v):
    return statistics.median(v) if v else float("nan")


def summarise(rows):
    out = []
    keys = sorted({(r["system"], r["load_pct"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for sysname, load in keys:
        rs = [r for r in rows if r["system"] == sysname and r["load_pct"] == load]
        s = {"system": sysname, "load_pct": load, "rounds": len(rs)}
        for k in ("achieved", "p50_us", "p99_us", "p999_us", "be_norm", "granted_mean"):
            v = [float(r[k]) for r in rs if r[k] != ""]
            s[k] = ("%.3f" % median(v)) if v else ""
        s["errors"] = sum(int(r["errors"]) for r in rs if r["errors"] != "")
        out.append(s)
    return out


def ratios(rows):
    """Kairos over each baseline per load: the median over rounds of the
    per-round ratios (both ran in the same round of the same boot)."""
    out = []
    for k in KAIROS_SHORT:
        for base in BASELINES:
            for load in sorted({r["load_pct"] for r in rows if r["load_pct"] > 0}):
                p, b = [], []
                for rnd in sorted({r["round"] for r in rows}):
                    a = [r for r in rows if (r["round"], r["system"], r["load_pct"]) ==
                         (rnd, k, load)]
                    c = [r for r in rows if (r["round"], r["system"], r["load_pct"]) ==
                         (rnd, base, load)]
                    if a and c and a[0]["p99_us"] != "" and c[0]["p99_us"] != "" and \
                            float(c[0]["p99_us"]) > 0:
                        p.append(float(a[0]["p99_us"]) / float(c[0]["p99_us"]))
                        b.append(float(a[0]["be_norm"]) / float(c[0]["be_norm"]))
                if p:
                    out.append({"kairos": k, "baseline": base, "load_pct": load,
                                "rounds": len(p), "p99_ratio": "%.2f" % median(p),
                                "be_ratio": "%.2f" % median(b)})
    return out


def grant_latency(hists, peer):
    """Per (system, load), summed over rounds, and over every load: the
    grants that ran a queued task, grant -> run and queued -> run (bucket
    bounds), the queue head's wait at each grant, the same boot's futex wake -> run (target CPU idle, and
    running BE work), and the p50 ratios to it."""
    def ratio(v, ref):
        return "%.2f" % (v / ref) if v is not None and ref else ""

    def fmt(v):
        return "" if v is None else "%.1f" % v

    def row(sysname, load, hs):
        kick, queued = hs.get("grant_kick_run"), hs.get("grant_queued_run")
        out = {"system": sysname, "load_pct": load, "grants_served": grantlat.count(kick)}
        for name, h in (("kick_run", kick), ("queued_run", queued),
                        ("head_age", hs.get("grant_head_age"))):
            for q in (0.5, 0.99):
                out["%s_p%d_us" % (name, q * 100)] = fmt(grantlat.quantile_le_us(h, q))
        for k in ("idle", "busy"):
            for q in ("p50", "p99"):
                out["futex_%s_%s_us" % (k, q)] = fmt(peer.get(k, {}).get(q + "_us"))
        k50, q50 = grantlat.quantile_le_us(kick, 0.5), grantlat.quantile_le_us(queued, 0.5)
        out["kick_p50_over_futex_idle"] = ratio(k50, peer.get("idle", {}).get("p50_us"))
        out["kick_p50_over_futex_busy"] = ratio(k50, peer.get("busy", {}).get("p50_us"))
        out["queued_p50_over_futex_idle"] = ratio(q50, peer.get("idle", {}).get("p50_us"))
        return out

    rows, total = [], {}
    for (sysname, load), hs in sorted(hists.items()):
        rows.append(row(sysname, load, hs))
        t = total.setdefault(sysname, {})
        for h, v in hs.items():
            t[h] = grantlat.add(t.get(h), v)
    for sysname, hs in sorted(total.items()):
        rows.append(row(sysname, "all", hs))
    return rows


def write_all(r):
    out = r.out
    normalise_be(r.rows)
    write_csv(os.path.join(out, "runs.csv"), r.rows)
    write_csv(os.path.join(out, "summary.csv"), summarise(r.rows))
    write_csv(os.path.join(out, "ratios.csv"), ratios(r.rows))
    write_csv(os.path.join(out, "grants.csv"), r.grants,
              ["round", "system", "load_pct", "t_s", "granted"])
    write_csv(os.path.join(out, "grant_latency.csv"), grant_latency(r.grant_hists, r.wake_peer))
    write_csv(os.path.join(out, "step.csv"), r.step_rows)
    write_csv(os.path.join(out, "step_grants.csv"), r.step_grants, ["system", "t_s", "granted"])
    p = r.plan
    with open(os.path.join(out, "meta.txt"), "w") as f:
        f.write("kernel %s, %d CPUs\n" % (platform.release(), os.cpu_count()))
        f.write("service %s, %d threads, capacity %.0f requests/s on CPUs %s (closed loop, %s)\n"
                % (r.a.service, p.service_threads, r.capacity, p.lc_cpus,
                   "given" if r.a.capacity else
                   "BE on CPUs %s" % p.be_cpus if r.a.capacity_beside_be else "alone"))
        f.write("CPUs: %s\n" % p.note)
        f.write("static partition: LC on %s, BE on %s; Kairos: guaranteed %d, burstable up to %d\n"
                % (p.lc_cpus, p.be_cpus or "-", p.guaranteed, p.burstable))
        f.write("BE: stress-ng --cpu %d --stream %d per point; %g s per point, %d rounds\n"
                % (p.nmeasured, p.nmeasured, r.a.duration, r.a.rounds))
        f.write("Kairos guard: %s\n" % ("%d us per %d us" % p.guard if p.guard
                                          else "kairos.ko's default"))
        for k, v in sorted(r.wake_peer.items()):
            f.write("futex wake -> run, CPU %d -> %d, target %s: p50 %.1f us, p99 %.1f us "
                    "(%d samples, kairos-wakelat)\n"
                    % (v["waker_cpu"], v["wakee_cpu"],
                       "idle" if k == "idle" else "running the BE work", v["p50_us"],
                       v["p99_us"], v["samples"]))
        if p.kairosd_args:
            f.write("kairosd (sched_ext) also ran with: %s\n" % " ".join(p.kairosd_args))
        if p.lc_slice_us:
            f.write("Kairos (sched_ext) LC slice: %d us\n" % p.lc_slice_us)
        if getattr(r, "best_baseline", None):
            f.write("load step: kairos and %s (lowest median LC p99 of the baselines)\n"
                    % r.best_baseline)
