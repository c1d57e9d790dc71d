#!/bin/sh
# package_guest.sh KERNEL_RELEASE OUT_DIR: inside the sched_ext kernel booted
# on a root where the Kairos packages were installed (package_test.sh).
# Only installed files are used: modprobe finds the DKMS module, kairosd
# and kairosctl come from /usr. Writes OUT_DIR/guest.log, ending in
# "guest: PASS" or "guest: FAIL ...".
krel=$1 out=$2
log=$out/guest.log
: >"$log"
say() { echo "guest: $*" | tee -a "$log"; }
fails=0
fail() { say "FAIL $*"; fails=$((fails + 1)); }

[ "$(uname -r)" = "$krel" ] || fail "running $(uname -r), not $krel"
modprobe kairos || fail "modprobe kairos (the DKMS module)"
mod=$(modinfo -n kairos 2>/dev/null)
say "module $mod"
case $mod in */updates/dkms/*) ;; *) fail "kairos.ko is not DKMS's: $mod" ;; esac
[ -c /dev/kairos ] || fail "no /dev/kairos"
say "quantum_us $(cat /sys/kernel/kairos/quantum_us 2>/dev/null)"

mkdir -p /sys/fs/cgroup/pkg-lc
kairosctl annotate pkg-lc --class lc --guaranteed 1 --burstable 1 >>"$log" 2>&1 ||
	fail "kairosctl annotate"
[ "$(readlink -f "$(command -v kairosd)")" = /usr/sbin/kairosd ] || fail "kairosd is $(command -v kairosd), not /usr/sbin/kairosd"
# As the unit runs it: with the installed configuration file.
kairosd --config /etc/kairos/kairosd.toml >"$out/kairosd.log" 2>&1 &
pid=$!
i=0
while [ "$(cat /sys/kernel/sched_ext/state)" != enabled ] || ! kairosctl status 2>/dev/null |
	grep -q 'pkg-lc.*lc'; do
	i=$((i + 1))
	[ $i -gt 120 ] && break
	sleep 0.5
done
say "sched_ext $(cat /sys/kernel/sched_ext/state), ops $(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)"
[ "$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)" = kairos ] ||
	fail "the kairos scheduler is not attached"
kairosctl status >"$out/status.txt" 2>&1
grep -q "running (pid $pid)" "$out/status.txt" || fail "kairosctl status: $(head -1 "$out/status.txt")"
grep -q 'pkg-lc' "$out/status.txt" || fail "kairosctl status does not show pkg-lc"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || fail "kairosd exit $rc: $(tail -3 "$out/kairosd.log")"
[ "$(cat /sys/kernel/sched_ext/state)" = disabled ] || fail "sched_ext not disabled after kairosd"
kairosctl annotate pkg-lc --clear >/dev/null 2>&1
rmdir /sys/fs/cgroup/pkg-lc
rmmod kairos || fail "rmmod kairos"
[ "$fails" = 0 ] && say PASS
exit "$fails"
