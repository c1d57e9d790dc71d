// runtime_echo_bench: UDP echo on one veth pair between two namespaces it
// makes (host kernel, root), side by side in one process: the kernel UDP
// baseline (recvmmsg/sendmmsg threads), the Kairos AF_XDP dataplane with
// the echo on runtime uthreads (kairos::net blocking sockets), and the same
// dataplane with the echo on plain threads (dp::UdpQueue). udpload's
// open-loop client; rounds alternate; ratios are per-round medians.
//   runtime_echo_bench [--duration S] [--rate N] [--repeat N] [--kthreads N]
//                      [--spin-us N]
#include "echo_app.hpp"
#include "kernel_echo.hpp"
#include "loadgen.hpp"
#include "netns.hpp"
#include "uthread_echo.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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
};

struct Result {
  udpload::LoadResult sat, lat;
};

Result measure(const char* name, const Options& o, dp::testing::VethPair& v,
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
  r.lat = udpload::run_load(fds, c);
  c.rate = 0;
  r.sat = udpload::run_load(fds, c);
  for (int fd : fds) close(fd);
  std::fprintf(stderr, "%-8s saturation: %s\n%-8s at %.0f/s: %s\n", name,
               r.sat.str().c_str(), name, o.rate, r.lat.str().c_str());
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc + 1; i++) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "missing value for %s\n", a.c_str());
      return 2;
    }
    char* end = nullptr;
    const double val = std::strtod(argv[++i], &end);
    if (*end || val <= 0) {
      std::fprintf(stderr, "bad value for %s\n", a.c_str());
      return 2;
    }
    if (a == "--duration") o.duration = val;
    else if (a == "--rate") o.rate = val;
    else if (a == "--repeat") o.repeat = static_cast<unsigned>(val);
    else if (a == "--kthreads") o.kthreads = static_cast<unsigned>(val);
    else if (a == "--spin-us") o.spin_us = val;
    else {
      std::fprintf(stderr, "usage: runtime_echo_bench [--duration S] [--rate N] "
                           "[--repeat N] [--kthreads N] [--spin-us N]\n");
      return 2;
    }
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
  const dp::Endpoint ep = *dp::Endpoint::parse(v.server_ip + ":7000");
  auto afxdp = [&] {
    dp::AfXdpConfig cfg;
    cfg.ifname = v.server_if;
    cfg.apps = {ep};
    return dp::make_afxdp_backend(cfg);
  };
  std::vector<Result> kern, uth, plain;
  for (unsigned r = 0; r < o.repeat; r++) {
    kern.push_back(measure("kernel", o, v, [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      return std::make_shared<udpload::KernelEcho>(ep, o.kthreads);
    }));
    uth.push_back(measure("uthreads", o, v, [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      return std::make_shared<net::UthreadEchoServer>(
          afxdp(), ep, o.kthreads, dp::DataplaneConfig{}, 4,
          std::chrono::nanoseconds(static_cast<long>(o.spin_us * 1000)));
    }));
    plain.push_back(measure("threads", o, v, [&]() -> std::shared_ptr<void> {
      dp::testing::InNetns in(v.server);
      return std::make_shared<dp::testing::EchoApp>(afxdp(), ep, o.kthreads);
    }));
  }
  auto ratio = [&](const std::vector<Result>& a, auto get) {
    std::vector<double> x;
    for (unsigned r = 0; r < o.repeat; r++) x.push_back(get(a[r]) / get(kern[r]));
    return median(x);
  };
  auto thr = [](const Result& r) { return r.sat.throughput; };
  auto p50 = [](const Result& r) { return r.lat.p50_us; };
  auto p99 = [](const Result& r) { return r.lat.p99_us; };
  auto med = [&](const std::vector<Result>& a, auto get) {
    std::vector<double> x;
    for (auto& r : a) x.push_back(get(r));
    return median(x);
  };
  std::printf("%-10s %14s %10s %10s %10s %10s\n", "server", "throughput/s", "p50 us",
              "p99 us", "thr x", "p50 x");
  for (auto [name, rows] : {std::pair{"kernel", &kern}, std::pair{"uthreads", &uth},
                            std::pair{"threads", &plain}})
    std::printf("%-10s %14.0f %10.1f %10.1f %10.2f %10.2f\n", name, med(*rows, thr),
                med(*rows, p50), med(*rows, p99), ratio(*rows, thr), ratio(*rows, p50));
  return 0;
}
