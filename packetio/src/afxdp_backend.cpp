// AF_XDP backend through libxdp's xsk API: the Kairos XDP program steers
// app frames to one socket per device rx queue; each socket has its own
// UMEM, half of whose frames feed the fill ring (RX) and half form a TX
// pool recycled through the completion ring. One backend serves every
// queue (the dataplane thread), or, in direct mode, one backend per queue
// shares the steering program and is driven by the thread owning it.
#include <kairos/contracts/backend.hpp>
#include <kairos/packetio/backends.hpp>

#include "wait_fds.hpp"
#include <kairos/contracts/udp_frame.hpp>
#include <kairos/packetio/xdp_steering.hpp>

#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <thread>

namespace kairos::dp {

namespace {

constexpr std::uint32_t kFrameSize = XSK_UMEM__DEFAULT_FRAME_SIZE;  // 4096
constexpr std::uint32_t kRxBatch = 64;

std::runtime_error fail(const std::string& what, int e) {
  return std::runtime_error("AF_XDP backend: " + what + ": " + std::strerror(e));
}

}  // namespace

// rx queues of the device, through the ethtool channels query.
std::uint32_t device_rx_queues(const std::string& ifname) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw fail("socket", errno);
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&ch);
  const int rc = ioctl(fd, SIOCETHTOOL, &ifr);
  close(fd);
  if (rc != 0) return 1;  // no channel info: a single-queue device
  return std::max<std::uint32_t>({ch.rx_count, ch.combined_count, 1u});
}

namespace {

Mac device_mac(const std::string& ifname) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw fail("socket", errno);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  const int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
  const int e = errno;
  close(fd);
  if (rc != 0) throw fail("MAC address of " + ifname, e);
  Mac m;
  std::memcpy(m.data(), ifr.ifr_hwaddr.sa_data, 6);
  return m;
}

// Checked before anything is attached to the device.
const AfXdpConfig& validated(const AfXdpConfig& cfg) {
  if (cfg.apps.empty()) throw std::invalid_argument("AF_XDP backend: no app endpoint");
  if (cfg.frames_per_queue < 64 || cfg.ring_size < 64 ||
      (cfg.ring_size & (cfg.ring_size - 1)) || cfg.nr_queues > KAIROS_XDP_MAX_QUEUES)
    throw std::invalid_argument(
        "AF_XDP backend: need >= 64 frames, power-of-two rings >= 64, <= 64 queues");
  if (cfg.bind_busy_wait.count() < 0)
    throw std::invalid_argument("AF_XDP backend: bind_busy_wait must not be negative");
  std::uint64_t seen = 0;
  for (auto q : cfg.queue_ids) {
    if (q >= KAIROS_XDP_MAX_QUEUES || (seen >> q & 1))
      throw std::invalid_argument("AF_XDP backend: queue " + std::to_string(q) +
                                  " out of range or repeated");
    seen |= std::uint64_t{1} << q;
  }
  return cfg;
}

struct Queue {
  std::uint32_t id = 0;
  void* area = nullptr;
  std::size_t area_size = 0;
  xsk_umem* umem = nullptr;
  xsk_socket* xsk = nullptr;
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
  std::vector<std::uint64_t> free_rx;  // RX frames not in the fill ring
  std::vector<std::uint64_t> free_tx;  // TX frames not in flight
  std::uint32_t tx_reserved = 0;       // reserved, not yet submitted
  std::uint32_t tx_in_flight = 0;      // submitted, not yet completed
  std::uint64_t rx_frames = 0;
};

// An XSKMAP fd owned by the backends that insert their sockets into it.
struct XskMapFd {
  int fd = -1;
  explicit XskMapFd(int f) : fd(fcntl(f, F_DUPFD_CLOEXEC, 3)) {
    if (fd < 0) throw fail("dup of the XSKMAP fd", errno);
  }
  ~XskMapFd() { close(fd); }
  XskMapFd(const XskMapFd&) = delete;
  XskMapFd& operator=(const XskMapFd&) = delete;
};

