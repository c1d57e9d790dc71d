// DPDK backend: EAL with the caller's arguments (no NIC needed: e.g.
// --no-huge --no-pci --vdev=net_af_xdp0,iface=veth0,force_copy=1 or
// --vdev=net_null0), port 0 with nr_queues RX queues (polled in turn; with
// net_af_xdp give queue_count=N to match) and one TX queue. EAL can start
// once per process, so at most one DPDK backend exists at a time and a
// process that closed one cannot open another (a clear error says so).
#include <kairos/contracts/backend.hpp>
#include <kairos/packetio/backends.hpp>
#include <kairos/contracts/udp_frame.hpp>
#include <kairos/packetio/xdp_steering.hpp>

#include <net/if.h>
#include <netinet/in.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>

namespace kairos::dp {

namespace {

constexpr std::uint16_t kPort = 0;
constexpr std::uint16_t kBurst = 64;
constexpr std::uint16_t kRingSize = 1024;
std::atomic<bool> eal_used{false};

std::runtime_error fail(const std::string& what, int e) {
  return std::runtime_error("DPDK backend: " + what + ": " + rte_strerror(e));
}

class DpdkBackend final : public Backend {
 public:
  DpdkBackend(const std::vector<std::string>& eal_args, const std::vector<Endpoint>& listen,
              std::uint16_t nr_queues)
      : listen_(listen), nr_queues_(nr_queues) {
    if (nr_queues_ == 0 || nr_queues_ > 64)
      throw std::invalid_argument("DPDK backend: 1..64 queues");
    if (listen_.empty()) throw std::invalid_argument("DPDK backend: no app endpoint");
    // Teardown must happen in this namespace (the PMD detaches its XDP
    // program by ifindex), wherever the destructor runs.
    netns_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (eal_used.exchange(true))
      throw std::runtime_error("DPDK backend: EAL already started in this process");
    std::vector<std::string> args{"kairos-dataplane"};
    args.insert(args.end(), eal_args.begin(), eal_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0)
      throw fail("rte_eal_init", rte_errno);
    if (!rte_eth_dev_is_valid_port(kPort)) {
      rte_eal_cleanup();
      throw std::runtime_error("DPDK backend: no port (give a --vdev)");
    }
    pool_ = rte_pktmbuf_pool_create("kairos_dp", 8191, 256, 0,
                                    RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    if (!pool_) throw fail("mbuf pool", rte_errno);
    rte_eth_conf conf{};
    int rc = rte_eth_dev_configure(kPort, nr_queues_, 1, &conf);
    for (std::uint16_t q = 0; rc == 0 && q < nr_queues_; q++)
      rc = rte_eth_rx_queue_setup(kPort, q, kRingSize, rte_eth_dev_socket_id(kPort),
                                  nullptr, pool_);
    if (rc == 0)
      rc = rte_eth_tx_queue_setup(kPort, 0, kRingSize, rte_eth_dev_socket_id(kPort),
                                  nullptr);
    if (rc == 0) rc = rte_eth_dev_start(kPort);
    if (rc != 0) throw fail("port setup", -rc);
    rte_ether_addr mac;
    rte_eth_macaddr_get(kPort, &mac);
    std::memcpy(mac_.data(), mac.addr_bytes, 6);
    // With net_af_xdp's xdp_prog=<kairos_steer.bpf.o>, the PMD loaded our
    // steering program: tell it the apps so that only their traffic comes
    // here and ARP/ND and other services stay with the kernel.
    const std::string iface = vdev_arg(eal_args, "iface");
    if (!iface.empty() && !vdev_arg(eal_args, "xdp_prog").empty()) {
      const int ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
      const int apps = find_attached_apps_map(ifindex);
      std::uint32_t id = 0;
      try {
        for (const auto& ep : listen_) add_app_to_map(apps, ep, IPPROTO_UDP, id++);
      } catch (...) {
        close(apps);
        throw;
      }
      close(apps);
      steered_ = true;
    }
  }
  bool steered() const { return steered_; }

  ~DpdkBackend() override {
    const int here = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const bool moved = netns_ >= 0 && here >= 0 && setns(netns_, CLONE_NEWNET) == 0;
    flush();
    rte_eth_dev_stop(kPort);
    rte_eth_dev_close(kPort);
    rte_mempool_free(pool_);
    rte_eal_cleanup();
    if (moved && setns(here, CLONE_NEWNET) != 0) std::abort();
    if (here >= 0) close(here);
    if (netns_ >= 0) close(netns_);
  }

  std::string name() const override { return "dpdk"; }

  std::size_t poll_rx(std::size_t max, RxSink& sink) override {
    rte_mbuf* pkts[kBurst];
    next_rxq_ = static_cast<std::uint16_t>((next_rxq_ + 1) % nr_queues_);
    const std::uint16_t n = rte_eth_rx_burst(
        kPort, next_rxq_, pkts,
        static_cast<std::uint16_t>(std::min<std::size_t>(max, kBurst)));
    std::size_t got = 0;
    for (std::uint16_t i = 0; i < n; i++) {
      auto* data = rte_pktmbuf_mtod(pkts[i], const std::uint8_t*);
      auto f = parse_udp_frame({data, rte_pktmbuf_data_len(pkts[i])});
      if (f && listens(f->dst)) {
        neighbours_[f->src.addr] = f->src_mac;
        stats_.rx++;
        sink.on_datagram({f->src, f->dst, f->payload});
        got++;
      } else {
        stats_.rx_invalid++;  // this port sees everything: not ours
      }
      rte_pktmbuf_free(pkts[i]);
    }
    return got;
  }

  bool send(const Endpoint& src, const Endpoint& dst,
            std::span<const std::uint8_t> payload) override {
    auto nb = neighbours_.find(dst.addr);
    if (nb == neighbours_.end()) {
      stats_.tx_no_route++;
      return false;
    }
    if (pending_n_ == kBurst) flush();
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (!m) {
      stats_.tx_full++;
      return false;
    }
    const std::size_t room = rte_pktmbuf_tailroom(m);
    auto* buf = rte_pktmbuf_mtod(m, std::uint8_t*);
    const std::size_t len = build_udp_frame({buf, room}, mac_, nb->second, src, dst, payload);
    if (len == 0) {
      rte_pktmbuf_free(m);
      stats_.tx_no_route++;
      return false;
    }
    m->data_len = m->pkt_len = static_cast<std::uint32_t>(len);
    pending_[pending_n_++] = m;
    return true;
  }

  void flush() override {
    if (!pending_n_) return;
    const std::uint16_t sent = rte_eth_tx_burst(kPort, 0, pending_, pending_n_);
    stats_.tx += sent;
    for (std::uint16_t i = sent; i < pending_n_; i++) {
      rte_pktmbuf_free(pending_[i]);
      stats_.tx_full++;
    }
    pending_n_ = 0;
  }

  BackendStats stats() const override { return stats_; }

 private:
  bool listens(const Endpoint& dst) const {
    for (auto& l : listen_)
      if (l.port == dst.port && (l.is_any() || l.addr == dst.addr)) return true;
    return false;
  }
  // Value of key=... in a --vdev=... argument, or "".
  static std::string vdev_arg(const std::vector<std::string>& args, const std::string& key) {
    for (const auto& a : args) {
      if (a.rfind("--vdev=", 0) != 0) continue;
      const std::string k = "," + key + "=";
      auto at = a.find(k);
      if (at == std::string::npos) continue;
      at += k.size();
      return a.substr(at, a.find(',', at) - at);
    }
    return "";
  }
  bool steered_ = false;
  std::vector<Endpoint> listen_;
  std::uint16_t nr_queues_ = 1, next_rxq_ = 0;
  int netns_ = -1;
  rte_mempool* pool_ = nullptr;
  Mac mac_{};
  std::map<std::array<std::uint8_t, 16>, Mac> neighbours_;
  rte_mbuf* pending_[kBurst];
  std::uint16_t pending_n_ = 0;
  BackendStats stats_;
};

}  // namespace

bool dpdk_available() { return true; }

std::unique_ptr<Backend> make_dpdk_backend(const std::vector<std::string>& eal_args,
                                           const std::vector<Endpoint>& listen,
                                           std::uint16_t nr_queues) {
  return std::make_unique<DpdkBackend>(eal_args, listen, nr_queues);
}

}  // namespace kairos::dp
