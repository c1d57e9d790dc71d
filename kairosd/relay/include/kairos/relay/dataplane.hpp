// The dataplane loop (Shenango's IOKernel role): receive datagrams from a
// backend, pick the kthread through the app's bucket table, copy into that
// kthread's RX ring; collect replies from the TX rings of the app's active
// kthreads and hand them to the backend. Every drop is counted.
#pragma once

#include <kairos/contracts/backend.hpp>
#include <kairos/relay/bucket_table.hpp>
#include <kairos/contracts/shm_rings.hpp>

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace kairos::dp {

struct DataplaneConfig {
  std::uint32_t nr_buckets = 256;
  std::size_t max_moves_per_interval = 8;  // Taiji-style churn cap
  std::size_t rx_burst = 64;
  std::size_t tx_burst = 64;  // per kthread per poll
  // Empty polls before backing off. Small since the TX doorbell: replies
  // no longer need a spinning loop to be seen, and on a shared core a long
  // spin delays the very kthread it waits for (dataplane_bench: p50 about
  // 20x the kernel's with 2000, 1.4x with 50, on 2 cores). Raise it on a
  // dedicated core.
  std::size_t idle_spins = 64;
  unsigned idle_sleep_us = 20;     // back-off sleep when idle
  // After the spins, keep polling with sched_yield() in between for this
  // long since the last datagram moved before blocking: no wakeup on the
  // request path while traffic flows, yet a shared core goes to whoever
  // else is runnable (0: block right after the spins).
  unsigned idle_yield_us = 0;
  // TX doorbell (ring_abi.h): when the backend has fds to block on, the
  // idle loop sleeps on them and on every app's doorbell together, so a
  // reply or a datagram wakes it at once; this bounds that sleep (a
  // safety net: nothing needs the timeout to make progress). Backends
  // without fds (DPDK) sleep idle_sleep_us between polls instead.
  unsigned idle_block_us = 100000;
};

struct AppStats {
  std::uint64_t rx_delivered = 0;   // copied into a kthread's RX ring
  std::uint64_t rx_ring_full = 0;   // dropped: that RX ring was full
  std::uint64_t rx_no_kthread = 0;  // dropped: the app has no active kthread
  std::uint64_t rx_oversize = 0;    // dropped: larger than a ring slot
  std::uint64_t tx_sent = 0;        // replies handed to the backend
  std::uint64_t tx_dropped = 0;     // replies the backend refused
  std::uint64_t bucket_moves = 0;   // buckets moved (grant changes + rebalance)
  // TX rings outside the grant found holding replies (a runtime may run a
  // uthread on any of its kthreads; its reply goes to that kthread's
  // ring): polled again until empty, so no reply is stranded.
  std::uint64_t tx_strays = 0;
};

class Dataplane final : private RxSink {
 public:
  Dataplane(Backend& backend, DataplaneConfig cfg = {});

  // An app reached at listen (wildcard address allowed) whose kthreads
  // own the rings of region. Returns the app's index. Not thread-safe:
  // call before the loop runs.
  std::uint32_t add_app(const Endpoint& listen, const ShmRegion& region);

  // The allocator's grant for an app: the kthreads (ring indices) that run
  // now. Thread-safe; applied by the loop at its next poll.
  void set_active(std::uint32_t app, std::vector<std::uint32_t> kthreads);

  // One iteration: an RX burst, TX from active (and draining) kthreads,
  // then a backend flush. Returns datagrams moved either way.
  std::size_t poll_once();
  // Per interval: up to max_moves_per_interval bucket moves toward balance
  // weighted by the traffic since the last call.
  void rebalance();
  // Polls until stop, rebalancing every interval. Call wake() after
  // setting stop so that an idle loop notices at once.
  void run(const std::atomic<bool>& stop, std::chrono::microseconds interval);
  void wake();
  // Idle sleeps taken on the doorbell (for tests and the bench).
  std::uint64_t doorbell_sleeps() const { return sleeps_.load(std::memory_order_relaxed); }

  AppStats stats(std::uint32_t app) const;
  std::uint64_t rx_no_app() const { return no_app_; }
  // Snapshot of the app's table (copy; safe from other threads).
  BucketTable table(std::uint32_t app) const;

 private:
  struct App {
    Endpoint listen;
    std::vector<KthreadRings> rings;
    BucketTable table;
    std::vector<std::uint64_t> weights;   // traffic per bucket, decayed
    std::vector<std::uint32_t> tx_poll;   // active + draining kthreads
    AppStats stats;
    Doorbell bell;                        // the region's TX doorbell
  };
  void on_datagram(const RxDatagram& d) override;
  void apply_pending();
  std::size_t poll_tx(App& app);
  App* find_app(const Endpoint& dst);
  // Idle: sleep on the backend's fds and the doorbells (or just sleep).
  void sleep_until_work();
  bool tx_pending();  // a TX ring we poll is not empty (mu_ held)
  void adopt_stray_tx();  // non-empty TX rings we do not poll: poll them (mu_ held)

  Backend& backend_;
  DataplaneConfig cfg_;
  std::vector<std::unique_ptr<App>> apps_;
  std::uint64_t no_app_ = 0;
  mutable std::mutex mu_;  // held by each poll; guards apps_ and pending_
  std::vector<std::optional<std::vector<std::uint32_t>>> pending_;
  std::atomic<bool> dirty_{false};
  std::vector<pollfd> sleep_fds_;  // backend fds, then one doorbell per app
  std::atomic<std::uint64_t> sleeps_{0};
};

}  // namespace kairos::dp
