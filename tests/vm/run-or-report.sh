#!/bin/sh
# run-or-report.sh NAME CMD [ARGS...]
# ctest's command for every vm test.
#  - inside the guest (KAIROS_GUEST=1) or on a native sched_ext host: run CMD;
#    in the guest also record its output and exit status under
#    $KAIROS_VM_RESULTS for the host to report;
#  - on the host in vm mode: report what the guest recorded for NAME.
set -u
name=$1
shift
results=${KAIROS_VM_RESULTS:?KAIROS_VM_RESULTS is not set}

if [ "${KAIROS_GUEST:-0}" = 1 ]; then
	"$@" >"$results/$name.log" 2>&1
	rc=$?
	echo "$rc" >"$results/$name.rc"
	cat "$results/$name.log"
	exit "$rc"
fi
if [ "${KAIROS_VM_MODE:-vm}" = native ]; then
	exec "$@"
fi
if [ ! -f "$results/$name.rc" ]; then
	echo "FAIL: the VM recorded no result for $name: the guest did not run" \
	     "it (see the vm_boot test's output and $results/guest-ctest.log)" >&2
	exit 1
fi
echo "== $name, as run inside the sched_ext VM =="
cat "$results/$name.log"
exit "$(cat "$results/$name.rc")"
