#!/bin/sh
# bench/kv/kv_bench.py refuses bad flags with a usage error (exit 2) and
# a message naming the flag, before it starts any server.
# Usage: kv_bench_cli_test.sh SOURCE_DIR BUILD_DIR
src=$1 build=$2
fail=0
check() { # MESSAGE ARGS...
	want=$1
	shift
	out=$(python3 "$src/bench/kv/kv_bench.py" --build "$build" "$@" 2>&1)
	rc=$?
	if [ "$rc" != 2 ]; then
		echo "FAIL: kv_bench.py $* exited $rc, not 2: $out"
		fail=1
	elif ! printf '%s' "$out" | grep -qF -- "$want"; then
		echo "FAIL: kv_bench.py $*: no '$want' in: $out"
		fail=1
	fi
}
check "--rates wants comma-separated integers" --rates 10k,20k
check "--loads wants integers >= 1" --loads 0,100
check "--kv-spin-us wants integers >= 0" --kv-spin-us=-5
check "--protocols wants tcp, udp or tcp,udp" --protocols sctp
check "--protocols wants" --protocols ,
check "--server-cpus wants a CPU list" --server-cpus one
check "--client-cpus wants a CPU list" --client-cpus 0-
check "--threads wants a number >= 1" --threads 0
check "--repeats wants a number >= 1" --repeats 0
check "--slo-factor wants a number > 0" --slo-factor 0
check "unrecognized arguments" --no-such-flag
check "no kairos-kv at /nonexistent" --build /nonexistent  # the last --build wins
check "--kv-baseline: /nonexistent/kairos-kv is not an executable" \
	--kv-baseline /nonexistent/kairos-kv
[ "$fail" = 0 ] && echo "kv_bench.py: every bad flag refused"
exit "$fail"
