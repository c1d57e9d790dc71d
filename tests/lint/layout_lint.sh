#!/bin/sh
# layout_lint.sh SRC_DIR: the repository's dependency rule and naming rules.
#   {tools, apps} -> {kairosd, runtime} -> {contracts, packetio} -> kernel-side ABIs
#   (kmod/include/uapi, bpf/include, xdp/include); packetio depends on
#   contracts; kairosd and runtime never include or link each other.
# Fails (exit 1) with one line per broken rule:
#   - runtime/ includes or links kairosd/ code, or kairosd/ the runtime's;
#   - contracts/ or packetio/ include or link kairosd/, runtime/, tools/ or
#     bench/ code; contracts/ includes or links packetio/;
#   - a quoted include that is not in the including file's own part;
#   - '#include "../' outside tests/, '#include "../../' anywhere;
#   - a second file that opens /dev/kairos (contracts/src/devkairos.cpp is
#     the one wrapper);
#   - two headers with the same file name;
#   - a backticked repository path in README.md, a folder README or
#     docs/*.md that does not exist.
set -u
src=${1:?usage: layout_lint.sh SRC_DIR}
cd "$src" || exit 1
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# Tracked-looking sources: everything but build trees and hidden folders.
sources() {
	find "$@" -path ./build -prune -o -path '*/.*' -prune -o \
		-type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) \
		-print 2>/dev/null | sed 's#^\./##' | sort
}

# The CMake targets a folder defines (add_library / add_executable).
targets_of() {
	find "$1" -name CMakeLists.txt -exec \
		sed -n 's/^[[:space:]]*add_\(library\|executable\)(\([A-Za-z0-9_-]*\).*/\2/p' {} + |
		grep -v '^kairos_bench\|^$' | sort -u
}

# check_part PART FORBIDDEN_INCLUDE_RE FORBIDDEN_TARGET_DIRS...
# Includes in PART matching the regex, and CMake links in PART naming a
# target defined in one of the forbidden folders, are failures.
check_part() {
	part=$1 re=$2
	shift 2
	[ -d "$part" ] || return 0
	for f in $(sources "$part"); do
		grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*$re" "$f" |
			while IFS= read -r line; do
				echo "FAIL: $f:$line: $part/ must not include this (dependency rule)"
			done
	done
	for dir in "$@"; do
		[ -d "$dir" ] || continue
		for t in $(targets_of "$dir"); do
			find "$part" -name CMakeLists.txt -exec grep -nHE \
				"target_link_libraries\(.*[[:space:]]$t([[:space:])]|\$)" {} + |
				while IFS= read -r line; do
					echo "FAIL: $line: $part/ must not link $t (defined in $dir/)"
				done
		done
	done
}

runtime_hdrs='<kairos/(runtime|net|sync|ordered|runtime_c)\.h(pp)?>'
kairosd_hdrs='<kairos/(allocator|relay|kairosd)/'
bench_hdrs='<kairos/bench/'
out=$(
	check_part runtime "($kairosd_hdrs|$bench_hdrs)" kairosd bench apps
	check_part kairosd "($runtime_hdrs|$bench_hdrs)" runtime bench apps
	check_part contracts "($runtime_hdrs|$kairosd_hdrs|$bench_hdrs|<kairos/packetio/)" \
		runtime kairosd packetio tools bench apps
	check_part packetio "($runtime_hdrs|$kairosd_hdrs|$bench_hdrs)" \
		runtime kairosd tools bench apps
)
[ -n "$out" ] && { echo "$out"; fails=$((fails + $(echo "$out" | wc -l))); }

# Quoted includes: a file's own folder, or generated (*.skel.h, vmlinux.h),
# or for tests/bench a helper of tests/support. Anything else reaches
# across parts through an include path and hides the edge.
for f in $(sources contracts packetio runtime kairosd tools apps); do
	dir=${f%/*}
	grep -oE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]+"' "$f" |
		sed 's/.*"\(.*\)"/\1/' | while IFS= read -r inc; do
			case $inc in *.skel.h | vmlinux.h) continue ;; esac
			[ -f "$dir/$inc" ] && continue
			# a part's sources may include its own src/ headers (src/net/ -> src/)
			part=${f%%/*}
			[ -n "$(find "$part" -path "*/$inc" -print -quit)" ] && continue
			echo "FAIL: $f: #include \"$inc\" is not in $part/ (use a namespaced <kairos/...> header)"
		done
