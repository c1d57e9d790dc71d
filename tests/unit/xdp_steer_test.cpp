// The XDP program on crafted frames, through BPF_PROG_TEST_RUN on the
// build machine's own kernel (needs root for BPF, no VM).
#include "kairos_steer.skel.h"
#include "kairos_xdp_abi.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace {

using Frame = std::vector<std::uint8_t>;

Frame ethernet(std::uint16_t proto) {
  Frame f(12, 0x02);  // dst + src MAC
  f.push_back(proto >> 8);
  f.push_back(proto & 0xff);
  return f;
}

Frame ipv4_udp() {
  Frame f = ethernet(0x0800);
  const std::uint8_t ip[20] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0,
                               10, 0, 0, 1, 10, 0, 0, 2};
  f.insert(f.end(), ip, ip + 20);
  const std::uint8_t udp[8] = {0x30, 0x39, 0x1f, 0x90, 0, 8, 0, 0};
  f.insert(f.end(), udp, udp + 8);
  return f;
}

class XdpSteer : public ::testing::Test {
 protected:
  void SetUp() override {
    skel_ = kairos_steer__open_and_load();
    ASSERT_NE(skel_, nullptr) << "loading the XDP program failed (root?)";
  }
  void TearDown() override { kairos_steer__destroy(skel_); }

  int run(Frame f) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(),
                .data_size_in = static_cast<__u32>(f.size()), .repeat = 1);
    const int err = bpf_prog_test_run_opts(
        bpf_program__fd(skel_->progs.kairos_steer), &opts);
    EXPECT_EQ(err, 0);
    return static_cast<int>(opts.retval);
  }

  std::uint64_t counter(kairos_xdp_counter slot) {
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<std::uint64_t> per_cpu(ncpu);
    __u32 key = slot;
    EXPECT_EQ(bpf_map__lookup_elem(skel_->maps.counters, &key, sizeof key,
                                   per_cpu.data(),
                                   per_cpu.size() * sizeof(std::uint64_t), 0),
              0);
    std::uint64_t sum = 0;
    for (auto v : per_cpu) sum += v;
    return sum;
  }

  kairos_steer* skel_ = nullptr;
};

TEST_F(XdpSteer, PassesAndCountsWellFormedIpv4) {
  EXPECT_EQ(run(ipv4_udp()), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_SEEN), 1u);
  EXPECT_EQ(counter(KAIROS_XDP_IPV4), 1u);
  EXPECT_EQ(counter(KAIROS_XDP_BAD_L3), 0u);
}

TEST_F(XdpSteer, PassesArpUntouched) {
  Frame arp = ethernet(0x0806);
  arp.resize(42, 0);
  EXPECT_EQ(run(arp), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_NON_IP), 1u);
}

TEST_F(XdpSteer, TruncatedIpv4HeaderIsPassedAndCounted) {
  Frame f = ipv4_udp();
  f.resize(14 + 10);  // half an IPv4 header
  EXPECT_EQ(run(f), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_BAD_L3), 1u);
  EXPECT_EQ(counter(KAIROS_XDP_IPV4), 0u);
}

TEST_F(XdpSteer, Ipv4WithBadIhlIsPassedAndCounted) {
  Frame f = ipv4_udp();
  f[14] = 0x43;  // IHL 3 < 5
  EXPECT_EQ(run(f), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_BAD_L3), 1u);
}

TEST_F(XdpSteer, VlanTaggedIpv4IsSeenThroughTheTag) {
  Frame inner = ipv4_udp();
  Frame f = ethernet(0x8100);
  const std::uint8_t tag[4] = {0x00, 0x64, 0x08, 0x00};  // VLAN 100, IPv4
  f.insert(f.end(), tag, tag + 4);
  f.insert(f.end(), inner.begin() + 14, inner.end());
  EXPECT_EQ(run(f), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_VLAN), 1u);
  EXPECT_EQ(counter(KAIROS_XDP_IPV4), 1u);
}

}  // namespace
