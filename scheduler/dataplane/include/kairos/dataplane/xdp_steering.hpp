// Mechanism around the XDP steering program (xdp/kairos_steer.bpf.c):
// load, attach to a device, fill the app and socket maps, read counters.
#pragma once

#include <kairos/dataplane/endpoint.hpp>

#include "kairos_xdp_abi.h"

#include <array>
#include <cstdint>
#include <string>

struct kairos_steer;
struct bpf_link;

namespace kairos::dp {

// Adds one app entry to an 'apps' map given by fd (throws on failure).
void add_app_to_map(int apps_map_fd, const Endpoint& ep, std::uint8_t l4_proto,
                    std::uint32_t app_id);

// The 'apps' map of the kairos_steer program attached to ifindex by
// someone else (e.g. DPDK's net_af_xdp with xdp_prog=): an fd the caller
// closes. Throws when no such program is attached.
int find_attached_apps_map(int ifindex);

class XdpSteering {
 public:
  // Loads the program and attaches it to ifname through a BPF link (the
  // kernel picks native mode where the driver has it). Refuses to replace
  // a program already attached. Throws with the reason on failure.
  explicit XdpSteering(const std::string& ifname);
  ~XdpSteering();
  XdpSteering(const XdpSteering&) = delete;
  XdpSteering& operator=(const XdpSteering&) = delete;

  void add_app(const Endpoint& ep, std::uint8_t l4_proto, std::uint32_t app_id);
  void set_socket(std::uint32_t queue, int xsk_fd);
  std::uint64_t counter(kairos_xdp_counter slot) const;
  kairos_xdp_app_stats app_stats(std::uint32_t app_id) const;
  int ifindex() const { return ifindex_; }
  // For mode=direct (direct_pins.hpp): the XSKMAP to pin, and the
  // attached program's id (the app checks it is still attached).
  int xsks_map_fd() const;
  std::uint32_t prog_id() const;

 private:
  kairos_steer* skel_ = nullptr;
  bpf_link* link_ = nullptr;
  int ifindex_ = 0;
};

}  // namespace kairos::dp
