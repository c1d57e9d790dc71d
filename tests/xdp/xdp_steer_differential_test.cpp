// Differential test of the XDP steering program: random well-formed
// frames and mutations of them (truncated, bytes flipped, length fields
// off) run through the real program with BPF_PROG_TEST_RUN and through
// steer_reference.cpp, a classifier written from the documented policy;
// every verdict, every counter and every per-app statistic must agree.
// The seed and frame count can be set with KAIROS_XDP_DIFF_SEED and
// KAIROS_XDP_DIFF_FRAMES; a failure prints the seed and the frame.
#include "kairos_steer.skel.h"
#include "steer_reference.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace {

using kairos::xdptest::RefApp;
using kairos::xdptest::RefMaps;
using kairos::xdptest::RefOutcome;
using Frame = std::vector<std::uint8_t>;
using Addr = std::array<std::uint8_t, 16>;

Addr v4(const char* a) {
  Addr x{};
  x[10] = x[11] = 0xff;
  inet_pton(AF_INET, a, &x[12]);
  return x;
}
Addr v6(const char* a) {
  Addr x{};
  inet_pton(AF_INET6, a, x.data());
  return x;
}

struct AppEntry {
  Addr addr;
  std::uint16_t port;
  std::uint8_t proto;
  RefApp app;
};

// Shared sockets (app 7, and the wildcard app 3), an app with its own map
// holding a socket (9), one flagged but without a map (11), one whose map
// has no socket on queue 0 (12).
const std::vector<AppEntry> kApps = {
    {v4("10.0.0.2"), 8000, IPPROTO_UDP, {7, false}},
    {v6("fd00::2"), 8000, IPPROTO_UDP, {7, false}},
    {v4("10.0.0.2"), 8000, IPPROTO_TCP, {7, false}},
    {Addr{}, 7001, IPPROTO_UDP, {3, false}},
    {v4("10.0.0.3"), 9000, IPPROTO_UDP, {9, true}},
    {v6("fd00::3"), 9001, IPPROTO_TCP, {11, true}},
    {v4("10.0.0.4"), 9002, IPPROTO_UDP, {12, true}},
};
const std::vector<std::uint32_t> kAppIds = {3, 7, 9, 11, 12};

// Random frames shaped like real traffic, most of them for the apps above.
class FrameMaker {
 public:
  explicit FrameMaker(std::uint64_t seed) : rng_(seed) {}

  Frame next() {
    Frame f = well_formed();
    if (pick(2)) mutate(f);
    return f;
  }

 private:
  unsigned pick(unsigned n) { return std::uniform_int_distribution<unsigned>(0, n - 1)(rng_); }
  std::uint8_t byte() { return static_cast<std::uint8_t>(pick(256)); }
  static void put16(Frame& f, std::size_t at, unsigned v) {
    f[at] = static_cast<std::uint8_t>(v >> 8);
    f[at + 1] = static_cast<std::uint8_t>(v);
  }