// The steering program attached to cfg.ifname with cfg.apps in its map.
std::shared_ptr<XdpSteering> make_steering(const AfXdpConfig& cfg) {
  auto steer = std::make_shared<XdpSteering>(cfg.ifname);
  std::uint32_t app_id = 0;
  for (const auto& ep : cfg.apps) steer->add_app(ep, IPPROTO_UDP, app_id++);
  return steer;
}

// The queues to open: cfg.queue_ids, or every queue of the device.
std::vector<std::uint32_t> queue_list(const AfXdpConfig& cfg) {
  if (!cfg.queue_ids.empty()) return cfg.queue_ids;
  const std::uint32_t n = cfg.nr_queues ? cfg.nr_queues : device_rx_queues(cfg.ifname);
  if (n > KAIROS_XDP_MAX_QUEUES)
    throw std::invalid_argument("AF_XDP backend: " + cfg.ifname + " has " + std::to_string(n) +
                                " queues, the steering program serves at most " +
                                std::to_string(KAIROS_XDP_MAX_QUEUES));
  std::vector<std::uint32_t> ids(n);
  for (std::uint32_t q = 0; q < n; q++) ids[q] = q;
  return ids;
}

class AfXdpBackend final : public Backend {
 public:
  // Opens a socket on each of queue_ids and registers it with steer.
  // Or, with steer null, inserts it into xskmap (a pinned map, direct mode).
  AfXdpBackend(const AfXdpConfig& cfg, std::shared_ptr<XdpSteering> steer,
               const std::vector<std::uint32_t>& queue_ids,
               std::shared_ptr<XskMapFd> xskmap = nullptr)
      : ifname_(cfg.ifname), mac_(device_mac(cfg.ifname)), steer_(std::move(steer)),
        xskmap_(std::move(xskmap)) {
    queues_.resize(queue_ids.size());
    try {
      for (std::size_t i = 0; i < queue_ids.size(); i++)
        open_queue(queues_[i], queue_ids[i], cfg);
    } catch (...) {
      close_queues();
      throw;
    }
    for (auto& q : queues_) pollfds_.push_back({xsk_socket__fd(q.xsk), POLLIN, 0});
  }
  ~AfXdpBackend() override { close_queues(); }

  std::string name() const override { return "af_xdp"; }

