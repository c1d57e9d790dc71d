"""Prints an experiment's result as text tables: LC p99 and BE throughput
per system and load (medians over rounds), then Kairos' per-round ratios
to each baseline. Usage: python3 table.py OUT_DIR"""

import csv
import os
import sys

from plots import KAIROS_SHORT, LABELS


def read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def fmt(v, digits=0):
    try:
        return ("%." + str(digits) + "f") % float(v)
    except ValueError:
        return "-"


def print_tables(out, f=sys.stdout):
    s = read(os.path.join(out, "summary.csv"))
    loads = sorted({float(r["load_pct"]) for r in s if float(r["load_pct"]) > 0})
    order = [k for k in LABELS if any(r["system"] == k for r in s)]
    cell = {(r["system"], float(r["load_pct"])): r for r in s}
    head = "%-26s" % "LC load (% of capacity)" + "".join("%16g%%" % l for l in loads)
    print("LC p99 (us) | BE throughput / BE alone, median over rounds", file=f)
    print(head, file=f)
    for k in order:
        line = "%-26s" % LABELS[k]
        for l in loads:
            r = cell.get((k, l))
            line += "%17s" % ("%s | %s" % (fmt(r["p99_us"]), fmt(r["be_norm"], 2)) if r else "-")
        print(line, file=f)
    rat = read(os.path.join(out, "ratios.csv"))
    if rat:
        print("\nKairos / baseline: LC p99 ratio | BE ratio (median of per-round ratios)", file=f)
        print(head.replace("LC load (% of capacity)", "Kairos vs"), file=f)
        for k in KAIROS_SHORT:
            for b in ("eevdf", "cpu_idle", "cpuset", "fifo"):
                rs = {float(r["load_pct"]): r for r in rat if r["kairos"] == k and r["baseline"] == b}
                if not rs:
                    continue
                line = "%-26s" % ("%s / %s" % (KAIROS_SHORT[k], b))
                for l in loads:
                    r = rs.get(l)
                    line += "%17s" % ("%s | %s" % (r["p99_ratio"], r["be_ratio"]) if r else "-")
                print(line, file=f)

    g = read(os.path.join(out, "grant_latency.csv"))
    if g:
        print("\nGrant latency (Kairos, grants that ran a queued task; us, bucket bounds) "
              "against futex wake -> run in the same boot", file=f)
        print("%-22s%8s%20s%20s%20s%20s%20s%12s" % (
            "system, LC load", "grants", "grant->run p50/99", "queued->run p50/99",
            "head wait p50/99", "futex idle p50/99", "futex busy p50/99", "p50 / idle"), file=f)
        for r in g:
            print("%-22s%8s%20s%20s%20s%20s%20s%12s" % (
                "%s, %s" % (r["system"], r["load_pct"] if r["load_pct"] == "all"
                            else fmt(r["load_pct"]) + "%"),
                r["grants_served"],
                "%s / %s" % (r["kick_run_p50_us"] or "-", r["kick_run_p99_us"] or "-"),
                "%s / %s" % (r["queued_run_p50_us"] or "-", r["queued_run_p99_us"] or "-"),
                "%s / %s" % (r.get("head_age_p50_us") or "-", r.get("head_age_p99_us") or "-"),
                "%s / %s" % (r["futex_idle_p50_us"] or "-", r["futex_idle_p99_us"] or "-"),
                "%s / %s" % (r["futex_busy_p50_us"] or "-", r["futex_busy_p99_us"] or "-"),
                r["kick_p50_over_futex_idle"] or "-"), file=f)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: table.py OUT_DIR")
    print_tables(sys.argv[1])
