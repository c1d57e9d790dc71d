#!/bin/sh
# demo.sh BUILD_DIR [SECONDS]: the main job, run as root on a sched_ext
# kernel (the VM where the host has none; `tools/dev demo` does that).
# A latency-critical service (cyclictest, in a cgroup annotated LC with one
# guaranteed core) runs next to a batch hog (stress-ng on every CPU), first
# on stock Linux (EEVDF), then under Kairos (kairos.ko + kairosd with the
# kairos sched_ext scheduler). Prints LC latency and batch throughput for
# both. Exits non-zero when any step fails.
set -eu
build=$(cd "$1" && pwd)
secs=${2:-10}
ko=$build/kmod-build/kairos.ko
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
inserted=
cleanup() {
	kairos_stop >/dev/null 2>&1 || true
	lc_cgroup_remove
	[ -n "$inserted" ] && rmmod kairos 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
show() { printf '   %-34s %s\n' "$1" "$2"; }

step "kernel"
show "release" "$(uname -r)"
show "CPUs" "$(nproc)"
show "/sys/kernel/sched_ext/state" "$(cat /sys/kernel/sched_ext/state)"
[ "$(cat /sys/kernel/sched_ext/state)" = disabled ] || {
	echo "demo: a sched_ext scheduler is already loaded" >&2
	exit 1
}

step "annotate the LC service's cgroup"
lc_cgroup
"$build/tools/kairosctl/kairosctl" status | sed 's/^/   /'

step "without Kairos: cyclictest (LC) next to stress-ng --cpu $(nproc) (batch), ${secs} s"
lat_run stock "$secs" other
show "done" "LC p50/p99/max $(cat "$tmp/stock.lat") us"

step "insert kairos.ko"
if [ -f "$ko" ]; then
	insmod "$ko"
	inserted=1
	for f in quantum_us period_us enabled; do
		[ -r /sys/kernel/kairos/$f ] && show "/sys/kernel/kairos/$f" "$(cat /sys/kernel/kairos/$f)"
	done
else
	show "skipped" "$ko not built; kairosd uses its default tunables"
fi

step "start kairosd (loads the kairos sched_ext scheduler, applies the annotation)"
kairos_start
show "/sys/kernel/sched_ext/state" "$(cat /sys/kernel/sched_ext/state)"
show "/sys/kernel/sched_ext/root/ops" "$(cat /sys/kernel/sched_ext/root/ops)"
sed 's/^/   /' "$kairosd_out"

step "with Kairos: the same workload, ${secs} s"
lat_run kairos "$secs" other
"$build/tools/kairosctl/kairosctl" status | sed 's/^/   /'
[ "$(cat /sys/kernel/sched_ext/state)" = enabled ] || {
	echo "demo: the scheduler stopped during the run" >&2
	exit 1
}

# --- allocator: grants follow the load (issue 6) ---
# A libkairos server in allocator mode (tools/spinserver: kthreads park
# when idle, only kairosd's grants wake them) in cgroup kd-spin annotated
# LC with 0 guaranteed and 1 burstable core, next to the batch hog:
# idle, open-loop load, idle. Prints the cores kairosd's allocator has
# granted to it (BPF owner map, via the status file) over time.
step "allocator: cores granted to a libkairos server follow its load"
if [ -n "$inserted" ] && [ -x "$build/tools/spinserver/spinserver" ]; then
	lc_cgroup_remove  # its guaranteed core is the one the server may burst on
	mkdir -p $CG/kd-spin
	"$build/tools/kairosctl/kairosctl" annotate kd-spin --class lc \
		--guaranteed 0 --burstable 1 >/dev/null
	stress-ng --cpu "$(nproc)" --timeout 12 --temp-path /tmp >/dev/null 2>&1 &
	hog=$!
	: >"$tmp/spin.out"  # exists before the first sample reads it
	sh -c "echo \$\$ > $CG/kd-spin/cgroup.procs && exec $build/tools/spinserver/spinserver \
		--kthreads 1 --first-cpu $(($(nproc) - 1)) --service-us 100 --phase 0:2000 --phase 500:4000 --phase 0:3000" \
		>"$tmp/spin.out" 2>&1 &
	spin=$!
	# One awk per sample (process starts are slow in the emulated VM):
	# the server's phase from its output, the app's granted cores and the
	# allocator's grant count from kairosd's status file.
	sample() {
		awk -v now="$1" -v t0="$t0" '
		FILENAME != "/run/kairos/status" { if (/phase 1 /) ph = "idle (after)"; else if (/phase 0 /) ph = "load" }
		FILENAME == "/run/kairos/status" && /^app .*cgroup=kd-spin / {
			for (i = 1; i <= NF; i++) if ($i ~ /^owned=/) { split($i, a, "="); own = a[2] } }
		FILENAME == "/run/kairos/status" && /^allocator / {
			for (i = 1; i <= NF; i++) if ($i ~ /^grants=/) { split($i, a, "="); gr = a[2] } }
		END { printf "   %-6.1f %-14s %-15s %s\n", now - t0, ph == "" ? "idle" : ph, own, gr }
		' "$tmp/spin.out" /run/kairos/status
	}
	printf '   %-6s %-14s %-15s %s\n' "t (s)" "server phase" "cores granted" "allocator grants so far"
	read -r t0 _ </proc/uptime
	while kill -0 $spin 2>/dev/null; do
		read -r now _ </proc/uptime
		sample "$now" || true
		sleep 0.3
	done
	wait $spin || { cat "$tmp/spin.out" >&2; exit 1; }
	wait $hog || true
	sed -n 's/^spinserver: phase 1 /   load phase: /p' "$tmp/spin.out"
	grep '^allocator ' /run/kairos/status | sed 's/^/   /'
	rmdir $CG/kd-spin 2>/dev/null || true
else
	show "skipped" "needs kairos.ko (parked kthreads are woken through /dev/kairos) and spinserver"
fi

step "stop kairosd (SIGTERM): back to the default scheduler"
kairos_stop
show "/sys/kernel/sched_ext/state" "$(cat /sys/kernel/sched_ext/state)"
if [ -n "$inserted" ]; then
	rmmod kairos
	inserted=
	show "rmmod kairos" "ok"
fi

read -r s50 s99 smax <"$tmp/stock.lat"
read -r k50 k99 kmax <"$tmp/kairos.lat"
sb=$(cat "$tmp/stock.hog")
kb=$(cat "$tmp/kairos.hog")
step "result (emulated VM: compare the two rows, not absolute numbers)"
printf '   %-16s %12s %12s %12s %16s\n' "" "LC p50 (us)" "LC p99 (us)" "LC max (us)" "batch bogo-ops"
printf '   %-16s %12s %12s %12s %16s\n' "stock Linux" "$s50" "$s99" "$smax" "$sb"
printf '   %-16s %12s %12s %12s %16s\n' "Kairos" "$k50" "$k99" "$kmax" "$kb"
printf '   %-16s %12s %12s %12s %16s\n' "Kairos / stock" "$(ratio "$k50" "$s50")" \
	"$(ratio "$k99" "$s99")" "$(ratio "$kmax" "$smax")" "$(ratio "$kb" "$sb")"
[ "$k99" != nan ] && [ "$s99" != nan ] && [ "$kb" -gt 0 ] && [ "$sb" -gt 0 ] || {
	echo "demo: a measurement is missing" >&2
	exit 1
}
echo
echo "demo: done"
