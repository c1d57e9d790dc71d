// What the per-app socket maps cost the steering program (issue 7,
// several direct apps per interface): the same UDP frame for an app
// whose sockets are in the shared xsks_map and for an app with its own
// XSKMAP in app_xsks (one more map lookup), both ending in the redirect
// verdict (an unbound AF_XDP socket on queue 0 of each map), plus an
// unmanaged port (passed) as the floor. BPF_PROG_TEST_RUN with `repeat`
// runs per call reports the mean ns per run; the three are measured
// back to back in every round and the ratios are medians over rounds.
//
//   xdp_steer_bench [--rounds N] [--repeat N]      (root)
#include "kairos_steer.skel.h"
#include <kairos/xdp_abi.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::uint16_t kSharedPort = 7000, kOwnPort = 7001, kUnmanagedPort = 7002;

// Ethernet + IPv4 + UDP to 10.0.0.2:dport with a 32-byte payload.
std::vector<std::uint8_t> udp_frame(std::uint16_t dport) {
  std::vector<std::uint8_t> f(14 + 20 + 8 + 32, 0xab);
  std::memset(f.data(), 0x02, 12);
  f[12] = 0x08, f[13] = 0x00;
  std::uint8_t* ip = &f[14];
  const std::uint8_t hdr[20] = {0x45, 0, 0, 60, 0, 0, 0, 0, 64, IPPROTO_UDP, 0, 0,
                                10, 0, 0, 1, 10, 0, 0, 2};
  std::memcpy(ip, hdr, sizeof hdr);
  std::uint8_t* udp = ip + 20;
  udp[0] = 0x30, udp[1] = 0x39;  // source port 12345
  udp[2] = dport >> 8, udp[3] = dport & 0xff;
  udp[4] = 0, udp[5] = 40, udp[6] = 0, udp[7] = 0;
  return f;
}

void add_app(kairos_steer* s, std::uint16_t port, std::uint32_t id, std::uint32_t flags) {
  kairos_xdp_app_key key{};
  key.addr[10] = key.addr[11] = 0xff;
  inet_pton(AF_INET, "10.0.0.2", &key.addr[12]);
  key.port = htons(port);
  key.l4_proto = IPPROTO_UDP;
  kairos_xdp_app app{id, flags};
  if (bpf_map__update_elem(s->maps.apps, &key, sizeof key, &app, sizeof app, BPF_ANY)) {
    std::perror("apps");
    std::exit(1);
  }
}

// Mean ns per run of the program on frame, and its verdict.
double ns_per_run(int prog, std::vector<std::uint8_t>& frame, unsigned repeat, int want) {
  LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(),
              .data_size_in = static_cast<__u32>(frame.size()),
              .repeat = static_cast<int>(repeat));
  if (bpf_prog_test_run_opts(prog, &o) || static_cast<int>(o.retval) != want) {
    std::fprintf(stderr, "test run failed (verdict %u, want %d)\n", o.retval, want);
    std::exit(1);
  }
  return o.duration;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  unsigned rounds = 15, repeat = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--rounds") rounds = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else if (a == "--repeat") repeat = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: xdp_steer_bench [--rounds N] [--repeat N]\n");
      return 2;
    }
  }
  if (rounds == 0 || repeat == 0) return 2;
  kairos_steer* s = kairos_steer__open_and_load();
  if (!s) {
    std::perror("loading kairos_steer (root?)");
    return 1;
  }
  add_app(s, kSharedPort, 0, 0);
  add_app(s, kOwnPort, 1, KAIROS_XDP_APP_OWN_XSKS);
  const int xsk = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  const int own = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "bench_xsks", 4, 4, KAIROS_XDP_MAX_QUEUES,
                                 nullptr);
  const __u32 q0 = 0, id1 = 1;
  if (xsk < 0 || own < 0 || bpf_map_update_elem(own, &q0, &xsk, BPF_ANY) ||
      bpf_map__update_elem(s->maps.app_xsks, &id1, sizeof id1, &own, sizeof own, BPF_ANY) ||
      bpf_map_update_elem(bpf_map__fd(s->maps.xsks_map), &q0, &xsk, BPF_ANY)) {
    std::perror("setting up the socket maps");
    return 1;
  }
  const int prog = bpf_program__fd(s->progs.kairos_steer);
  auto shared_f = udp_frame(kSharedPort), own_f = udp_frame(kOwnPort),
       unmanaged_f = udp_frame(kUnmanagedPort);
  std::vector<double> shared_ns, own_ns, pass_ns, own_ratio, pass_ratio;
  for (unsigned r = 0; r < rounds; r++) {
    // Rotate the order so neither path always runs first in a round.
    double t[3] = {};
    for (unsigned k = 0; k < 3; k++) {
      switch ((r + k) % 3) {
        case 0: t[0] = ns_per_run(prog, shared_f, repeat, XDP_REDIRECT); break;
        case 1: t[1] = ns_per_run(prog, own_f, repeat, XDP_REDIRECT); break;
        case 2: t[2] = ns_per_run(prog, unmanaged_f, repeat, XDP_PASS); break;
      }
    }
    shared_ns.push_back(t[0]);
    own_ns.push_back(t[1]);
    pass_ns.push_back(t[2]);
    own_ratio.push_back(t[1] / t[0]);
    pass_ratio.push_back(t[2] / t[0]);
  }
  std::printf("kairos_steer per frame, BPF_PROG_TEST_RUN, %u rounds x %u runs (median)\n",
              rounds, repeat);
  std::printf("%-36s %8s %10s\n", "path", "ns", "vs shared");
  std::printf("%-36s %8.1f %10.3f\n", "app, shared xsks_map (relayed)", median(shared_ns), 1.0);
  std::printf("%-36s %8.1f %10.3f\n", "app, own XSKMAP in app_xsks (direct)", median(own_ns),
              median(own_ratio));
  std::printf("%-36s %8.1f %10.3f\n", "unmanaged port (XDP_PASS)", median(pass_ns),
              median(pass_ratio));
  close(own);
  close(xsk);
  kairos_steer__destroy(s);
  return 0;
}
