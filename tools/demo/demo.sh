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
. "$(dirname "$0")/../schedbench/lib.sh"
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
