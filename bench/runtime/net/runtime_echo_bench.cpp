// runtime_echo_bench: UDP echo on one veth pair between two namespaces it
// makes (host kernel, root), side by side in one process: the kernel UDP
// baseline (recvmmsg/sendmmsg threads), the Kairos AF_XDP dataplane with
// the echo on runtime uthreads (kairos::net blocking sockets), the same
// dataplane with the echo on plain threads (dp::UdpQueue), and direct
// mode: plain threads owning the queues' sockets (dp DirectEchoApp) and
// runtime uthreads over kairos::net's direct Stack (direct_uth: kthreads
// own the sockets and park on their fds; direct_uth_db: the same woken by
// the doorbell thread instead, as with /dev/kairos parking). --poll adds the dedicated-core
// peers: kernel_poll (non-blocking recvmmsg loop), direct_poll (the
// direct thread never sleeps) and direct_uth_poll (kthreads never park).
// udpload's open-loop client; rounds alternate; ratios are per-round
// medians against the blocking kernel server (the *_poll rows also
// against kernel_poll). csw/reply: context switches of the whole process
// (client included, the same for every row) per reply in the latency run.
//   runtime_echo_bench [--duration S] [--rate N] [--repeat N] [--kthreads N]
//                      [--spin-us N] [--poll] [--no-relayed]
#include <kairos/packetio/backends.hpp>
#include <kairos/bench/echo_app.hpp>
#include "kernel_echo.hpp"
#include "loadgen.hpp"
#include "netns.hpp"
#include "uthread_echo.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

namespace {

using namespace kairos;

struct Options {
  double duration = 1, rate = 20000;
  unsigned repeat = 3, kthreads = 1, flows = 8;
  double spin_us = 20;  // runtime kthreads spin this long before parking
  bool poll = false, relayed = true;
};

struct Result {
  udpload::LoadResult sat, lat;
  double csw_per_reply = 0;
};

std::uint64_t process_switches() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_nvcsw + ru.ru_nivcsw);
}

