#!/bin/sh
# bench/kairosd/schedbench/run.sh BUILD_DIR [SECONDS] [ROUNDS]: the sched_ext
# scheduler benchmark, side by side in one boot. Run it in the VM:
#   tools/dev vm -- bench/kairosd/schedbench/run.sh build/rootfs
# LC wakeup latency: cyclictest in an LC cgroup next to stress-ng --cpu N,
# under EEVDF, SCHED_FIFO and kairos. BE throughput: stress-ng bogo-ops
# under EEVDF and kairos while the LC app is idle. The configurations are
# interleaved in ROUNDS rounds (host noise hits all alike) and the table
# shows the median over rounds.
set -eu
build=$(cd "$1" && pwd)
secs=${2:-8}
rounds=${3:-3}
. "$(dirname "$0")/../../../tools/demo/lib.sh"
tmp=$(mktemp -d)
sleeper=
trap 'kairos_stop >/dev/null 2>&1 || true; [ -n "$sleeper" ] && kill $sleeper; lc_cgroup_remove' EXIT
require_no_scheduler schedbench
lc_cgroup

echo "schedbench: $(nproc) CPUs, kernel $(uname -r), $rounds rounds of ${secs} s runs" >&2
r=1
while [ $r -le "$rounds" ]; do
	echo "schedbench: round $r" >&2
	lat_run eevdf.$r "$secs" other
	lat_run fifo.$r "$secs" fifo
	kairos_start
	lat_run kairos.$r "$secs" other
	kairos_stop
	sleep 100000 &
	sleeper=$!
	echo $sleeper >$CG/kb-lc/cgroup.procs	# the LC app exists but is idle
	be_run be_eevdf.$r "$secs"
	kairos_start
	be_run be_kairos.$r "$secs"
	kairos_stop
	kill $sleeper
	sleeper=
	r=$((r + 1))
done

# median NAME.ext FIELD: median over rounds of field FIELD (1-based)
median() {
	cat "$tmp"/$(echo "$1" | cut -d. -f1).*.$(echo "$1" | cut -d. -f2) |
		awk -v k="$2" '{ print $k }' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
e50=$(median eevdf.lat 1) e99=$(median eevdf.lat 2) emax=$(median eevdf.lat 3)
f50=$(median fifo.lat 1) f99=$(median fifo.lat 2) fmax=$(median fifo.lat 3)
k50=$(median kairos.lat 1) k99=$(median kairos.lat 2) kmax=$(median kairos.lat 3)
be_e=$(median be_eevdf.hog 1)
be_k=$(median be_kairos.hog 1)

printf '\nper round (p50 p99 max us | bogo-ops):\n'
r=1
while [ $r -le "$rounds" ]; do
	printf '  round %s: EEVDF %s | FIFO %s | kairos %s | BE EEVDF %s kairos %s\n' $r \
		"$(cat "$tmp/eevdf.$r.lat")" "$(cat "$tmp/fifo.$r.lat")" "$(cat "$tmp/kairos.$r.lat")" \
		"$(cat "$tmp/be_eevdf.$r.hog")" "$(cat "$tmp/be_kairos.$r.hog")"
	r=$((r + 1))
done
printf '\nLC wakeup latency: cyclictest -t1 -i1000 in an LC cgroup (1 guaranteed core), stress-ng --cpu %s; median of %s rounds of %s s (us)\n' "$(nproc)" "$rounds" "$secs"
printf '%-12s %8s %8s %8s %10s %11s\n' scheduler p50 p99 max "p99/FIFO" "p99/EEVDF"
printf '%-12s %8s %8s %8s %10s %11s\n' EEVDF "$e50" "$e99" "$emax" "$(ratio "$e99" "$f99")" 1.00
printf '%-12s %8s %8s %8s %10s %11s\n' SCHED_FIFO "$f50" "$f99" "$fmax" 1.00 "$(ratio "$f99" "$e99")"
printf '%-12s %8s %8s %8s %10s %11s\n' kairos "$k50" "$k99" "$kmax" "$(ratio "$k99" "$f99")" "$(ratio "$k99" "$e99")"
printf '\nBE throughput: stress-ng --cpu %s, LC app annotated but idle; median of %s rounds of %s s (bogo-ops)\n' "$(nproc)" "$rounds" "$secs"
printf '%-12s %10s %10s\n' scheduler bogo-ops "vs EEVDF"
printf '%-12s %10s %10s\n' EEVDF "$be_e" 1.00
printf '%-12s %10s %10s\n' kairos "$be_k" "$(ratio "$be_k" "$be_e")"
# paired A.ext B.ext FIELD: median over rounds of round r's A / round r's B
# (both ran seconds apart, so the host's load of that moment hits both).
paired() {
	r=1
	while [ $r -le "$rounds" ]; do
		a=$(awk -v k="$3" '{ print $k }' "$tmp/$(echo "$1" | cut -d. -f1).$r.$(echo "$1" | cut -d. -f2)")
		b=$(awk -v k="$3" '{ print $k }' "$tmp/$(echo "$2" | cut -d. -f1).$r.$(echo "$2" | cut -d. -f2)")
		ratio "$a" "$b"
		echo
		r=$((r + 1))
	done | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
printf '\npaired per round (median of the per-round ratios): kairos p99/FIFO %s, p99/EEVDF %s; BE kairos/EEVDF %s\n' \
	"$(paired kairos.lat fifo.lat 2)" "$(paired kairos.lat eevdf.lat 2)" "$(paired be_kairos.hog be_eevdf.hog 1)"
printf '\nhog bogo-ops during the latency runs (median): EEVDF %s, SCHED_FIFO %s, kairos %s\n' \
	"$(median eevdf.hog 1)" "$(median fifo.hog 1)" "$(median kairos.hog 1)"
printf 'goals: kairos p99 <= 1.5x FIFO and <= 0.2x EEVDF; BE >= 0.9x EEVDF\n'
rm -rf "$tmp"
