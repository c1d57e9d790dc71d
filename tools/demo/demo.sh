#!/bin/sh
# demo.sh BUILD_DIR: the main job, run as root on a sched_ext kernel (the VM
# where the host has none). Today it shows the foundation at work: the
# module and the scheduler load, schedule real work, and unload cleanly.
set -eu
build=$1
ko=$build/kmod-build/kairos.ko
kairosd=$build/scheduler/kairosd

step() { printf '\n== %s\n' "$*"; }
show() { printf '   %-36s %s\n' "$1" "$2"; }

step "kernel"
show "release" "$(uname -r)"
show "CPUs" "$(nproc)"
show "/sys/kernel/sched_ext/state" "$(cat /sys/kernel/sched_ext/state)"

step "insmod kairos.ko"
insmod "$ko"
show "/sys/kernel/kairos/version" "$(cat /sys/kernel/kairos/version)"

step "start kairosd (loads the kairos sched_ext scheduler)"
out=$(mktemp)
"$kairosd" >"$out" 2>&1 &
pid=$!
i=0
while [ "$(cat /sys/kernel/sched_ext/state)" != enabled ]; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 $pid 2>/dev/null; then
		cat "$out"
		echo "demo: the scheduler did not reach 'enabled'" >&2
		exit 1
	fi
	sleep 0.1
done
show "/sys/kernel/sched_ext/state" "$(cat /sys/kernel/sched_ext/state)"
show "/sys/kernel/sched_ext/root/ops" "$(cat /sys/kernel/sched_ext/root/ops)"

step "run work under kairos: 2 CPU hogs for 2 s"
start=$(date +%s%N)
for n in 1 2; do
	timeout 2 sh -c 'while :; do :; done' &
done
wait_hogs() { for p in $(jobs -p); do [ "$p" = "$pid" ] || wait "$p" || true; done; }
wait_hogs
show "elapsed" "$((($(date +%s%N) - start) / 1000000)) ms"
show "state" "$(cat /sys/kernel/sched_ext/state)"

step "stop kairosd (SIGTERM)"
kill -TERM $pid
wait $pid
sed 's/^/   /' "$out"
rm -f "$out"
show "/sys/kernel/sched_ext/state" "$(cat /sys/kernel/sched_ext/state)"

step "rmmod kairos"
rmmod kairos
show "/sys/kernel/kairos" "$([ -e /sys/kernel/kairos ] && echo present || echo gone)"
echo
echo "demo: done"
