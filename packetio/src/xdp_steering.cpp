#include <kairos/packetio/xdp_steering.hpp>

#include "kairos_steer.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <unistd.h>

#include <algorithm>
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
  for (auto& [id, fd] : app_xsks_) close(fd);
  bpf_link__destroy(link_);
  kairos_steer__destroy(skel_);
}

void add_app_to_map(int fd, const Endpoint& ep, std::uint8_t l4_proto,
                    std::uint32_t app_id, std::uint32_t flags) {
  if (app_id >= KAIROS_XDP_MAX_APPS) throw std::invalid_argument("XDP steering: app id");
  kairos_xdp_app_key key{};
  std::memcpy(key.addr, ep.addr.data(), 16);
  key.port = htons(ep.port);
  key.l4_proto = l4_proto;
  kairos_xdp_app app{app_id, flags};
  if (bpf_map_update_elem(fd, &key, &app, BPF_ANY))
    throw err("adding app " + ep.str(), errno);
}

int find_attached_apps_map(int ifindex) {
  __u32 prog_id = 0;
  if (bpf_xdp_query_id(ifindex, 0, &prog_id) || !prog_id)
    throw std::runtime_error("XDP steering: no XDP program on the device");
  const int prog = bpf_prog_get_fd_by_id(prog_id);
  if (prog < 0) throw err("program by id", errno);
  bpf_prog_info info{};
  __u32 ids[16] = {};
  info.nr_map_ids = 16;
  info.map_ids = reinterpret_cast<__u64>(ids);
  __u32 len = sizeof info;
  const int rc = bpf_prog_get_info_by_fd(prog, &info, &len);
  close(prog);
  if (rc) throw err("program info", errno);
  for (__u32 i = 0; i < std::min<__u32>(info.nr_map_ids, 16); i++) {
    const int fd = bpf_map_get_fd_by_id(ids[i]);
    if (fd < 0) continue;
    bpf_map_info mi{};
    __u32 mlen = sizeof mi;
    if (!bpf_map_get_info_by_fd(fd, &mi, &mlen) && std::strcmp(mi.name, "apps") == 0 &&
        mi.key_size == sizeof(kairos_xdp_app_key) &&
        mi.value_size == sizeof(kairos_xdp_app))
      return fd;
    close(fd);
  }
  throw std::runtime_error("XDP steering: the attached program has no Kairos 'apps' map");
}

void XdpSteering::add_app(const Endpoint& ep, std::uint8_t l4_proto,
                          std::uint32_t app_id, bool own_sockets) {
  add_app_to_map(bpf_map__fd(skel_->maps.apps), ep, l4_proto, app_id,
                 own_sockets ? KAIROS_XDP_APP_OWN_XSKS : 0);
}

int XdpSteering::app_xsks_map_fd(std::uint32_t app_id) {
  if (app_id >= KAIROS_XDP_MAX_APPS) throw std::invalid_argument("XDP steering: app id");
  if (auto it = app_xsks_.find(app_id); it != app_xsks_.end()) return it->second;
  // The same shape as the program's inner-map template (app_xsks_inner).
  const int fd = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "kairos_app_xsks", sizeof(__u32),
                                sizeof(__u32), KAIROS_XDP_MAX_QUEUES, nullptr);
  if (fd < 0) throw err("creating the XSKMAP of app " + std::to_string(app_id), errno);
  if (bpf_map__update_elem(skel_->maps.app_xsks, &app_id, sizeof app_id, &fd, sizeof fd,
                           BPF_ANY)) {
    const int e = errno;
    close(fd);
    throw err("storing the XSKMAP of app " + std::to_string(app_id), e);
  }
  app_xsks_[app_id] = fd;
  return fd;
}

void XdpSteering::set_socket(std::uint32_t queue, int xsk_fd) {
  if (queue >= KAIROS_XDP_MAX_QUEUES) throw std::invalid_argument("XDP steering: queue");
  int rc = bpf_map__update_elem(skel_->maps.xsks_map, &queue, sizeof queue, &xsk_fd,
                                sizeof xsk_fd, BPF_ANY);
  if (rc) throw err("registering the socket of queue " + std::to_string(queue), -rc);
}

int XdpSteering::xsks_map_fd() const { return bpf_map__fd(skel_->maps.xsks_map); }

std::uint32_t XdpSteering::prog_id() const {
  bpf_prog_info info{};
  __u32 len = sizeof info;
  if (bpf_prog_get_info_by_fd(bpf_program__fd(skel_->progs.kairos_steer), &info, &len))
    throw err("program info", errno);
  return info.id;
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
