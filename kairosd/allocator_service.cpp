#include "allocator_service.hpp"

#include <kairos/allocator/policy.hpp>
#include <kairos/allocator/apply.hpp>
#include "queue_line.hpp"
#include <kairos/contracts/clock.hpp>
#include <kairos/contracts/cpu_list.hpp>

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace kairos {

namespace {

using policy::AppId;
using policy::CoreId;
using policy::Nanos;

// How long a kthread whose line says PARKED may be treated as still on its
// way into the module's PARK.
constexpr Nanos kParkTransitNs = 2'000'000;
// Poll interval while no app can gain or lose a core (Loop::settled).
constexpr Nanos kSettledPollNs = 10'000'000;

Nanos mono_ns() { return monotonic_ns(); }

void atomic_max(std::atomic<std::uint64_t>& a, std::uint64_t v) {
  std::uint64_t cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

// Hyperthread siblings from sysfs; no siblings when they look inconsistent.
policy::Topology read_topology(unsigned n) {
  policy::Topology t = policy::Topology::uniform(n, false);
  for (unsigned c = 0; c < n; ++c) {
    for (CoreId o : cpu_thread_siblings(c, n))
      if (o != c) t.siblings[c].push_back(o);
  }
  if (policy::validate(t)) return policy::Topology::uniform(n, false);
  return t;
}

}  // namespace

// The poll loop's state; lives on the allocator thread only.
class AllocatorService::Loop {
 public:
  Loop(AllocatorService& svc, SchedPort& sched)
      : svc_(svc),
        sched_(sched),
        ncpu_(sched.nr_cpus()),
        mech_(sched, svc.dev_.get(),
              [this](AppId id) { return target(id); }, svc.log_,
              KairosdMechanism::Timing{&svc.st_.owner_ns, &svc.st_.owner_calls,
                                       &svc.st_.wake_ns, &svc.st_.wake_calls}) {
    cores_.resize(ncpu_);
  }

  ~Loop() {
    // Hand every core back: a stopped allocator must not leave CPUs owned
    // by apps nobody will reclaim.
    // Standby slots first, so that no claim lands after the sweep.
    clear_standbys();
    if (alloc_) {
      for (CoreId c = 0; c < ncpu_; ++c)
        if (alloc_->owner(c) != policy::kNoApp || sched_.owner(c) != 0) sched_.set_owner(c, 0);
    }
  }

  void reconcile(const std::vector<AllocatorApp>& want, const std::vector<bool>& online) {
    if (!alloc_ || online != online_) rebuild(online);
    if (!alloc_) return;
    std::vector<policy::Decision> out;
    for (auto it = apps_.begin(); it != apps_.end();) {
      const auto w = std::find_if(want.begin(), want.end(),
                                  [&](const AllocatorApp& a) { return a.id == it->spec.id; });
      if (w != want.end() && *w == it->want) {
        ++it;
        continue;
      }
      alloc_->remove_app(it->spec.id, out);
      apply(out);
      publish_standbys();  // its slot too: a claim now would find no app
      it = apps_.erase(it);
    }
    for (const AllocatorApp& w : want) {
      if (std::any_of(apps_.begin(), apps_.end(),
                      [&](const App& a) { return a.spec.id == w.id; }))
        continue;
      App a;
      a.want = w;
      const unsigned max = std::min(std::max(w.max_cores, w.guaranteed), usable_);
      // Without /dev/kairos its kthreads cannot be woken: every grant would
      // fail, so the app is managed as an unmodified one instead.
      const bool runtime = w.area != nullptr && svc_.dev_ != nullptr;
      a.spec = {w.id, std::min(w.guaranteed, max), 0, runtime};
      a.spec.burstable = max - a.spec.guaranteed;
      a.spec.allowed = w.allowed;
      if (auto err = alloc_->add_app(a.spec)) {
        svc_.log_("allocator: app " + std::to_string(w.id) + " not managed: " + *err);
        continue;
      }
      if (runtime) {
        a.target.pid = w.pid;
        a.target.area = w.area;
        a.kthreads.resize(w.area->nr_kthreads());
      }
      apps_.push_back(std::move(a));
    }
    views_.resize(apps_.size());
    unsigned nk = 0, nrt = 0;
    for (const App& a : apps_)
      if (a.target.area) {
        nk += static_cast<unsigned>(a.kthreads.size());
        ++nrt;
      }
    svc_.st_.kthreads.store(nk, std::memory_order_relaxed);
    svc_.st_.runtime_apps.store(nrt, std::memory_order_relaxed);
    svc_.st_.apps.store(static_cast<unsigned>(apps_.size()), std::memory_order_relaxed);
  }

  // True when no poll can change anything until the apps or CPUs change:
  // every app is unmodified with no burstable core and holds its
  // guarantee (e.g. --guaranteed N --burstable N). The loop then sleeps.
  bool settled() const {
    if (!alloc_) return true;
    for (const App& a : apps_)
      if (a.spec.runtime || a.spec.burstable > 0 ||
          alloc_->cores_held(a.spec.id) < a.spec.guaranteed)
        return false;
    return true;
  }

  // One poll; returns false when the policy refused the input.
  void poll() {
    if (!alloc_) return;
    const Nanos t0 = mono_ns();
    collect_standby_claims(t0);
    const volatile kairos_app_stats* stats = sched_.app_stats();
    const DevKairosGranter* dev = svc_.dev_.get();
    for (std::size_t i = 0; i < apps_.size(); ++i) {
      App& a = apps_[i];
      policy::AppView& v = views_[i];
      v.id = a.spec.id;
      if (a.target.area) {
        for (std::uint32_t k = 0; k < a.kthreads.size(); ++k) {
          policy::KthreadView& kv = a.kthreads[k];
          policy::read_kthread_view(a.target.area->line(k), kv);
          // The line says PARKED before the kthread is inside the module's
          // PARK: until it is, it still runs (a GRANT would miss it, and
          // taking its core away would leave it stuck behind BE work on
          // its way in). Bounded: after kParkTransitNs the line is trusted
          // (the module may count it on another CPU than the line says).
          if (kv.valid && kv.parked && dev && t0 - kv.last_park_ns < kParkTransitNs &&
              dev->parked_on(kv.cpu) == 0)
            kv.parked = false;
        }
        v.kthreads = a.kthreads;
        v.bpf.reset();
        std::uint64_t queued = 0;
        for (const policy::KthreadView& kv : a.kthreads)
          if (kv.valid) queued += kv.queued();
        note_queued(a, queued > 0, t0);
      } else {
        v.kthreads = {};
        const volatile kairos_app_stats& s = stats[a.spec.id];
        const std::uint64_t q = s.queued;
        const std::uint64_t oldest = s.oldest_enq_ns;
        v.bpf = policy::AppQueueStat{
            static_cast<std::uint32_t>(std::min<std::uint64_t>(q, 0xffffffffu)), oldest};
        // The scheduler's clock is CLOCK_MONOTONIC, as mono_ns() is.
        note_queued(a, q > 0, q > 0 && oldest && oldest < t0 ? oldest : t0);
      }
    }
    const volatile kairos_cpu_state* cs = sched_.cpu_state();
    for (CoreId c = 0; c < ncpu_; ++c) {
      const bool busy = cs[c].busy != 0;
      const std::uint32_t lc = cs[c].lc_app;
      cores_[c].be_runnable = busy && lc == 0;
      const AppId o = alloc_->owner(c);
      cores_[c].owner_idle = !(busy && o != policy::kNoApp && lc == o);
    }
    policy::PollInput in{t0, views_, cores_};
    const policy::PollStatus s = alloc_->poll(in, decisions_);
    if (!s.ok) {
      svc_.st_.bad_polls.fetch_add(1, std::memory_order_relaxed);
      if (s.error != last_error_) svc_.log_("allocator: poll refused: " + s.error);
      last_error_ = s.error;
      return;
    }
    apply(decisions_);
    publish_standbys();
    const Nanos t1 = mono_ns();
    auto& st = svc_.st_;
    st.polls.fetch_add(1, std::memory_order_relaxed);
    st.poll_ns.fetch_add(t1 - t0, std::memory_order_relaxed);
    atomic_max(st.poll_ns_max, t1 - t0);
    st.poll_duration.record(t1 - t0);
    if (last_poll_ns_) st.poll_gap.record(t0 - last_poll_ns_);
    last_poll_ns_ = t0;
    if (decisions_.empty()) {
      const std::uint64_t i = st.quiet_polls.fetch_add(1, std::memory_order_relaxed);
      st.quiet_ns.fetch_add(t1 - t0, std::memory_order_relaxed);
      st.recent_quiet[i % st.recent_quiet.size()].store(
          static_cast<std::uint32_t>(std::min<Nanos>(t1 - t0, 0xffffffffu)),
          std::memory_order_relaxed);
    }
  }

 private:
  struct App {
    AllocatorApp want;
    policy::AppSpec spec;
    RuntimeTarget target;
    std::vector<policy::KthreadView> kthreads;
    Nanos queued_since = 0;  // see note_queued
    bool answered = false;
  };

  // Keeps when the app's current stretch of queued work began (0: none;
  // answered: a grant already counted for this stretch).
  static void note_queued(App& a, bool queued, Nanos since) {
    if (!queued) {
      a.queued_since = 0;
      a.answered = false;
    } else if (!a.queued_since || since < a.queued_since) {
      a.queued_since = since;
    }
  }

  RuntimeTarget* target(AppId id) {
    for (App& a : apps_)
      if (a.spec.id == id) return a.target.area ? &a.target : nullptr;
    return nullptr;
  }

  // The scheduler empties a standby slot when it claims that core: adopt
  // such grants before the policy looks at the cores.
  void collect_standby_claims(Nanos now) {
    for (AppId id = 1; id < KAIROS_MAX_APPS; ++id)
      if (armed_[id] != policy::kNoCore && sched_.standby(id) == 0) {
        const CoreId c = armed_[id];
        set_armed(id, policy::kNoCore);
        adopt_claim(id, c, now);
      }
  }

  // Gives the scheduler the policy's standby cores: one exchange per
  // change; an exchange that finds the old slot empty found a claim.
  void publish_standbys() {
    for (AppId id = 1; id < KAIROS_MAX_APPS; ++id) {
      for (;;) {
        const CoreId want = alloc_ ? alloc_->standby(id) : policy::kNoCore;
        if (want == armed_[id]) break;
        const CoreId had = armed_[id];
        const std::uint32_t prev =
            sched_.exchange_standby(id, want == policy::kNoCore ? 0 : want + 1);
        set_armed(id, want);
        if (had != policy::kNoCore && prev == 0) adopt_claim(id, had, mono_ns());
      }
    }
  }

  // What app id's slot holds now, for the loop and for the status.
  void set_armed(AppId id, CoreId core) {
    armed_[id] = core;
    svc_.st_.standby[id].store(core == policy::kNoCore ? 0 : core + 1,
                               std::memory_order_relaxed);
  }

  // Empties every slot (before a sweep of the owner map that revokes any
  // claim made until then).
  void clear_standbys() {
    for (AppId id = 1; id < KAIROS_MAX_APPS; ++id) {
      sched_.exchange_standby(id, 0);
      set_armed(id, policy::kNoCore);
    }
  }

  // The scheduler granted core c to app id from its standby slot.
  void adopt_claim(AppId id, CoreId c, Nanos now) {
    if (sched_.owner(c) != id) return;  // the claim's grant failed
    // The poll granted the app this same core (its own standby) around
    // the claim: one grant, already the policy's.
    if (alloc_ && alloc_->owner(c) == id) return;
    if (!alloc_ || !alloc_->standby_taken(id, c, now)) {
      sched_.set_owner(c, 0);  // the policy cannot have it: take it back
      return;
    }
    count_grant(id, policy::Reason::kStandby, now);  // grants_by_reason, not grants:
                                                     // the scheduler made it
  }

  // A grant that took effect: by reason, and the decision latency of the
  // app's current stretch of queued work if it is the first answer to it.
  void count_grant(AppId id, policy::Reason reason, Nanos t1) {
    auto& st = svc_.st_;
    const unsigned why = static_cast<unsigned>(reason) % kReasons;
    st.grant_why[why].fetch_add(1, std::memory_order_relaxed);
    st.app_grant_why[id % KAIROS_MAX_APPS][why].fetch_add(1, std::memory_order_relaxed);
    for (App& a : apps_)
      if (a.spec.id == id && a.queued_since && !a.answered) {
        st.decision_latency.record(t1 > a.queued_since ? t1 - a.queued_since : 0);
        a.answered = true;
      }
  }

  void apply(const std::vector<policy::Decision>& d) {
    if (d.empty()) return;
    const Nanos t0 = mono_ns();
    const policy::ApplyStats r = policy::apply_decisions(d, mech_, *alloc_);
    auto& st = svc_.st_;
    st.grants.fetch_add(r.grants - r.failed, std::memory_order_relaxed);
    st.revokes.fetch_add(r.revokes, std::memory_order_relaxed);
    st.failed.fetch_add(r.failed, std::memory_order_relaxed);
    const Nanos t1 = mono_ns();
    if (r.grants > r.failed) {
      st.grant_ns.fetch_add(t1 - t0, std::memory_order_relaxed);
      st.grant_apply.record(t1 - t0);
    }
    for (const policy::Decision& x : d) {
      const unsigned why = static_cast<unsigned>(x.reason) % kReasons;
      const unsigned app = x.app % KAIROS_MAX_APPS;
      if (x.kind == policy::DecisionKind::kRevoke) {
        st.revoke_why[why].fetch_add(1, std::memory_order_relaxed);
        st.app_revoke_why[app][why].fetch_add(1, std::memory_order_relaxed);
      } else if (alloc_->owner(x.core) == x.app) {
        count_grant(x.app, x.reason, t1);
      }
    }
    // Guaranteed cores of unmodified apps change hands rarely (start,
    // hotplug, restart): say so, in the words of the static planner.
    for (const policy::Decision& x : d)
      if (x.kind == policy::DecisionKind::kGrant && x.reason == policy::Reason::kGuaranteed &&
          !target(x.app) && alloc_->owner(x.core) == x.app)
        svc_.log_("CPU " + std::to_string(x.core) + " granted to app " +
                  std::to_string(x.app) + " (guaranteed, by the allocator)");
  }

  void rebuild(const std::vector<bool>& online) {
    // The allocator owns the owner map: start from an empty one. Every
    // online CPU gets a revoke (a no-op where nobody owns it): the first
    // run of the BPF grant program is much slower than the next ones
    // (~100 ms seen in the emulated VM), and a grant must not pay that.
    clear_standbys();
    for (CoreId c = 0; c < ncpu_; ++c)
      if (sched_.owner(c) != 0 || (c < online.size() && online[c])) sched_.set_owner(c, 0);
    online_ = online;
    policy::Topology topo = read_topology(ncpu_);
    usable_ = 0;
    for (CoreId c = 0; c < ncpu_; ++c) {
      topo.usable[c] = c < online.size() && online[c] && c != svc_.opts_.cpu;
      usable_ += topo.usable[c] ? 1 : 0;
    }
    policy::PolicyConfig cfg;
    cfg.poll_interval_ns = svc_.effective_poll_ns();
    cfg.standby = svc_.opts_.standby;
    // A grant whose kthread has not run after this long is taken back;
    // sleeping polls and emulated CPUs need more slack than 1 ms.
    cfg.wake_timeout_ns = std::max<Nanos>(svc_.low_power_ ? 20'000'000 : 1'000'000,
                                          200 * svc_.effective_poll_ns());
    std::string err;
    alloc_ = policy::CoreAllocator::create(cfg, std::move(topo), &err);
    apps_.clear();
    if (!alloc_) svc_.log_("allocator: cannot start the policy: " + err);
  }

  AllocatorService& svc_;
  SchedPort& sched_;
  unsigned ncpu_;
  KairosdMechanism mech_;
  std::optional<policy::CoreAllocator> alloc_;
  std::vector<bool> online_;
  unsigned usable_ = 0;
  std::vector<App> apps_;
  std::vector<policy::AppView> views_;
  std::vector<policy::CoreView> cores_;
  std::vector<policy::Decision> decisions_;
  std::string last_error_;
  Nanos last_poll_ns_ = 0;  // start of the previous poll (poll_gap)
  // The standby core each app's slot holds, as kairosd last wrote it.
  std::array<CoreId, KAIROS_MAX_APPS> armed_ = filled(policy::kNoCore);
  static std::array<CoreId, KAIROS_MAX_APPS> filled(CoreId v) {
    std::array<CoreId, KAIROS_MAX_APPS> a;
    a.fill(v);
    return a;
  }
};

AllocatorService::AllocatorService(AllocatorOptions opts, unsigned online_cpus, Log log)
    : opts_(opts), log_(std::move(log)) {
  low_power_ = opts_.power == AllocatorOptions::Power::kLowPower ||
               (opts_.power == AllocatorOptions::Power::kAuto &&
                online_cpus < kLowPowerBelowCpus);
  dev_ = DevKairosGranter::open(&dev_why_);
  if (!dev_)
    log_("allocator: runtime kthreads cannot be woken (" + dev_why_ +
         "); runtime apps get no grants");
  else
    admission_.emplace([d = dev_.get()](pid_t pid, bool on) { return d->admit(pid, on); },
                       log_);
}

AllocatorService::~AllocatorService() { stop(); }

void AllocatorService::start(SchedPort& sched) {
  stop();
  stop_.store(false);
  thread_ = std::thread([this, s = &sched] { run(s); });
}

void AllocatorService::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  thread_.join();
}

void AllocatorService::update(std::vector<AllocatorApp> apps, std::vector<bool> online) {
  if (admission_) {  // the driven runtimes may park before they get grants
    std::set<pid_t> driven;
    for (const auto& a : apps)
      if (a.pid > 0) driven.insert(a.pid);
    admission_->sync(driven);
  }
  std::lock_guard<std::mutex> g(mu_);
  if (apps == apps_ && online == online_) return;
  apps_ = std::move(apps);
  online_ = std::move(online);
  gen_.fetch_add(1, std::memory_order_release);
}

void AllocatorService::run(SchedPort* sched) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(opts_.cpu, &set);
  if (int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set))
    log_("allocator: cannot pin the poll loop to CPU " + std::to_string(opts_.cpu) +
         ": " + std::strerror(e));
  if (opts_.rt_priority > 0) {
    sched_param sp{};
    sp.sched_priority = opts_.rt_priority;
    if (int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp))
      log_(std::string("allocator: poll loop stays SCHED_OTHER: ") + std::strerror(e));
  }
  Loop loop(*this, *sched);
  const Nanos interval_ns = effective_poll_ns();
  std::uint64_t seen = ~0ull;
  std::vector<AllocatorApp> apps;
  std::vector<bool> online;
  Nanos next = mono_ns();
  while (!stop_.load(std::memory_order_relaxed)) {
    const std::uint64_t g = gen_.load(std::memory_order_acquire);
    if (g != seen) {
      std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
      if (lk.owns_lock()) {  // never wait for the scan: poll now, copy later
        apps = apps_;
        online = online_;
        seen = g;
        lk.unlock();
        loop.reconcile(apps, online);
      }
    }
    loop.poll();
    next += interval_ns;
    Nanos now = mono_ns();
    if (next <= now) {
      next = now + interval_ns;  // fell behind: do not try to catch up
    }
    if (loop.settled()) {
      // Nothing to watch: wake only to notice app or CPU changes.
      next = now + kSettledPollNs;
    }
    if (low_power_ || loop.settled()) {
      timespec ts{static_cast<time_t>(next / 1'000'000'000ull),
                  static_cast<long>(next % 1'000'000'000ull)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    } else {
      while (now < next && !stop_.load(std::memory_order_relaxed)) {
        __builtin_ia32_pause();
        now = mono_ns();
      }
    }
  }
}

namespace {
// "congested:3,parked:2" (reasons with a count only; "-" when none).
std::string by_reason(const std::array<std::atomic<std::uint64_t>, kReasons>& a) {
  std::string out;
  for (unsigned i = 0; i < kReasons; ++i)
    if (const std::uint64_t n = a[i].load())
      out += (out.empty() ? "" : ",") +
             std::string(policy::to_string(static_cast<policy::Reason>(i))) + ":" +
             std::to_string(n);
  return out.empty() ? "-" : out;
}
}  // namespace

std::string AllocatorService::status_lines() const {
  auto avg = [](const std::atomic<std::uint64_t>& ns, const std::atomic<std::uint64_t>& n) {
    const std::uint64_t c = n.load();
    return c ? ns.load() / c : 0;
  };
  const std::uint64_t polls = st_.polls.load(), ns = st_.poll_ns.load();
  const std::uint64_t qp = st_.quiet_polls.load(), qns = st_.quiet_ns.load();
  const unsigned nk = st_.kthreads.load();
  const std::uint64_t grants = st_.grants.load();
  const std::uint64_t p50 = recent_quiet_p50();
  std::ostringstream o;
  o << "allocator mode=" << (low_power_ ? "low-power" : "spin")
    << " cpu=" << opts_.cpu << " poll_us=" << effective_poll_ns() / 1000.0
    << " apps=" << st_.apps.load() << " runtime_apps=" << st_.runtime_apps.load()
    << " kthreads=" << nk << " polls=" << polls
    << " poll_ns_avg=" << (polls ? ns / polls : 0)
    << " poll_ns_max=" << st_.poll_ns_max.load()
    << " quiet_polls=" << qp << " quiet_ns=" << qns
    << " quiet_poll_ns_avg=" << (qp ? qns / qp : 0)
    << " quiet_poll_ns_p50=" << p50
    << " ns_per_kthread=" << (nk ? p50 / nk : 0)
    << " grants=" << grants << " revokes=" << st_.revokes.load()
    << " failed=" << st_.failed.load()
    << " grant_apply_ns_avg=" << (grants ? st_.grant_ns.load() / grants : 0)
    << " set_owner_ns_avg=" << avg(st_.owner_ns, st_.owner_calls)
    << " wake_ns_avg=" << avg(st_.wake_ns, st_.wake_calls)
    << " bad_polls=" << st_.bad_polls.load()
    << " grants_by_reason=" << by_reason(st_.grant_why)
    << " revokes_by_reason=" << by_reason(st_.revoke_why)
    << " wake=" << (dev_ ? "devkairos" : "none") << "\n";
  std::lock_guard<std::mutex> g(mu_);
  for (const AllocatorApp& a : apps_) {
    if (!a.area) continue;
    unsigned running = 0;
    std::uint64_t queued = 0;
    for (std::uint32_t k = 0; k < a.area->nr_kthreads(); ++k) {
      const auto s = a.area->snapshot(k);
      if (s && s->state != KAIROS_KTHREAD_PARKED) ++running;
      if (s) queued += s->rq_len();
    }
    o << "runtime app=" << a.id << " pid=" << a.pid
      << " kthreads=" << a.area->nr_kthreads() << " running=" << running
      << " queued=" << queued << "\n";
  }
  return o.str();
}

namespace {
status::ReasonCounts reason_counts(const std::array<std::atomic<std::uint64_t>, kReasons>& a) {
  status::ReasonCounts r;
  for (unsigned i = 0; i < kReasons; ++i)
    if (const std::uint64_t n = a[i].load(std::memory_order_relaxed))
      r[policy::to_string(static_cast<policy::Reason>(i))] = n;
  return r;
}
}  // namespace

status::AllocatorInfo AllocatorService::info() const {
  auto avg = [](const std::atomic<std::uint64_t>& ns, const std::atomic<std::uint64_t>& n) {
    const std::uint64_t c = n.load();
    return c ? ns.load() / c : 0;
  };
  status::AllocatorInfo a;
  a.mode = low_power_ ? "low-power" : "spin";
  a.cpu = opts_.cpu;
  a.poll_interval_ns = effective_poll_ns();
  a.apps = st_.apps.load();
  a.runtime_apps = st_.runtime_apps.load();
  a.kthreads = st_.kthreads.load();
  a.polls = st_.polls.load();
  a.poll_ns_total = st_.poll_ns.load();
  a.poll_ns_max = st_.poll_ns_max.load();
  a.quiet_polls = st_.quiet_polls.load();
  a.quiet_ns_total = st_.quiet_ns.load();
  a.quiet_poll_ns_p50 = recent_quiet_p50();
  a.grants = st_.grants.load();
  a.revokes = st_.revokes.load();
  a.failed = st_.failed.load();
  a.bad_polls = st_.bad_polls.load();
  a.grant_apply_ns_total = st_.grant_ns.load();
  a.set_owner_ns_avg = avg(st_.owner_ns, st_.owner_calls);
  a.wake_ns_avg = avg(st_.wake_ns, st_.wake_calls);
  a.grants_by_reason = reason_counts(st_.grant_why);
  a.revokes_by_reason = reason_counts(st_.revoke_why);
  a.wake = dev_ ? "devkairos" : "none";
  a.poll_duration = st_.poll_duration.read();
  a.poll_gap = st_.poll_gap.read();
  a.grant_apply = st_.grant_apply.read();
  a.decision_latency = st_.decision_latency.read();
  return a;
}

void AllocatorService::fill_app(status::AppInfo& app) const {
  const unsigned i = app.id % KAIROS_MAX_APPS;
  app.grants = reason_counts(st_.app_grant_why[i]);
  app.revokes = reason_counts(st_.app_revoke_why[i]);
  if (const std::uint32_t s = st_.standby[i].load(std::memory_order_relaxed)) app.standby = s - 1;
  std::lock_guard<std::mutex> g(mu_);
  for (const AllocatorApp& a : apps_) {
    if (a.id != app.id || !a.area) continue;
    status::RuntimeInfo r;
    r.pid = a.pid;
    r.kthreads = a.area->nr_kthreads();
    for (std::uint32_t k = 0; k < a.area->nr_kthreads(); ++k) {
      const auto s = a.area->snapshot(k);
      if (s && s->state != KAIROS_KTHREAD_PARKED) ++r.running;
      if (s) r.queued += s->rq_len();
    }
    app.runtime = r;
  }
}

std::uint64_t AllocatorService::recent_quiet_p50() const {
  const std::uint64_t n = std::min<std::uint64_t>(st_.quiet_polls.load(), st_.recent_quiet.size());
  if (n == 0) return 0;
  std::vector<std::uint32_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = st_.recent_quiet[i].load(std::memory_order_relaxed);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n / 2), v.end());
  return v[n / 2];
}

std::string AllocatorService::summary() const {
  const std::uint64_t polls = st_.polls.load();
  const std::uint64_t qp = st_.quiet_polls.load(), qns = st_.quiet_ns.load();
  const unsigned nk = st_.kthreads.load();
  const std::uint64_t p50 = recent_quiet_p50();
  std::ostringstream o;
  o << "allocator: " << polls << " polls, "
    << (polls ? st_.poll_ns.load() / polls : 0) << " ns per poll on average ("
    << (qp ? qns / qp : 0) << " ns without decisions, median of the last ones " << p50;
  if (nk) o << ", " << p50 / nk << " ns per monitored kthread of " << nk;
  o << "), " << st_.grants.load() << " grants, " << st_.revokes.load()
    << " revokes, " << st_.failed.load() << " failed grants";
  return o.str();
}

}  // namespace kairos
