// Mechanism around the XDP steering program (xdp/kairos_steer.bpf.c):
// load, attach to a device, fill the app and socket maps, read counters.
#pragma once

#include <kairos/contracts/endpoint.hpp>

#include <kairos/xdp_abi.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>

struct kairos_steer;
struct bpf_link;

namespace kairos::dp {

// Adds one app entry to an 'apps' map given by fd (throws on failure).
// flags: KAIROS_XDP_APP_* (kairos_xdp_abi.h).
void add_app_to_map(int apps_map_fd, const Endpoint& ep, std::uint8_t l4_proto,
                    std::uint32_t app_id, std::uint32_t flags = 0);

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

  // An app whose frames go to the shared XSKMAP (set_socket), or, with
  // own_sockets, to its own XSKMAP (app_xsks_map_fd).
  void add_app(const Endpoint& ep, std::uint8_t l4_proto, std::uint32_t app_id,
               bool own_sockets = false);
  void set_socket(std::uint32_t queue, int xsk_fd);
  // The app's own XSKMAP (key: rx queue), made and stored in the
  // program's app_xsks on the first call; owned here (closed in the
  // destructor; a pin keeps it alive beyond). Throws on failure.
  int app_xsks_map_fd(std::uint32_t app_id);
  std::uint64_t counter(kairos_xdp_counter slot) const;
  kairos_xdp_app_stats app_stats(std::uint32_t app_id) const;
  int ifindex() const { return ifindex_; }
  // The shared XSKMAP, and the attached program's id (a mode=direct app
  // checks it is still attached, direct_pins.hpp).
  int xsks_map_fd() const;
  std::uint32_t prog_id() const;

 private:
  kairos_steer* skel_ = nullptr;
  bpf_link* link_ = nullptr;
  int ifindex_ = 0;
  std::map<std::uint32_t, int> app_xsks_;  // app id -> its XSKMAP fd
};

}  // namespace kairos::dp
