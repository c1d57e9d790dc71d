// How an idle kthread gives its core back and how it is woken: a small
// interface so the futex fallback and the /dev/kairos module share the
// scheduler's park protocol (see Scheduler::park in scheduler.cpp).
#pragma once

#include <kairos/runtime.hpp>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>

namespace kairos::detail {

struct Kthread;
inline constexpr std::uint64_t kNoDeadline = ~std::uint64_t{0};

class Parker {
 public:
  virtual ~Parker() = default;
  virtual const char* name() const = 0;
  // Called by k itself before it publishes "parked".
  virtual void prepare(Kthread& k) = 0;
  // Called by k itself: sleeps until unpark(k) or the steady-clock deadline
  // (ns) passes. May return early (spurious); the caller rechecks. spin_ns:
  // how long a backend that can take a wake without sleeping may poll for
  // it first (devkairos: inside PARK); others ignore it.
  virtual void park(Kthread& k, std::uint64_t deadline_ns,
                    std::uint64_t spin_ns) = 0;
  // Called by anyone, at most once per park, after winning k's park state.
  virtual void unpark(Kthread& k) = 0;
  // Called by k itself when the park is over, also when it was cancelled
  // after prepare() without calling park().
  virtual void finish(Kthread& k) { (void)k; }
  // Whether park() also waits on a kthread's park fds
  // (Runtime::add_park_fds): the futex backend can (ppoll), PARK cannot.
  virtual bool waits_on_fds() const { return false; }
  // The module's per-CPU pages (read-only, *n of them), or null.
  virtual const void* cpu_pages(unsigned* n) const {
    *n = 0;
    return nullptr;
  }
};

// For a sleeping system call until the steady-clock deadline_ns: tsp is
// null with no deadline (kNoDeadline), else points at ts, the time left.
// False when the deadline has passed (do not sleep).
bool timeout_until(std::uint64_t deadline_ns, timespec& ts, const timespec*& tsp);

std::unique_ptr<Parker> make_futex_parker();
// Null with *why set when the module backend cannot be used.
std::unique_ptr<Parker> make_devkairos_parker(std::string* why);
// Picks a backend for cfg; throws std::runtime_error when an explicitly
// requested backend is unavailable.
std::unique_ptr<Parker> make_parker(ParkBackend backend);

}  // namespace kairos::detail
