#include <kairos/dataplane/xdp_steering.hpp>

#include "kairos_steer.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace kairos::dp {

namespace {
std::runtime_error err(const std::string& what, int e) {
  return std::runtime_error("XDP steering: " + what + ": " + std::strerror(e));
}
}  // namespace

XdpSteering::XdpSteering(const std::string& ifname) {
  ifindex_ = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (!ifindex_) throw err("no device '" + ifname + "'", errno);
  skel_ = kairos_steer__open_and_load();
  if (!skel_) throw err("loading the program (root?)", errno);
  if (skel_->rodata->kairos_xdp_abi_version != KAIROS_XDP_ABI_VERSION) {
    kairos_steer__destroy(skel_);
    throw std::runtime_error("XDP steering: program ABI mismatch");
  }
  // A BPF link, not a netlink attach: it refuses to replace another
  // program, and closing it detaches from the right device even when the
  // caller has since moved to another network namespace.
  link_ = bpf_program__attach_xdp(skel_->progs.kairos_steer, ifindex_);
  if (!link_) {
    const int e = errno;
    kairos_steer__destroy(skel_);
    throw err("attaching to '" + ifname + "'", e);
  }
}

XdpSteering::~XdpSteering() {
  bpf_link__destroy(link_);
  kairos_steer__destroy(skel_);
}

void XdpSteering::add_app(const Endpoint& ep, std::uint8_t l4_proto,
                          std::uint32_t app_id) {
  if (app_id >= KAIROS_XDP_MAX_APPS) throw std::invalid_argument("XDP steering: app id");
  kairos_xdp_app_key key{};
  std::memcpy(key.addr, ep.addr.data(), 16);
  key.port = htons(ep.port);
  key.l4_proto = l4_proto;
  kairos_xdp_app app{app_id, 0};
  int rc = bpf_map__update_elem(skel_->maps.apps, &key, sizeof key, &app,
                                sizeof app, BPF_ANY);
  if (rc) throw err("adding app " + ep.str(), -rc);
}

void XdpSteering::set_socket(std::uint32_t queue, int xsk_fd) {
  if (queue >= KAIROS_XDP_MAX_QUEUES) throw std::invalid_argument("XDP steering: queue");
  int rc = bpf_map__update_elem(skel_->maps.xsks, &queue, sizeof queue, &xsk_fd,
                                sizeof xsk_fd, BPF_ANY);
  if (rc) throw err("registering the socket of queue " + std::to_string(queue), -rc);
}

std::uint64_t XdpSteering::counter(kairos_xdp_counter slot) const {
  std::vector<std::uint64_t> v(libbpf_num_possible_cpus());
  __u32 key = slot;
  if (bpf_map__lookup_elem(skel_->maps.counters, &key, sizeof key, v.data(),
                           v.size() * sizeof v[0], 0))
    return 0;
  std::uint64_t sum = 0;
  for (auto x : v) sum += x;
  return sum;
}

kairos_xdp_app_stats XdpSteering::app_stats(std::uint32_t app_id) const {
  std::vector<kairos_xdp_app_stats> v(libbpf_num_possible_cpus());
  kairos_xdp_app_stats sum{};
  if (bpf_map__lookup_elem(skel_->maps.app_stats, &app_id, sizeof app_id,
                           v.data(), v.size() * sizeof v[0], 0))
    return sum;
  for (auto& s : v) {
    sum.redirected += s.redirected;
    sum.redirected_bytes += s.redirected_bytes;
    sum.no_socket += s.no_socket;
    sum.dropped_bad_l4 += s.dropped_bad_l4;
  }
  return sum;
}

}  // namespace kairos::dp
