#!/bin/sh
# bench/kairosd/schedbench/hogs.sh BUILD_DIR [SECONDS] [ROUNDS] [HOG_COUNTS]: why
# is kairos' LC p99 not far below EEVDF's here? Side by side in one boot:
# the timer floor (cyclictest with no hog at all), then EEVDF, SCHED_FIFO
# and kairos with stress-ng --cpu H for each H in HOG_COUNTS (default
# "N 4N", N = CPUs). Configurations are interleaved over ROUNDS rounds; the
# table shows medians. When kairos.ko is built, a fourth configuration
# runs kairosd --backend kmod (LC threads in the module's class, no
# sched_ext scheduler). Run it in the VM:
#   tools/dev vm -- bench/kairosd/schedbench/hogs.sh build/rootfs 6 3
set -eu
build=$(cd "$1" && pwd)
secs=${2:-6}
rounds=${3:-3}
n=$(nproc)
counts=${4:-"$n $((4 * n))"}
. "$(dirname "$0")/../../../tools/demo/lib.sh"
tmp=$(mktemp -d)
ko=$build/kmod-build/kairos.ko
[ -f "$ko" ] || ko=
trap 'kairos_stop >/dev/null 2>&1 || true; [ -z "$ko" ] || rmmod kairos 2>/dev/null || true; lc_cgroup_remove' EXIT

# kmod_start / kmod_stop: kairos.ko loaded and kairosd keeping the LC
# cgroup's threads in its class.
kmod_start() {
	insmod "$ko"
	kairosd_out=$tmp/kairosd-kmod.out
	"$build/kairosd/kairosd" --backend kmod --status-file "$tmp/status" >"$kairosd_out" 2>&1 &
	kairosd_pid=$!
	i=0
	until grep -q "backend=kmod" "$tmp/status" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 300 ] && kill -0 $kairosd_pid 2>/dev/null || {
			cat "$kairosd_out" >&2
			return 1
		}
		sleep 0.1
	done
}
kmod_stop() {
	kairos_stop
	rmmod kairos
}
require_no_scheduler schedbench
lc_cgroup
echo "hogs: $n CPUs, kernel $(uname -r), $rounds rounds of ${secs} s, hogs: $counts" >&2
r=1
while [ $r -le "$rounds" ]; do
	echo "hogs: round $r" >&2
	lat_run floor.$r "$secs" other 0
	lat_run floorfifo.$r "$secs" fifo 0
	for h in $counts; do
		lat_run eevdf$h.$r "$secs" other "$h"
		lat_run fifo$h.$r "$secs" fifo "$h"
		kairos_start
		lat_run kairos$h.$r "$secs" other "$h"
		kairos_stop
		if [ -n "$ko" ]; then
			kmod_start
			# proof that cyclictest's threads joined the class
			(sleep 3; grep '^class' "$tmp/status" >>"$tmp/class-members.txt") &
			lat_run kmod$h.$r "$secs" other "$h"
			kmod_stop
		fi
	done
	r=$((r + 1))
done

median() {
	cat "$tmp"/"$1".*.lat | awk -v k="$2" '{ print $k }' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
row() {	# label name fifo99 eevdf99
	p99=$(median "$2" 2)
	printf '%-22s %8s %8s %8s %9s %10s\n' "$1" "$(median "$2" 1)" "$p99" "$(median "$2" 3)" \
		"$(ratio "$p99" "$3")" "$(ratio "$p99" "$4")"
}
printf '\nper round (p50 p99 max us):\n'
for f in "$tmp"/*.lat; do
	printf '  %-16s %s\n' "$(basename "$f" .lat)" "$(cat "$f")"
done | sort
printf '\ncyclictest -t1 -i1000 in an LC cgroup (1 guaranteed core); median of %s rounds of %s s (us)\n' "$rounds" "$secs"
printf '%-22s %8s %8s %8s %9s %10s\n' config p50 p99 max "p99/FIFO" "p99/EEVDF"
row "floor: no hog, OTHER" floor "$(median floorfifo 2)" 0
row "floor: no hog, FIFO" floorfifo "$(median floorfifo 2)" 0
for h in $counts; do
	f99=$(median fifo$h 2) e99=$(median eevdf$h 2)
	row "EEVDF, $h hogs" eevdf$h "$f99" "$e99"
	row "SCHED_FIFO, $h hogs" fifo$h "$f99" "$e99"
	row "kairos, $h hogs" kairos$h "$f99" "$e99"
	[ -z "$ko" ] || row "kmod class, $h hogs" kmod$h "$f99" "$e99"
	printf '%-22s EEVDF %s, FIFO %s, kairos %s\n' "  hog bogo-ops" \
		"$(cat "$tmp"/eevdf$h.*.hog | sort -n | sed -n 2p)" \
		"$(cat "$tmp"/fifo$h.*.hog | sort -n | sed -n 2p)" \
		"$(cat "$tmp"/kairos$h.*.hog | sort -n | sed -n 2p)"
done
[ -z "$ko" ] || { echo "LC class during the kmod runs (3 s in):"; sort "$tmp/class-members.txt" | uniq -c; }
rm -rf "$tmp"
