#!/bin/sh
# The 'fuzz' test: configures a clang tree with -DKAIROS_FUZZ=ON in BUILD
# (reused between runs), builds the fuzz targets, then for each target
# replays its committed corpus (tests/fuzz/corpus/TARGET) and fuzzes it
# for SECONDS. Any crash, leak, sanitizer report or fuzzer-found input
# fails the test; the input is left in BUILD/artifacts/.
# usage: run-fuzzers.sh SRC BUILD SECONDS TARGET...
set -eu
[ $# -ge 4 ] || { echo "usage: $0 SRC BUILD SECONDS TARGET..." >&2; exit 2; }
src=$1 build=$2 secs=$3
shift 3

t0=$(date +%s)
mkdir -p "$build"
if ! cmake -S "$src" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang \
	-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DKAIROS_FUZZ=ON >"$build.configure.log" 2>&1; then
	cat "$build.configure.log"
	echo "fuzz: configuring the clang tree failed" >&2
	exit 1
fi
cmake --build "$build" --target kairos_fuzzers
echo "fuzz: tree ready in $(( $(date +%s) - t0 )) s"

mkdir -p "$build/artifacts" "$build/corpus"
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=
for t in "$@"; do
	bin=$build/tests/fuzz/$t
	seeds=$src/tests/fuzz/corpus/$t
	[ -d "$seeds" ] && [ -n "$(ls "$seeds")" ] || { echo "fuzz: $t has no corpus in $seeds" >&2; failed="$failed $t"; continue; }
	log=$build/artifacts/$t.log
	# Found inputs go to a corpus of this tree; the committed one is only read.
	mkdir -p "$build/corpus/$t"
	if "$bin" "$seeds"/* >"$log" 2>&1 &&
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
			"$build/corpus/$t" "$seeds" >>"$log" 2>&1; then
		stats=$(grep -E '^#[0-9]+.*DONE' "$log" | tail -n 1 | sed 's/.*DONE *//')
		execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		echo "fuzz: $t ok ($stats, $execs exec/s)"
	else
		echo "fuzz: $t FAILED (log: $log)" >&2
		tail -n 60 "$log" >&2
		failed="$failed $t"
	fi
done
echo "fuzz: $(( $(date +%s) - t0 )) s in all"
[ -z "$failed" ] || { echo "fuzz: failed:$failed" >&2; exit 1; }
