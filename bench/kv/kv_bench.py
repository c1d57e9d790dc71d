#!/usr/bin/env python3
"""kairos-kv against memcached 1.6, side by side, over loopback on this host.

Both servers run with the same thread count, memory and item size; the open
loop kairos-loadgen drives each in turn (same seed, same mix) over TCP and
over UDP. Prints, per protocol:
  - the unloaded p50 (at --idle-rate) of each server;
  - the SLO: 10x (--slo-factor) memcached's unloaded p50, one bar for both;
  - throughput at the SLO: the highest offered rate of the sweep whose p99
    stays under the SLO with at least 99% of the requests answered;
  - p50/p99 at three fixed loads (25%, 50%, 75% of memcached's throughput
    at the SLO), with each server's CPU use (CPU-seconds per second);
  - with --kv-spin-us 20,200: one kairos-kv per idle-spin setting;
    --repeats N runs each fixed load N times (medians); --rates "" skips
    the sweep;
  - with --kv-baseline PATH: a kairos-kv from another build (an earlier
    commit) beside the others, to measure a change side by side;
  - with --peak: each server's closed-loop peak (every connection with one
    request outstanding), medians of --repeats runs;
  - with --server-cpus 1 --client-cpus 0: the servers and the load
    generator pinned (taskset) to CPUs of their own, as on a machine where
    the LC service holds its cores; a spinning kairos-kv then keeps its
    core busy instead of sharing it with the load generator. Then (or with
    --alone) only the measured server runs: each point starts it fresh.
Timings on a shared machine are noisy: compare the ratios of one run.

  bench/kv/kv_bench.py --build build/rootfs --threads 1 --duration 3
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_tcp(port):
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing listens on {port}")


class Server:
    """A server process; with alone, started for each point and stopped
    after it, so that no idle server shares the machine with the measured
    one (their timers would preempt a spinning kairos-kv on a pinned CPU)."""

    def __init__(self, name, argv, veth=None, ports=None, pin=None, alone=False):
        self.name, self.veth, self.alone, self.proc = name, veth, alone, None
        self.argv = (["taskset", "-c", pin] if pin else []) + argv
        if veth is None:
            self.host = "127.0.0.1"
            self.tcp = free_port()
            self.udp = free_port(socket.SOCK_DGRAM)
        else:
            self.host = veth.server_ip
            self.tcp, self.udp = ports
        if not alone:
            self.start()

    def start(self):
        ports = ["-p", str(self.tcp), "-U", str(self.udp), "-l", self.host]
        if self.veth is None:
            self.proc = subprocess.Popen(self.argv + ports)
            wait_tcp(self.tcp)
        else:
            self.proc = subprocess.Popen(self.veth.server_prefix + self.argv + ports)
            time.sleep(2)  # (AF_XDP sockets bind in a moment)
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start")

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.proc = None


class Veth:
    """Two network namespaces (each held by a sleeping process) joined by a
    2-queue veth pair: the AF_XDP path needs a real device (loopback has
    no XDP). Device names are fixed: hold the test lock."""
    server_ip, client_ip = "10.78.0.1", "10.78.0.2"
    sif, cif = "kvb-s0", "kvb-c0"

    def __init__(self):
        self.holders = [subprocess.Popen(["unshare", "--net", "sleep", "1000000"])
                        for _ in range(2)]
        time.sleep(0.3)
        sp, cp = (h.pid for h in self.holders)
        self.server_prefix = ["nsenter", f"--net=/proc/{sp}/ns/net"]
        self.client_prefix = ["nsenter", f"--net=/proc/{cp}/ns/net"]
        sh = lambda c: subprocess.run(c, shell=True, check=True)
        sh(f"ip link del {self.sif} 2>/dev/null; ip link add {self.sif} numtxqueues 2 "
           f"numrxqueues 2 type veth peer name {self.cif} numtxqueues 2 numrxqueues 2")
        sh(f"ip link set {self.sif} netns {sp} && ip link set {self.cif} netns {cp}")
        for prefix, dev, ip in ((self.server_prefix, self.sif, self.server_ip),
                                (self.client_prefix, self.cif, self.client_ip)):
            subprocess.run(prefix + ["sh", "-c",
                f"set -e; ip addr add {ip}/24 dev {dev}; ip link set lo up; "
                f"ip link set {dev} up; ethtool -K {dev} tx off >/dev/null"], check=True)

    def close(self):
        for h in self.holders:  # the namespaces and the veth go with them
            h.kill()
            h.wait()


def cpu_seconds(pid):
    """utime + stime of a process and its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(args, server, proto, rate):
    """One open-loop point at rate requests/s; rate None: closed loop."""
    if not server.alone:
        return measure(args, server, proto, rate)
    server.start()
    try:
        return measure(args, server, proto, rate)
    finally:
        server.stop()


