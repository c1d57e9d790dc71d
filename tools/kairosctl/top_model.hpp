// `kairosctl top`'s view-model (pure, unit-tested): successive status
// snapshots in, what the screen shows out — rates over the last interval
// (grants per second, mean queueing delay of the tasks started in it),
// a short history per app, the CPU strip, the allocator's cost, guard
// throttles, the last scheduler exit. top.cpp draws it with FTXUI.
#pragma once

#include <kairos/kairosd/status_snapshot.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kairos::ctl {

enum class TopSort { kId, kWait, kGrants, kOwned };
const char* to_string(TopSort s);
TopSort next(TopSort s);

struct TopCpu {
  unsigned cpu = 0;
  std::uint32_t owner = 0;  // app id, 0: none
  bool busy = false, online = true;
  std::optional<std::uint64_t> throttles_per_s;  // kairos.ko's guard, this CPU
};

struct TopApp {
  std::uint32_t id = 0;
  std::string cgroup, cls;
  unsigned owned = 0, guaranteed = 0, burstable = 0;
  std::uint64_t queued = 0;
  double wait_us = 0;        // mean queueing delay of the tasks started in the interval
  double grants_per_s = 0;   // the allocator's grants to it
  std::vector<double> grants_history;  // oldest first, up to kHistory
  std::vector<double> wait_history;
};

struct TopView {
  bool running = false;
  std::string message;  // when not running: why
  std::string header;   // "kairosd pid 12, sched_ext enabled, 2 CPUs, 0 restarts"
  std::vector<TopCpu> cpus;
  std::vector<TopApp> apps;  // sorted
  std::string allocator;     // one line, "" without the allocator
  std::string guard;         // one line
  std::string last_exit;     // "" when none
  TopSort sort = TopSort::kId;
};

class TopModel {
 public:
  static constexpr std::size_t kHistory = 20;

  // A new snapshot (nullopt: kairosd is not running, why says why).
  void update(const std::optional<status::Snapshot>& s, const std::string& why = "");
  void set_sort(TopSort s) { sort_ = s; }
  TopSort sort() const { return sort_; }
  TopView view() const;

 private:
  std::optional<status::Snapshot> prev_, cur_;
  std::string why_;
  std::map<std::uint32_t, std::deque<double>> grants_hist_, wait_hist_;
  TopSort sort_ = TopSort::kId;
};

// "▁▂▅█" for values scaled to the largest (all zero: flat).
std::string sparkline(const std::vector<double>& v);

}  // namespace kairos::ctl
