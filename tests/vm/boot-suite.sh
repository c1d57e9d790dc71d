#!/bin/sh
# boot-suite.sh BUILD_DIR
# ctest fixture for every vm test: boots the sched_ext kernel ONCE and runs
# all tests labelled 'vm' inside it; each records its result under
# $KAIROS_VM_RESULTS. Fails only when the VM itself could not do that.
set -u
build=$1
results=${KAIROS_VM_RESULTS:?}
src=${KAIROS_SOURCE_DIR:?}

if [ "${KAIROS_VM_MODE:-vm}" = native ]; then
	state=$(cat /sys/kernel/sched_ext/state 2>/dev/null) || {
		echo "FAIL: native mode, but this kernel has no sched_ext" >&2
		exit 1
	}
	[ "$(id -u)" = 0 ] || { echo "FAIL: vm tests need root" >&2; exit 1; }
	echo "native sched_ext host, state $state: vm tests run here"
	exit 0
fi

rm -rf "$results"
mkdir -p "$results"
# The guest runs ctest on this same build tree (it sees the host's files);
# -FS keeps it from re-running this fixture.
guest="cd '$build' && KAIROS_GUEST=1 ctest -L '^vm\$' -E '^vm_boot\$' -FS kairos_vm \
--output-on-failure --timeout 900 >'$results/guest-ctest.log' 2>&1; \
echo \$? >'$results/guest-ctest.rc'"
# The guest kernel's console goes to a file (the tests' own output goes
# to the log above): when the guest dies, its last words say why.
console=$results/guest-console.log
KAIROS_VM_VERBOSE=1 "$src/tools/vm-run.sh" --rwdir "$build" -- "$guest" 2>"$console"
rc=$?
grep '^vm-run:' "$console" >&2
if [ -f "$results/guest-ctest.log" ]; then
	echo "== ctest inside the VM =="
	cat "$results/guest-ctest.log"
fi
if [ "$rc" != 0 ] || [ ! -f "$results/guest-ctest.rc" ]; then
	echo "== the guest kernel's last messages ($console) =="
	grep -v '^vm-run:' "$console" | tail -n 80
	echo "FAIL: the VM did not complete the vm test suite (vm-run exit $rc)" >&2
	exit 1
fi
n=$(ls "$results"/*.rc 2>/dev/null | grep -vc guest-ctest.rc)
echo "the VM ran $n vm tests; each reports its own result"
exit 0
