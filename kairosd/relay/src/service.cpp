#include <kairos/packetio/backends.hpp>
#include <kairos/relay/service.hpp>

#include <netinet/in.h>
#include <sys/prctl.h>

#include <algorithm>
#include <stdexcept>

namespace kairos::dp {
namespace {

std::unique_ptr<Backend> make_configured_backend(const ServiceConfig& c,
                                                 std::string* why_fallback) {
  std::vector<Endpoint> listen;
  for (auto& a : c.apps) listen.push_back(a.listen);
  AfXdpConfig x;
  x.ifname = c.ifname;
  x.nr_queues = c.queues;
  x.apps = listen;
  switch (c.backend) {
    case BackendKind::kAfXdp:
      return make_afxdp_backend(x);
    case BackendKind::kAuto:
      return make_backend_with_fallback(x, why_fallback);
    case BackendKind::kKernel:
      return make_kernel_udp_backend(listen);
    case BackendKind::kDpdk:
      if (!dpdk_available())
        throw std::runtime_error("dataplane: backend dpdk, but this program is built without DPDK (kairosd never links it: use afxdp)");
      return make_dpdk_backend(c.dpdk_args, listen,
                               static_cast<std::uint16_t>(c.queues ? c.queues : 1));
  }
  throw std::logic_error("dataplane: unknown backend");
}

std::string queue_list_text(std::uint64_t mask) {
  std::string s;
  for (std::uint32_t q = 0; q < 64; q++)
    if (mask >> q & 1) s += (s.empty() ? "" : ",") + std::to_string(q);
  return s;
}

}  // namespace

DataplaneService::DataplaneService(ServiceConfig cfg, DataplaneConfig dcfg)
    : cfg_(std::move(cfg)) {
  const std::size_t n = cfg_.apps.size();
  pins_.resize(n);
  queue_masks_.assign(n, 0);
  dp_app_.assign(n, -1);
  active_.resize(n);
  const bool any_direct = std::any_of(cfg_.apps.begin(), cfg_.apps.end(),
                                      [](auto& a) { return a.mode == AppMode::kDirect; });
  const bool any_relayed = std::any_of(cfg_.apps.begin(), cfg_.apps.end(),
                                       [](auto& a) { return a.mode == AppMode::kRelayed; });
  std::vector<std::uint32_t> relayed_queues;  // with direct apps: the rest
  if (any_direct) {
    relayed_queues = steer_direct_apps(any_relayed);
    if (!any_relayed) return;
  }
  // Members already built are destroyed if a later step throws: regions
  // unlink their names, the backend detaches its XDP program, pins go.
  std::vector<std::size_t> relayed;
  for (std::size_t i = 0; i < n; i++)
    if (cfg_.apps[i].mode == AppMode::kRelayed) relayed.push_back(i);
  for (auto i : relayed) {
    const auto& a = cfg_.apps[i];
    regions_.push_back(ShmRegion::create_named(a.shm_name, a.kthreads, a.slots, a.listen));
  }
  if (any_direct) {
    AfXdpConfig x;
    x.ifname = cfg_.ifname;
    x.nr_queues = direct_queues_;
    x.queue_ids = relayed_queues;
    for (auto i : relayed) x.apps.push_back(cfg_.apps[i].listen);
    backend_ = make_afxdp_backend_on_steering(x, direct_steer_);
  } else {
    backend_ = make_configured_backend(cfg_, &why_fallback_);
  }
  dp_ = std::make_unique<Dataplane>(*backend_, dcfg);
  for (std::size_t r = 0; r < relayed.size(); r++) {
    const std::size_t i = relayed[r];
    const std::uint32_t app = dp_->add_app(cfg_.apps[i].listen, regions_[r]);
    dp_app_[i] = static_cast<int>(app);
    std::vector<std::uint32_t> all;
    for (std::uint32_t k = 0; k < cfg_.apps[i].kthreads; k++) all.push_back(k);
    dp_->set_active(app, all);
    active_[i] = std::move(all);
  }
}

// The steering program for every app of the interface (the parser allows
// direct apps on afxdp only; app id = index in the config), each direct
// app's own XSKMAP and pins. Returns the queues left for kairosd's
// relayed sockets.
std::vector<std::uint32_t> DataplaneService::steer_direct_apps(bool any_relayed) {
  const std::size_t n = cfg_.apps.size();
  static_assert(kMaxDirectQueue == KAIROS_XDP_MAX_QUEUES);
  const std::uint32_t nq = cfg_.queues ? cfg_.queues : device_rx_queues(cfg_.ifname);
  if (nq > KAIROS_XDP_MAX_QUEUES)
    throw std::runtime_error("dataplane: " + cfg_.ifname + " has " + std::to_string(nq) +
                             " queues, the steering program serves at most " +
                             std::to_string(KAIROS_XDP_MAX_QUEUES));
  const std::uint64_t all = nq >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << nq) - 1;
  std::uint64_t owned = 0;
  for (std::size_t i = 0; i < n; i++) {
    const auto& a = cfg_.apps[i];
    if (a.mode != AppMode::kDirect) continue;
    const std::uint64_t mask = a.queue_mask ? a.queue_mask : all;
    if (mask & ~all)
      throw std::runtime_error("dataplane: line " + std::to_string(a.line) + ": queues=" +
                               queue_list_text(mask) + ", but " + cfg_.ifname + " has " +
                               std::to_string(nq) + " queues");
    queue_masks_[i] = mask;
    owned |= mask;
  }
  std::vector<std::uint32_t> relayed_queues;
  for (std::uint32_t q = 0; q < nq; q++)
    if (!(owned >> q & 1)) relayed_queues.push_back(q);
  if (any_relayed && relayed_queues.empty())
    throw std::runtime_error("dataplane: the mode=direct apps own every queue of " +
                             cfg_.ifname + ": none is left for the relayed apps");
  direct_steer_ = std::make_shared<XdpSteering>(cfg_.ifname);
  direct_queues_ = nq;
  for (std::size_t i = 0; i < n; i++) {
    const auto& a = cfg_.apps[i];
    const auto id = static_cast<std::uint32_t>(i);
    direct_steer_->add_app(a.listen, IPPROTO_UDP, id, a.mode == AppMode::kDirect);
    if (a.mode != AppMode::kDirect) continue;
    try {
      pins_[i] = std::make_unique<DirectPins>(*direct_steer_,
                                              direct_steer_->app_xsks_map_fd(id), a.pin_dir,
                                              cfg_.ifname, nq, queue_masks_[i], a.listen);
    } catch (const std::exception& e) {
      throw std::runtime_error("dataplane: line " + std::to_string(a.line) + ": " + e.what());
    }
  }
  return relayed_queues;
}

