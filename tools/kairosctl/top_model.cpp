#include "top_model.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace kairos::ctl {

const char* to_string(TopSort s) {
  switch (s) {
    case TopSort::kId: return "app";
    case TopSort::kWait: return "wait";
    case TopSort::kGrants: return "grants/s";
    case TopSort::kOwned: return "owned";
  }
  return "app";
}

TopSort next(TopSort s) {
  switch (s) {
    case TopSort::kId: return TopSort::kWait;
    case TopSort::kWait: return TopSort::kGrants;
    case TopSort::kGrants: return TopSort::kOwned;
    case TopSort::kOwned: return TopSort::kId;
  }
  return TopSort::kId;
}

namespace {

std::uint64_t sum(const status::ReasonCounts& r) {
  return std::accumulate(r.begin(), r.end(), std::uint64_t{0},
                         [](std::uint64_t a, const auto& kv) { return a + kv.second; });
}

const status::AppInfo* find_app(const status::Snapshot& s, std::uint32_t id,
                                const std::string& cgroup) {
  for (const auto& a : s.apps)
    if (a.id == id && a.cgroup == cgroup) return &a;
  return nullptr;
}

// Counter growth, 0 when it went backwards (a new kairosd or scheduler).
std::uint64_t delta(std::uint64_t now, std::uint64_t before) { return now >= before ? now - before : 0; }

std::string fmt(const char* f, auto... a) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a...);
  return buf;
}

}  // namespace

void TopModel::update(const std::optional<status::Snapshot>& s, const std::string& why) {
  why_ = why;
  if (!s) {
    prev_.reset();
    cur_.reset();
    grants_hist_.clear();
    wait_hist_.clear();
    return;
  }
  // Another kairosd (or the same snapshot again): nothing to compare to.
  if (cur_ && (cur_->daemon.pid != s->daemon.pid || cur_->daemon.taken_ns >= s->daemon.taken_ns)) {
    if (cur_->daemon.pid != s->daemon.pid) {
      grants_hist_.clear();
      wait_hist_.clear();
      cur_.reset();
    } else {
      return;
    }
  }
  prev_ = std::move(cur_);
  cur_ = s;
  const TopView v = view();
  for (const TopApp& a : v.apps) {
    auto push = [](std::deque<double>& h, double x) {
      h.push_back(x);
      while (h.size() > kHistory) h.pop_front();
    };
    push(grants_hist_[a.id], a.grants_per_s);
    push(wait_hist_[a.id], a.wait_us);
  }
}

TopView TopModel::view() const {
  TopView v;
  v.sort = sort_;
  if (!cur_) {
    v.message = "kairosd is not running" + (why_.empty() ? std::string() : " (" + why_ + ")") +
                "; waiting for it";
    return v;
  }
  const status::Snapshot& s = *cur_;
  const status::Snapshot* p = prev_ ? &*prev_ : nullptr;
  const double dt = p ? static_cast<double>(s.daemon.taken_ns - p->daemon.taken_ns) / 1e9 : 0;
  auto rate = [&](std::uint64_t now, std::uint64_t before) {
    return dt > 0 ? static_cast<double>(delta(now, before)) / dt : 0.0;
  };
  v.running = true;
  v.header = fmt("kairosd pid %d, %s %s, %u CPUs, %u restarts", s.daemon.pid,
                 s.daemon.backend.c_str(), s.daemon.sched_ext_state.c_str(), s.daemon.cpus,
                 s.daemon.restarts);
  for (const auto& c : s.cpus) {
    TopCpu t{c.cpu, c.owner, c.busy, c.online, std::nullopt};
    if (p && c.kmod_throttles)
      for (const auto& pc : p->cpus)
        if (pc.cpu == c.cpu && pc.kmod_throttles)
          t.throttles_per_s = static_cast<std::uint64_t>(rate(*c.kmod_throttles, *pc.kmod_throttles) + 0.5);
    v.cpus.push_back(t);
  }
  for (const auto& a : s.apps) {
    TopApp t;
    t.id = a.id;
    t.cgroup = a.cgroup;
    t.cls = a.cls;
    t.owned = a.owned;
    t.guaranteed = a.guaranteed;
    t.burstable = a.burstable;
    t.queued = a.queued;
    if (const status::AppInfo* b = p ? find_app(*p, a.id, a.cgroup) : nullptr) {
      t.grants_per_s = rate(sum(a.grants), sum(b->grants));
      const std::uint64_t n = delta(a.dispatched, b->dispatched);
      t.wait_us = n ? static_cast<double>(delta(a.wait_ns_total, b->wait_ns_total)) / n / 1e3 : 0;
    }
    auto hist = [&](const std::map<std::uint32_t, std::deque<double>>& m) {
      const auto it = m.find(a.id);
      return it == m.end() ? std::vector<double>{} : std::vector<double>(it->second.begin(), it->second.end());
    };
    t.grants_history = hist(grants_hist_);
    t.wait_history = hist(wait_hist_);
    v.apps.push_back(std::move(t));
  }
  std::stable_sort(v.apps.begin(), v.apps.end(), [&](const TopApp& x, const TopApp& y) {
    switch (sort_) {
      case TopSort::kWait: return x.wait_us > y.wait_us;
      case TopSort::kGrants: return x.grants_per_s > y.grants_per_s;
      case TopSort::kOwned: return x.owned > y.owned;
      case TopSort::kId: break;
    }
    return x.id < y.id;
  });
  if (const auto& a = s.allocator) {
    const double polls_s = p && p->allocator ? rate(a->polls, p->allocator->polls) : 0;
    v.allocator = fmt("allocator %s on CPU %u: %.0f polls/s (every %.0f us asked), poll %llu ns "
                      "median, %llu ns avg, %llu ns max",
                      a->mode.c_str(), a->cpu, polls_s,
                      static_cast<double>(a->poll_interval_ns) / 1e3,
                      static_cast<unsigned long long>(a->quiet_poll_ns_p50),
                      static_cast<unsigned long long>(a->polls ? a->poll_ns_total / a->polls : 0),
                      static_cast<unsigned long long>(a->poll_ns_max));
  }
  const std::uint64_t gt = s.sched ? s.sched->guard_throttles : 0;
  const double gt_s = p && p->sched && s.sched ? rate(gt, p->sched->guard_throttles) : 0;
  v.guard = fmt("guard %llu/%llu us: %llu throttles (%.0f/s)",
                static_cast<unsigned long long>(s.tunables.quantum_us),
                static_cast<unsigned long long>(s.tunables.period_us),
                static_cast<unsigned long long>(gt), gt_s);
  v.last_exit = s.daemon.last_exit;
  return v;
}

std::string sparkline(const std::vector<double>& v) {
  static const char* const kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const double hi = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
  std::string out;
  for (double x : v) {
    int i = hi > 0 ? static_cast<int>(x / hi * 7 + 0.5) : 0;
    out += kBars[std::clamp(i, 0, 7)];
  }
  return out;
}

}  // namespace kairos::ctl
