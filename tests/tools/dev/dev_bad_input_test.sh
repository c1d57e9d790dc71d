#!/bin/sh
# dev_bad_input_test.sh SRC_DIR: every bad input to tools/dev ends with a
# clear message and a non-zero exit, and leaves nothing half-made.
# Uses scratch cache directories; never touches the real cache.
set -u
src=$1
dev=$src/tools/dev
scratch=$(mktemp -d /tmp/kairos-devtest.XXXXXX)
trap 'rm -rf --one-file-system "$scratch"' EXIT
pass=0 fail=0

# expect NAME REGEX CMD...: CMD must exit non-zero and print REGEX.
expect() {
	name=$1 want=$2
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -Eq "$want"; then
		pass=$((pass + 1))
		echo "ok   $name"
	else
		fail=$((fail + 1))
		echo "FAIL $name (exit $rc, wanted /$want/), output:"
		printf '%s\n' "$out" | sed 's/^/     /'
	fi
}

export KAIROS_MODE=rootfs

expect "unknown subcommand" "unknown command 'frobnicate'" "$dev" frobnicate
expect "bad KAIROS_MODE" "KAIROS_MODE must be" env KAIROS_MODE=fast "$dev" build
expect "vm without a command" "usage: tools/dev vm -- CMD" "$dev" vm --
expect "run without a command" "usage: tools/dev run -- CMD" "$dev" run --

# A PATH that has the basics but not unshare.
mkdir -p "$scratch/bin"
for t in sh id sed cat cut dirname uname sha256sum awk grep head tr printf \
	env mkdir flock chroot df; do
	p=$(command -v "$t") && ln -sf "$p" "$scratch/bin/$t"
done
expect "missing tool" "required tool 'unshare' not found" \
	env PATH="$scratch/bin" KAIROS_CACHE_DIR="$scratch/c0" "$dev" setup

expect "no disk space" "not enough disk space in $scratch/c1" \
	env KAIROS_CACHE_DIR="$scratch/c1" KAIROS_MIN_FREE_GB=1000000 "$dev" setup

# An interrupted setup is detected and removed before anything else.
key_path=$("$dev" rootfs-path)
key=$(basename "$key_path")
mkdir -p "$scratch/c2/$key.partial/etc"
expect "interrupted setup is removed" "removing an interrupted setup" \
	env KAIROS_CACHE_DIR="$scratch/c2" KAIROS_MIN_FREE_GB=1000000 "$dev" setup
if [ -e "$scratch/c2/$key.partial" ]; then
	fail=$((fail + 1)); echo "FAIL the interrupted setup was left behind"
else
	pass=$((pass + 1)); echo "ok   interrupted setup gone"
fi

# A cache whose marker says complete but whose contents are not.
mkdir -p "$scratch/c3/$key/usr/bin"
(cd "$scratch/c3/$key" && "$dev" rootfs-key >.kairos-rootfs-complete)
expect "broken cache" "is broken.*|missing /usr/bin/clang" \
	env KAIROS_CACHE_DIR="$scratch/c3" "$dev" setup
expect "broken cache says how to fix" "tools/dev setup --rebuild" \
	env KAIROS_CACHE_DIR="$scratch/c3" "$dev" build

# No network: a mirror nobody listens on (a closed port on loopback).
expect "no network" "debootstrap failed \(is the network reachable" \
	env KAIROS_CACHE_DIR="$scratch/c4" KAIROS_MIN_FREE_GB=0 \
	KAIROS_DEBIAN_MIRROR=http://127.0.0.1:9/debian "$dev" setup
[ ! -e "$scratch/c4/$key" ] && { pass=$((pass + 1)); echo "ok   no network leaves no cache"; } ||
	{ fail=$((fail + 1)); echo "FAIL no network left a cache behind"; }

# Not root.
if command -v setpriv >/dev/null 2>&1; then
	expect "not root" "needs root" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env KAIROS_CACHE_DIR="$scratch/c5" "$dev" setup
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
