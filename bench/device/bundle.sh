#!/bin/bash
# Packs what the multi-core benchmarks (bench/device/run.sh) need onto a
# machine that has no copy of the project's root filesystem, such as a
# lent 16-CPU machine: the programs, every shared library they load and
# the dynamic loader, all from the root filesystem. Each program is
# started through that loader by a wrapper at the path the build tree
# has, so the other machine's own libraries never mix in.
#
#   tools/dev run -- bench/device/bundle.sh [BUILD_DIR [OUT_DIR]]
#
# BUILD_DIR defaults to build/rootfs, OUT_DIR to build/device-bundle
# (about 20 MiB; ignored by git, so it travels only where it is carried).
set -euo pipefail

build=${1:-build/rootfs}
out=${2:-build/device-bundle}
[ -x "$build/apps/kv/kairos-kv" ] || { echo "bundle.sh: no $build/apps/kv/kairos-kv (build first)" >&2; exit 2; }
command -v memcached >/dev/null || { echo "bundle.sh: no memcached here (run it through tools/dev run)" >&2; exit 2; }

rm -rf "$out"
mkdir -p "$out/lib" "$out/real"

# add SOURCE WRAPPER: the program SOURCE, run as OUT/WRAPPER.
add() {
  local src=$1 rel=$2 name up
  name=$(basename "$src")
  cp -L "$src" "$out/real/$name"
  strip --strip-debug "$out/real/$name"  # (debug info: most of the size)
  ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' |
    while read -r lib; do cp -Ln "$lib" "$out/lib/"; done
  mkdir -p "$out/$(dirname "$rel")"
  up=$(dirname "$rel" | sed -e 's#[^/][^/]*#..#g')
  cat > "$out/$rel" <<WRAP
#!/bin/sh
root=\$(cd "\$(dirname "\$0")/$up" && pwd)
exec "\$root/lib/ld-linux-x86-64.so.2" --library-path "\$root/lib" --argv0 "\$0" "\$root/real/$name" "\$@"
WRAP
  chmod +x "$out/$rel"
}

add "$build/apps/kv/kairos-kv" apps/kv/kairos-kv
add "$build/tools/loadgen/kairos-loadgen" tools/loadgen/kairos-loadgen
add "$build/bench/runtime/tcp_echo_bench" bench/runtime/tcp_echo_bench
add "$(command -v memcached)" bin/memcached
cp bench/kv/kv_bench.py "$out/"
# The source commit (no git in the root filesystem: read .git itself).
head=$(cat .git/HEAD 2>/dev/null || true)
case $head in
  ref:*) ref=${head#ref: }
         head=$(cat ".git/$ref" 2>/dev/null || awk -v r="$ref" '$2 == r {print $1}' .git/packed-refs 2>/dev/null) ;;
esac
{ echo "commit ${head:-unknown}"; "$out/apps/kv/kairos-kv" --version; memcached -V; } > "$out/versions.txt"
echo "bundle.sh: $(du -sh "$out" | cut -f1) in $out"