std::vector<std::uint32_t> DataplaneService::direct_queues(std::uint32_t app) const {
  if (app >= cfg_.apps.size()) throw std::out_of_range("dataplane service: app index");
  std::vector<std::uint32_t> out;
  for (std::uint32_t q = 0; q < 64; q++)
    if (queue_masks_[app] >> q & 1) out.push_back(q);
  return out;
}

AppStats DataplaneService::app_stats(std::uint32_t app) const {
  if (app >= cfg_.apps.size()) throw std::out_of_range("dataplane service: app index");
  if (dp_app_[app] < 0)
    throw std::logic_error("dataplane service: a mode=direct app has no ring counters "
                           "(its steering counters: direct_steering()->app_stats)");
  return dataplane().stats(static_cast<std::uint32_t>(dp_app_[app]));
}

std::size_t DataplaneService::follow_grants(
    const std::function<std::optional<unsigned>(const std::string&)>& granted) {
  std::size_t changed = 0;
  for (std::size_t i = 0; i < cfg_.apps.size(); i++) {
    const auto& a = cfg_.apps[i];
    if (a.cgroup.empty() || a.mode == AppMode::kDirect) continue;
    const std::optional<unsigned> n = granted(a.cgroup);
    if (!n) continue;
    auto want = active_for_grant(*n, a.kthreads);
    if (want == active_[i]) continue;
    dp_->set_active(static_cast<std::uint32_t>(dp_app_[i]), want);
    active_[i] = std::move(want);
    changed++;
  }
  return changed;
}

DataplaneService::~DataplaneService() { stop(); }

const Backend& DataplaneService::backend() const {
  if (!backend_) throw std::logic_error("dataplane service: mode=direct has no backend");
  return *backend_;
}

const XdpSteering* DataplaneService::steering() const {
  if (direct_steer_) return direct_steer_.get();
  // Relayed apps only: the AF_XDP backend made the program, with the same
  // app ids (every app is relayed, so index among them = index in the config).
  return backend_ ? afxdp_steering(*backend_) : nullptr;
}

const Dataplane& DataplaneService::dataplane() const {
  if (!dp_) throw std::logic_error("dataplane service: mode=direct has no dataplane loop");
  return *dp_;
}