  Frame l4(std::uint8_t proto) {
    static const std::uint16_t ports[] = {8000, 7001, 9000, 9001, 9002, 53, 8001};
    const std::uint16_t dport = pick(5) ? ports[pick(7)] : static_cast<std::uint16_t>(pick(65536));
    const std::size_t payload = pick(65);
    Frame h;
    if (proto == IPPROTO_TCP) {
      h.assign(20 + (pick(4) == 0 ? 4 * pick(4) : 0), 0);
      h[12] = static_cast<std::uint8_t>((h.size() / 4) << 4);
    } else if (proto == IPPROTO_UDP) {
      h.assign(8, 0);
      put16(h, 4, 8 + payload);
    } else {
      h.assign(8, 0);  // ICMP or anything else
    }
    put16(h, 0, 40000 + pick(1000));
    if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) put16(h, 2, dport);
    for (std::size_t i = 0; i < payload; i++) h.push_back(byte());
    return h;
  }

  std::uint8_t transport() {
    static const std::uint8_t p[] = {IPPROTO_UDP, IPPROTO_UDP, IPPROTO_TCP, IPPROTO_ICMP};
    return p[pick(4)];
  }

  Frame ipv4() {
    static const char* dsts[] = {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.9.9.9"};
    const std::uint8_t proto = transport();
    const Frame payload = l4(proto);
    const std::size_t opts = pick(4) == 0 ? 4 * (1 + pick(2)) : 0;
    Frame ip(20 + opts, 0);
    ip[0] = static_cast<std::uint8_t>(0x40 | (5 + opts / 4));
    put16(ip, 2, ip.size() + payload.size());
    if (pick(10) == 0) put16(ip, 6, pick(2) ? 0x2000 : pick(0x2000));  // a fragment
    ip[8] = 64;
    ip[9] = proto;
    inet_pton(AF_INET, "10.0.0.1", &ip[12]);
    inet_pton(AF_INET, dsts[pick(4)], &ip[16]);
    ip.insert(ip.end(), payload.begin(), payload.end());
    return ip;
  }

  Frame ipv6() {
    static const char* dsts[] = {"fd00::2", "fd00::3", "fd00::9"};
    static const std::uint8_t exts[] = {0, 43, 60, 51, 44};
    const std::uint8_t proto = transport();
    Frame chain;
    std::vector<std::size_t> starts;
    std::vector<std::uint8_t> kinds;
    const unsigned n = pick(3) == 0 ? pick(8) : 0;
    for (unsigned i = 0; i < n; i++) {
      const std::uint8_t kind = exts[pick(5)];
      const unsigned units = pick(3);
      const std::size_t len = kind == 44 ? 8 : kind == 51 ? (units + 2) * 4 : (units + 1) * 8;
      starts.push_back(chain.size());
      kinds.push_back(kind);
      chain.resize(chain.size() + len, 0);
      chain[starts.back() + 1] = static_cast<std::uint8_t>(kind == 44 ? 0 : units);
    }
    for (std::size_t i = 0; i < starts.size(); i++)
      chain[starts[i]] = i + 1 < kinds.size() ? kinds[i + 1] : proto;
    const Frame payload = l4(proto);
    Frame ip(40, 0);
    ip[0] = 0x60;
    put16(ip, 4, chain.size() + payload.size());
    ip[6] = kinds.empty() ? proto : kinds[0];
    ip[7] = 64;
    inet_pton(AF_INET6, "fd00::1", &ip[8]);
    inet_pton(AF_INET6, dsts[pick(3)], &ip[24]);
    ip.insert(ip.end(), chain.begin(), chain.end());
    ip.insert(ip.end(), payload.begin(), payload.end());
    return ip;
  }

  Frame well_formed() {
    Frame f(12, 0x02);
    const unsigned tags = pick(6) == 0 ? 1 + pick(3) : 0;
    for (unsigned i = 0; i < tags; i++) {
      f.push_back(pick(2) ? 0x81 : 0x88);
      f.push_back(f.back() == 0x81 ? 0x00 : 0xa8);
      f.push_back(0);
      f.push_back(static_cast<std::uint8_t>(1 + i));
    }
    const unsigned kind = pick(10);
    const Frame l3 = kind < 5 ? ipv4() : kind < 9 ? ipv6() : Frame(28, 0);
    f.push_back(kind < 5 ? 0x08 : kind < 9 ? 0x86 : 0x08);
    f.push_back(kind < 5 ? 0x00 : kind < 9 ? 0xdd : 0x06);
    f.insert(f.end(), l3.begin(), l3.end());
    return f;
  }

  // Cut short, bytes flipped, or a length field off; never below the
  // Ethernet header (BPF_PROG_TEST_RUN refuses those).
  void mutate(Frame& f) {
    switch (pick(3)) {
      case 0:
        f.resize(14 + pick(static_cast<unsigned>(f.size() - 14)));
        break;
      case 1:
        for (unsigned n = 1 + pick(3); n; n--) f[12 + pick(static_cast<unsigned>(f.size() - 12))] = byte();
        break;
      default: {
        const std::size_t at = 14 + pick(static_cast<unsigned>(f.size() - 14));
        if (at + 1 < f.size()) put16(f, at, pick(4) ? pick(128) : pick(65536));
      }
    }
  }

  std::mt19937_64 rng_;
};

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

std::string hex(const Frame& f) {
  std::string s;
  char b[4];
  for (auto c : f) {
    std::snprintf(b, sizeof b, "%02x", c);
    s += b;
  }
  return s;
}

