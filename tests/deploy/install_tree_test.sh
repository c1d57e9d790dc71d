#!/bin/sh
# install_tree_test.sh BUILD_DIR SRC_DIR VERSION
# `cmake --install` into a scratch root (DESTDIR): every file an operator
# or app developer needs is there, every installed binary answers
# --version with the project version, `systemd-analyze verify` accepts the
# installed units, and an app outside the tree builds and runs against the
# installed libkairos through find_package(Kairos) and through pkg-config
# (C++ and the C API).
set -u
build=$1 src=$2 version=$3
tmp=$(mktemp -d /tmp/kairos-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# /usr, as the packages: a build tree may have been configured for another
# prefix (files naming install paths are written for the one installed to).
DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; echo "FAIL: cmake --install"; exit 1; }

libdir=usr/$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
for f in usr/sbin/kairosd usr/bin/kairosctl usr/bin/kairos-loadgen usr/bin/kairos-sim \
	$libdir/kairos/bpf/kairos_sched.bpf.o $libdir/kairos/bpf/kairos_steer.bpf.o \
	usr/share/man/man8/kairosd.8 usr/share/man/man8/kairosctl.8 \
	usr/share/man/man1/kairos-loadgen.1 usr/share/man/man1/kairos-sim.1 \
	usr/share/bash-completion/completions/kairosctl \
	usr/share/bash-completion/completions/kairosd \
	usr/lib/systemd/system/kairosd.service usr/lib/systemd/system/kairosd-kmod.service \
	etc/default/kairosd etc/kairos/kairosd.toml usr/lib/modules-load.d/kairos.conf \
	$libdir/libkairos.a $libdir/libkairos_net.a $libdir/libkairos_contracts.a \
	usr/include/kairos/runtime.hpp usr/include/kairos/runtime_c.h usr/include/kairos/net.hpp \
	usr/include/kairos/version.hpp usr/include/kairos/contracts/devkairos.hpp \
	usr/include/kairos/uapi/linux/kairos.h \
	$libdir/pkgconfig/kairos.pc $libdir/pkgconfig/kairos-net.pc \
	$libdir/cmake/Kairos/KairosConfig.cmake $libdir/cmake/Kairos/KairosConfigVersion.cmake \
	$libdir/cmake/Kairos/KairosTargets.cmake \
	usr/src/kairos-$version/dkms.conf usr/src/kairos-$version/Kbuild \
	usr/src/kairos-$version/kmod/kairos_main.c \
	usr/src/kairos-$version/kmod/include/uapi/linux/kairos.h; do
	[ -e "$root/$f" ] || fail "not installed: /$f"
done
# Test helpers stay in the build tree.
for f in usr/bin/spinserver usr/bin/udpload usr/bin/kairos-echo; do
	[ -e "$root/$f" ] && fail "installed, but a test helper: /$f"
done

# --version: the one project version, exit 0.
for b in usr/sbin/kairosd usr/bin/kairosctl usr/bin/kairos-loadgen usr/bin/kairos-sim; do
	name=${b##*/}
	out=$("$root/$b" --version 2>&1)
	rc=$?
	[ "$rc" = 0 ] && [ "$out" = "$name $version" ] ||
		fail "$name --version: exit $rc, '$out' (want '$name $version')"
done
# The units point at the installed binary.
grep -q '^ExecStart=/usr/sbin/kairosd ' "$root/usr/lib/systemd/system/kairosd.service" ||
	fail "kairosd.service: ExecStart is not /usr/sbin/kairosd"

# Man pages: groff/man may be absent; check that each has a NAME and an
# EXIT STATUS section (exit codes documented).
for m in "$root"/usr/share/man/man*/*; do
	grep -q '^\.SH NAME' "$m" && grep -q '^\.SH EXIT STATUS' "$m" ||
		fail "${m#$root}: no NAME or EXIT STATUS section"
	grep -q "^\.TH .*\"Kairos $version\"" "$m" || fail "${m#$root}: .TH does not say Kairos $version"
done

# bash completion: the files parse and define their functions.
for c in kairosctl kairosd; do
	bash -n "$root/usr/share/bash-completion/completions/$c" ||
		fail "completion $c does not parse"
done

# bash completion behaves (bash-completion's _init_completion stubbed: the
# package may be absent here), and offers every option kairosd --help names.
comp() { # comp FILE WORD... : COMPREPLY for the last word, one line
	bash -c '
		_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
			cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; }
		_filedir() { :; }
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		"$(complete -p "$1" | sed "s/.*-F \([^ ]*\) .*/\1/")"
		echo "${COMPREPLY[*]}"' comp "$@"
}
cdir=$root/usr/share/bash-completion/completions
[ "$(comp "$cdir/kairosctl" kairosctl ann)" = annotate ] || fail "completion: kairosctl ann"
[ "$(comp "$cdir/kairosctl" kairosctl annotate x --class '')" = "lc be" ] ||
	fail "completion: kairosctl annotate --class"
[ "$(comp "$cdir/kairosd" kairosd --backend '')" = "auto sched_ext kmod" ] ||
	fail "completion: kairosd --backend"
offered=" $(comp "$cdir/kairosd" kairosd '') "
for o in $("$root/usr/sbin/kairosd" --help | grep -v '(tests)' | grep -o -- '--[a-z-]*' | sort -u); do
	case $offered in *" $o "*) ;; *) fail "completion: kairosd does not offer $o" ;; esac
done

# find_package(Kairos) from an app outside the tree.
cmake -S "$src/tests/deploy/consumer" -B "$tmp/consumer" -G Ninja \
	-DCMAKE_PREFIX_PATH="$root/usr" >"$tmp/consumer.log" 2>&1 &&
	cmake --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 ||
	{ cat "$tmp/consumer.log"; fail "find_package(Kairos): the app does not build"; }
if [ -x "$tmp/consumer/consumer" ]; then
	"$tmp/consumer/consumer" || fail "find_package(Kairos): the app failed"
	"$tmp/consumer/consumer_net" || fail "find_package(Kairos) Kairos::net: the app failed"
fi

# pkg-config: the same app, by hand, with the flags of kairos.pc.
export PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/$libdir/pkgconfig"
[ "$(pkg-config --modversion kairos)" = "$version" ] || fail "pkg-config: kairos version"
flags=$(pkg-config --cflags --libs kairos) || fail "pkg-config kairos"
netflags=$(pkg-config --cflags --libs kairos-net) || fail "pkg-config kairos-net"
# shellcheck disable=SC2086
g++ -std=c++20 -o "$tmp/pc_consumer" "$src/tests/deploy/consumer/consumer.cpp" $flags &&
	"$tmp/pc_consumer" || fail "pkg-config kairos: the C++ app does not build or run"
# shellcheck disable=SC2086
g++ -std=c++20 -o "$tmp/pc_net" "$src/tests/deploy/consumer/consumer_net.cpp" $netflags &&
	"$tmp/pc_net" || fail "pkg-config kairos-net: the app does not build or run"
# shellcheck disable=SC2086
gcc -std=c11 -o "$tmp/pc_c" "$src/tests/deploy/consumer/consumer_c.c" $flags &&
	"$tmp/pc_c" || fail "pkg-config kairos: the C API app does not build or run"

[ "$fails" = 0 ] && echo "PASS: install tree ($(du -sh "$root" | cut -f1))"
exit "$fails"
