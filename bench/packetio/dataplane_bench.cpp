// dataplane_bench: UDP echo side by side on one veth pair between two
// network namespaces it makes (host kernel, root): the baseline kernel UDP
// server (recvmmsg/sendmmsg), the Kairos path (XDP steering -> AF_XDP ->
// dataplane -> per-kthread rings -> queue API), and the DPDK backend
// (net_af_xdp vdev loading the same steering program). Each gets a saturation run (throughput) and a fixed
// rate run (latency), client = udpload's open-loop generator.
//   dataplane_bench [--duration S] [--rate N] [--flows N] [--size B]
//                   [--kthreads N] [--queues N] [--repeat N] [--poll] [--no-dpdk]
//                   [--dp-spins N] [--kthread-spins N] [--yield-us N]
//                   [--no-direct] [--direct-poll] [--no-xproc] [--client-spin-us N] [--json]
// direct_xproc (unless --no-xproc): direct mode as an operator runs it, a
// DataplaneService with "mode=direct pin=..." here and kairos-echo --direct
// in another process owning the sockets; with --direct-poll also
// xproc_poll (kairos-echo --direct --poll). xproc_uth: the same app on
// runtime uthreads (kairos-echo --direct --uthreads: kairos::net's
// direct-mode Stack, kthreads parked on the queues' fds).
// --poll: the dataplane and kthreads spin and never sleep, as on cores the
// allocator granted them (on a shared machine this steals CPU from others).
#include <kairos/packetio/backends.hpp>
#include <kairos/bench/echo_app.hpp>
#include "kernel_echo.hpp"
#include "loadgen.hpp"
#include "netns.hpp"

#include <kairos/relay/service.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

namespace {

using namespace kairos;

struct Options {
  udpload::LoadConfig load;
  double latency_rate = 20000;
  unsigned flows = 8, kthreads = 1, queues = 1, repeat = 3;
  bool dpdk = true, json = false;
  bool poll = false;  // dedicated-core mode: dataplane and kthreads never sleep
  double dp_spins = 64, kthread_spins = 64;  // empty polls before sleeping (library defaults)
  // > 0: a third path, af_xdp_y, measured in the same rounds: the
  // dataplane and kthreads poll with sched_yield() for this long before
  // they block (no wakeup on the request path while traffic flows).
  unsigned yield_us = 0;
  // The direct path (make_afxdp_direct_backends: one thread per device
  // queue owns its AF_XDP socket, no dataplane thread) in every round.
  bool direct = true;
  // Dedicated-core peers in every round: kernel_poll (non-blocking
  // recvmmsg loop) and direct_poll (the direct thread never sleeps).
  bool direct_poll = false;
  // direct_xproc: the cross-process direct path (kairosd's mode=direct).
  bool xproc = true;
};

struct Row {
  std::string name;
  udpload::LoadResult sat, lat;
  // Context switches of the whole process (client included, the same for
  // every path) per reply during the latency run: the wakeups a request
  // costs, a count that the machine's load does not distort much.
  double switches_per_reply = 0;
};

std::uint64_t process_switches() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_nvcsw + ru.ru_nivcsw);
}

// Runs both loads against whatever server `start` brings up.
Row measure(const std::string& name, const Options& o, dp::testing::VethPair& v,
            std::uint16_t port, const std::function<std::shared_ptr<void>()>& start) {
  Row r{name, {}, {}};
  auto server = start();
  auto fds = dp::testing::connected_udp_clients(v.client, v.server_ip, port, o.flows, 8 << 20);
  udpload::LoadConfig warm = o.load;
  warm.duration_s = 0.2;
  warm.rate = o.latency_rate;
  udpload::run_load(fds, warm);
  // Latency first, on a server with no backlog: after a saturation run an
  // AF_XDP server still holds thousands of queued requests (UMEM, XSK and
  // ring slots), a kernel server only its socket buffer.
  udpload::LoadConfig lat = o.load;
  lat.rate = o.latency_rate;
  const std::uint64_t sw0 = process_switches();
  r.lat = udpload::run_load(fds, lat);
  if (r.lat.received)
    r.switches_per_reply = double(process_switches() - sw0) / double(r.lat.received);
  udpload::LoadConfig sat = o.load;
  sat.rate = 0;
  r.sat = udpload::run_load(fds, sat);
  for (int fd : fds) close(fd);
  server.reset();
  std::fprintf(stderr, "%-10s saturation: %s\n%-10s at %.0f/s:  %s\n", name.c_str(),
               r.sat.str().c_str(), name.c_str(), o.latency_rate, r.lat.str().c_str());
  return r;
}

