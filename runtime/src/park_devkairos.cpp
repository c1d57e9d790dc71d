// Parking through /dev/kairos (kairos.ko): an idle kthread sleeps in
// KAIROS_IOC_PARK, and unpark wakes it with KAIROS_IOC_GRANT, so the module
// sees (and counts) every core the runtime gives back and takes again, and
// an external allocator can grant a parked kthread itself (by its tid from
// the runtime area, or a grant posted in the CPU page of the line's 'cpu').
//
// Why GRANT and not a grant posted in the shared page + KICK: each CPU page
// has one grant slot whose single writer is the allocator; the runtime
// writing it too would race with the allocator's own posts.
//
// The handshake (dk_word) closes the window between a kthread deciding to
// park and the module having it on its list, where GRANT says -ESRCH:
//   prepare: kParking;  park: return at once if kWoken, else PARK;
//   finish (park over, or cancelled): kRunning;  unpark: kWoken, then GRANT
//   until it works or the park is over (it saw kWoken, was granted by
//   someone else, or never slept).
// A late GRANT may end a later park early; the scheduler rechecks anyway.
//
// The mmap'd CPU pages (read-only here) serve three things: the unparker
// waits in the page's parked count instead of retrying GRANT in a loop;
// PARK's spin (Config::park_spin) polls the page for a posted grant; and
// each page's preempt_gen is the preemption flag safe points check
// (scheduler.cpp, preempt_flag_raised).
#include "devkairos_calls.hpp"
#include "internal.hpp"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace kairos::detail {
namespace {

enum : std::uint32_t { kRunning = 0, kParking = 1, kWoken = 2 };

// Page polls between two GRANTs of a kthread still on its way into PARK.
constexpr unsigned kPageWaitPolls = 20000;

[[noreturn]] void fatal(const char* what, int err) {
  // A failed wake would leave a kthread asleep for good: say so loudly.
  std::fprintf(stderr, "kairos: devkairos parking: %s: %s\n", what,
               std::strerror(err));
  std::abort();
}

class DevKairosParker final : public Parker {
 public:
  explicit DevKairosParker(std::unique_ptr<DevKairos> dev)
      : dev_(std::move(dev)) {}

  const char* name() const override { return "devkairos"; }

  void prepare(Kthread& k) override {
    if (!k.dk_affinity_saved) {
      // PARK pins the kthread to its CPU; an unpinned kthread gets its
      // affinity back after its own runtime's wakes (see park()).
      k.dk_affinity_saved = true;
      k.dk_restore_affinity =
          sched_getaffinity(0, sizeof(k.dk_affinity), &k.dk_affinity) == 0 &&
          CPU_COUNT(&k.dk_affinity) > 1;
    }
    const int cpu = sched_getcpu();
    k.dk_cpu.store(cpu >= 0 ? static_cast<unsigned>(cpu) : 0,
                   std::memory_order_relaxed);
    k.dk_word.store(kParking, std::memory_order_seq_cst);
  }

  void park(Kthread& k, std::uint64_t deadline_ns,
            std::uint64_t spin_ns) override {
    const unsigned parked_cpu = k.dk_cpu.load(std::memory_order_relaxed);
    unsigned granted_cpu = parked_cpu;
    for (;;) {
      if (k.dk_word.load(std::memory_order_seq_cst) == kWoken) break;
      std::uint64_t timeout = 0;  // none
      if (deadline_ns != kNoDeadline) {
        const std::uint64_t now = now_ns();
        if (now >= deadline_ns) break;
        timeout = deadline_ns - now;
      }
      if (timeout > kDevKairosMaxParkNs) timeout = kDevKairosMaxParkNs;
      const int r = dev_->park(timeout, spin_ns, &granted_cpu);
      if (r == 0) break;              // granted (by us or by an allocator)
      if (r == -EINTR) continue;      // a signal (e.g. preemption): recheck
      if (r == -ETIMEDOUT) continue;  // the loop rechecks the deadline
      fatal("KAIROS_IOC_PARK", -r);
    }
    // A granter that moved the kthread to another CPU chose that core:
    // keep the module's pin. Otherwise undo it, so self-woken kthreads do
    // not pile up on the CPUs they once parked on.
    if (k.dk_restore_affinity && granted_cpu == parked_cpu)
      sched_setaffinity(0, sizeof(k.dk_affinity), &k.dk_affinity);
  }

  // Tells an unparker still retrying GRANT that this park is over.
  void finish(Kthread& k) override {
    k.dk_word.store(kRunning, std::memory_order_seq_cst);
  }

  const void* cpu_pages(unsigned* n) const override {
    *n = dev_->nr_cpus();
    return dev_->pages();
  }

  void unpark(Kthread& k) override {
    if (k.dk_word.exchange(kWoken, std::memory_order_seq_cst) == kRunning)
      return;  // it has left park() already
    const pid_t tid = k.tid.load(std::memory_order_relaxed);
    unsigned cpu = k.dk_cpu.load(std::memory_order_relaxed);
    for (unsigned tries = 0;; ++tries) {
      const int r = dev_->grant(tid, cpu);
      if (r == 0) return;
      if (r == -ESRCH) {
        // Not on the module's list: still on its way in (retry), or it
        // has seen kWoken / another grant and left (done). Wait for it
        // in the page, without system calls: a GRANT per retry swamped
        // the module (and the emulated CPUs) when the parker was slow to
        // get there. Bounded, since an unpinned parker may have moved to
        // another CPU than the one it recorded.
        for (unsigned i = 0; i < kPageWaitPolls; ++i) {
          if (k.dk_word.load(std::memory_order_seq_cst) != kWoken) return;
          if (cpu < dev_->nr_cpus() && page_parked(dev_->pages(), cpu) != 0)
            break;
          cpu_relax();
        }
        if (k.dk_word.load(std::memory_order_seq_cst) != kWoken) return;
        if (tries > 8) sched_yield();  // let it reach the ioctl
        continue;
      }
      if (r == -EINVAL && cpu != 0) {
        cpu = 0;  // its CPU went offline: any online one will do
        continue;
      }
      fatal("KAIROS_IOC_GRANT", -r);
    }
  }

 private:
  std::unique_ptr<DevKairos> dev_;
};

}  // namespace

std::unique_ptr<Parker> make_devkairos_parker(std::string* why) {
  auto dev = DevKairos::open(why);
  if (!dev) return nullptr;
  return std::make_unique<DevKairosParker>(std::move(dev));
}

std::unique_ptr<Parker> make_parker(ParkBackend backend) {
  std::string why;
  switch (backend) {
    case ParkBackend::kFutex:
      return make_futex_parker();
    case ParkBackend::kDevKairos: {
      auto p = make_devkairos_parker(&why);
      if (!p) throw std::runtime_error("kairos: park backend devkairos: " + why);
      return p;
    }
    case ParkBackend::kAuto:
      break;
  }
  if (auto p = make_devkairos_parker(&why)) return p;
  // No module is the ordinary case and goes unsaid; a module this process
  // cannot use is worth one line.
  if (access("/dev/kairos", F_OK) == 0) {
    static std::atomic<bool> said{false};  // once per process is enough
    if (!said.exchange(true)) {
      std::fprintf(stderr, "kairos: using futex parking: %s\n", why.c_str());
    }
  }
  return make_futex_parker();
}

}  // namespace kairos::detail
