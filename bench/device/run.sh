#!/bin/bash
# The multi-core benchmarks for a lent machine with CPUs to spare
# (bench/device/README.md): kairos-kv against memcached 1.6 over TCP and
# UDP with the servers and the load generator on CPUs of their own, then
# TCP echo on uthreads against an epoll loop as server threads are added.
# Runs from the repository root, as root, on the bundle that bundle.sh
# made; writes its tables to OUT.
#
#   bench/device/run.sh OUT
#
# Environment: BUNDLE (build/device-bundle); SERVER_CPUS, CLIENT_CPUS,
# THREADS, CLIENT_THREADS, CONNECTIONS (default: from the CPU count);
# DURATION (seconds per point, 2); RATES (the sweep, requests/s);
# SMOKE=1: one short pass that only checks that everything starts.
set -uo pipefail

out=${1:?usage: bench/device/run.sh OUT}
b=${BUNDLE:-build/device-bundle}
[ -x "$b/apps/kv/kairos-kv" ] || { echo "run.sh: no bundle in $b (bench/device/bundle.sh)" >&2; exit 2; }
for tool in python3 taskset; do
  command -v $tool >/dev/null || { echo "run.sh: $tool is missing on this machine" >&2; exit 2; }
done
mkdir -p "$out"
export PATH=$PWD/$b/bin:$PATH  # the bundle's memcached

n=$(nproc)
# CPUs 0-1 stay with the system; the servers get THREADS CPUs from 2, the
# load generator the upper half of the machine.
if [ "$n" -ge 16 ]; then threads=4; elif [ "$n" -ge 8 ]; then threads=2; else threads=1; fi
if [ "$n" -ge 8 ]; then
  server_cpus=2-$((1 + threads)); client_cpus=$((n / 2))-$((n - 1)); client_threads=$((n / 2))
else
  server_cpus=$((n - 1)); client_cpus=0; client_threads=1
fi
THREADS=${THREADS:-$threads}
SERVER_CPUS=${SERVER_CPUS:-$server_cpus}
CLIENT_CPUS=${CLIENT_CPUS:-$client_cpus}
CLIENT_THREADS=${CLIENT_THREADS:-$client_threads}
CONNECTIONS=${CONNECTIONS:-$((16 * CLIENT_THREADS))}
DURATION=${DURATION:-2}
RATES=${RATES:-50000,100000,200000,300000,400000,600000,800000}
repeats=2
if [ "${SMOKE:-0}" = 1 ]; then DURATION=1; RATES=5000,10000; repeats=1; fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpus: $n ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
  echo "kernel: $(uname -r)"
  echo "memory: $(awk '/MemTotal/ {print int($2 / 1048576) " GiB"}' /proc/meminfo)"
  echo "servers: -t $THREADS on CPUs $SERVER_CPUS; load generator: $CLIENT_THREADS threads, $CONNECTIONS connections on CPUs $CLIENT_CPUS"
  sed 's/^/bundle: /' "$b/versions.txt"
} | tee "$out/machine.txt"

status=0
kv() {  # PROTOCOL SECONDS
  echo "== kairos-kv vs memcached, $1 (limit $2 s)"
  timeout "$2" python3 "$b/kv_bench.py" --build "$b" --protocols "$1" \
    --threads "$THREADS" --server-cpus "$SERVER_CPUS" --client-cpus "$CLIENT_CPUS" \
    --client-threads "$CLIENT_THREADS" --connections "$CONNECTIONS" \
    --duration "$DURATION" --rates "$RATES" --repeats "$repeats" --peak \
    --kv-spin-us 20,500 > "$out/kv_$1.txt" 2>&1 || { echo "kv $1 failed: $?"; status=1; }
  cat "$out/kv_$1.txt"
}
kv tcp 240
kv udp 240

echo "== TCP echo on uthreads vs an epoll loop"
for t in 1 2 "$THREADS"; do
  timeout 60 "$b/bench/runtime/tcp_echo_bench" --duration "$DURATION" --repeat "$repeats" \
    --threads "$t" --conns "$CONNECTIONS" --client-threads "$CLIENT_THREADS" || status=1
done 2>&1 | tee "$out/tcp_echo.txt"
exit $status