// The cross-process direct path: the service pins the XSKMAP, kairos-echo
// --direct (another process, started in the server namespace) serves.
class XprocDirect {
 public:
  XprocDirect(dp::testing::VethPair& v, const dp::Endpoint& ep, bool poll,
              bool uthreads = false) {
    const std::string pin = "/sys/fs/bpf/kairos-bench-" + std::to_string(getpid());
    dp::testing::InNetns in(v.server);
    svc_ = std::make_unique<dp::DataplaneService>(dp::parse_service_config(
        "interface " + v.server_if + "\nbackend afxdp\napp " + ep.str() +
            " mode=direct pin=" + pin + "\n",
        "bench"));
    int p[2];
    if (pipe2(p, O_CLOEXEC)) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    std::vector<std::string> args{KAIROS_ECHO_BIN, "--direct", pin};
    if (poll) args.push_back("--poll");
    if (uthreads) args.push_back("--uthreads");  // kairos::net on runtime uthreads
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    out_ = p[0];
    if (rc) throw std::runtime_error("cannot start " KAIROS_ECHO_BIN);
    std::string got;
    pollfd pf{out_, POLLIN, 0};
    while (got.find("ready") == std::string::npos && poll_one(pf)) {
      char buf[256];
      const ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    if (got.find("ready") == std::string::npos)
      throw std::runtime_error("kairos-echo --direct did not start: " + got);
  }
  ~XprocDirect() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    close(out_);
  }

 private:
  static bool poll_one(pollfd& pf) { return ::poll(&pf, 1, 10000) == 1; }
  std::unique_ptr<dp::DataplaneService> svc_;
  pid_t pid_ = -1;
  int out_ = -1;
};

