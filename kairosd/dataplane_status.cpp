#include "dataplane_status.hpp"

#include <kairos/relay/service.hpp>

namespace kairos {

namespace {

// The XDP steering program's counter slots (xdp_abi.h), as label values.
constexpr const char* kXdpReasons[KAIROS_XDP_NR_COUNTERS] = {
    "seen",          "vlan",         "ipv4",          "ipv6",           "pass_non_ip",
    "drop_short_eth", "pass_bad_vlan", "pass_vlan_depth", "pass_bad_ipv4", "pass_bad_ipv6",
    "pass_bad_exthdr", "pass_fragment", "pass_other_l4", "pass_bad_l4",   "pass_unmanaged",
    "drop_bad_l4_app", "redirect",     "pass_no_socket", "pass_no_app_map",
};

}  // namespace

status::DataplaneInfo dataplane_info(const dp::DataplaneService& svc) {
  status::DataplaneInfo d;
  const dp::XdpSteering* x = svc.steering();
  if (x)
    for (unsigned i = 0; i < KAIROS_XDP_NR_COUNTERS; ++i)
      d.xdp[kXdpReasons[i]] = x->counter(static_cast<kairos_xdp_counter>(i));
  if (svc.direct()) {
    d.backend = "direct";
  } else {
    const dp::BackendStats b = svc.backend().stats();
    d.backend = svc.backend().name();
    d.rx = b.rx;
    d.rx_invalid = b.rx_invalid;
    d.tx = b.tx;
    d.tx_full = b.tx_full;
    d.tx_no_route = b.tx_no_route;
    d.rx_dropped_after_redirect = b.rx_dropped_after_redirect;
    d.rx_no_app = svc.dataplane().rx_no_app();
  }
  const auto& apps = svc.config().apps;
  for (std::uint32_t i = 0; i < apps.size(); ++i) {
    status::DataplaneApp o;
    o.listen = apps[i].listen.str();
    if (apps[i].mode == dp::AppMode::kDirect) {
      o.mode = "direct";
    } else {
      const dp::AppStats a = svc.app_stats(i);
      o.shm = apps[i].shm_name;
      o.rx_delivered = a.rx_delivered;
      o.rx_ring_full = a.rx_ring_full;
      o.rx_no_kthread = a.rx_no_kthread;
      o.rx_oversize = a.rx_oversize;
      o.tx_sent = a.tx_sent;
      o.tx_dropped = a.tx_dropped;
      o.tx_strays = a.tx_strays;
    }
    if (x) {
      const kairos_xdp_app_stats s = x->app_stats(i);
      o.xdp = status::XdpAppCounters{s.redirected, s.redirected_bytes, s.no_socket,
                                     s.dropped_bad_l4};
    }
    d.apps.push_back(std::move(o));
  }
  return d;
}

}  // namespace kairos