def measure(args, server, proto, rate):
    port = server.tcp if proto == "tcp" else server.udp
    mode = ["-m", "closed", "--depth", "1"] if rate is None else ["-r", str(rate)]
    cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        pin = ["taskset", "-c", args.client_cpus] if args.client_cpus else []
        cmd = args.client_prefix + pin + [
               args.loadgen, "-P", "memcached" if proto == "tcp" else "memcached-udp",
               "-s", f"{server.host}:{port}"] + mode + ["-d", str(args.duration),
               "-c", str(args.connections), "-t", str(args.client_threads),
               "--keys", str(args.keys), "--value-size", str(args.value_size),
               "--get-ratio", "0.9", "--seed", "1", "--progress", "off", "-q",
               "--json", f.name]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        r = json.load(open(f.name))
    cpu = (cpu_seconds(server.proc.pid) - cpu0) / (time.monotonic() - t0)
    lat = r["latency"]
    sched = r["counters"].get("scheduled", 0) or 1
    return {"offered": r["offered_rate"], "achieved": r["achieved_rate"],
            "p50": lat["p50_us"], "p99": lat["p99_us"],
            "answered": r["counters"].get("completed", 0) / sched,
            "cpu": cpu}


def medians(args, servers, proto, rate, keys):
    """Each server's medians of keys over --repeats points at rate, the
    servers interleaved in every round."""
    runs = [[] for _ in servers]
    for _ in range(args.repeats):
        for i, s in enumerate(servers):
            runs[i].append(load(args, s, proto, rate))
    return [{k: statistics.median(r[k] for r in rr) for k in keys} for rr in runs]


def int_list(ap, flag, text, minimum):
    """The comma-separated integers of a flag, each >= minimum; a usage
    error (exit 2, nothing started) otherwise."""
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        ap.error(f"{flag} wants comma-separated integers, got '{text}'")
    if any(v < minimum for v in vals):
        ap.error(f"{flag} wants integers >= {minimum}, got '{text}'")
    return vals