Result measure(const std::string& name, const Options& o, dp::testing::VethPair& v,
               const std::function<std::shared_ptr<void>()>& start) {
  auto server = start();
  auto fds = dp::testing::connected_udp_clients(v.client, v.server_ip, 7000, o.flows,
                                                8 << 20);
  udpload::LoadConfig c;
  c.duration_s = 0.2;
  c.rate = o.rate;
  udpload::run_load(fds, c);  // warm-up (ARP, caches)
  Result r;
  c.duration_s = o.duration;
  // Latency first, before a saturation backlog (see dataplane_bench).
  c.rate = o.rate;
  const std::uint64_t sw0 = process_switches();
  r.lat = udpload::run_load(fds, c);
  if (r.lat.received)
    r.csw_per_reply = double(process_switches() - sw0) / double(r.lat.received);
  c.rate = 0;
  r.sat = udpload::run_load(fds, c);
  for (int fd : fds) close(fd);
  std::fprintf(stderr, "%-16s saturation: %s\n%-16s at %.0f/s: %s\n", name.c_str(),
               r.sat.str().c_str(), name.c_str(), o.rate, r.lat.str().c_str());
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int usage() {
  std::fprintf(stderr, "usage: runtime_echo_bench [--duration S] [--rate N] [--repeat N] "
                       "[--kthreads N] [--spin-us N] [--poll] [--no-relayed]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--poll") { o.poll = true; continue; }
    if (a == "--no-relayed") { o.relayed = false; continue; }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "missing value for %s\n", a.c_str());
      return usage();
    }
    char* end = nullptr;
    const double val = std::strtod(argv[++i], &end);
    if (*end || val <= 0) {
      std::fprintf(stderr, "bad value for %s\n", a.c_str());
      return usage();
    }
    if (a == "--duration") o.duration = val;
    else if (a == "--rate") o.rate = val;
    else if (a == "--repeat") o.repeat = static_cast<unsigned>(val);
    else if (a == "--kthreads") o.kthreads = static_cast<unsigned>(val);
    else if (a == "--spin-us") o.spin_us = val;
    else return usage();
  }
  if (o.repeat == 0 || o.repeat > 50 || o.kthreads == 0 || o.kthreads > 16) {
    std::fprintf(stderr, "repeat 1..50, kthreads 1..16\n");
    return 2;
  }
  dp::testing::VethPair v(1);
  if (!v.ok()) {
    std::fprintf(stderr, "cannot create namespaces/veth (root?)\n");
    return 2;
  }
  // A static neighbour: ARP is out of the measurement.
  v.client.sh("ip neigh replace " + v.server_ip + " lladdr " +
              dp::testing::mac_of(v.server, v.server_if) + " dev " + v.client_if +
              " nud permanent");
  const dp::Endpoint ep = *dp::Endpoint::parse(v.server_ip + ":7000");
  dp::AfXdpConfig cfg;
  cfg.ifname = v.server_if;
  cfg.apps = {ep};
  const auto spin = std::chrono::nanoseconds(static_cast<long>(o.spin_us * 1000));
  using Start = std::function<std::shared_ptr<void>()>;
  std::vector<std::pair<std::string, Start>> paths;
  paths.emplace_back("kernel", [&]() -> std::shared_ptr<void> {
    dp::testing::InNetns in(v.server);
    return std::make_shared<udpload::KernelEcho>(ep, o.kthreads);
  });
  if (o.relayed) {
    paths.emplace_back("uthreads", [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      return std::make_shared<net::UthreadEchoServer>(dp::make_afxdp_backend(cfg), ep,
                                                      o.kthreads, dp::DataplaneConfig{}, 4,
                                                      spin);
    });
    paths.emplace_back("threads", [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      return std::make_shared<dp::testing::EchoApp>(dp::make_afxdp_backend(cfg), ep,
                                                    o.kthreads);
    });
  }
  paths.emplace_back("direct", [&]() -> std::shared_ptr<void> {
    dp::testing::InNetns in(v.server);
    return std::make_shared<dp::testing::DirectEchoApp>(dp::make_afxdp_direct_backends(cfg));
  });
  paths.emplace_back("direct_uth", [&]() -> std::shared_ptr<void> {
    dp::testing::InNetns in(v.server);
    return std::make_shared<net::DirectUthreadEchoServer>(dp::make_afxdp_direct_backends(cfg),
                                                          ep, o.kthreads, 4, spin);
  });
  // The same with the doorbell thread instead of fd parking (what
  // /dev/kairos parking gets): one more wakeup per request when idle.
  paths.emplace_back("direct_uth_db", [&]() -> std::shared_ptr<void> {
    dp::testing::InNetns in(v.server);
    return std::make_shared<net::DirectUthreadEchoServer>(dp::make_afxdp_direct_backends(cfg),
                                                          ep, o.kthreads, 4, spin, true, false);
  });
  if (o.poll) {
    paths.emplace_back("kernel_poll", [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      return std::make_shared<udpload::KernelEcho>(ep, o.kthreads, true);
    });
    paths.emplace_back("direct_poll", [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      return std::make_shared<dp::testing::DirectEchoApp>(dp::make_afxdp_direct_backends(cfg),
                                                          UINT_MAX);
    });
    paths.emplace_back("direct_uth_poll", [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      // Kthreads never park: the runtime's spin on a granted core.
      return std::make_shared<net::DirectUthreadEchoServer>(
          dp::make_afxdp_direct_backends(cfg), ep, o.kthreads, 4, std::chrono::seconds(3600),
          false);
    });
  }
  std::vector<std::vector<Result>> res(paths.size());
  for (unsigned r = 0; r < o.repeat; r++)
    for (std::size_t p = 0; p < paths.size(); p++)
      res[p].push_back(measure(paths[p].first, o, v, paths[p].second));
  auto thr = [](const Result& r) { return r.sat.throughput; };
  auto p50 = [](const Result& r) { return r.lat.p50_us; };
  auto p99 = [](const Result& r) { return r.lat.p99_us; };
  auto csw = [](const Result& r) { return r.csw_per_reply; };
  auto ratio = [&](const std::vector<Result>& a, const std::vector<Result>& b, auto get) {
    std::vector<double> x;
    for (unsigned r = 0; r < o.repeat; r++) x.push_back(get(a[r]) / get(b[r]));
    return median(x);
  };
  auto med = [&](const std::vector<Result>& a, auto get) {
    std::vector<double> x;
    for (auto& r : a) x.push_back(get(r));
    return median(x);
  };
  std::size_t kpoll = paths.size();
  for (std::size_t p = 0; p < paths.size(); p++)
    if (paths[p].first == "kernel_poll") kpoll = p;
  std::printf("UDP echo at %.0f/s (latency) and saturation, %u flows, %u kthread(s), 1 queue, "
              "median of %u rounds; ratios: medians of per-round ratios\n",
              o.rate, o.flows, o.kthreads, o.repeat);
  std::printf("%-16s %14s %10s %10s %10s %10s %10s %12s\n", "server", "throughput/s",
              "p50 us", "p99 us", "thr x", "p50 x", "csw/reply", "p50 x kpoll");
  for (std::size_t p = 0; p < paths.size(); p++) {
    std::printf("%-16s %14.0f %10.1f %10.1f %10.2f %10.2f %10.2f", paths[p].first.c_str(),
                med(res[p], thr), med(res[p], p50), med(res[p], p99), ratio(res[p], res[0], thr),
                ratio(res[p], res[0], p50), med(res[p], csw));
    if (kpoll < paths.size() && paths[p].first.ends_with("_poll"))
      std::printf(" %12.2f\n", ratio(res[p], res[kpoll], p50));
    else
      std::printf(" %12s\n", "-");
  }
  return 0;
}