// Per metric, the median over rounds.
Row median(std::vector<Row> rounds) {
  auto med = [&](auto get) {
    std::vector<double> v;
    for (auto& r : rounds) v.push_back(get(r));
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  Row m = rounds[0];
  m.sat.throughput = med([](Row& r) { return r.sat.throughput; });
  m.sat.sent = static_cast<std::uint64_t>(med([](Row& r) { return double(r.sat.sent); }));
  m.sat.received = static_cast<std::uint64_t>(med([](Row& r) { return double(r.sat.received); }));
  m.lat.p50_us = med([](Row& r) { return r.lat.p50_us; });
  m.lat.p99_us = med([](Row& r) { return r.lat.p99_us; });
  m.lat.p999_us = med([](Row& r) { return r.lat.p999_us; });
  m.lat.throughput = med([](Row& r) { return r.lat.throughput; });
  m.switches_per_reply = med([](Row& r) { return r.switches_per_reply; });
  return m;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "dataplane_bench: %s\nusage: dataplane_bench [--duration S] [--rate N] "
               "[--flows N] [--size B] [--kthreads N] [--queues N] [--repeat N] [--poll] [--no-dpdk] "
               "[--dp-spins N] [--kthread-spins N] [--yield-us N] [--no-direct] [--direct-poll] [--no-xproc] "
               "[--client-spin-us N] "
               "[--json]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.load.duration_s = 2;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--no-dpdk") { o.dpdk = false; continue; }
    if (a == "--poll") { o.poll = true; continue; }
    if (a == "--json") { o.json = true; continue; }
    if (a == "--no-direct") { o.direct = false; continue; }
    if (a == "--direct-poll") { o.direct_poll = true; continue; }
    if (a == "--no-xproc") { o.xproc = false; continue; }
    if (i + 1 >= argc) return usage(("missing value for " + a).c_str());
    char* end = nullptr;
    const double v = std::strtod(argv[++i], &end);
    if (*end || v <= 0) return usage(("bad value for " + a).c_str());
    if (a == "--duration") o.load.duration_s = v;
    else if (a == "--rate") o.latency_rate = v;
    else if (a == "--flows") o.flows = static_cast<unsigned>(v);
    else if (a == "--size") o.load.size = static_cast<std::size_t>(v);
    else if (a == "--kthreads") o.kthreads = static_cast<unsigned>(v);
    else if (a == "--queues") o.queues = static_cast<unsigned>(v);
    else if (a == "--repeat") o.repeat = static_cast<unsigned>(v);
    else if (a == "--dp-spins") o.dp_spins = v;
    else if (a == "--kthread-spins") o.kthread_spins = v;
    else if (a == "--yield-us") o.yield_us = static_cast<unsigned>(v);
    else if (a == "--client-spin-us") o.load.spin_us = v;
    else return usage(("unknown option " + a).c_str());
  }
  if (o.flows == 0 || o.flows > 256 || o.kthreads == 0 || o.kthreads > 64 ||
      o.queues == 0 || o.queues > 16 || o.load.size < 16 || o.load.size > 1400 ||
      o.repeat == 0 || o.repeat > 50)
    return usage("flows 1..256, kthreads 1..64, queues 1..16, size 16..1400, repeat 1..50");

  dp::testing::VethPair v(o.queues);
  if (!v.ok()) return usage("cannot create namespaces/veth (root?)");
  // A static neighbour: ARP is out of the measurement.
  v.client.sh("ip neigh replace " + v.server_ip + " lladdr " + dp::testing::mac_of(v.server, v.server_if) +
              " dev " + v.client_if + " nud permanent");
  const dp::Endpoint ep = *dp::Endpoint::parse(v.server_ip + ":7000");
  // Kernel and AF_XDP alternate, repeat times, and each metric is the
  // median over the rounds: the machine's noise hits both alike. DPDK's
  // EAL starts once per process, so it runs once, last.
  std::vector<Row> kernel_rounds, afxdp_rounds, yield_rounds, direct_rounds;
  std::vector<Row> kpoll_rounds, dpoll_rounds, xproc_rounds, xpoll_rounds, xuth_rounds;
  auto direct_path = [&](unsigned spins) -> std::shared_ptr<void> {
    dp::testing::InNetns in(v.server);
    dp::AfXdpConfig cfg;
    cfg.ifname = v.server_if;
    cfg.apps = {ep};
    return std::make_shared<dp::testing::DirectEchoApp>(dp::make_afxdp_direct_backends(cfg),
                                                        spins);
  };
  auto kairos_path = [&](unsigned yield_us) -> std::shared_ptr<void> {
    dp::testing::InNetns in(v.server);
    dp::AfXdpConfig cfg;
    cfg.ifname = v.server_if;
    cfg.apps = {ep};
    dp::DataplaneConfig dcfg;
    dcfg.idle_spins = o.poll ? SIZE_MAX : static_cast<std::size_t>(o.dp_spins);
    dcfg.idle_yield_us = yield_us;
    return std::make_shared<dp::testing::EchoApp>(
        dp::make_afxdp_backend(cfg), ep, o.kthreads, dcfg,
        o.poll ? UINT_MAX : static_cast<unsigned>(o.kthread_spins), yield_us);
  };
  for (unsigned round = 0; round < o.repeat; round++) {
    kernel_rounds.push_back(measure("kernel", o, v, 7000, [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      return std::make_shared<udpload::KernelEcho>(ep, o.kthreads);
    }));
    afxdp_rounds.push_back(measure("af_xdp", o, v, 7000, [&] { return kairos_path(0); }));
    if (o.yield_us)
      yield_rounds.push_back(
          measure("af_xdp_y", o, v, 7000, [&] { return kairos_path(o.yield_us); }));
    if (o.direct)
      direct_rounds.push_back(measure("direct", o, v, 7000, [&] {
        return direct_path(o.poll ? UINT_MAX : static_cast<unsigned>(o.kthread_spins));
      }));
    if (o.xproc) {
      xproc_rounds.push_back(measure("direct_xproc", o, v, 7000, [&]() -> std::shared_ptr<void> {
        return std::make_shared<XprocDirect>(v, ep, o.poll);
      }));
      xproc_rounds.back().switches_per_reply = -1;  // the server is another process
      // The same app on runtime uthreads (kairos::net direct mode).
      xuth_rounds.push_back(measure("xproc_uth", o, v, 7000, [&]() -> std::shared_ptr<void> {
        return std::make_shared<XprocDirect>(v, ep, false, true);
      }));
      xuth_rounds.back().switches_per_reply = -1;
    }
    if (o.direct_poll) {
      kpoll_rounds.push_back(measure("kernel_poll", o, v, 7000, [&]() -> std::shared_ptr<void> {
        dp::testing::InNetns in(v.server);
        return std::make_shared<udpload::KernelEcho>(ep, o.kthreads, true);
      }));
      dpoll_rounds.push_back(measure("direct_poll", o, v, 7000, [&] { return direct_path(UINT_MAX); }));
      if (o.xproc) {  // kairos-echo --direct --poll
        xpoll_rounds.push_back(measure("xproc_poll", o, v, 7000, [&]() -> std::shared_ptr<void> {
          return std::make_shared<XprocDirect>(v, ep, true);
        }));
        xpoll_rounds.back().switches_per_reply = -1;
      }
    }
  }
  std::vector<Row> rows{median(kernel_rounds), median(afxdp_rounds)};
  if (o.yield_us) rows.push_back(median(yield_rounds));
  if (o.direct) rows.push_back(median(direct_rounds));
  if (o.xproc) {
    rows.push_back(median(xproc_rounds));
    rows.push_back(median(xuth_rounds));
  }
  if (o.direct_poll) {
    rows.push_back(median(kpoll_rounds));
    rows.push_back(median(dpoll_rounds));
    if (o.xproc) rows.push_back(median(xpoll_rounds));
  }
  // Ratios within a round (runs seconds apart share the machine's mood),
  // then their median: the robust number on a noisy shared host.
  struct Ratios {
    std::string name;
    std::vector<double> thr, p50;
  };
  std::vector<Ratios> ratios;
  auto add_ratios = [&](const std::string& name, const std::vector<Row>& rounds,
                        const std::vector<Row>* base = nullptr) {
    if (!base) base = &kernel_rounds;
    Ratios r{name, {}, {}};
    for (unsigned i = 0; i < o.repeat; i++) {
      r.thr.push_back(rounds[i].sat.throughput / (*base)[i].sat.throughput);
      r.p50.push_back(rounds[i].lat.p50_us / (*base)[i].lat.p50_us);
    }
    std::sort(r.thr.begin(), r.thr.end());
    std::sort(r.p50.begin(), r.p50.end());
    ratios.push_back(std::move(r));
  };
  add_ratios("af_xdp", afxdp_rounds);
  if (o.yield_us) add_ratios("af_xdp_y", yield_rounds);
  if (o.direct) add_ratios("direct", direct_rounds);
  if (o.xproc) add_ratios("direct_xproc", xproc_rounds);
  if (o.xproc) add_ratios("xproc_uth", xuth_rounds);
  if (o.xproc && o.direct) add_ratios("direct_xproc/direct", xproc_rounds, &direct_rounds);
  if (o.xproc) add_ratios("xproc_uth/direct_xproc", xuth_rounds, &xproc_rounds);
  if (o.direct_poll) {
    add_ratios("kernel_poll", kpoll_rounds);
    add_ratios("direct_poll", dpoll_rounds);
    add_ratios("direct_poll/kernel_poll", dpoll_rounds, &kpoll_rounds);
    if (o.xproc) {
      add_ratios("xproc_poll", xpoll_rounds);
      add_ratios("xproc_poll/kernel_poll", xpoll_rounds, &kpoll_rounds);
    }
  }
  if (o.dpdk && dp::dpdk_available() && o.queues == 1) {
    rows.push_back(measure("dpdk", o, v, 7000, [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      auto b = dp::make_dpdk_backend(
          {"--no-huge", "-m", "256", "--no-pci", "--no-telemetry", "--log-level=error",
           "-l", "0", "--file-prefix=kairos-bench-" + std::to_string(getpid()),
           "--vdev=net_af_xdp0,iface=" + v.server_if +
               ",force_copy=1,busy_budget=0,xdp_prog=" KAIROS_STEER_BPF_OBJ},
          {ep});
      return std::make_shared<dp::testing::EchoApp>(std::move(b), ep, o.kthreads);
    }));
  } else if (o.dpdk) {
    std::fprintf(stderr, "dpdk: skipped (%s)\n",
                 dp::dpdk_available() ? "net_af_xdp on veth drives one queue: use --queues 1"
                                      : "built without DPDK");
  }

  const Row& base = rows[0];
  if (o.json) {
    std::printf("[\n");
    for (std::size_t i = 0; i < rows.size(); i++)
      std::printf("  %s,\n  %s%s\n", rows[i].sat.json(rows[i].name + "/saturation").c_str(),
                  rows[i].lat.json(rows[i].name + "/latency").c_str(),
                  i + 1 < rows.size() ? "," : "");
    std::printf("]\n");
    return 0;
  }
  std::printf("UDP echo, %zu-byte requests, %u flows, %u kthread(s), veth with %u queue(s), "
              "median of %u rounds (dpdk: 1 round)\n",
              o.load.size, o.flows, o.kthreads, o.queues, o.repeat);
  std::printf("%-12s %14s %8s %9s %9s %9s %9s %8s %9s\n", "path", "max replies/s", "x base",
              "lost %", "p50 us", "p99 us", "p99.9 us", "p50 x", "csw/reply");
  for (const Row& r : rows) {
    const double lost = r.sat.sent ? 100.0 * (r.sat.sent - r.sat.received) / r.sat.sent : 0;
    std::printf("%-12s %14.0f %8.2f %9.2f %9.1f %9.1f %9.1f %8.2f", r.name.c_str(),
                r.sat.throughput, r.sat.throughput / base.sat.throughput, lost,
                r.lat.p50_us, r.lat.p99_us, r.lat.p999_us, r.lat.p50_us / base.lat.p50_us);
    if (r.switches_per_reply < 0) std::printf(" %9s\n", "-");  // server in another process
    else std::printf(" %9.2f\n", r.switches_per_reply);
  }
  std::printf("(latency at %.0f requests/s open loop; throughput at saturation)\n",
              o.latency_rate);
  for (const Ratios& r : ratios) {
    std::printf("%s per round: throughput",
                (r.name.find('/') == std::string::npos ? r.name + "/kernel" : r.name).c_str());
    for (double x : r.thr) std::printf(" %.2f", x);
    std::printf(" (median %.2f); p50", r.thr[r.thr.size() / 2]);
    for (double x : r.p50) std::printf(" %.2f", x);
    std::printf(" (median %.2f)\n", r.p50[r.p50.size() / 2]);
  }
  return 0;
}
