// Futex parking: the fallback when the kairos module is absent. Each
// kthread sleeps on its own word; unpark sets it and wakes the kthread.
// A kthread with park fds (Runtime::add_park_fds) sleeps in ppoll on them
// and an eventfd instead (park_fds.cpp); park_polls tells unpark which
// of the two to kick: the kthread stores it before it reads the word,
// unpark stores the word before it reads park_polls (both seq_cst), so
// either the kthread sees the word set or unpark kicks the right wait.
#include "internal.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace kairos::detail {

bool timeout_until(std::uint64_t deadline_ns, timespec& ts, const timespec*& tsp) {
  tsp = nullptr;
  if (deadline_ns == kNoDeadline) return true;
  const std::uint64_t now = now_ns();
  if (now >= deadline_ns) return false;
  const std::uint64_t d = deadline_ns - now;
  ts.tv_sec = static_cast<time_t>(d / 1000000000u);
  ts.tv_nsec = static_cast<long>(d % 1000000000u);
  tsp = &ts;
  return true;
}
namespace {

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val,
           const timespec* ts) {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val,
                 ts, nullptr, 0);
}

class FutexParker final : public Parker {
 public:
  const char* name() const override { return "futex"; }

  void prepare(Kthread& k) override {
    k.futex_word.store(0, std::memory_order_relaxed);
  }

  bool waits_on_fds() const override { return true; }

  void park(Kthread& k, std::uint64_t deadline_ns, std::uint64_t) override {
    const ParkFdSet* set = k.park_fds.load(std::memory_order_acquire);
    k.park_polls.store(set != nullptr, std::memory_order_seq_cst);
    if (set) {
      park_on_fds(k, *set, deadline_ns);
      return;
    }
    while (k.futex_word.load(std::memory_order_seq_cst) == 0) {
      timespec ts{};
      const timespec* tsp = nullptr;
      if (!timeout_until(deadline_ns, ts, tsp)) return;
      if (futex(&k.futex_word, FUTEX_WAIT_PRIVATE, 0, tsp) != 0 &&
          errno == ETIMEDOUT)
        return;
    }
  }

  void unpark(Kthread& k) override {
    k.futex_word.store(1, std::memory_order_seq_cst);
    if (k.park_polls.load(std::memory_order_seq_cst)) {
      wake_park_fds(k);
      return;
    }
    futex(&k.futex_word, FUTEX_WAKE_PRIVATE, 1, nullptr);
  }
};

}  // namespace

std::unique_ptr<Parker> make_futex_parker() {
  return std::make_unique<FutexParker>();
}

}  // namespace kairos::detail
