#!/bin/sh
# systemd_units_test.sh BUILD_DIR
# `systemd-analyze verify` on every installed unit, in a scratch root where
# the units' ExecStart binaries are installed (DESTDIR) beside systemd's
# own targets; no warning is tolerated. A unit broken on purpose must fail
# (the check can fail), and the service's key settings are there.
set -u
build=$1
tmp=$(mktemp -d /tmp/kairos-units-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

DESTDIR=$root cmake --install "$build" --prefix /usr --component daemon >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; echo "FAIL: cmake --install"; exit 1; }
units=$root/usr/lib/systemd/system
ls "$units"/*.service >/dev/null 2>&1 || { echo "FAIL: no units installed in $units"; exit 1; }
mine=$(cd "$units" && ls)
# What the units refer to (default dependencies, modules-load) comes
# from this machine's systemd.
cp -n /usr/lib/systemd/system/*.target /usr/lib/systemd/system/systemd-modules-load.service \
	"$units/"
# ExecReload's kill(1) comes from this machine too.
mkdir -p "$root/usr/bin" && cp /usr/bin/kill "$root/usr/bin/kill"

for u in $mine; do
	out=$(systemd-analyze verify --man=no --root="$root" "/usr/lib/systemd/system/$u" 2>&1)
	rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify $u: exit $rc: $out"
	echo "verified: $u"
done

# The check can fail: a unit whose binary is missing and whose Type is bad.
sed 's|/usr/sbin/kairosd|/usr/sbin/kairosd-missing|; s|^Type=notify|Type=bogus|' \
	"$units/kairosd.service" >"$units/kairos-broken.service"
systemd-analyze verify --man=no --root="$root" /usr/lib/systemd/system/kairos-broken.service \
	>/dev/null 2>&1 && fail "verify accepted a broken unit"

s=$units/kairosd.service
for want in 'Type=notify' 'ConditionPathIsDirectory=/sys/kernel/sched_ext' \
	'Restart=on-failure' 'EnvironmentFile=-/etc/default/kairosd' 'WatchdogSec=30s' \
	'ExecStart=/usr/sbin/kairosd --config /etc/kairos/kairosd.toml $KAIROSD_ARGS' \
	'ExecReload=/usr/bin/kill -HUP $MAINPID'; do
	grep -qxF "$want" "$s" || fail "kairosd.service has no '$want'"
done
k=$units/kairosd-kmod.service
grep -qxF 'ExecStart=/usr/sbin/kairosd --backend kmod --config /etc/kairos/kairosd.toml $KAIROSD_ARGS' "$k" ||
	fail "kairosd-kmod.service does not run the kmod backend"
grep -q '^ConditionPathIsDirectory' "$k" && fail "kairosd-kmod.service must not need sched_ext"
grep -qxF 'Conflicts=kairosd-kmod.service' "$s" || fail "the two services do not conflict"
grep -qx 'KAIROSD_ARGS=""' "$root/etc/default/kairosd" || fail "/etc/default/kairosd: no KAIROSD_ARGS"
[ "$fails" = 0 ] && echo "PASS: units"
exit "$fails"