  std::size_t poll_rx(std::size_t max, RxSink& sink) override {
    std::size_t got = 0;
    for (std::size_t n = 0; n < queues_.size() && got < max; n++) {
      Queue& q = queues_[(next_rx_ + n) % queues_.size()];
      std::uint32_t idx;
      const std::uint32_t want =
          static_cast<std::uint32_t>(std::min<std::size_t>(kRxBatch, max - got));
      const std::uint32_t rcvd = xsk_ring_cons__peek(&q.rx, want, &idx);
      for (std::uint32_t i = 0; i < rcvd; i++) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&q.rx, idx + i);
        auto* data = static_cast<const std::uint8_t*>(xsk_umem__get_data(q.area, d->addr));
        deliver({data, d->len}, sink);
        q.free_rx.push_back(xsk_umem__extract_addr(d->addr));
      }
      if (rcvd) xsk_ring_cons__release(&q.rx, rcvd);
      q.rx_frames += rcvd;
      got += rcvd;
      refill(q);
    }
    next_rx_++;
    return got;
  }

  bool send(const Endpoint& src, const Endpoint& dst,
            std::span<const std::uint8_t> payload) override {
    auto nb = neighbours_.find(dst.addr);
    if (nb == neighbours_.end() || src.is_v4() != dst.is_v4()) {
      stats_.tx_no_route++;
      return false;
    }
    Queue& q = queues_[flow_hash(dst, src) % queues_.size()];
    if (q.free_tx.empty()) reap(q);
    if (q.free_tx.empty()) {
      stats_.tx_full++;
      return false;
    }
    const std::uint64_t addr = q.free_tx.back();
    auto* buf = static_cast<std::uint8_t*>(xsk_umem__get_data(q.area, addr));
    const std::size_t len =
        build_udp_frame({buf, kFrameSize}, mac_, nb->second, src, dst, payload);
    if (len == 0) {
      stats_.tx_no_route++;
      return false;
    }
    std::uint32_t idx;
    if (xsk_ring_prod__reserve(&q.tx, 1, &idx) != 1) {
      stats_.tx_full++;
      return false;
    }
    q.free_tx.pop_back();
    xdp_desc* d = xsk_ring_prod__tx_desc(&q.tx, idx);
    d->addr = addr;
    d->len = static_cast<std::uint32_t>(len);
    q.tx_reserved++;
    stats_.tx++;
    return true;
  }

  void flush() override {
    for (auto& q : queues_) {
      if (q.tx_reserved) {
        xsk_ring_prod__submit(&q.tx, q.tx_reserved);
        q.tx_in_flight += q.tx_reserved;
        q.tx_reserved = 0;
      }
      if (q.tx_in_flight && xsk_ring_prod__needs_wakeup(&q.tx))
        kick_tx(q);
      else
        reap(q);
    }
  }

  BackendStats stats() const override {
    BackendStats s = stats_;
    for (auto& q : queues_) {
      s.rx_per_queue.push_back(q.rx_frames);
      xdp_statistics x{};
      socklen_t len = sizeof x;
      if (getsockopt(xsk_socket__fd(q.xsk), SOL_XDP, XDP_STATISTICS, &x, &len) == 0)
        s.rx_dropped_after_redirect += x.rx_dropped + x.rx_ring_full;
    }
    return s;
  }
  const XdpSteering* steering() const { return steer_.get(); }

  void wait_rx(std::chrono::microseconds timeout) override {
    wait_fds_readable(pollfds_, timeout);
  }
  std::size_t rx_waiting() const override {
    std::size_t n = 0;
    // Everything peeked is released at once, so the consumer index is
    // where polling resumes.
    for (auto& q : queues_)
      n += static_cast<std::uint32_t>(__atomic_load_n(q.rx.producer, __ATOMIC_ACQUIRE) -
                                      __atomic_load_n(q.rx.consumer, __ATOMIC_RELAXED));
    return n;
  }
  std::vector<int> wait_fds() const override {
    std::vector<int> fds;
    for (auto& p : pollfds_) fds.push_back(p.fd);
    return fds;
  }

 private:
  void open_queue(Queue& q, std::uint32_t id, const AfXdpConfig& cfg) {
    q.id = id;
    q.area_size = static_cast<std::size_t>(cfg.frames_per_queue) * kFrameSize;
    q.area = mmap(nullptr, q.area_size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (q.area == MAP_FAILED) {
      q.area = nullptr;
      throw fail("UMEM mmap", errno);
    }
    bind_socket(q, cfg);
    const std::uint32_t half = cfg.frames_per_queue / 2;
    for (std::uint32_t i = 0; i < half; i++)
      q.free_rx.push_back(static_cast<std::uint64_t>(i) * kFrameSize);
    for (std::uint32_t i = half; i < cfg.frames_per_queue; i++)
      q.free_tx.push_back(static_cast<std::uint64_t>(i) * kFrameSize);
    refill(q);
    if (steer_) {
      steer_->set_socket(id, xsk_socket__fd(q.xsk));
    } else {
      const int rc = xsk_socket__update_xskmap(q.xsk, xskmap_->fd);  // key: the socket's queue
      if (rc) throw fail("inserting the socket of queue " + std::to_string(id) +
                         " into the pinned XSKMAP", -rc);
    }
  }

  // A UMEM over q.area and a socket bound to queue q.id. While the kernel
  // says the queue is busy, retries with backoff for cfg.bind_busy_wait:
  // a socket closed just now keeps its queue until deferred work in the
  // kernel releases it (AfXdpConfig::bind_busy_wait).
  void bind_socket(Queue& q, const AfXdpConfig& cfg) {
    using std::chrono::milliseconds;
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + cfg.bind_busy_wait;
    milliseconds pause{1};
    for (unsigned tries = 1;; tries++) {
      xsk_umem_config ucfg{};
      ucfg.fill_size = cfg.ring_size;
      ucfg.comp_size = cfg.ring_size;
      ucfg.frame_size = kFrameSize;
      ucfg.frame_headroom = 0;
      int rc = xsk_umem__create(&q.umem, q.area, q.area_size, &q.fill, &q.comp, &ucfg);
      if (rc) throw fail("xsk_umem__create", -rc);
      xsk_socket_config scfg{};
      scfg.rx_size = cfg.ring_size;
      scfg.tx_size = cfg.ring_size;
      scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // ours is loaded
      scfg.bind_flags = XDP_USE_NEED_WAKEUP | (cfg.force_copy ? XDP_COPY : 0);
      rc = xsk_socket__create(&q.xsk, ifname_.c_str(), q.id, q.umem, &q.rx, &q.tx, &scfg);
      if (rc == 0) return;
      // The failed socket may have taken the UMEM's fill and completion
      // rings (libxdp gives them to a UMEM's first socket): each try
      // starts from a new UMEM over the same memory.
      xsk_umem__delete(q.umem);
      q.umem = nullptr;
      q.xsk = nullptr;
      const std::string where = "queue " + std::to_string(q.id) + " of " + ifname_;
      if (rc != -EBUSY) throw fail("xsk_socket__create on " + where, -rc);
      stats_.bind_busy++;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        const auto waited = std::chrono::duration_cast<milliseconds>(now - start).count();
        throw fail("xsk_socket__create on " + where + ": still bound to another AF_XDP socket after " +
                       std::to_string(tries) + " tries in " + std::to_string(waited) +
                       " ms (the kernel binds one socket per device queue: another process or "
                       "app holds it, or a socket closed just now is still being released)",
                   EBUSY);
      }
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
      pause = std::min(pause * 2, milliseconds{50});
    }
  }

  void close_queues() {
    for (auto& q : queues_) {
      if (q.xsk) xsk_socket__delete(q.xsk);
      if (q.umem) xsk_umem__delete(q.umem);
      if (q.area) munmap(q.area, q.area_size);
      q = Queue{};
    }
  }

  // Gives every free RX frame back to the kernel through the fill ring.
  void refill(Queue& q) {
    if (q.free_rx.empty()) return;
    std::uint32_t idx;
    const std::uint32_t n = xsk_ring_prod__reserve(
        &q.fill, static_cast<std::uint32_t>(q.free_rx.size()), &idx);
    if (n == 0) {
      stats_.fill_empty++;
      return;
    }
    for (std::uint32_t i = 0; i < n; i++) {
      *xsk_ring_prod__fill_addr(&q.fill, idx + i) = q.free_rx.back();
      q.free_rx.pop_back();
    }
    xsk_ring_prod__submit(&q.fill, n);
    if (xsk_ring_prod__needs_wakeup(&q.fill)) {
      recvfrom(xsk_socket__fd(q.xsk), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
      stats_.wakeups++;
    }
  }

  // Copy mode transmits only inside a syscall, at most one kernel batch
  // (32 frames) per call, and the call fails with EAGAIN while frames are
  // left on the ring or the completion ring is full. One kick per flush
  // would strand the rest of a large burst until the next flush, which an
  // idle loop may not reach for a long time: kick again, reaping between
  // calls, until the kernel took everything or stops making progress.
  void kick_tx(Queue& q) {
    int stalled = 0;
    for (;;) {
      const std::uint32_t before = tx_unsent(q);
      const bool more =
          sendto(xsk_socket__fd(q.xsk), nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0 &&
          (errno == EAGAIN || errno == EBUSY);
      stats_.wakeups++;
      reap(q);
      const std::uint32_t after = tx_unsent(q);
      if (!more || after == 0) break;
      if (after >= before && ++stalled > 2) break;  // the device is busy: next flush
    }
  }
  // Descriptors submitted that the kernel has not taken off the TX ring.
  static std::uint32_t tx_unsent(const Queue& q) {
    return q.tx.cached_prod - __atomic_load_n(q.tx.consumer, __ATOMIC_ACQUIRE);
  }

  // TX completions: frames the kernel is done with go back to the pool.
  void reap(Queue& q) {
    std::uint32_t idx;
    const std::uint32_t n = xsk_ring_cons__peek(&q.comp, 1024, &idx);
    for (std::uint32_t i = 0; i < n; i++)
      q.free_tx.push_back(*xsk_ring_cons__comp_addr(&q.comp, idx + i));
    if (n) xsk_ring_cons__release(&q.comp, n);
    q.tx_in_flight -= n;
  }

  void deliver(std::span<const std::uint8_t> frame, RxSink& sink) {
    auto f = parse_udp_frame(frame);
    if (!f) {
      stats_.rx_invalid++;
      return;
    }
    neighbours_[f->src.addr] = f->src_mac;  // replies go back the same way
    stats_.rx++;
    sink.on_datagram({f->src, f->dst, f->payload});
  }

  std::string ifname_;
  Mac mac_;
  std::shared_ptr<XdpSteering> steer_;  // shared by the backends of one device
  std::shared_ptr<XskMapFd> xskmap_;    // or: the pinned XSKMAP (direct mode)
  std::vector<Queue> queues_;
  std::vector<pollfd> pollfds_;  // one per queue, for wait_rx
  std::map<std::array<std::uint8_t, 16>, Mac> neighbours_;
  std::size_t next_rx_ = 0;
  BackendStats stats_;
};

}  // namespace

