#!/bin/sh
# vm_run_failures_test.sh SRC_DIR: a guest that cannot boot, boots too
# slowly or hangs makes tools/vm-run.sh fail with a clear message within a
# bounded time; a guest command's exit status comes back unchanged.
set -u
src=$1
run=$src/tools/vm-run.sh
scratch=$(mktemp -d /tmp/kairos-vmrun.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
pass=0 fail=0

# expect NAME WANT_RC REGEX MAX_S CMD...
expect() {
	name=$1 want_rc=$2 want=$3 max=$4
	shift 4
	t0=$(date +%s)
	out=$("$@" 2>&1)
	rc=$?
	dt=$(($(date +%s) - t0))
	if [ "$rc" -eq "$want_rc" ] && printf '%s' "$out" | grep -Eq "$want" && [ "$dt" -le "$max" ]; then
		pass=$((pass + 1))
		echo "ok   $name (${dt}s)"
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $rc (want $want_rc), ${dt}s (max $max), wanted /$want/:"
		printf '%s\n' "$out" | tail -n 15 | sed 's/^/     /'
	fi
}

expect "no command" 2 "no command given" 5 "$run" --rwdir "$scratch" --
expect "unknown option" 2 "unknown option --frob" 5 "$run" --frob -- true
expect "missing kernel" 1 "no kernel image" 5 \
	env KAIROS_KERNEL_RELEASE=0.0-none "$run" --rwdir "$scratch" -- true
expect "boot timeout" 1 "did not boot within 1s" 30 \
	"$run" --rwdir "$scratch" --boot-timeout 1 -- true
# One real boot: the status of the guest command comes back...
expect "exit status comes back" 7 "booting" 200 \
	"$run" --rwdir "$scratch" -- 'exit 7'
# ...and a command that hangs is stopped at the overall timeout.
expect "hang is bounded" 1 "did not finish within 45s" 120 \
	"$run" --rwdir "$scratch" --timeout 45 -- 'sleep 100000'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
