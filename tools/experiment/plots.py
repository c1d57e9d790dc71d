"""PNG plots of an experiment with gnuplot, from its summary.csv and step
files: LC p99 vs load, BE throughput vs load, and the load step."""

import csv
import os
import subprocess

LABELS = {"eevdf": "stock EEVDF", "cpu_idle": "BE cpu.idle=1", "cpuset": "static cpuset",
          "fifo": "LC SCHED_FIFO", "kairos": "Kairos (sched_ext)",
          "kairos_kmod": "Kairos (kairos.ko class)",
          "kairos_noguard": "Kairos (sched_ext), guard off",
          "kairos_nostandby": "Kairos (sched_ext), no standby core"}
# The Kairos systems, compared with each baseline, and their short names.
KAIROS_SHORT = {"kairos": "sched_ext", "kairos_kmod": "kmod", "kairos_noguard": "no guard",
                "kairos_nostandby": "no standby"}


def read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def block(rows, cols):
    return "\n".join(" ".join(str(r[c]) for c in cols) for r in rows) + "\ne\n"


def series(rows, order, x, y):
    """gnuplot inline data, one block per system present."""
    present = [s for s in order if any(r["system"] == s for r in rows)]
    data = ""
    for s in present:
        rs = sorted((r for r in rows if r["system"] == s and r[y] != ""),
                    key=lambda r: float(r[x]))
        data += block(rs, (x, y))
    return present, data


def gnuplot(script, out):
    p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if p.returncode != 0 or not os.path.exists(out):
        raise RuntimeError("gnuplot failed for %s: %s" % (out, p.stderr.strip()))


def make_all(out, order):
    s = [r for r in read(os.path.join(out, "summary.csv")) if float(r["load_pct"]) > 0]
    head = 'set terminal pngcairo noenhanced size 900,560 font ",11"\nset grid\nset key outside right\n'
    present, data = series(s, order, "load_pct", "p99_us")
    plots = ", ".join("'-' using 1:2 with linespoints lw 2 title '%s'" % LABELS[p] for p in present)
    gnuplot(head + "set output '%s/p99_vs_load.png'\nset logscale y\n"
            "set xlabel 'LC load (%% of capacity on its cores)'\nset ylabel 'LC p99 (us)'\n"
            "set title 'LC p99 latency vs load (median over rounds)'\nplot %s\n%s"
            % (out, plots, data), os.path.join(out, "p99_vs_load.png"))
    present, data = series(s, order, "load_pct", "be_norm")
    plots = ", ".join("'-' using 1:2 with linespoints lw 2 title '%s'" % LABELS[p] for p in present)
    gnuplot(head + "set output '%s/be_vs_load.png'\nset yrange [0:*]\n"
            "set xlabel 'LC load (%% of capacity on its cores)'\n"
            "set ylabel 'BE throughput / BE alone'\n"
            "set title 'BE throughput (stress-ng cpu + stream) vs LC load'\nplot %s\n%s"
            % (out, plots, data), os.path.join(out, "be_vs_load.png"))
    step = read(os.path.join(out, "step.csv"))
    if not step:
        return
    grants = read(os.path.join(out, "step_grants.csv"))
    systems = [p for p in order if any(r["system"] == p for r in step)]
    lat = ""
    plots = []
    for p in systems:
        rs = [dict(r, t_mid="%.2f" % ((float(r["t_start_s"]) + float(r["t_end_s"])) / 2))
              for r in step if r["system"] == p and r["p99_us"] != ""]
        lat += block(rs, ("t_mid", "p99_us"))
        plots.append("'-' using 1:2 with linespoints lw 2 title '%s p99'" % LABELS[p])
    load_rs = [dict(r, t_mid="%.2f" % ((float(r["t_start_s"]) + float(r["t_end_s"])) / 2))
               for r in step if r["system"] == systems[0]]
    g = [r for r in grants if r["system"] == "kairos"]
    xmax = max(float(r["t_end_s"]) for r in step) + 0.5
    g = [r for r in g if float(r["t_s"]) <= xmax]
    script = head + ("set output '%s/load_step.png'\nset multiplot layout 2,1\n"
                     "set key inside top right\nset lmargin 12\nset xrange [0:%.1f]\n"
                     "set logscale y\nset ylabel 'LC p99 per window (us)'\n"
                     "set title 'Load step: idle -> high -> idle LC load, BE throughout'\n"
                     "plot %s\n%s" % (out, xmax, ", ".join(plots), lat))
    script += ("unset logscale y\nunset title\nset xlabel 'time (s)'\n"
               "set ylabel 'load (%) / cores'\nset yrange [0:*]\n"
               "plot '-' using 1:2 with steps lw 2 title 'offered LC load (% of capacity)'")
    script2 = block(load_rs, ("t_mid", "load_pct"))
    if g:
        script += ", '-' using 1:($2*50) with steps lw 2 title 'Kairos cores granted (x50)'"
        script2 += block(g, ("t_s", "granted"))
    gnuplot(script + "\n" + script2 + "unset multiplot\n", os.path.join(out, "load_step.png"))
