#!/bin/sh
# memcapable_test.sh KAIROS_KV: libmemcached's memcapable (Debian's
# memccapable) in ASCII mode against the real memcached and kairos-kv:
# every test memcached passes must pass against kairos-kv too, and
# memcapable must report that all its tests passed for kairos-kv.
set -u
kv=${1:?usage: memcapable_test.sh KAIROS_KV}
for tool in memcached memccapable python3; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed"; exit 1; }
done
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(500):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.01)
sys.exit(1)
PY
}
tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

mport=$(free_port)
memcached -p "$mport" -U 0 -l 127.0.0.1 -u root -t 2 &
pids="$pids $!"
kport=$(free_port)
"$kv" -p "$kport" -U 0 -l 127.0.0.1 -t 2 &
pids="$pids $!"
wait_port "$mport" || { echo "FAIL: memcached did not start"; exit 1; }
wait_port "$kport" || { echo "FAIL: kairos-kv did not start"; exit 1; }

timeout 120 memccapable -a -h 127.0.0.1 -p "$mport" >"$tmp/memcached.out" 2>&1
timeout 120 memccapable -a -h 127.0.0.1 -p "$kport" >"$tmp/kv.out" 2>&1
krc=$?
echo "== memcached"; cat "$tmp/memcached.out"
echo "== kairos-kv"; cat "$tmp/kv.out"

fails=0
grep '\[pass\]' "$tmp/memcached.out" | sed 's/[[:space:]]*\[pass\]//' >"$tmp/ref-pass"
[ -s "$tmp/ref-pass" ] || { echo "FAIL: memcapable passed nothing against memcached"; exit 1; }
while IFS= read -r t; do
	if ! grep -q "^$t[[:space:]]*\[pass\]" "$tmp/kv.out"; then
		echo "FAIL: '$t' passes against memcached, not against kairos-kv"
		fails=$((fails + 1))
	fi
done <"$tmp/ref-pass"
grep -q 'All tests passed' "$tmp/kv.out" || { echo "FAIL: memcapable did not pass everything"; fails=$((fails + 1)); }
[ "$krc" -eq 0 ] || { echo "FAIL: memcapable exited $krc against kairos-kv"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ] || exit 1
echo "memcapable: $(wc -l <"$tmp/ref-pass") ASCII tests pass against both memcached and kairos-kv"
