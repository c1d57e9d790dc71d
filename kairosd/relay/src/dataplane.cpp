#include <kairos/relay/dataplane.hpp>

#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <thread>

namespace kairos::dp {

Dataplane::Dataplane(Backend& backend, DataplaneConfig cfg)
    : backend_(backend), cfg_(cfg) {
  if (cfg_.nr_buckets == 0 || cfg_.rx_burst == 0 || cfg_.tx_burst == 0)
    throw std::invalid_argument("dataplane: buckets and bursts must be > 0");
}

std::uint32_t Dataplane::add_app(const Endpoint& listen, const ShmRegion& region) {
  auto app = std::make_unique<App>(App{listen, {}, BucketTable(cfg_.nr_buckets),
                                       std::vector<std::uint64_t>(cfg_.nr_buckets),
                                       {}, {}, region.doorbell()});
  for (std::uint32_t k = 0; k < region.nr_kthreads(); k++)
    app->rings.push_back(region.rings(k));
  std::lock_guard lock(mu_);
  apps_.push_back(std::move(app));
  pending_.emplace_back();
  return static_cast<std::uint32_t>(apps_.size() - 1);
}

void Dataplane::set_active(std::uint32_t app, std::vector<std::uint32_t> kthreads) {
  std::lock_guard lock(mu_);
  if (app >= apps_.size()) throw std::out_of_range("dataplane: no such app");
  for (auto k : kthreads)
    if (k >= apps_[app]->rings.size())
      throw std::out_of_range("dataplane: kthread " + std::to_string(k) +
                              " has no rings");
  pending_[app] = std::move(kthreads);
  dirty_.store(true, std::memory_order_release);
  apps_[app]->bell.ring_always();  // a sleeping loop applies it now
}

void Dataplane::wake() {
  std::lock_guard lock(mu_);
  if (!apps_.empty()) apps_[0]->bell.ring_always();
}

void Dataplane::adopt_stray_tx() {
  for (auto& a : apps_)
    for (std::uint32_t k = 0; k < a->rings.size(); k++)
      if (a->rings[k].tx.occupancy() != 0 &&
          std::find(a->tx_poll.begin(), a->tx_poll.end(), k) == a->tx_poll.end()) {
        a->tx_poll.push_back(k);  // dropped again once empty (poll_tx)
        a->stats.tx_strays++;
      }
}

bool Dataplane::tx_pending() {
  for (auto& a : apps_)
    for (auto k : a->tx_poll)
      if (a->rings[k].tx.occupancy() != 0) return true;
  return false;
}

void Dataplane::sleep_until_work() {
  if (sleep_fds_.empty()) {  // built on first use: apps and backend are set
    for (int fd : backend_.wait_fds()) sleep_fds_.push_back({fd, POLLIN, 0});
    if (!sleep_fds_.empty())
      for (auto& a : apps_) sleep_fds_.push_back({a->bell.fd(), POLLIN, 0});
  }
  if (sleep_fds_.empty()) {  // no fds (DPDK): poll again after a nap
    backend_.wait_rx(std::chrono::microseconds(cfg_.idle_sleep_us));
    return;
  }
  {
    // Arm, then look once more: a reply pushed before the arm is seen
    // here, one pushed after it rings (ring_abi.h).
    std::lock_guard lock(mu_);
    for (auto& a : apps_) a->bell.arm();
    adopt_stray_tx();
    if (tx_pending() || dirty_.load(std::memory_order_acquire)) {
      for (auto& a : apps_) a->bell.disarm();
      return;
    }
  }
  sleeps_.fetch_add(1, std::memory_order_relaxed);
  const auto us = cfg_.idle_block_us;
  timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>(us % 1'000'000) * 1000};
  for (auto& p : sleep_fds_) p.revents = 0;
  ppoll(sleep_fds_.data(), sleep_fds_.size(), &ts, nullptr);
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < apps_.size(); i++) {
    apps_[i]->bell.disarm();
    if (sleep_fds_[sleep_fds_.size() - apps_.size() + i].revents & POLLIN)
      apps_[i]->bell.drain();
  }
  adopt_stray_tx();  // the ring may be one outside the grant
}

// Called with mu_ held.
void Dataplane::apply_pending() {
  dirty_.store(false, std::memory_order_relaxed);
  for (std::size_t i = 0; i < apps_.size(); i++) {
    if (!pending_[i]) continue;
    App& a = *apps_[i];
    a.stats.bucket_moves += a.table.set_active(*pending_[i], a.weights);
    // Keep polling the TX rings of kthreads that just lost the grant
    // until they are empty, so no reply is stranded.
    for (auto k : a.table.active())
      if (std::find(a.tx_poll.begin(), a.tx_poll.end(), k) == a.tx_poll.end())
        a.tx_poll.push_back(k);
    pending_[i].reset();
  }
}

