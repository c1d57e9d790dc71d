#!/bin/sh
# alloc_vm_bench.sh BUILD_DIR: kairosd's allocator measured inside the
# sched_ext VM (docs/bench/allocator.md). Run as root:
#   tools/dev vm -- 'sh bench/kairosd/alloc_vm_bench.sh build/rootfs'
# 1. Poll cost inside kairosd: a spinserver with N idle (parked) kthreads,
#    N = 1, 16, 64; kairosd's own counters (polls that decided nothing)
#    over 2 s. Peer in the same boot: allocator_bench's
#    read+poll of the same number of lines (same code path, no kairosd).
# 2. Decision latency: spinserver requests that arrive while no kthread
#    runs ("cold") wait for kairosd to see them, grant a core and GRANT the
#    kthread; their queueing delay is congestion-visible -> kthread running.
#    Next to a BE hog on every CPU, at 200 and 1000 requests/s.
set -eu
build=$(cd "$1" && pwd)
CG=/sys/fs/cgroup
tmp=$(mktemp -d)
kpid=
cleanup() {
	[ -n "$kpid" ] && kill "$kpid" 2>/dev/null && wait "$kpid" 2>/dev/null || true
	echo 1 >$CG/kab/cgroup.kill 2>/dev/null || true
	sleep 0.3
	rmdir $CG/kab 2>/dev/null || true
	rmmod kairos 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
insmod "$build/kmod-build/kairos.ko"
mkdir -p $CG/kab
"$build/tools/kairosctl/kairosctl" annotate kab --class lc --guaranteed 0 --burstable 1 >/dev/null
"$build/kairosd/kairosd" --status-file "$tmp/status" --allocator-low-power \
	--poll-us 50 --scan-interval-ms 50 >"$tmp/kairosd.out" 2>&1 &
kpid=$!
i=0
until grep -q '^allocator ' "$tmp/status" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 300 ] || { cat "$tmp/kairosd.out"; exit 1; }
	sleep 0.1
done
field() { sed -n "s/^allocator .* $1=\([0-9.]*\).*/\1/p" "$tmp/status"; }
spin() { # spin KTHREADS PHASES... (runs in the LC cgroup)
	k=$1; shift
	# exec: in "spin ... &", $! is then the spinserver itself
	exec sh -c "echo \$\$ > $CG/kab/cgroup.procs && exec $build/tools/spinserver/spinserver \
		--kthreads $k --first-cpu $(($(nproc) - 1)) --service-us 50 $*"
}

echo "== poll cost inside kairosd (low-power, 50 us polls; VM under TCG)"
printf '%-9s %-18s %-18s %-18s\n' kthreads "mean ns/quiet poll" "median ns/poll" "median ns/kthread"
for k in 1 16 64; do
	spin "$k" --phase 0:60000 >"$tmp/spin.$k" 2>&1 &
	sp=$!
	i=0  # until kairosd drives it (a runtime of 64 kthreads starts slowly here)
	until [ "$(field kthreads)" = "$k" ]; do
		i=$((i + 1)); [ $i -lt 200 ] || { echo "runtime of $k kthreads not seen"; cat "$tmp/kairosd.out"; exit 1; }
		sleep 0.1
	done
	sleep 1.2  # the median covers the last 1024 polls: all with this runtime
	p0=$(field quiet_polls); n0=$(field quiet_ns)
	sleep 2
	p1=$(field quiet_polls); n1=$(field quiet_ns)
	awk -v k="$k" -v p="$((p1 - p0))" -v n="$((n1 - n0))" -v m="$(field quiet_poll_ns_p50)" \
		'BEGIN { printf "%-9s %-18.0f %-18s %-18.1f (%d polls)\n", k, p ? n / p : 0, m, m / k, p }'
	kill "$sp" 2>/dev/null || true; wait "$sp" 2>/dev/null || true
	rm -f "/dev/shm/kairos-rt.$sp"
done

echo "== peer: allocator_bench (read lines + policy poll), same VM"
"$build/bench/kairosd/allocator_bench" --benchmark_filter='BM_(PollLoop|ReadLinesOnly)/kthreads:(16|64)/writer:0' \
	--benchmark_min_time=0.2s 2>/dev/null | grep -E '^BM_' || true

echo "== decision latency: cold requests next to a BE hog on every CPU"
hogs=
for c in $(seq "$(nproc)"); do
	sh -c 'while :; do :; done' &
	hogs="$hogs $!"
done
sleep 0.5
latency() { # latency LABEL: both rates against the running kairosd
	for rate in 200 1000; do
		printf '%s: ' "$1"
		(spin 1 --phase 0:1500 --phase "$rate:5000") | grep 'phase 1' || true
	done
	grep '^allocator ' "$tmp/status"
}
latency "ordinary thread, 50 us polls"
kill "$kpid"; wait "$kpid" || true
grep 'allocator:' "$tmp/kairosd.out" || true
# The same with the poll loop SCHED_FIFO (opt-in; slower polls so that the
# emulated CPU 0 keeps time for the tasks pinned there).
"$build/kairosd/kairosd" --status-file "$tmp/status" --allocator-low-power \
	--poll-us 200 --allocator-rt-priority 1 --scan-interval-ms 50 >"$tmp/kairosd.out" 2>&1 &
kpid=$!
sleep 3
latency "SCHED_FIFO thread, 200 us polls"
# shellcheck disable=SC2086
kill $hogs 2>/dev/null || true
kill "$kpid"; wait "$kpid" || true
kpid=
grep 'allocator:' "$tmp/kairosd.out" || true
