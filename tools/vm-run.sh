#!/bin/sh
# vm-run.sh [--rwdir DIR] [--timeout S] [--boot-timeout S] -- CMD
# Boots the sched_ext kernel under qemu (virtme-ng, software emulation) with
# this machine's root filesystem read-only, runs CMD (a shell command line)
# as root in the guest, and exits with CMD's status. DIR is writable in the
# guest. A guest that does not boot within the boot timeout, or whose
# command does not finish within the timeout, fails with a clear message.
set -u
rwdir=${KAIROS_VM_RWDIR:-/srv/kairos-vm}
total=${KAIROS_VM_TIMEOUT:-2400}
boot=${KAIROS_VM_BOOT_TIMEOUT:-300}
cpus=${KAIROS_VM_CPUS:-2}
mem=${KAIROS_VM_MEMORY:-2G}
# KAIROS_VM_VERBOSE=1: the guest kernel's console (boot, oopses, panics)
# goes to stderr beside the command's output.
verbose=
[ "${KAIROS_VM_VERBOSE:-0}" = 1 ] && verbose=--verbose
while [ $# -gt 0 ]; do
	case $1 in
	--rwdir) rwdir=$2; shift 2 ;;
	--timeout) total=$2; shift 2 ;;
	--boot-timeout) boot=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "vm-run: unknown option $1" >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || { echo "vm-run: no command given" >&2; exit 2; }
cmd=$*

command -v vng >/dev/null || { echo "vm-run: vng (virtme-ng) not found" >&2; exit 1; }
rel=${KAIROS_KERNEL_RELEASE:-}
if [ -z "$rel" ]; then
	rel=$(ls /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n 1)
fi
image=/boot/vmlinuz-$rel
[ -n "$rel" ] && [ -r "$image" ] || { echo "vm-run: no kernel image at /boot/vmlinuz-*" >&2; exit 1; }
case $rwdir in /root|/root/*) echo "vm-run: --rwdir must be outside /root" >&2; exit 2 ;; esac
mkdir -p "$rwdir"

marker=$rwdir/.kairos-guest-booted
rcfile=$rwdir/.kairos-guest-rc
rm -f "$marker" "$rcfile"
# KVM is not usable for these guests here: force software emulation unless
# the operator asks for KVM explicitly.
accel=--disable-kvm
[ "${KAIROS_VM_KVM:-0}" = 1 ] && accel=
# GUEST=HOST form: virtme-ng checks a bare path relative to its cwd.
guest_cmd="touch '$marker'; ( $cmd ); echo \$? > '$rcfile'"
# virtme-ng gives the guest fresh overlays on these trees, which hide a
# checkout inside them (a clone in /tmp or /var/tmp): the guest runs the
# checkout's scripts and starts in this directory, so both are mounted
# explicitly, before DIR, which may lie inside the checkout (virtme-ng
# mounts read-only directories after writable ones, so these are writable
# too, or they would cover DIR).
overlaid() {
	case $1 in
	/etc/* | /lib/* | /home/* | /opt/* | /srv/* | /usr/* | /var/* | /tmp/*) return 0 ;;
	esac
	return 1
}
src=$(cd "$(dirname "$0")/.." && pwd)
here=$(pwd)
set --
overlaid "$src" && set -- --rwdir "$src=$src"
case "$here/" in
"$src/"* | "$rwdir/"*) ;;
*) overlaid "$here" && set -- "$@" --rwdir "$here=$here" ;;
esac

echo "vm-run: booting $rel ($cpus CPUs, $mem) to run: $cmd" >&2
timeout -k 15 "$total" vng --run "$image" $accel $verbose --cpus "$cpus" --memory "$mem" \
	"$@" --rwdir "$rwdir=$rwdir" --exec "$guest_cmd" </dev/null &
vm=$!
waited=0
while [ ! -e "$marker" ] && kill -0 "$vm" 2>/dev/null; do
	if [ "$waited" -ge "$boot" ]; then
		kill "$vm" 2>/dev/null
		wait "$vm" 2>/dev/null
		echo "vm-run: FAIL: the guest did not boot within ${boot}s" >&2
		exit 1
	fi
	sleep 1
	waited=$((waited + 1))
done
wait "$vm"
vrc=$?
if [ "$vrc" = 124 ] || [ "$vrc" = 137 ]; then
	echo "vm-run: FAIL: the guest command did not finish within ${total}s (hang?)" >&2
	exit 1
fi
if [ ! -e "$marker" ]; then
	echo "vm-run: FAIL: the guest never started its command (vng exit $vrc)" >&2
	exit 1
fi
if [ ! -f "$rcfile" ]; then
	echo "vm-run: FAIL: the guest stopped before its command finished (vng exit $vrc)" >&2
	exit 1
fi
exit "$(cat "$rcfile")"
