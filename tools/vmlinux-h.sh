#!/bin/sh
# vmlinux-h.sh SOURCE OUT [BPFTOOL]
# Writes OUT, the C types of a kernel from its BTF. SOURCE is either raw BTF
# (/sys/kernel/btf/vmlinux of a running kernel) or a vmlinuz image, from
# which the ELF vmlinux is found after a compression magic and unpacked.
set -eu
src=$1 out=$2 bpftool=${3:-bpftool}
[ -r "$src" ] || { echo "vmlinux-h: cannot read $src" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

if [ "$(head -c 2 "$src" | od -An -tx1 | tr -d ' ')" = "9feb" ]; then
	btf=$src	# raw BTF starts with magic 0xeb9f (little endian)
elif is_elf "$src"; then
	btf=$src
else
	btf=
	# zstd, xz and gzip magics, in the order kernels use them today.
	for codec in 'zstd:\x28\xb5\x2f\xfd' 'xz:\xfd\x37\x7a\x58\x5a\x00' \
		'gzip:\x1f\x8b\x08'; do
		tool=${codec%%:*} magic=${codec#*:}
		command -v "$tool" >/dev/null || continue
		for off in $(LC_ALL=C grep -aboP "$magic" "$src" | cut -d: -f1); do
			tail -c +$((off + 1)) "$src" | "$tool" -dc \
				>"$tmp/vmlinux" 2>/dev/null || true
			if is_elf "$tmp/vmlinux"; then
				btf=$tmp/vmlinux
				break 2
			fi
		done
	done
	[ -n "$btf" ] || { echo "vmlinux-h: no ELF kernel found inside $src" >&2; exit 1; }
fi
"$bpftool" btf dump file "$btf" format c >"$tmp/vmlinux.h"
grep -q 'struct sched_ext_ops {' "$tmp/vmlinux.h" ||
	echo "vmlinux-h: warning: $src has no sched_ext types" >&2
mv "$tmp/vmlinux.h" "$out"