void DataplaneService::start(std::chrono::microseconds interval) {
  if (loop_.joinable() || started_direct_)
    throw std::logic_error("dataplane service already started");
  if (!dp_) {  // direct mode: the app's threads are the loop
    started_direct_ = true;
    return;
  }
  stop_ = false;
  loop_ = std::thread([this, interval] {
    prctl(PR_SET_NAME, "kairos-dataplane");
    dp_->run(stop_, interval);
  });
}

void DataplaneService::stop() {
  stop_ = true;
  started_direct_ = false;
  if (loop_.joinable()) {
    dp_->wake();  // out of its idle sleep now
    loop_.join();
  }
}

void DataplaneService::set_active(std::uint32_t app, std::vector<std::uint32_t> kthreads) {
  if (app >= cfg_.apps.size()) throw std::out_of_range("dataplane service: app index");
  if (dp_app_[app] < 0)
    throw std::logic_error("dataplane service: a mode=direct app's threads own its queues; "
                           "grants do not move its flows");
  for (auto k : kthreads)
    if (k >= cfg_.apps[app].kthreads)
      throw std::out_of_range("dataplane service: kthread " + std::to_string(k) +
                              " of an app with " +
                              std::to_string(cfg_.apps[app].kthreads));
  dp_->set_active(static_cast<std::uint32_t>(dp_app_[app]), kthreads);
  active_[app] = std::move(kthreads);
}

std::string DataplaneService::describe() const {
  std::string direct_lines;
  if (direct_steer_) {
    const auto& x = *direct_steer_;
    for (std::size_t i = 0; i < cfg_.apps.size(); i++) {
      if (!pins_[i]) continue;
      const kairos_xdp_app_stats st = x.app_stats(static_cast<std::uint32_t>(i));
      direct_lines += "\n  app " + cfg_.apps[i].listen.str() + " pin=" + pins_[i]->dir() +
                      " redirected=" + std::to_string(st.redirected) +
                      " no_socket=" + std::to_string(st.no_socket) +
                      " dropped_bad_l4=" + std::to_string(st.dropped_bad_l4) +
                      " queues=" + queue_list_text(queue_masks_[i]);
    }
    direct_lines += "\n  passed_unmanaged=" + std::to_string(x.counter(KAIROS_XDP_PASS_UNMANAGED));
    if (!dp_)
      return "dataplane mode=direct interface=" + cfg_.ifname +
             " queues=" + std::to_string(direct_queues_) + direct_lines;
  }
  std::string s = "dataplane backend=" + backend_->name();
  const BackendStats b = backend_->stats();
  s += " rx=" + std::to_string(b.rx) + " rx_invalid=" + std::to_string(b.rx_invalid) +
       " tx=" + std::to_string(b.tx) + " tx_full=" + std::to_string(b.tx_full) +
       " tx_no_route=" + std::to_string(b.tx_no_route) +
       " rx_dropped_after_redirect=" + std::to_string(b.rx_dropped_after_redirect) +
       " rx_no_app=" + std::to_string(dp_->rx_no_app());
  if (!why_fallback_.empty()) s += " (AF_XDP unavailable: " + why_fallback_ + ")";
  for (std::size_t i = 0; i < cfg_.apps.size(); i++) {
    if (dp_app_[i] < 0) continue;
    const std::size_t r = static_cast<std::size_t>(dp_app_[i]);
    const AppStats a = dp_->stats(static_cast<std::uint32_t>(r));
    s += "\n  app " + cfg_.apps[i].listen.str() + " shm=" + cfg_.apps[i].shm_name +
         " delivered=" + std::to_string(a.rx_delivered) +
         " ring_full=" + std::to_string(a.rx_ring_full) +
         " no_kthread=" + std::to_string(a.rx_no_kthread) +
         " oversize=" + std::to_string(a.rx_oversize) +
         " tx_sent=" + std::to_string(a.tx_sent) +
         " tx_dropped=" + std::to_string(a.tx_dropped) +
         " tx_strays=" + std::to_string(a.tx_strays);
    if (const pid_t dead = regions_[r].replaced_dead_pid())
      s += " (replaced the region left by dead pid " + std::to_string(dead) + ")";
    if (!cfg_.apps[i].cgroup.empty()) {
      s += " cgroup=" + cfg_.apps[i].cgroup + " active=";
      for (std::size_t k = 0; k < active_[i].size(); k++)
        s += (k ? "," : "") + std::to_string(active_[i][k]);
    }
  }
  return s + direct_lines;
}

}  // namespace kairos::dp
