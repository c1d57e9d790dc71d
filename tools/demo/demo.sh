#!/bin/sh
# demo.sh BUILD_DIR [SECONDS]: the main job, run as root on a sched_ext
# kernel (the VM where the host has none; `tools/dev demo` does that).
# 1. An unmodified memcached in an LC cgroup next to batch work (stress-ng
#    --cpu and --stream on every CPU), at a low and a high load, on stock
#    Linux (EEVDF), the usual answer (a static cpuset partition) and Kairos
#    (kairos.ko + kairosd with the kairos sched_ext scheduler, the cgroup
#    annotated with kairosctl): the short form of tools/experiment/run.sh.
# 2. The allocator: cores granted to a libkairos server follow its load.
# Prints a table and the PNG paths; exits non-zero when any step fails.
set -eu
build=$(cd "$1" && pwd)
secs=${2:-3}
src=$(cd "$(dirname "$0")/../.." && pwd)
ko=$build/kmod-build/kairos.ko
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
inserted=
cleanup() {
	kairos_stop >/dev/null 2>&1 || true
	lc_cgroup_remove
	rmdir $CG/kd-spin 2>/dev/null || true
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

out=$build/experiments/demo
step "memcached (LC) next to batch work: stock EEVDF, static cpuset, Kairos; ${secs} s per load"
rm -rf "$out"
"$src/tools/experiment/run.sh" --build "$build" --service memcached --loads 30,70 \
	--systems eevdf,cpuset,kairos --duration "$secs" --capacity-duration 1 \
	--out "$out" >"$tmp/experiment.out" 2>"$tmp/experiment.err" || {
	cat "$tmp/experiment.out" "$tmp/experiment.err" >&2
	exit 1
}
sed 's/^/   /' "$tmp/experiment.out"
grep -E "capacity|CPUs" "$out/meta.txt" | sed 's/^/   /'
show "plots" "$out/p99_vs_load.png"
show "" "$out/be_vs_load.png"
show "all numbers" "$out/runs.csv"

step "insert kairos.ko, start kairosd (an LC cgroup with one guaranteed core to start with)"
lc_cgroup
if [ -f "$ko" ]; then
	insmod "$ko"
	inserted=1
else
	show "skipped" "$ko not built"
fi
kairos_start
show "/sys/kernel/sched_ext/state" "$(cat /sys/kernel/sched_ext/state)"

# --- allocator: grants follow the load ---
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

echo
echo "demo: done (emulated VM: compare rows of one run, not absolute numbers)"
