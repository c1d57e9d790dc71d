// The shared-memory region of per-kthread RX/TX rings (ring_abi.h) and
// single-producer single-consumer access to one ring.
#pragma once

#include <kairos/contracts/endpoint.hpp>
#include <kairos/abi/ring.h>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace kairos::dp {

// A region's TX doorbell (ring_abi.h): producers ring() after a TX push
// (a fence and a load unless the dataplane sleeps: then one eventfd
// write); the dataplane arm()s it before it sleeps on fd(), disarm()s and
// drain()s it after.
class Doorbell {
 public:
  Doorbell() = default;
  Doorbell(kairos_dp_region* hdr, int fd) : hdr_(hdr), fd_(fd) {}
  bool valid() const { return hdr_ != nullptr && fd_ >= 0; }
  int fd() const { return fd_; }
  void ring();         // producer: wakes a sleeping dataplane
  void ring_always();  // anyone: wakes it even if not armed (grants, stop)
  void arm();
  void disarm();
  void drain();        // reads the eventfd (non-blocking)
  std::uint64_t rings() const;  // eventfd writes by producers so far

 private:
  kairos_dp_region* hdr_ = nullptr;
  int fd_ = -1;
};

// One side's view of one ring. Producer calls: try_push. Consumer calls:
// peek/release. Each side must be a single thread.
class RingView {
 public:
  RingView() = default;
  RingView(kairos_dp_ring* ring, std::uint8_t* slots, std::uint32_t nr_slots,
           Doorbell bell = {})
      : ring_(ring), slots_(slots), mask_(nr_slots - 1), bell_(bell) {}

  // Producer: copies one datagram in; false when the ring is full (counted
  // in the ring's 'full') or the payload is larger than a slot (the caller
  // checks and counts that). A TX ring's view rings the region's doorbell
  // after the push.
  bool try_push(const Endpoint& peer, const Endpoint& local,
                std::uint32_t flow_hash, std::span<const std::uint8_t> payload);
  // Consumer: the oldest slot, or nullptr when empty. Valid until release().
  const kairos_dp_slot* peek() const;
  void release();

  std::uint32_t occupancy() const;  // head - tail, readable by anyone
  // Consumer: sleep until the ring has an item or timeout passes (the
  // producer wakes it; see ring_abi.h). Returns at once if not empty.
  void park(std::chrono::nanoseconds timeout);
  // Producer: wake a parked consumer (cheap when it is not parked).
  void wake_consumer();
  std::uint32_t capacity() const { return mask_ + 1; }
  std::uint64_t full_count() const;
  bool valid() const { return ring_ != nullptr; }
  // The ring's shared header, where the view's geometry (checked at
  // attach) puts it: for a caller that waits on its 'parked' futex word
  // together with other rings'.
  kairos_dp_ring* header() const { return ring_; }

  // The producer is another process and writes len: read once, and a len
  // past the slot (a faulty or hostile app) is cut to the slot, so the
  // consumer never reads outside it.
  static std::span<const std::uint8_t> payload(const kairos_dp_slot* s) {
    const std::uint32_t len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
    return {reinterpret_cast<const std::uint8_t*>(s) + KAIROS_DP_SLOT_HDR,
            len < KAIROS_DP_MAX_PAYLOAD ? len : KAIROS_DP_MAX_PAYLOAD};
  }

 private:
  kairos_dp_slot* slot(std::uint32_t idx) const {
    return reinterpret_cast<kairos_dp_slot*>(
        slots_ + static_cast<std::size_t>(idx & mask_) * KAIROS_DP_SLOT_SIZE);
  }
  kairos_dp_ring* ring_ = nullptr;
  std::uint8_t* slots_ = nullptr;
  std::uint32_t mask_ = 0;
  Doorbell bell_;  // TX rings only
};

struct KthreadRings {
  RingView rx;  // dataplane -> kthread
  RingView tx;  // kthread -> dataplane
};

// A shared-memory region of ring pairs. create() makes a fresh memfd one
// (dataplane side); attach() maps one received from the dataplane and
// validates its header (bad magic/version/sizes: a clear error, nothing
// mapped). The named variants are the cross-process protocol of
// ring_abi.h: a POSIX shm object /dev/shm/<name>, created exclusively by
// the dataplane (which unlinks it when the region is destroyed) and
// attached by name by the app.
class ShmRegion {
 public:
  static ShmRegion create(std::uint32_t nr_kthreads, std::uint32_t nr_slots,
                          const Endpoint& app = {});
  static ShmRegion attach(int fd);
  // Name: 1..200 characters of [A-Za-z0-9._-], not starting with '.'.
  // An existing object of that name is an error, unless it is the region
  // of a dataplane whose process died without removing it (same owner,
  // Kairos magic, dp_pid gone): that one is replaced
  // (replaced_dead_pid() names the dead process).
  static ShmRegion create_named(const std::string& name, std::uint32_t nr_kthreads,
                                std::uint32_t nr_slots, const Endpoint& app = {});
  static ShmRegion attach_named(const std::string& name);
  static bool valid_name(const std::string& name);
  Endpoint app() const { return Endpoint::from_abi(hdr_->app); }
  const std::string& name() const { return name_; }  // empty: memfd
  pid_t replaced_dead_pid() const { return replaced_dead_pid_; }  // 0: none
  ShmRegion(ShmRegion&&) noexcept;
  ShmRegion& operator=(ShmRegion&&) noexcept;
  ShmRegion(const ShmRegion&) = delete;
  ~ShmRegion();

  int fd() const { return fd_; }
  // This process's handle on the region's TX doorbell (the creator's
  // eventfd, or the app's copy of it taken with pidfd_getfd at attach).
  Doorbell doorbell() const { return Doorbell(hdr_, bell_fd_); }
  // False once the dataplane destroyed the region or its process exited
  // (ring_abi.h "Liveness"): an app stops waiting for traffic then.
  bool dataplane_alive() const;
  std::uint32_t nr_kthreads() const { return nr_kthreads_; }
  KthreadRings rings(std::uint32_t kthread) const;
  const kairos_dp_region& header() const { return *hdr_; }

 private:
  ShmRegion() = default;
  static ShmRegion create_on(int fd, std::uint32_t nr_kthreads,
                             std::uint32_t nr_slots, const Endpoint& app);
  int fd_ = -1;
  kairos_dp_region* hdr_ = nullptr;
  std::size_t size_ = 0;
  std::string name_;     // the shm object's name when named
  bool owner_ = false;   // created it: unlink the name on destruction
  bool creator_ = false; // the dataplane side: marks the region STOPPED at the end
  int bell_fd_ = -1;     // the doorbell eventfd in this process
  int pidfd_ = -1;       // app side: the dataplane's process
  pid_t replaced_dead_pid_ = 0;  // create_named replaced a dead dataplane's region
  // The geometry as created or as checked at attach, never re-read from the
  // shared header, which the other side can rewrite.
  std::uint32_t nr_kthreads_ = 0, nr_slots_ = 0;
  std::uint64_t ring_bytes_ = 0;
};

}  // namespace kairos::dp