Dataplane::App* Dataplane::find_app(const Endpoint& dst) {
  for (auto& a : apps_)
    if (a->listen.port == dst.port && (a->listen.is_any() || a->listen.addr == dst.addr))
      return a.get();
  return nullptr;
}

void Dataplane::on_datagram(const RxDatagram& d) {
  App* a = find_app(d.dst);
  if (!a) {
    no_app_++;
    return;
  }
  if (d.payload.size() > KAIROS_DP_MAX_PAYLOAD) {
    a->stats.rx_oversize++;
    return;
  }
  const std::uint32_t hash = flow_hash(d.src, d.dst);
  const std::uint32_t bucket = a->table.bucket_of(hash);
  a->weights[bucket]++;
  const std::uint32_t k = a->table.kthread_of_bucket(bucket);
  if (k == BucketTable::kNone) {
    a->stats.rx_no_kthread++;
    return;
  }
  if (a->rings[k].rx.try_push(d.src, d.dst, hash, d.payload)) {
    a->stats.rx_delivered++;
    a->rings[k].rx.wake_consumer();
  } else {
    a->stats.rx_ring_full++;
  }
}

std::size_t Dataplane::poll_tx(App& a) {
  std::size_t moved = 0;
  for (std::size_t i = 0; i < a.tx_poll.size();) {
    const std::uint32_t k = a.tx_poll[i];
    RingView& tx = a.rings[k].tx;
    for (std::size_t n = 0; n < cfg_.tx_burst; n++) {
      const kairos_dp_slot* s = tx.peek();
      if (!s) break;
      const Endpoint local = Endpoint::from_abi(s->local);
      const Endpoint peer = Endpoint::from_abi(s->peer);
      bool ok = backend_.send(local, peer, RingView::payload(s));
      if (!ok) {  // the backend's queue may just need a flush
        backend_.flush();
        ok = backend_.send(local, peer, RingView::payload(s));
      }
      ok ? a.stats.tx_sent++ : a.stats.tx_dropped++;
      tx.release();
      moved++;
    }
    const auto& act = a.table.active();
    const bool active = std::find(act.begin(), act.end(), k) != act.end();
    if (!active && tx.occupancy() == 0) {
      a.tx_poll.erase(a.tx_poll.begin() + i);  // drained: stop polling it
    } else {
      i++;
    }
  }
  return moved;
}

std::size_t Dataplane::poll_once() {
  // Uncontended almost always: taken once per burst, so stats and table
  // snapshots from other threads are consistent.
  std::lock_guard lock(mu_);
  if (dirty_.load(std::memory_order_acquire)) apply_pending();
  std::size_t moved = backend_.poll_rx(cfg_.rx_burst, *this);
  for (auto& a : apps_) moved += poll_tx(*a);
  backend_.flush();
  return moved;
}

void Dataplane::rebalance() {
  std::lock_guard lock(mu_);
  adopt_stray_tx();  // while busy the doorbell is silent: look every interval
  for (auto& a : apps_) {
    a->stats.bucket_moves += a->table.rebalance(a->weights, cfg_.max_moves_per_interval);
    for (auto& w : a->weights) w /= 2;  // exponential decay of the history
  }
}

void Dataplane::run(const std::atomic<bool>& stop, std::chrono::microseconds interval) {
  prctl(PR_SET_TIMERSLACK, 1UL);  // back-off sleeps of microseconds, not 50 us more
  auto next = std::chrono::steady_clock::now() + interval;
  auto last_busy = std::chrono::steady_clock::now();
  const auto yield_window = std::chrono::microseconds(cfg_.idle_yield_us);
  std::size_t idle = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const bool moved = poll_once() != 0;
    const auto now = std::chrono::steady_clock::now();
    if (!moved) {
      // Spin while traffic is likely, then (optionally) poll-and-yield,
      // then block on the backend and the doorbells (RX and replies wake
      // it at once) so a core shared with other work is not burnt
      // (dedicated core: raise idle_spins).
      if (++idle > cfg_.idle_spins) {
        if (now - last_busy < yield_window)
          sched_yield();
        else
          sleep_until_work();
      }
    } else {
      idle = 0;
      last_busy = now;
    }
    if (now >= next) {
      rebalance();
      next = now + interval;
    }
  }
}

AppStats Dataplane::stats(std::uint32_t app) const {
  std::lock_guard lock(mu_);
  return apps_.at(app)->stats;
}

BucketTable Dataplane::table(std::uint32_t app) const {
  std::lock_guard lock(mu_);
  return apps_.at(app)->table;
}

}  // namespace kairos::dp
