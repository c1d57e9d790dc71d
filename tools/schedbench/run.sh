#!/bin/sh
# tools/schedbench/run.sh BUILD_DIR [SECONDS]: the sched_ext scheduler
# benchmark, side by side in one boot. Run it in the VM:
#   tools/dev vm -- tools/schedbench/run.sh build/rootfs
# Prints a table: LC wakeup latency (cyclictest in an LC cgroup next to
# stress-ng --cpu N) under kairos, EEVDF and SCHED_FIFO; BE throughput
# (stress-ng bogo-ops) under kairos (LC idle) and EEVDF.
set -eu
build=$(cd "$1" && pwd)
secs=${2:-15}
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'kairos_stop >/dev/null 2>&1 || true; lc_cgroup_remove' EXIT
[ "$(cat /sys/kernel/sched_ext/state)" = disabled ] || {
	echo "schedbench: needs a sched_ext kernel with no scheduler loaded" >&2
	exit 1
}
lc_cgroup

echo "schedbench: $(nproc) CPUs, kernel $(uname -r), ${secs} s per latency run" >&2
lat_run eevdf "$secs" other
lat_run fifo "$secs" fifo
kairos_start
lat_run kairos "$secs" other
kairos_stop
be_run be_eevdf "$secs"
sleep 100000 &
sleeper=$!
echo $sleeper >$CG/kb-lc/cgroup.procs	# the LC app exists but is idle
kairos_start
be_run be_kairos "$secs"
kairos_stop
kill $sleeper

read -r e50 e99 emax <"$tmp/eevdf.lat"
read -r f50 f99 fmax <"$tmp/fifo.lat"
read -r k50 k99 kmax <"$tmp/kairos.lat"
be_e=$(cat "$tmp/be_eevdf.hog")
be_k=$(cat "$tmp/be_kairos.hog")
printf '\nLC wakeup latency: cyclictest -t1 -i1000 in an LC cgroup (1 guaranteed core), stress-ng --cpu %s, %s s each (us)\n' "$(nproc)" "$secs"
printf '%-12s %8s %8s %8s %12s %13s\n' scheduler p50 p99 max "p99/FIFO" "p99/EEVDF"
printf '%-12s %8s %8s %8s %12s %13s\n' EEVDF "$e50" "$e99" "$emax" "$(ratio "$e99" "$f99")" 1.00
printf '%-12s %8s %8s %8s %12s %13s\n' SCHED_FIFO "$f50" "$f99" "$fmax" 1.00 "$(ratio "$f99" "$e99")"
printf '%-12s %8s %8s %8s %12s %13s\n' kairos "$k50" "$k99" "$kmax" "$(ratio "$k99" "$f99")" "$(ratio "$k99" "$e99")"
printf '\nBE throughput: stress-ng --cpu %s for %s s, LC app annotated but idle (bogo-ops)\n' "$(nproc)" "$secs"
printf '%-12s %12s %10s\n' scheduler bogo-ops "vs EEVDF"
printf '%-12s %12s %10s\n' EEVDF "$be_e" 1.00
printf '%-12s %12s %10s\n' kairos "$be_k" "$(ratio "$be_k" "$be_e")"
printf '\nhog bogo-ops during the latency runs: EEVDF %s, SCHED_FIFO %s, kairos %s\n' \
	"$(cat "$tmp/eevdf.hog")" "$(cat "$tmp/fifo.hog")" "$(cat "$tmp/kairos.hog")"
printf 'goals: kairos p99 <= 1.5x FIFO and <= 0.2x EEVDF; BE >= 0.9x EEVDF\n'
rm -rf "$tmp"