done >"${TMPDIR:-/tmp}/layout_lint.$$"
if [ -s "${TMPDIR:-/tmp}/layout_lint.$$" ]; then
	cat "${TMPDIR:-/tmp}/layout_lint.$$"
	fails=$((fails + $(wc -l <"${TMPDIR:-/tmp}/layout_lint.$$")))
fi
rm -f "${TMPDIR:-/tmp}/layout_lint.$$"

# Parent-relative includes.
for f in $(sources .); do
	case $f in tests/*) re='#[[:space:]]*include[[:space:]]*"(\.\./){2}' ;;
	*) re='#[[:space:]]*include[[:space:]]*"\.\./' ;; esac
	grep -nE "$re" "$f" | while IFS= read -r line; do
		echo "FAIL: $f:$line: parent-relative include (link a target instead)"
	done
done >"${TMPDIR:-/tmp}/layout_lint_rel.$$"
if [ -s "${TMPDIR:-/tmp}/layout_lint_rel.$$" ]; then
	cat "${TMPDIR:-/tmp}/layout_lint_rel.$$"
	fails=$((fails + $(wc -l <"${TMPDIR:-/tmp}/layout_lint_rel.$$")))
fi
rm -f "${TMPDIR:-/tmp}/layout_lint_rel.$$"

# The one /dev/kairos wrapper. Tests, benchmarks and the module itself
# talk to the device directly on purpose.
for f in $(sources contracts packetio runtime kairosd tools); do
	[ "$f" = contracts/src/devkairos.cpp ] && continue
	if grep -E 'open[[:space:]]*\([^)]*(KAIROS_DEV_PATH|"/dev/kairos"|dev_path)' "$f" |
		grep -qv 'DevKairosDevice::open'; then
		fail "$f opens /dev/kairos itself: use DevKairosDevice (contracts/include/kairos/contracts/devkairos.hpp)"
	fi
done

# Header names are unique across the repository.
dups=$(sources . | grep -E '\.(h|hpp)$' | sed 's#.*/##' | sort | uniq -d)
for d in $dups; do
	fail "two headers named $d: $(sources . | grep "/$d\$" | tr '\n' ' ')"
done

# Backticked repository paths in the documentation exist. A path starts
# with a top-level folder or file; folder READMEs may also name paths
# relative to their folder. Globs must match something.
tops=$(find . -mindepth 1 -maxdepth 1 ! -name build ! -name '.git' | sed 's#^\./##' | tr '\n' ' ')
docs=$(find . -path ./build -prune -o -name README.md -print -o -path './docs/*.md' -print |
	sed 's#^\./##' | sort)
for doc in $docs; do
	ddir=${doc%/*}
	[ "$ddir" = "$doc" ] && ddir=.
	grep -oE '`[^` ]+`' "$doc" | tr -d '`' | sort -u | while IFS= read -r p; do
		p=${p%%:*}
		p=${p%%#*}
		p=${p%,}
		case $p in /* | *'$'* | *'<'* | *'{'* | '' | http*) continue ;; esac
		first=${p%%/*}
		known=0
		for t in $tops; do [ "$first" = "$t" ] && known=1; done
		if [ $known = 0 ] && [ "$ddir" != . ] && [ -e "$ddir/$first" ]; then known=2; fi
		[ $known = 0 ] && continue
		base=.
		[ $known = 2 ] && base=$ddir
		# shellcheck disable=SC2086
		set -- $base/$p
		[ -e "$1" ] && continue
		echo "FAIL: $doc names \`$p\`, which does not exist"
	done
done >"${TMPDIR:-/tmp}/layout_lint_docs.$$"
if [ -s "${TMPDIR:-/tmp}/layout_lint_docs.$$" ]; then
	cat "${TMPDIR:-/tmp}/layout_lint_docs.$$"
	fails=$((fails + $(wc -l <"${TMPDIR:-/tmp}/layout_lint_docs.$$")))
fi
rm -f "${TMPDIR:-/tmp}/layout_lint_docs.$$"

if [ "$fails" -gt 0 ]; then
	echo "layout lint: $fails problem(s)"
	exit 1
fi
echo "layout lint: dependency rule, includes, /dev/kairos, header names and documented paths ok"