def check_args(ap, args):
    """Every bad flag is refused before a server starts."""
    for flag in ("threads", "duration", "connections", "client_threads", "keys",
                 "idle_rate", "repeats"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} wants a number >= 1, "
                     f"got {getattr(args, flag)}")
    if args.slo_factor <= 0 or args.slo_us < 0:
        ap.error("--slo-factor wants a number > 0 and --slo-us one >= 0")
    args.rate_list = int_list(ap, "--rates", args.rates, 1)
    args.load_list = int_list(ap, "--loads", args.loads, 1)
    args.spin_list = int_list(ap, "--kv-spin-us", args.kv_spin_us, 0)
    protos = [p for p in args.protocols.split(",") if p]
    if not protos or any(p not in ("tcp", "udp") for p in protos):
        ap.error(f"--protocols wants tcp, udp or tcp,udp, got '{args.protocols}'")
    args.protocol_list = protos
    for flag, text in (("--server-cpus", args.server_cpus), ("--client-cpus", args.client_cpus)):
        if text and not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", text):
            ap.error(f"{flag} wants a CPU list such as 1 or 2-5,8, got '{text}'")
    for what, path in (("kairos-kv", os.path.join(args.build, "apps/kv/kairos-kv")),
                       ("kairos-loadgen", args.loadgen)):
        if not os.access(path, os.X_OK):
            ap.error(f"--build: no {what} at {path} (build the project first)")
    if not shutil.which("memcached"):
        ap.error("memcached is not installed (Debian package memcached)")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build/rootfs")
    ap.add_argument("--threads", type=int, default=1, help="server threads (-t) of both")
    ap.add_argument("--duration", type=int, default=3, help="seconds per load point")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--client-threads", type=int, default=1)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--value-size", default="32")
    ap.add_argument("--idle-rate", type=int, default=2000)
    ap.add_argument("--rates", default="10000,20000,30000,40000,50000,60000,80000,100000")
    ap.add_argument("--protocols", default="tcp,udp")
    ap.add_argument("--slo-factor", type=float, default=10.0,
                    help="SLO: p99 <= this many times memcached's unloaded p50")
    ap.add_argument("--slo-us", type=float, default=0.0,
                    help="an absolute p99 SLO instead (a shared host's p99 is far "
                         "above 10x an unloaded p50 at any load)")
    ap.add_argument("--udp-xdp", action="store_true",
                    help="run the servers and the load generator in two namespaces "
                         "joined by a veth pair, kairos-kv's UDP over direct AF_XDP "
                         "(--udp-xdp), memcached's over the kernel (root)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs of each fixed load per server, interleaved; the "
                         "figures printed are the medians")
    ap.add_argument("--kv-spin-us", default="",
                    help="comma-separated --spin-us values: one kairos-kv per value "
                         "(default: one kairos-kv with the runtime's default)")
    ap.add_argument("--kv-baseline", default="",
                    help="path of another kairos-kv (e.g. built from an earlier commit), "
                         "run beside the others with the same settings as "
                         "'kairos-kv baseline'")
    ap.add_argument("--peak", action="store_true",
                    help="also each server's closed-loop peak (one request outstanding "
                         "per connection)")
    ap.add_argument("--server-cpus", default="",
                    help="taskset CPU list for every server (e.g. 1)")
    ap.add_argument("--client-cpus", default="",
                    help="taskset CPU list for the load generator (e.g. 0)")
    ap.add_argument("--alone", action="store_true",
                    help="run only the measured server: start it for each point, stop "
                         "it after (the default with --server-cpus)")
    ap.add_argument("--loads", default="",
                    help="the three fixed loads (default: 25/50/75%% of memcached's "
                         "throughput at the SLO)")
    args = ap.parse_args()
    args.loadgen = os.path.join(args.build, "tools/loadgen/kairos-loadgen")
    check_args(ap, args)
    kv_bin = os.path.join(args.build, "apps/kv/kairos-kv")
    common = ["-t", str(args.threads), "-m", "1024", "-I", "1m"]
    kv_variants = [("kairos-kv", [], kv_bin)]
    if args.kv_spin_us:
        kv_variants = [(f"kairos-kv spin {v}", ["--spin-us", str(v)], kv_bin)
                       for v in args.spin_list]
    if args.kv_baseline:
        if not os.access(args.kv_baseline, os.X_OK):
            ap.error(f"--kv-baseline: {args.kv_baseline} is not an executable")
        # The same settings as the kairos-kv variants, on the other build.
        kv_variants += [(name.replace("kairos-kv", "kairos-kv baseline", 1), extra,
                         args.kv_baseline) for name, extra, _ in list(kv_variants)]
    if args.udp_xdp and len(kv_variants) > 1:
        ap.error("--udp-xdp takes one kairos-kv (one XDP program per device)")
    alone = args.alone or bool(args.server_cpus)
    veth = Veth() if args.udp_xdp else None
    args.client_prefix = veth.client_prefix if veth else []
    servers = []
    try:
        if veth:
            servers.append(Server("memcached", ["memcached", "-u", "root"] + common, veth,
                                  (11311, 11313), args.server_cpus, alone))
            for i, (name, extra, binary) in enumerate(kv_variants):
                servers.append(Server(name, [binary] + common + extra + ["--udp-xdp", veth.sif],
                                      veth, (11320 + 2 * i, 11321 + 2 * i), args.server_cpus,
                                      alone))
        else:
            servers.append(Server("memcached", ["memcached", "-u", "root"] + common,
                                  pin=args.server_cpus, alone=alone))
            for name, extra, binary in kv_variants:
                servers.append(Server(name, [binary] + common + extra, pin=args.server_cpus,
                                      alone=alone))
    except Exception:
        for s in servers:
            s.stop()
        if veth:
            veth.close()
        raise
    rates = args.rate_list  # "": no sweep
    try:
        for proto in args.protocol_list:
            idle = {s.name: load(args, s, proto, args.idle_rate) for s in servers}
            slo = args.slo_us or args.slo_factor * idle["memcached"]["p50"]
            sweep = {s.name: [] for s in servers}
            best = {s.name: 0.0 for s in servers}
            misses = {s.name: 0 for s in servers}
            # Interleaved (memcached, then kairos-kv, at each rate), so
            # both see the same background load of the machine.
            for rate in rates:
                for s in servers:
                    if misses[s.name] >= 2:
                        continue  # past the knee (two misses in a row)
                    r = load(args, s, proto, rate)
                    sweep[s.name].append((rate, r))
                    if r["p99"] <= slo and r["answered"] >= 0.99:
                        best[s.name] = max(best[s.name], r["achieved"])
                        misses[s.name] = 0
                    else:
                        misses[s.name] += 1
            print(f"\n== {proto.upper()}  (server threads {args.threads}, "
                  f"{args.connections} connections, 90% gets, {args.value_size}-byte values)")
            print(f"unloaded p50 at {args.idle_rate}/s: " + ", ".join(
                f"{n} {idle[n]['p50']:.1f} us" for n in idle) +
                f"; SLO p99 <= {slo:.1f} us")
            m = best["memcached"]
            print("throughput at SLO: " + ", ".join(
                f"{n} {best[n]:.0f}/s" + (f" ({best[n] / m:.2f}x)" if m and i else "")
                for i, n in enumerate(best)))
            print(f"{'load':>10} | " + " | ".join(
                f"{s.name + ' p50':>20} {'p99':>9} {'cpu':>5}" for s in servers) +
                " | p50 ratios to memcached")
            if args.load_list:
                fixed = args.load_list
            else:
                fixed = [max(1000, int(m * f)) if m else args.idle_rate
                         for f in (0.25, 0.5, 0.75)]
            for rate in fixed:
                rs = medians(args, servers, proto, rate, ("p50", "p99", "cpu"))
                print(f"{rate:>8}/s | " + " | ".join(
                    f"{r['p50']:>20.1f} {r['p99']:>9.1f} {100 * r['cpu']:>4.0f}%" for r in rs) +
                    " | " + " ".join(f"{r['p50'] / rs[0]['p50']:.2f}" for r in rs[1:]))
            if args.peak:
                pk = medians(args, servers, proto, None, ("achieved", "cpu"))
                print(f"closed-loop peak ({args.connections} connections, depth 1): " +
                      ", ".join(f"{s.name} {r['achieved']:.0f}/s cpu {100 * r['cpu']:.0f}%" +
                                (f" ({r['achieved'] / pk[0]['achieved']:.2f}x)" if i else "")
                                for i, (s, r) in enumerate(zip(servers, pk))))
            print("sweep (offered/s: achieved/s p50 p99 us, answered):")
            for n, pts in sweep.items():
                print(f"  {n}: " + "; ".join(
                    f"{rate}: {r['achieved']:.0f} {r['p50']:.0f} {r['p99']:.0f} "
                    f"{100 * r['answered']:.0f}%" for rate, r in pts))
    finally:
        for s in servers:
            s.stop()
        if veth:
            veth.close()


if __name__ == "__main__":
    sys.exit(main())
