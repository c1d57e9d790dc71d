// A second implementation of the XDP steering policy, written from its
// documentation (the policy list at the top of xdp/kairos_steer.bpf.c and
// the counter meanings in <kairos/xdp_abi.h>), not from the program's code:
// the differential test runs both on the same frames and compares every
// verdict and counter. Plain byte-offset parsing, no kernel headers.
#pragma once

#include <kairos/xdp_abi.h>

#include <array>
#include <cstdint>
#include <map>
#include <vector>

namespace kairos::xdptest {

struct RefApp {
  std::uint32_t id = 0;
  bool own_xsks = false;  // KAIROS_XDP_APP_OWN_XSKS
};

// What the maps hold, as far as the policy can see it (queue 0 only:
// BPF_PROG_TEST_RUN runs on rx queue 0).
struct RefMaps {
  // (address IPv6-sized, IPv4-mapped; port; protocol) -> app. An all-zero
  // address is the wildcard.
  std::map<std::tuple<std::array<std::uint8_t, 16>, std::uint16_t, std::uint8_t>, RefApp> apps;
  bool shared_socket_q0 = false;                 // xsks_map[0] holds a socket
  std::map<std::uint32_t, bool> own_map_socket_q0;  // app_xsks[id] exists -> socket at 0?
};

struct RefAppStats {
  std::uint64_t redirected = 0, redirected_bytes = 0, no_socket = 0, dropped_bad_l4 = 0;
};

struct RefOutcome {
  int verdict = 0;  // XDP_PASS, XDP_DROP or XDP_REDIRECT
  std::array<std::uint64_t, KAIROS_XDP_NR_COUNTERS> counters{};
  std::map<std::uint32_t, RefAppStats> app_stats;  // only apps that moved
};

RefOutcome classify(const std::vector<std::uint8_t>& frame, const RefMaps& maps);

}  // namespace kairos::xdptest
