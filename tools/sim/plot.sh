#!/bin/sh
# Reproduces the simulator figures in docs/sim/: CSVs plus PNGs (gnuplot).
#   tools/sim/plot.sh [BUILD_DIR] [OUT_DIR]
# Run inside the build environment (tools/dev shell). Takes about a minute.
set -eu
BUILD=${1:-build/rootfs}
OUT=${2:-docs/sim}
SIM=$BUILD/tools/sim/kairos-sim
[ -x "$SIM" ] || { echo "plot.sh: $SIM not built (run tools/dev build)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot not found" >&2; exit 1; }
mkdir -p "$OUT"

LOADS=0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9

# 1. Shenango: CPU efficiency of a 5 us allocator vs a slow (100 ms) one and
#    a static partition; 64 cores, exponential 10 us requests.
S="--cores 64 --service exp:10us --load $LOADS"
$SIM $S --mode static --label static-64 >"$OUT/shenango-static.csv"
$SIM $S --interval 5us --label policy-5us >"$OUT/shenango-5us.csv"
# Same policy for an unmodified app: only the BPF-side queue stat is seen.
$SIM $S --interval 5us --app-kind unmodified \
	--label policy-5us-unmodified >"$OUT/shenango-5us-unmodified.csv"
# The same policy polled every 100 ms: with the runtime's eager parking it
# cannot follow the load; holding cores for an interval fixes the tail but
# then it is a static partition in disguise.
# The first grants come at t = 100 ms; the warm-up lets the backlog of that
# first interval drain before measuring.
SLOW="--interval 100ms --duration 2s --warmup 1200ms"
$SIM $S $SLOW --label policy-100ms-eager >"$OUT/shenango-100ms-eager.csv"
$SIM $S $SLOW --park-spin 100ms --grants-per-poll 64 \
	--label policy-100ms-hold >"$OUT/shenango-100ms-hold.csv"

# 2. ZygOS: tail latency of one shared queue (M/G/n) vs per-core queues
#    (n x M/G/1) vs per-core queues with work stealing; 16 static cores.
Z="--cores 16 --mode static --service exp:10us --load $LOADS,0.95"
for q in single partitioned stealing; do
	$SIM $Z --queues $q --label $q >"$OUT/zygos-$q.csv"
done

gnuplot <<EOGP
set datafile separator ','
set terminal pngcairo size 900,560 font ',11'
set grid
set key top left
set xlabel 'LC load (fraction of 64 cores)'

# The 100 ms allocator with eager parking is left out here: it is
# overloaded (efficiency ~1 because its few cores never idle); see the tail.
set output '$OUT/shenango-efficiency.png'
set title 'CPU efficiency (useful / granted core time), 64 cores, exp 10 us'
set ylabel 'CPU efficiency'
set yrange [0:1.05]
set key bottom right
plot '$OUT/shenango-5us.csv' using 7:14 every ::1 with linespoints lw 2 title 'Kairos policy, 5 us polls', \
     '$OUT/shenango-5us-unmodified.csv' using 7:14 every ::1 with linespoints lw 2 title 'Kairos policy, 5 us polls, unmodified app (BPF queue)', \
     '$OUT/shenango-100ms-hold.csv' using 7:14 every ::1 with linespoints lw 6 pt 7 ps 1.5 title 'same policy, 100 ms polls, cores held', \
     '$OUT/shenango-static.csv' using 7:14 every ::1 with linespoints lw 2 dt 2 pt 5 title 'static partition (64 cores), same as above'

set output '$OUT/shenango-tail.png'
set title 'p99.9 latency, 64 cores, exp 10 us (log scale)'
set ylabel 'p99.9 latency (us)'
set logscale y
set yrange [10:1e9]
set key top right
plot '$OUT/shenango-5us.csv' using 7:12 every ::1 with linespoints lw 2 title 'Kairos policy, 5 us polls', \
     '$OUT/shenango-5us-unmodified.csv' using 7:12 every ::1 with linespoints lw 2 title 'Kairos policy, 5 us polls, unmodified app (BPF queue)', \
     '$OUT/shenango-100ms-hold.csv' using 7:12 every ::1 with linespoints lw 6 pt 7 ps 1.5 title 'same policy, 100 ms polls, cores held', \
     '$OUT/shenango-100ms-eager.csv' using 7:12 every ::1 with linespoints lw 2 title 'same policy, 100 ms polls, eager parking (overloaded)', \
     '$OUT/shenango-static.csv' using 7:12 every ::1 with linespoints lw 2 dt 2 pt 5 title 'static partition (64 cores)'

set output '$OUT/zygos-tail.png'
set key top left
set yrange [10:*]
set title 'p99 latency by queueing discipline, 16 static cores, exp 10 us (log scale)'
set xlabel 'load (fraction of 16 cores)'
set ylabel 'p99 latency (us)'
plot '$OUT/zygos-single.csv' using 7:11 every ::1 with linespoints lw 2 title 'single queue (M/G/16)', \
     '$OUT/zygos-partitioned.csv' using 7:11 every ::1 with linespoints lw 2 title 'partitioned queues (16 x M/G/1)', \
     '$OUT/zygos-stealing.csv' using 7:11 every ::1 with linespoints lw 2 title 'partitioned + work stealing'
EOGP
echo "plot.sh: wrote $OUT"
