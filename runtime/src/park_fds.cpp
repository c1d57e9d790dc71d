// Park fds: a kthread of the futex backend that was given fds
// (Runtime::add_park_fds) parks in ppoll on them and on an eventfd that
// unpark writes, so a readable fd (e.g. a device queue's AF_XDP socket)
// wakes the very kthread that serves it, with no thread in between.
#include "internal.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <stdexcept>
#include <string>
#include <system_error>

namespace kairos {
namespace detail {

void park_on_fds(Kthread& k, const ParkFdSet& set, std::uint64_t deadline_ns) {
  const int evfd = k.park_evfd.load(std::memory_order_relaxed);
  if (k.park_fds_seen != &set) {
    k.park_fds_seen = &set;
    k.park_pollfds.assign(1, pollfd{evfd, POLLIN, 0});
    for (int fd : set.fds) k.park_pollfds.push_back({fd, POLLIN, 0});
  }
  std::vector<pollfd>& p = k.park_pollfds;
  while (k.futex_word.load(std::memory_order_seq_cst) == 0) {
    timespec ts{};
    const timespec* tsp = nullptr;
    if (!timeout_until(deadline_ns, ts, tsp)) return;
    for (auto& e : p) e.revents = 0;
    // Timeout, or a signal (SIGURG preemption): the caller rechecks.
    if (ppoll(p.data(), p.size(), tsp, nullptr) <= 0) return;
    if (p[0].revents) {
      std::uint64_t v;
      // Reset the unpark count; a late one from an earlier park costs
      // one spurious round here, never a missed wake.
      [[maybe_unused]] ssize_t r = read(evfd, &v, sizeof v);
    }
    bool ready = false;
    for (std::size_t i = 1; i < p.size(); i++) {
      if (p[i].revents & POLLIN) ready = true;
      // A broken or closed fd would end every park at once: stop waiting
      // on it (the kthread still wakes on unpark and timers).
      else if (p[i].revents & (POLLERR | POLLHUP | POLLNVAL)) p[i].fd = -1;
    }
    if (ready) return;
  }
}

void wake_park_fds(Kthread& k) {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r =
      write(k.park_evfd.load(std::memory_order_relaxed), &one, sizeof one);
}

namespace {

// Publishes fds as k's new set (none: back to the plain futex wait) and
// wakes k if it is parked, so it parks again on the new set.
void publish(RuntimeImpl* rt, Kthread* k, std::vector<int> fds) {
  const ParkFdSet* set = nullptr;
  if (!fds.empty()) {
    auto s = std::make_unique<ParkFdSet>();
    s->fds = std::move(fds);
    set = s.get();
    rt->park_fd_sets.push_back(std::move(s));
  }
  k->park_fds.store(set, std::memory_order_release);
  unpark_kthread(rt, k);
}

}  // namespace
}  // namespace detail

using namespace detail;

bool Runtime::add_park_fds(unsigned k, std::span<const int> fds) {
  if (k >= kthreads()) throw std::out_of_range("kairos: add_park_fds: no such kthread");
  if (fds.empty()) throw std::invalid_argument("kairos: add_park_fds: no fds");
  for (int fd : fds)
    if (fd < 0 || fcntl(fd, F_GETFD) < 0)
      throw std::invalid_argument("kairos: add_park_fds: fd " + std::to_string(fd) +
                                  " is not open");
  RuntimeImpl* rt = impl_.get();
  // PARK cannot wait on fds; in allocator mode only grants wake kthreads.
  if (!rt->parker->waits_on_fds() || !rt->cfg.self_wake) return false;
  Kthread* kt = rt->ks[k].get();
  std::lock_guard g(rt->park_fds_mutex);
  if (kt->park_evfd.load() < 0) {
    const int e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e < 0)
      throw std::system_error(errno, std::generic_category(), "kairos: park eventfd");
    kt->park_evfd.store(e);
  }
  std::vector<int> all;
  if (const ParkFdSet* cur = kt->park_fds.load()) all = cur->fds;
  all.insert(all.end(), fds.begin(), fds.end());
  publish(rt, kt, std::move(all));
  return true;
}

void Runtime::remove_park_fds(unsigned k, std::span<const int> fds) {
  if (k >= kthreads()) throw std::out_of_range("kairos: remove_park_fds: no such kthread");
  RuntimeImpl* rt = impl_.get();
  Kthread* kt = rt->ks[k].get();
  std::lock_guard g(rt->park_fds_mutex);
  const ParkFdSet* cur = kt->park_fds.load();
  if (!cur) return;
  std::vector<int> left = cur->fds;
  for (int fd : fds)
    if (auto it = std::find(left.begin(), left.end(), fd); it != left.end()) left.erase(it);
  if (left.size() == cur->fds.size()) return;
  publish(rt, kt, std::move(left));
}

}  // namespace kairos
