#include <kairos/allocator/policy.hpp>

#include <algorithm>

namespace kairos::policy {

std::optional<std::string> validate(const PolicyConfig& c) {
  if (c.poll_interval_ns < 100 || c.poll_interval_ns > 10'000'000'000ull)
    return "poll interval must be between 100 ns and 10 s, got " +
           std::to_string(c.poll_interval_ns) + " ns";
  if (c.wake_timeout_ns == 0) return "wake timeout must be > 0";
  if (c.max_grants_per_app == 0 || c.max_grants_per_app > 4096)
    return "max grants per app per poll must be 1..4096";
  if (c.idle_polls_to_reclaim == 0)
    return "idle polls before reclaim must be >= 1";
  return std::nullopt;
}

const char* to_string(Reason r) {
  switch (r) {
    case Reason::kCongested: return "congested";
    case Reason::kWakeup: return "wakeup";
    case Reason::kGuaranteed: return "guaranteed";
    case Reason::kStandby: return "standby";
    case Reason::kParked: return "parked";
    case Reason::kIdle: return "idle";
    case Reason::kWakeTimeout: return "wake-timeout";
    case Reason::kPreempted: return "preempted";
    case Reason::kKthreadGone: return "kthread-gone";
    case Reason::kAppRemoved: return "app-removed";
  }
  return "?";
}

CoreAllocator::CoreAllocator(const PolicyConfig& cfg, Topology topo)
    : cfg_(cfg), topo_(std::move(topo)), cores_(topo_.size()) {}

std::optional<CoreAllocator> CoreAllocator::create(const PolicyConfig& cfg,
                                                   Topology topo,
                                                   std::string* error) {
  auto err = validate(cfg);
  if (!err) err = validate(topo);
  if (err) {
    if (error) *error = *err;
    return std::nullopt;
  }
  return CoreAllocator(cfg, std::move(topo));
}

CoreAllocator::App* CoreAllocator::find_app(AppId id) {
  for (auto& a : apps_)
    if (a.spec.id == id) return &a;
  return nullptr;
}

const CoreAllocator::App* CoreAllocator::find_app(AppId id) const {
  for (const auto& a : apps_)
    if (a.spec.id == id) return &a;
  return nullptr;
}

unsigned CoreAllocator::cores_held(AppId id) const {
  const App* a = find_app(id);
  return a ? a->held : 0;
}

std::optional<std::string> CoreAllocator::add_app(const AppSpec& spec) {
  if (spec.id == kNoApp) return "app id " + std::to_string(kNoApp) + " is reserved";
  if (find_app(spec.id))
    return "app " + std::to_string(spec.id) + " is already registered";
  const unsigned max = spec.guaranteed + spec.burstable;
  if (max == 0)
    return "app " + std::to_string(spec.id) +
           ": guaranteed + burstable must be at least 1";
  const auto usable = static_cast<unsigned>(
      std::count(topo_.usable.begin(), topo_.usable.end(), true));
  if (max > usable)
    return "app " + std::to_string(spec.id) + " asks for " +
           std::to_string(max) + " cores but only " + std::to_string(usable) +
           " can be granted";
  unsigned guaranteed = spec.guaranteed;
  for (const auto& a : apps_) guaranteed += a.spec.guaranteed;
  if (guaranteed > usable)
    return "guaranteed cores of all apps (" + std::to_string(guaranteed) +
           ") exceed the " + std::to_string(usable) + " grantable cores";
  App app;
  app.spec = spec;
  apps_.push_back(std::move(app));
  order_.reserve(apps_.size());
  return std::nullopt;
}

std::optional<std::string> CoreAllocator::remove_app(AppId id,
                                                     std::vector<Decision>& out) {
  App* app = find_app(id);
  if (!app) return "app " + std::to_string(id) + " is not registered";
  for (CoreId c = 0; c < cores_.size(); ++c)
    if (cores_[c].owner == id) revoke(c, Reason::kAppRemoved, last_poll_, out);
  drop_standby(*app);
  apps_.erase(apps_.begin() + (app - apps_.data()));
  return std::nullopt;
}

PollStatus CoreAllocator::check_input(const PollInput& in) {
  if (polled_ && in.now < last_poll_)
    return PollStatus::fail("clock went backwards: " + std::to_string(in.now) +
                            " < previous poll " + std::to_string(last_poll_));
  if (in.cores.size() != cores_.size())
    return PollStatus::fail("view has " + std::to_string(in.cores.size()) +
                            " cores, topology has " +
                            std::to_string(cores_.size()));
  for (auto& a : apps_) a.view = nullptr;
  for (const AppView& v : in.apps) {
    App* a = find_app(v.id);
    std::string err;
    if (!a)
      err = "view names unknown app " + std::to_string(v.id);
    else if (a->view)
      err = "view names app " + std::to_string(v.id) + " twice";
    else if (!a->spec.runtime && !v.kthreads.empty())
      err = "app " + std::to_string(v.id) +
            " is unmodified but the view lists kthreads";
    if (!err.empty()) {
      for (auto& x : apps_) x.view = nullptr;
      return PollStatus::fail(std::move(err));
    }
    a->view = &v;
  }
  return {};
}

PollStatus CoreAllocator::poll(const PollInput& in, std::vector<Decision>& out) {
  out.clear();
  if (PollStatus s = check_input(in); !s.ok) return s;
  for (auto& app : apps_) observe_app(app, in, out);
  reclaim_idle_cores(in, out);
  grant_round(in, out);
  pick_standbys(in);
  last_poll_ = in.now;
  polled_ = true;
  ++rr_start_;
  for (auto& a : apps_) a.view = nullptr;
  return {};
}

void CoreAllocator::observe_app(App& app, const PollInput& in,
                                std::vector<Decision>& out) {
  app.needs = false;
  app.granted_now = 0;
  const AppView* v = app.view;
  if (!v) return;  // no news this poll: keep what it holds

  bool congested = false;
  std::uint64_t queued = 0;
  if (app.spec.runtime) {
    const auto& kv = v->kthreads;
    // A kthread that vanished from the view cannot hold a core.
    for (std::size_t i = kv.size(); i < app.kthreads.size(); ++i)
      if (app.kthreads[i].core != kNoCore)
        revoke(app.kthreads[i].core, Reason::kKthreadGone, in.now, out);
    app.kthreads.resize(kv.size());
    for (std::size_t i = 0; i < kv.size(); ++i) {
      Kthread& k = app.kthreads[i];
      const KthreadView& s = kv[i];
      if (!s.valid) continue;  // torn read: judge it next poll
      // Both trackers must see this poll (no short-circuit).
      const bool rq_congested = k.rq.observe(s.rq_head, s.rq_tail);
      const bool rx_congested = k.rx.observe(s.rx_head, s.rx_tail);
      congested = congested || rq_congested || rx_congested;
      queued += s.queued();
      if (k.core == kNoCore) continue;
      if (!s.parked) {
        k.woke = true;
      } else if (k.woke || s.last_park_ns > k.granted_at) {
        revoke(k.core, Reason::kParked, in.now, out);
      } else if (in.now - k.granted_at >= cfg_.wake_timeout_ns) {
        revoke(k.core, Reason::kWakeTimeout, in.now, out);
      }
    }
  }
  if (v->bpf) {
    congested = congested || bpf_queue_congested(*v->bpf, last_poll_, polled_);
    queued += v->bpf->queued;
  }
  if (!app.spec.runtime && app.held < app.spec.guaranteed) {
    // An unmodified app has no park signal and its tasks only show up in
    // its BPF queue while it owns a CPU: it holds its guaranteed cores
    // all the time, as with a static partition.
    app.needs = true;
    app.need_reason = Reason::kGuaranteed;
  } else if (app.held == 0 && queued > 0) {
    app.needs = true;
    app.need_reason = Reason::kWakeup;
  } else if (congested) {
    app.needs = true;
    app.need_reason =
        app.held < app.spec.guaranteed ? Reason::kGuaranteed : Reason::kCongested;
  }
}

void CoreAllocator::reclaim_idle_cores(const PollInput& in,
                                       std::vector<Decision>& out) {
  // Only unmodified apps are reclaimed by idleness; skip the core pass
  // (a fixed cost of every poll) when there are none.
  if (std::none_of(apps_.begin(), apps_.end(),
                   [](const App& a) { return !a.spec.runtime; }))
    return;
  for (CoreId c = 0; c < cores_.size(); ++c) {
    CoreState& cs = cores_[c];
    if (cs.owner == kNoApp) continue;
    const App* app = find_app(cs.owner);
    if (!app || app->spec.runtime || !app->view) continue;
    // Only burstable cores go back; guaranteed ones stay (see observe_app).
    // A core whose owner has tasks queued is not idle, whatever runs on it
    // now (ordinary work's turn under the guard, a kick not landed yet):
    // taking it back would only have it granted again at the next polls,
    // and that grant's kick would cut ordinary work's turn short.
    const bool owner_waits = app->view->bpf && app->view->bpf->queued > 0;
    if (!in.cores[c].owner_idle || owner_waits || app->held <= app->spec.guaranteed) {
      cs.idle_polls = 0;
    } else if (++cs.idle_polls >= cfg_.idle_polls_to_reclaim) {
      revoke(c, Reason::kIdle, in.now, out);
    }
  }
}

void CoreAllocator::grant_round(const PollInput& in, std::vector<Decision>& out) {
  order_.clear();
  for (auto& a : apps_)
    if (a.needs) order_.push_back(&a);
  if (order_.empty()) return;
  const std::size_t n = apps_.size();
  auto key = [&](const App* a) {
    const bool guar = a->held < a->spec.guaranteed;
    const unsigned level = guar ? a->held : a->held - a->spec.guaranteed;
    const std::size_t idx = static_cast<std::size_t>(a - apps_.data());
    const std::size_t rot = (idx + n - rr_start_ % n) % n;
    return std::tuple(guar ? 0 : 1, level, rot);
  };
  std::sort(order_.begin(), order_.end(),
            [&](const App* x, const App* y) { return key(x) < key(y); });
  for (unsigned pass = 0; pass < cfg_.max_grants_per_app; ++pass) {
    bool any = false;
    for (App* a : order_) {
      if (a->granted_now != pass) continue;  // gave up in an earlier pass
      if (try_grant(*a, in, out)) {
        ++a->granted_now;
        any = true;
      }
    }
    if (!any) break;
  }
}

bool CoreAllocator::near_app(const App& app, CoreId c, Nanos now) const {
  for (CoreId s : topo_.siblings[c])
    if (cores_[s].owner == app.spec.id) return true;
  const CoreState& cs = cores_[c];
  return cs.last_app == app.spec.id && now - cs.released_at <= cfg_.recent_window_ns;
}

bool CoreAllocator::may_use(const App& app, CoreId c) {
  const std::vector<bool>& a = app.spec.allowed;
  return a.empty() || (c < a.size() && a[c]);
}

CoreId CoreAllocator::choose_free_core(const App& app, const PollInput& in) const {
  CoreId best = kNoCore;
  int best_rank = 4;
  for (CoreId c = 0; c < cores_.size(); ++c) {
    if (!topo_.usable[c] || cores_[c].owner != kNoApp || !may_use(app, c)) continue;
    if (cores_[c].standby_for != kNoApp) continue;  // kept for a burst
    const bool idle = !in.cores[c].be_runnable;
    if (!idle && !cfg_.allow_preempt_be) continue;
    const bool near = near_app(app, c, in.now);
    const int rank = idle ? (near ? 0 : 1) : (near ? 2 : 3);
    if (rank < best_rank) {
      best_rank = rank;
      best = c;
      if (rank == 0) break;
    }
  }
  return best;
}

CoreId CoreAllocator::choose_victim_core(const App& app) const {
  // Take from the app bursting the most; prefer a core near the grantee.
  CoreId best = kNoCore;
  unsigned best_burst = 0;
  bool best_near = false;
  for (CoreId c = 0; c < cores_.size(); ++c) {
    const AppId o = cores_[c].owner;
    if (o == kNoApp || o == app.spec.id || !may_use(app, c)) continue;
    const App* v = find_app(o);
    if (!v || v->held <= v->spec.guaranteed) continue;
    const unsigned burst = v->held - v->spec.guaranteed;
    const bool near = near_app(app, c, last_poll_);
    if (burst > best_burst || (burst == best_burst && near && !best_near)) {
      best = c;
      best_burst = burst;
      best_near = near;
    }
  }
  return best;
}

int CoreAllocator::choose_kthread(const App& app, CoreId core) const {
  // A parked kthread without a core; prefer the one that last ran on this
  // core (warm cache), then the one with most work waiting.
  int best = kNoKthread;
  bool best_here = false;
  std::uint32_t best_q = 0;
  const auto& kv = app.view->kthreads;
  for (std::size_t i = 0; i < kv.size() && i < app.kthreads.size(); ++i) {
    const KthreadView& s = kv[i];
    if (!s.valid || !s.parked || app.kthreads[i].core != kNoCore) continue;
    const bool here = s.cpu == core;
    const std::uint32_t q = s.queued();
    if (best == kNoKthread || (here && !best_here) ||
        (here == best_here && q > best_q)) {
      best = static_cast<int>(i);
      best_here = here;
      best_q = q;
    }
  }
  return best;
}

bool CoreAllocator::try_grant(App& app, const PollInput& in,
                              std::vector<Decision>& out) {
  if (app.held >= app.spec.guaranteed + app.spec.burstable) return false;
  if (app.spec.runtime && choose_kthread(app, kNoCore) == kNoKthread)
    return false;  // every kthread already runs: another core is no use
  // The app's own standby first: the scheduler may claim it any moment,
  // and then both grants give it the same core.
  CoreId c = app.standby;
  if (c != kNoCore) drop_standby(app);
  if (c == kNoCore) c = choose_free_core(app, in);
  // A guaranteed need comes before another app's burst.
  if (c == kNoCore && app.held < app.spec.guaranteed) c = take_reserved_core(app);
  AppId victim = kNoApp;
  if (c == kNoCore && app.held < app.spec.guaranteed) {
    c = choose_victim_core(app);
    if (c != kNoCore) {
      victim = cores_[c].owner;
      revoke(c, Reason::kPreempted, in.now, out);
    }
  }
  if (c == kNoCore) return false;
  Decision d;
  d.kind = DecisionKind::kGrant;
  d.reason = app.need_reason;
  if (d.reason == Reason::kCongested && app.held < app.spec.guaranteed)
    d.reason = Reason::kGuaranteed;
  d.core = c;
  d.app = app.spec.id;
  d.kthread = app.spec.runtime ? choose_kthread(app, c) : kNoKthread;
  d.preempts_be = victim == kNoApp && in.cores[c].be_runnable;
  d.preempted_app = victim;
  out.push_back(d);
  assign(app, c, d.kthread, in.now);
  return true;
}

CoreId CoreAllocator::take_reserved_core(const App& app) {
  for (App& other : apps_)
    if (other.standby != kNoCore && may_use(app, other.standby)) {
      const CoreId c = other.standby;
      drop_standby(other);
      return c;
    }
  return kNoCore;
}

void CoreAllocator::drop_standby(App& app) {
  if (app.standby == kNoCore) return;
  cores_[app.standby].standby_for = kNoApp;
  app.standby = kNoCore;
}

void CoreAllocator::pick_standbys(const PollInput& in) {
  for (App& app : apps_) {
    if (!app.view) continue;  // no news: keep what it has
    const bool wants = cfg_.standby && !app.spec.runtime &&
                       app.held >= app.spec.guaranteed &&
                       app.held < app.spec.guaranteed + app.spec.burstable;
    const CoreId kept = app.standby;
    if (!wants) {
      drop_standby(app);
    } else if (kept == kNoCore || cores_[kept].owner != kNoApp || !may_use(app, kept)) {
      drop_standby(app);
      const CoreId c = choose_free_core(app, in);
      if (c != kNoCore) {
        app.standby = c;
        cores_[c].standby_for = app.spec.id;
      }
    }
  }
}

CoreId CoreAllocator::standby(AppId id) const {
  const App* a = find_app(id);
  return a ? a->standby : kNoCore;
}

bool CoreAllocator::standby_taken(AppId id, CoreId core, Nanos now) {
  App* app = find_app(id);
  // A runtime app's cores follow its kthreads: one no kthread holds would
  // never go back.
  if (!app || app->spec.runtime || core >= cores_.size() || !topo_.usable[core] ||
      !may_use(*app, core) ||
      cores_[core].owner != kNoApp ||
      app->held >= app->spec.guaranteed + app->spec.burstable)
    return false;
  if (app->standby == core) drop_standby(*app);
  const AppId reserved = cores_[core].standby_for;
  if (reserved != kNoApp)
    if (App* other = find_app(reserved)) drop_standby(*other);
  assign(*app, core, kNoKthread, now);
  return true;
}

void CoreAllocator::revoke(CoreId c, Reason why, Nanos now,
                           std::vector<Decision>& out) {
  CoreState& cs = cores_[c];
  App* app = find_app(cs.owner);
  Decision d;
  d.kind = DecisionKind::kRevoke;
  d.reason = why;
  d.core = c;
  d.app = cs.owner;
  d.kthread = cs.kthread;
  out.push_back(d);
  if (app) {
    --app->held;
    if (cs.kthread >= 0 &&
        static_cast<std::size_t>(cs.kthread) < app->kthreads.size())
      app->kthreads[cs.kthread].core = kNoCore;
  }
  cs.last_app = cs.owner;
  cs.released_at = now;
  cs.owner = kNoApp;
  cs.kthread = kNoKthread;
  cs.idle_polls = 0;
}

void CoreAllocator::assign(App& app, CoreId c, int kthread, Nanos now) {
  CoreState& cs = cores_[c];
  cs.owner = app.spec.id;
  cs.kthread = kthread;
  cs.idle_polls = 0;
  ++app.held;
  if (kthread >= 0) {
    Kthread& k = app.kthreads[kthread];
    k.core = c;
    k.granted_at = now;
    k.woke = false;
  }
}

void CoreAllocator::grant_failed(const Decision& g) {
  if (g.kind != DecisionKind::kGrant || g.core >= cores_.size()) return;
  CoreState& cs = cores_[g.core];
  if (cs.owner != g.app || cs.kthread != g.kthread) return;
  App* app = find_app(g.app);
  if (app) {
    --app->held;
    if (g.kthread >= 0 && static_cast<std::size_t>(g.kthread) < app->kthreads.size())
      app->kthreads[g.kthread].core = kNoCore;
  }
  cs.owner = kNoApp;
  cs.kthread = kNoKthread;
}

}  // namespace kairos::policy
