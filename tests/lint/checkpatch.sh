#!/bin/sh
# checkpatch.sh CHECKPATCH_PL SRC_DIR: kernel style of kmod/. Fails on any
# checkpatch ERROR (warnings are printed, not fatal).
set -u
cp=$1 src=$2
[ -r "$cp" ] || { echo "FAIL: checkpatch.pl not found at '$cp' (tools/dev setup installs it)"; exit 1; }
files=$(find "$src/kmod" -name '*.[ch]' | sort)
[ -n "$files" ] || { echo "FAIL: no kmod sources found"; exit 1; }
out=$(perl "$cp" --no-tree --terse --show-types -f $files 2>&1)
echo "$out"
if echo "$out" | grep -q ': ERROR:'; then
	echo "FAIL: checkpatch reports errors in kmod/"
	exit 1
fi
echo "checkpatch: no errors in $(echo "$files" | wc -l) files"