class XdpSteerDifferential : public ::testing::Test {
 protected:
  void SetUp() override {
    skel_ = kairos_steer__open_and_load();
    ASSERT_NE(skel_, nullptr) << "loading the XDP program failed (root?)";
    xsk_ = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    ASSERT_GE(xsk_, 0) << "AF_XDP socket";
    for (const auto& a : kApps) {
      kairos_xdp_app_key key{};
      std::copy(a.addr.begin(), a.addr.end(), key.addr);
      key.port = htons(a.port);
      key.l4_proto = a.proto;
      kairos_xdp_app v{a.app.id, a.app.own_xsks ? KAIROS_XDP_APP_OWN_XSKS : 0u};
      ASSERT_EQ(bpf_map__update_elem(skel_->maps.apps, &key, sizeof key, &v, sizeof v, BPF_ANY), 0);
      ref_.apps[{a.addr, a.port, a.proto}] = a.app;
    }
    const __u32 q0 = 0;
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.xsks_map, &q0, sizeof q0, &xsk_, sizeof xsk_,
                                   BPF_ANY), 0);
    ref_.shared_socket_q0 = true;
    own_map(9, true);
    own_map(12, false);
  }
  void TearDown() override {
    for (int fd : maps_) close(fd);
    if (xsk_ >= 0) close(xsk_);
    kairos_steer__destroy(skel_);
  }

  void own_map(std::uint32_t app_id, bool socket_on_q0) {
    const int fd = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "t_own", 4, 4, KAIROS_XDP_MAX_QUEUES, nullptr);
    ASSERT_GE(fd, 0);
    maps_.push_back(fd);
    const __u32 q = socket_on_q0 ? 0 : 1;
    ASSERT_EQ(bpf_map_update_elem(fd, &q, &xsk_, BPF_ANY), 0);
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.app_xsks, &app_id, sizeof app_id, &fd, sizeof fd,
                                   BPF_ANY), 0);
    ref_.own_map_socket_q0[app_id] = socket_on_q0;
  }

  // Every counter and app statistic, summed over CPUs.
  RefOutcome totals() {
    RefOutcome t;
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<std::uint64_t> pc(ncpu);
    for (__u32 c = 0; c < KAIROS_XDP_NR_COUNTERS; c++) {
      EXPECT_EQ(bpf_map__lookup_elem(skel_->maps.counters, &c, sizeof c, pc.data(),
                                     pc.size() * sizeof pc[0], 0), 0);
      for (auto v : pc) t.counters[c] += v;
    }
    std::vector<kairos_xdp_app_stats> ps(ncpu);
    for (__u32 id : kAppIds) {
      EXPECT_EQ(bpf_map__lookup_elem(skel_->maps.app_stats, &id, sizeof id, ps.data(),
                                     ps.size() * sizeof ps[0], 0), 0);
      auto& s = t.app_stats[id];
      for (auto& p : ps) {
        s.redirected += p.redirected;
        s.redirected_bytes += p.redirected_bytes;
        s.no_socket += p.no_socket;
        s.dropped_bad_l4 += p.dropped_bad_l4;
      }
    }
    return t;
  }

  int run(Frame f) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(),
                .data_size_in = static_cast<__u32>(f.size()), .repeat = 1);
    EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.kairos_steer), &opts), 0);
    return static_cast<int>(opts.retval);
  }

  // "" when the program and the reference agree on f.
  std::string compare(const Frame& f) {
    const RefOutcome before = totals();
    const int verdict = run(f);
    const RefOutcome after = totals();
    const RefOutcome want = kairos::xdptest::classify(f, ref_);
    std::string diff;
    if (verdict != want.verdict)
      diff += " verdict " + std::to_string(verdict) + " (reference " + std::to_string(want.verdict) + ")";
    for (int c = 0; c < KAIROS_XDP_NR_COUNTERS; c++) {
      const auto moved = after.counters[c] - before.counters[c];
      if (moved != want.counters[c])
        diff += " counter " + std::to_string(c) + " moved " + std::to_string(moved) +
                " (reference " + std::to_string(want.counters[c]) + ")";
    }
    for (std::uint32_t id : kAppIds) {
      const auto& a = after.app_stats.at(id);
      const auto& b = before.app_stats.at(id);
      const auto it = want.app_stats.find(id);
      const kairos::xdptest::RefAppStats w = it == want.app_stats.end() ? kairos::xdptest::RefAppStats{} : it->second;
      if (a.redirected - b.redirected != w.redirected ||
          a.redirected_bytes - b.redirected_bytes != w.redirected_bytes ||
          a.no_socket - b.no_socket != w.no_socket ||
          a.dropped_bad_l4 - b.dropped_bad_l4 != w.dropped_bad_l4)
        diff += " app " + std::to_string(id) + " statistics differ";
    }
    return diff;
  }

  kairos_steer* skel_ = nullptr;
  int xsk_ = -1;
  std::vector<int> maps_;
  RefMaps ref_;
};

TEST_F(XdpSteerDifferential, ProgramAndReferenceAgreeOnRandomAndMutatedFrames) {
  const std::uint64_t seed = env_or("KAIROS_XDP_DIFF_SEED", 20261206);
  const std::uint64_t frames = env_or("KAIROS_XDP_DIFF_FRAMES", 20000);
  FrameMaker maker(seed);
  unsigned failures = 0;
  std::array<std::uint64_t, KAIROS_XDP_NR_COUNTERS> seen_outcomes{};
  for (std::uint64_t i = 0; i < frames && failures < 5; i++) {
    const Frame f = maker.next();
    const std::string diff = compare(f);
    if (!diff.empty()) {
      ADD_FAILURE() << "seed " << seed << " frame " << i << ":" << diff << "\n  frame " << hex(f);
      failures++;
    }
    const RefOutcome want = kairos::xdptest::classify(f, ref_);
    for (int c = KAIROS_XDP_PASS_NON_IP; c < KAIROS_XDP_NR_COUNTERS; c++)
      seen_outcomes[c] += want.counters[c];
  }
  // The frames reached every outcome the program can give from a test run
  // (a frame shorter than Ethernet cannot be submitted).
  for (int c = KAIROS_XDP_PASS_NON_IP; c < KAIROS_XDP_NR_COUNTERS; c++) {
    if (c == KAIROS_XDP_DROP_SHORT_ETH) continue;
    EXPECT_GT(seen_outcomes[c], 0u) << "no frame ended in counter slot " << c;
  }
}

}  // namespace
