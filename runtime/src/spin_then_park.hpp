// How long an idle kthread spins before it parks: policy only (times in,
// decisions out), unit-tested in tests/runtime/spin_then_park_test.cpp.
//
// Why not always Config::spin_before_park: spinning pays only while the
// kthread keeps its CPU (a granted core). On a shared, oversubscribed CPU
// the kernel deschedules a spinning thread for whole time slices
// (milliseconds), and work queued for it meanwhile waits that long, while a
// parked thread that is woken gets a CPU within microseconds; the spinner
// also takes CPU time from the threads doing the work. The spinner notices:
// between two idle polls, which take well under a microsecond, it sees a
// gap of tens of microseconds or more. After such a gap kthreads park at
// once when idle for a backoff time, then spin again (a probe). A gap after
// less than kCleanSpinNs of spinning since the previous one doubles the
// backoff, up to kMaxBackoffNs (the CPUs are still shared); a gap after a
// longer clean stretch starts again from kBaseBackoffNs. So on steadily
// oversubscribed CPUs kthreads spin a few percent of the time, and on quiet
// or granted ones they always spin.
//
// A gap in which the thread never left its CPU (no context switch, as the
// kernel counts them) is not another task's doing: under a hypervisor the
// whole virtual CPU was taken away (steal), or an interrupt ran long.
// Parking would not get that time back, and nothing inside the machine
// wants the CPU, so such a gap is counted (stolen_gaps) and spinning goes
// on. On a cloud VM with busy neighbours these gaps come often, and each
// used to turn spinning off for a backoff.
//
// The backoff is shared (SpinShared; the runtime uses one per process):
// being descheduled says the machine is oversubscribed, which every kthread
// and every later Runtime of the process should know without paying for
// its own probes.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace kairos::detail {

struct SpinShared {
  // Written only after a gap (rare); read once per idle period.
  std::atomic<std::uint64_t> backoff_ns{0};
  std::atomic<std::uint64_t> quiet_until{0};  // no spinning before this
  std::atomic<std::uint64_t> gaps{0};
  std::atomic<std::uint64_t> stolen_gaps{0};  // gaps without a switch
};

// The runtime's process-wide instance (scheduler.cpp).
SpinShared& process_spin_state();

class SpinThenPark {
 public:
  // A poll-to-poll gap this long means the CPU ran something else.
  static constexpr std::uint64_t kDescheduledGapNs = 50'000;
  static constexpr std::uint64_t kBaseBackoffNs = 8'000'000;
  static constexpr std::uint64_t kMaxBackoffNs = 1'024'000'000;
  static constexpr std::uint64_t kCleanSpinNs = 10'000'000;

  SpinThenPark(std::uint64_t spin_ns, bool adaptive, SpinShared* shared)
      : spin_ns_(spin_ns), adaptive_(adaptive), shared_(shared) {}

  // Nanoseconds to spin before parking, for an idle period starting now.
  std::uint64_t budget(std::uint64_t now) const {
    return quiet(now) ? 0 : spin_ns_;
  }
  // True during a backoff: no spinning of any kind (the caller also skips
  // spinning inside the park itself).
  bool quiet(std::uint64_t now) const {
    return adaptive_ &&
           now < shared_->quiet_until.load(std::memory_order_relaxed);
  }

  // Called at each idle poll with the time of the previous one (0: first
  // poll of this idle period). True when the gap says the kthread was
  // descheduled: the caller should park now. switched_out() is asked only
  // about a gap: whether the thread left its CPU during this idle period
  // (a caller that cannot tell says true).
  template <class SwitchedOut>
  bool on_poll(std::uint64_t prev, std::uint64_t now, SwitchedOut&& switched_out) {
    if (!adaptive_ || prev == 0) return false;
    if (now - prev < kDescheduledGapNs) {
      clean_ns_ += now - prev;
      return false;
    }
    if (!switched_out()) {
      shared_->stolen_gaps.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    // Racing kthreads may each apply a gap: at worst one doubling more.
    const std::uint64_t old = shared_->backoff_ns.load(std::memory_order_relaxed);
    const std::uint64_t b = old != 0 && clean_ns_ < kCleanSpinNs
                                ? std::min(kMaxBackoffNs, 2 * old)
                                : kBaseBackoffNs;
    shared_->backoff_ns.store(b, std::memory_order_relaxed);
    shared_->quiet_until.store(now + b, std::memory_order_relaxed);
    shared_->gaps.fetch_add(1, std::memory_order_relaxed);
    clean_ns_ = 0;
    return true;
  }

  bool on_poll(std::uint64_t prev, std::uint64_t now) {
    return on_poll(prev, now, [] { return true; });
  }

  bool adaptive() const { return adaptive_; }

  std::uint64_t backoff_ns() const {
    return shared_->backoff_ns.load(std::memory_order_relaxed);
  }
  std::uint64_t gaps() const {
    return shared_->gaps.load(std::memory_order_relaxed);
  }
  std::uint64_t stolen_gaps() const {
    return shared_->stolen_gaps.load(std::memory_order_relaxed);
  }

 private:
  std::uint64_t spin_ns_;
  bool adaptive_;
  SpinShared* shared_;
  std::uint64_t clean_ns_ = 0;  // spun without a gap since the last one
};

}  // namespace kairos::detail