std::unique_ptr<Backend> make_afxdp_backend(const AfXdpConfig& config) {
  validated(config);
  const auto ids = queue_list(config);
  auto steer = make_steering(config);
  return std::make_unique<AfXdpBackend>(config, std::move(steer), ids);
}

std::unique_ptr<Backend> make_afxdp_backend_on_steering(const AfXdpConfig& config,
                                                        std::shared_ptr<XdpSteering> steer) {
  validated(config);
  if (!steer) throw std::invalid_argument("AF_XDP backend: no steering program");
  return std::make_unique<AfXdpBackend>(config, std::move(steer), queue_list(config));
}

std::vector<std::unique_ptr<Backend>> make_afxdp_direct_backends(const AfXdpConfig& config) {
  validated(config);
  const auto ids = queue_list(config);
  auto steer = make_steering(config);
  std::vector<std::unique_ptr<Backend>> out;
  for (auto q : ids)
    out.push_back(std::make_unique<AfXdpBackend>(config, steer, std::vector<std::uint32_t>{q}));
  return out;
}

std::vector<std::unique_ptr<Backend>> make_afxdp_backends_on_xskmap(const AfXdpConfig& config,
                                                                    int xskmap_fd) {
  validated(config);
  auto map = std::make_shared<XskMapFd>(xskmap_fd);
  std::vector<std::unique_ptr<Backend>> out;
  for (auto q : queue_list(config))
    out.push_back(
        std::make_unique<AfXdpBackend>(config, nullptr, std::vector<std::uint32_t>{q}, map));
  return out;
}

const XdpSteering* afxdp_steering(const Backend& backend) {
  auto* b = dynamic_cast<const AfXdpBackend*>(&backend);
  return b ? b->steering() : nullptr;
}

}  // namespace kairos::dp
