#!/bin/sh
# The 'asan' test: configures a gcc tree with
# -DKAIROS_SANITIZE=address,undefined in BUILD (reused between runs),
# builds the GoogleTest unit tests and runs them there. Any sanitizer
# report aborts its test (-fno-sanitize-recover=all, halt_on_error).
# usage: run-sanitized-tests.sh SRC BUILD [CTEST-ARGS...]
set -eu
[ $# -ge 2 ] || { echo "usage: $0 SRC BUILD [CTEST-ARGS...]" >&2; exit 2; }
src=$1 build=$2
shift 2

t0=$(date +%s)
mkdir -p "$build"
if ! cmake -S "$src" -B "$build" -G Ninja -DCMAKE_C_COMPILER=gcc \
	-DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DKAIROS_SANITIZE=address,undefined >"$build.configure.log" 2>&1; then
	cat "$build.configure.log"
	echo "asan: configuring the sanitizer tree failed" >&2
	exit 1
fi
cmake --build "$build" --target kairos_unit_tests
t1=$(date +%s)
echo "asan: tree built in $((t1 - t0)) s"

# Leaks are matched against lsan.supp by their whole allocation stack,
# which only the slow unwinder gives through DPDK: that test runs apart.
slow_unwind='dataplane_dpdk_test'
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=0
export LSAN_OPTIONS=suppressions=$src/tests/sanitize/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
tests=$(cat "$build/unit-tests.regex")
rc=0
ctest --test-dir "$build" -L unit -R "$tests" -E "^($slow_unwind)\$" \
	--output-on-failure "$@" || rc=$?
ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0 \
	ctest --test-dir "$build" -L unit -R "^($slow_unwind)\$" --output-on-failure "$@" || rc=$?
echo "asan: tests ran in $(( $(date +%s) - t1 )) s"
exit $rc
