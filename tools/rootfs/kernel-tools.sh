#!/bin/sh
# kernel-tools.sh: the tools the project takes from Debian's kernel source
# tarball (package linux-source), run inside the root filesystem once, while
# tools/dev.d/rootfs.sh makes it; that file hashes this one into the root's
# key, so a change here builds a new root.
#  - checkpatch.pl and its word lists: kmod/'s kernel style;
#  - veristat, the BPF selftests' verifier statistics tool, which Debian does
#    not package (tests/bpf/verifier_stats_vm_test). The 7.3 veristat calls
#    libbpf functions newer than trixie's libbpf 1.5 (bpf_object__prepare,
#    bpf_program__clone), so it is linked with a static libbpf built from the
#    same tarball; nothing else uses that libbpf.
# The tarball is left in place; the caller deletes it.
set -eu
tarball=$(ls /usr/src/linux-source-*.tar.* | sort -V | tail -n 1)
top=$(basename "$tarball" | sed 's/\.tar\..*//')
case $(uname -m) in
x86_64) arch=x86 ;;
aarch64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One pass over the tarball: decompressing it is most of the time.
tar -xf "$tarball" -C "$work" \
	"$top/scripts/checkpatch.pl" "$top/scripts/spelling.txt" \
	"$top/scripts/const_structs.checkpatch" \
	"$top/tools/lib/bpf" "$top/tools/include" "$top/tools/arch/$arch/include" \
	"$top/tools/testing/selftests/bpf/veristat.c"

dir=/usr/local/share/kairos/checkpatch
mkdir -p "$dir"
cp "$work/$top/scripts/checkpatch.pl" "$work/$top/scripts/spelling.txt" \
	"$work/$top/scripts/const_structs.checkpatch" "$dir/"

# libbpf's own include paths (tools/lib/bpf/Makefile); its public headers
# go under bpf/ as veristat includes them.
t=$work/$top/tools
mkdir -p "$work/out/bpf"
cp "$t"/lib/bpf/*.h "$work/out/bpf/"
for c in "$t"/lib/bpf/*.c; do
	cc -O2 -D_LARGEFILE64_SOURCE -D_FILE_OFFSET_BITS=64 \
		-I"$t/include" -I"$t/include/uapi" -I"$t/arch/$arch/include" \
		-I"$t/lib/bpf" -c "$c" -o "$work/out/$(basename "$c" .c).o"
done
ar rcs "$work/out/libbpf.a" "$work"/out/*.o
cc -O2 -I"$work/out" -o /usr/local/bin/veristat \
	"$t/testing/selftests/bpf/veristat.c" "$work/out/libbpf.a" -lelf -lz -lm
/usr/local/bin/veristat --help >/dev/null
