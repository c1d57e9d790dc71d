#include "simulator.hpp"

#include <kairos/allocator/policy.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <queue>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace kairos::sim {
namespace {

using policy::AppId;
using policy::CoreId;
using policy::kNoCore;

struct Request {
  Nanos arrival = 0;
  double remaining = 0;  // service still to do, ns
};

// A queue with the free-running counters the runtime publishes. They start
// close to 2^32 so every run crosses the wrap-around.
struct Queue {
  std::deque<Request> items;
  std::uint32_t head = 0xffff0000u, tail = 0xffff0000u;
  void push(const Request& r) { items.push_back(r); ++head; }
  void push_front(const Request& r) { items.push_front(r); --tail; }
  Request pop() {
    Request r = items.front();
    items.pop_front();
    ++tail;
    return r;
  }
};

enum class KState { kParked, kWaking, kBusy, kSpinning };

struct Kthread {
  unsigned app = 0, index = 0;
  KState state = KState::kParked;
  CoreId core = kNoCore;        // core held (waking/busy/spinning)
  CoreId last_cpu = kNoCore;
  Nanos last_park = 0;
  Nanos hold_start = 0;         // start of the current grant
  Nanos busy_start = 0;
  Nanos idle_since = 0;
  std::uint64_t token = 0;      // invalidates stale timer events
  Request cur;
  int spin_slot = -1;           // position in App::spinners
};

struct App {
  std::vector<Queue> queues;    // one (single) or one per kthread
  std::vector<unsigned> kthreads;  // global kthread indices
  std::vector<unsigned> holders;   // kthreads holding a core (RSS targets)
  std::vector<unsigned> spinners;  // kthreads spinning for work
  std::uint64_t queued = 0;
  double rate = 0;               // arrivals per ns
};

enum class Ev : std::uint8_t { kArrival, kDone, kWake, kPark, kPoll };

struct Event {
  Nanos t;
  std::uint64_t seq;
  Ev type;
  unsigned who;
  std::uint64_t token;
  bool operator>(const Event& o) const {
    return t != o.t ? t > o.t : seq > o.seq;
  }
};

class Sim {
 public:
  Sim(const SimConfig& cfg, double load);
  SimResult run();

 private:
  void push(Nanos t, Ev type, unsigned who, std::uint64_t token = 0) {
    events_.push({t, seq_++, type, who, token});
  }
  double draw_service();
  void on_arrival(unsigned app);
  void on_done(unsigned k);
  void on_wake(unsigned k);
  void on_park(unsigned k);
  void on_poll();
  void publish_kthreads(const App& app);
  void look_for_work(unsigned k);
  void start(unsigned k, Request r);
  void spin(unsigned k);
  void stop_spinning(unsigned k);
  void release(unsigned k);  // kthread stops holding its core
  void grant(unsigned k, CoreId c);
  void count_useful(Nanos from, Nanos to) { useful_ += clip(from, to); }
  double clip(Nanos from, Nanos to) const {
    const Nanos a = std::max(from, measure_from_);
    const Nanos b = std::min(to, end_);
    return b > a ? static_cast<double>(b - a) : 0.0;
  }
  Queue& queue_of(unsigned k) {
    Kthread& t = kt_[k];
    auto& qs = apps_[t.app].queues;
    return qs.size() == 1 ? qs[0] : qs[t.index];
  }

  const SimConfig& cfg_;
  double load_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uni_{0.0, 1.0};
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  std::uint64_t seq_ = 0;
  Nanos now_ = 0, measure_from_ = 0, end_ = 0;
  std::vector<App> apps_;
  std::vector<Kthread> kt_;
  std::optional<policy::CoreAllocator> alloc_;
  std::vector<policy::KthreadView> kviews_;
  std::vector<policy::AppView> aviews_;
  std::vector<policy::CoreView> cviews_;
  std::vector<policy::Decision> decisions_;
  std::vector<int> core_slot_;  // unmodified apps: core -> kthread slot
  std::vector<double> latencies_;
  double useful_ = 0, granted_ = 0;
  SimResult res_;
};

Sim::Sim(const SimConfig& cfg, double load)
    : cfg_(cfg), load_(load), rng_(cfg.seed) {
  end_ = cfg.duration_ns;
  measure_from_ = cfg.warmup_ns;
  const bool stat = cfg.mode == Mode::kStatic;
  const unsigned per_app = stat ? cfg.static_cores
                                : cfg.guaranteed + *cfg.burstable;
  const double total_rate =
      load * cfg.cores / cfg.service.mean_ns();  // requests per ns
  apps_.resize(cfg.apps);
  for (unsigned a = 0; a < cfg.apps; ++a) {
    App& app = apps_[a];
    app.rate = total_rate / cfg.apps;
    app.queues.resize(cfg.queues == Queues::kSingle ? 1 : per_app);
    for (unsigned i = 0; i < per_app; ++i) {
      Kthread k;
      k.app = a;
      k.index = i;
      app.kthreads.push_back(static_cast<unsigned>(kt_.size()));
      kt_.push_back(k);
    }
  }
  if (stat) {
    // A static partition: the app's kthreads own cores 0..n-1 for ever.
    for (unsigned i = 0; i < per_app; ++i) grant(apps_[0].kthreads[i], i);
    for (unsigned i = 0; i < per_app; ++i) on_wake(apps_[0].kthreads[i]);
  } else {
    policy::PolicyConfig pc;
    pc.poll_interval_ns = cfg.interval_ns;
    pc.max_grants_per_app = cfg.grants_per_poll;
    pc.wake_timeout_ns = std::max<Nanos>(1'000'000, 4 * cfg.wake_latency_ns);
    // The simulated scheduler never claims a standby core: one would only
    // sit reserved. The polls grant every core here.
    pc.standby = false;
    std::string err;
    alloc_ = policy::CoreAllocator::create(
        pc, policy::Topology::uniform(cfg.cores, cfg.smt), &err);
    if (!alloc_) throw std::invalid_argument(err);
    for (unsigned a = 0; a < cfg.apps; ++a) {
      if (auto e = alloc_->add_app(
              {a + 1, cfg.guaranteed, *cfg.burstable, !cfg.unmodified}))
        throw std::invalid_argument(*e);
    }
    kviews_.resize(kt_.size());
    cviews_.resize(cfg.cores);
    core_slot_.assign(cfg.cores, -1);
    push(cfg.interval_ns, Ev::kPoll, 0);
  }
  for (unsigned a = 0; a < cfg.apps; ++a) {
    std::exponential_distribution<double> gap(apps_[a].rate);
    push(static_cast<Nanos>(gap(rng_)), Ev::kArrival, a);
  }
  latencies_.reserve(static_cast<std::size_t>(
      total_rate * static_cast<double>(end_ - measure_from_) * 1.05) + 16);
}

double Sim::draw_service() {
  const ServiceSpec& s = cfg_.service;
  switch (s.kind) {
    case ServiceSpec::Kind::kConst: return s.a_ns;
    case ServiceSpec::Kind::kExp:
      return -std::log(1.0 - uni_(rng_)) * s.a_ns;
    case ServiceSpec::Kind::kBimodal:
      return uni_(rng_) < s.p ? s.a_ns : s.b_ns;
  }
  return s.a_ns;
}

void Sim::grant(unsigned k, CoreId c) {
  Kthread& t = kt_[k];
  t.core = c;
  t.state = KState::kWaking;
  t.hold_start = now_;
  apps_[t.app].holders.push_back(k);
}

void Sim::release(unsigned k) {
  Kthread& t = kt_[k];
  granted_ += clip(t.hold_start, now_);
  auto& h = apps_[t.app].holders;
  h.erase(std::find(h.begin(), h.end(), k));
  t.last_cpu = t.core;
  t.core = kNoCore;
  t.state = KState::kParked;
  t.last_park = now_;
  ++t.token;
}

void Sim::spin(unsigned k) {
  Kthread& t = kt_[k];
  t.state = KState::kSpinning;
  auto& sp = apps_[t.app].spinners;
  t.spin_slot = static_cast<int>(sp.size());
  sp.push_back(k);
  t.idle_since = now_;
  ++t.token;
  if (cfg_.mode == Mode::kPolicy && !cfg_.unmodified)
    push(now_ + cfg_.park_spin_ns, Ev::kPark, k, t.token);
}

void Sim::stop_spinning(unsigned k) {
  Kthread& t = kt_[k];
  auto& sp = apps_[t.app].spinners;
  const unsigned last = sp.back();
  sp[t.spin_slot] = last;
  kt_[last].spin_slot = t.spin_slot;
  sp.pop_back();
  t.spin_slot = -1;
  ++t.token;
}

void Sim::start(unsigned k, Request r) {
  Kthread& t = kt_[k];
  t.state = KState::kBusy;
  t.cur = r;
  t.busy_start = now_;
  ++t.token;
  push(now_ + static_cast<Nanos>(std::ceil(r.remaining)), Ev::kDone, k, t.token);
}

void Sim::look_for_work(unsigned k) {
  Kthread& t = kt_[k];
  App& app = apps_[t.app];
  Queue& own = queue_of(k);
  if (!own.items.empty()) {
    --app.queued;
    start(k, own.pop());
    return;
  }
  if (cfg_.queues == Queues::kStealing && app.queued > 0) {
    // Steal from a random starting victim, like the runtime.
    const std::size_t n = app.queues.size();
    const std::size_t first = static_cast<std::size_t>(uni_(rng_) * n) % n;
    for (std::size_t i = 0; i < n; ++i) {
      Queue& q = app.queues[(first + i) % n];
      if (!q.items.empty()) {
        --app.queued;
        start(k, q.pop());
        return;
      }
    }
  }
  spin(k);
}

void Sim::on_arrival(unsigned a) {
  App& app = apps_[a];
  std::exponential_distribution<double> gap(app.rate);
  push(now_ + 1 + static_cast<Nanos>(gap(rng_)), Ev::kArrival, a);
  const Request r{now_, draw_service()};
  // Steering: RSS over the kthreads holding a core; none: any kthread.
  const auto& targets = app.holders.empty() ? app.kthreads : app.holders;
  const unsigned k = targets[static_cast<std::size_t>(uni_(rng_) * targets.size()) %
                             targets.size()];
  Queue& q = queue_of(k);
  q.push(r);
  ++app.queued;
  // Who notices it at once: the target if it spins; with a shared queue
  // or stealing, any spinning kthread of the app.
  unsigned runner = k;
  if (kt_[k].state != KState::kSpinning) {
    if (cfg_.queues == Queues::kPartitioned || app.spinners.empty()) return;
    runner = app.spinners[0];
  }
  stop_spinning(runner);
  look_for_work(runner);
}

void Sim::on_done(unsigned k) {
  Kthread& t = kt_[k];
  count_useful(t.busy_start, now_);
  if (t.cur.arrival >= measure_from_ && now_ <= end_)
    latencies_.push_back(static_cast<double>(now_ - t.cur.arrival));
  look_for_work(k);
}

void Sim::on_wake(unsigned k) { look_for_work(k); }

void Sim::on_park(unsigned k) {
  stop_spinning(k);
  release(k);
}

void Sim::publish_kthreads(const App& app) {
  for (unsigned i = 0; i < app.kthreads.size(); ++i) {
    const unsigned k = app.kthreads[i];
    const Kthread& t = kt_[k];
    policy::KthreadView& v = kviews_[k];
    // A kthread being woken still reads as parked, as the real line does.
    v.parked = t.state == KState::kParked || t.state == KState::kWaking;
    v.cpu = t.state == KState::kParked ? t.last_cpu : t.core;
    v.last_park_ns = t.last_park;
    // A shared queue is published on kthread 0's RX counters.
    if (app.queues.size() == 1) {
      const Queue& q = app.queues[0];
      v.rq_head = v.rq_tail = 0;
      v.rx_head = i == 0 ? q.head : 0;
      v.rx_tail = i == 0 ? q.tail : 0;
    } else {
      v.rq_head = app.queues[i].head;
      v.rq_tail = app.queues[i].tail;
      v.rx_head = v.rx_tail = 0;
    }
  }
}

void Sim::on_poll() {
  push(now_ + cfg_.interval_ns, Ev::kPoll, 0);
  ++res_.polls;
  aviews_.clear();
  for (unsigned a = 0; a < apps_.size(); ++a) {
    App& app = apps_[a];
    policy::AppView av;
    av.id = a + 1;
    if (cfg_.unmodified) {
      // The BPF side reports only the queue length and its oldest entry.
      const Queue& q = app.queues[0];
      av.bpf = policy::AppQueueStat{
          static_cast<std::uint32_t>(q.items.size()),
          q.items.empty() ? 0 : q.items.front().arrival};
    } else {
      publish_kthreads(app);
      av.kthreads = std::span(kviews_).subspan(app.kthreads.front(),
                                               app.kthreads.size());
    }
    aviews_.push_back(av);
  }
  for (CoreId c = 0; c < cviews_.size(); ++c) {
    cviews_[c].be_runnable = cfg_.be;
    const int slot = cfg_.unmodified ? core_slot_[c] : -1;
    cviews_[c].owner_idle = slot >= 0 && kt_[slot].state == KState::kSpinning;
  }
  policy::PollInput in{now_, aviews_, cviews_};
  auto st = alloc_->poll(in, decisions_);
  if (!st.ok) throw std::logic_error("policy rejected the view: " + st.error);
  for (const auto& d : decisions_) {
    if (d.kind == policy::DecisionKind::kRevoke) {
      ++res_.revokes;
      const int slot = cfg_.unmodified ? core_slot_[d.core] : -1;
      if (cfg_.unmodified) core_slot_[d.core] = -1;
      const unsigned k = cfg_.unmodified
                             ? static_cast<unsigned>(slot)
                             : apps_[d.app - 1].kthreads[d.kthread];
      if (cfg_.unmodified && slot < 0) continue;
      Kthread& t = kt_[k];
      if (t.core == d.core && t.state != KState::kParked) {
        // Preempted, idle, or never woke: put its request back, give up
        // the core.
        if (t.state == KState::kBusy) {
          count_useful(t.busy_start, now_);
          Request r = t.cur;
          r.remaining -= static_cast<double>(now_ - t.busy_start);
          queue_of(k).push_front(r);
          ++apps_[t.app].queued;
        } else if (t.state == KState::kSpinning) {
          stop_spinning(k);
        }
        release(k);
      }
    } else {
      ++res_.grants;
      unsigned k;
      if (cfg_.unmodified) {
        // Any thread slot of the app not on a core takes the grant.
        const auto& ks = apps_[d.app - 1].kthreads;
        auto it = std::find_if(ks.begin(), ks.end(), [&](unsigned x) {
          return kt_[x].state == KState::kParked;
        });
        if (it == ks.end()) {
          alloc_->grant_failed(d);
          continue;
        }
        k = *it;
        core_slot_[d.core] = static_cast<int>(k);
      } else {
        k = apps_[d.app - 1].kthreads[d.kthread];
      }
      grant(k, d.core);
      push(now_ + cfg_.wake_latency_ns, Ev::kWake, k, kt_[k].token);
    }
  }
}

SimResult Sim::run() {
  while (!events_.empty()) {
    const Event e = events_.top();
    if (e.t > end_) break;
    events_.pop();
    now_ = e.t;
    switch (e.type) {
      case Ev::kArrival: on_arrival(e.who); break;
      case Ev::kDone:
        if (e.token == kt_[e.who].token) on_done(e.who);
        break;
      case Ev::kWake:
        if (e.token == kt_[e.who].token && kt_[e.who].state == KState::kWaking)
          on_wake(e.who);
        break;
      case Ev::kPark:
        if (e.token == kt_[e.who].token) on_park(e.who);
        break;
      case Ev::kPoll: on_poll(); break;
    }
  }
  now_ = end_;
  // Close the books on cores still held and work still running.
  for (unsigned k = 0; k < kt_.size(); ++k) {
    Kthread& t = kt_[k];
    if (t.state == KState::kBusy) {
      count_useful(t.busy_start, now_);
      ++res_.pending;
    }
    if (t.state != KState::kParked) granted_ += clip(t.hold_start, now_);
  }
  for (const auto& a : apps_) res_.pending += a.queued;

  SimResult& r = res_;
  r.load = load_;
  r.completed = latencies_.size();
  const double window = static_cast<double>(end_ - measure_from_);
  r.efficiency = granted_ > 0 ? useful_ / granted_ : 0;
  r.granted_cores = granted_ / window;
  r.useful_cores = useful_ / window;
  if (!latencies_.empty()) {
    auto pct = [&](double p) {
      const std::size_t i = std::min(
          latencies_.size() - 1,
          static_cast<std::size_t>(p * static_cast<double>(latencies_.size())));
      std::nth_element(latencies_.begin(), latencies_.begin() + i, latencies_.end());
      return latencies_[i] / 1000.0;
    };
    double sum = 0;
    for (double l : latencies_) sum += l;
    r.mean_us = sum / static_cast<double>(latencies_.size()) / 1000.0;
    r.p50_us = pct(0.50);
    r.p99_us = pct(0.99);
    r.p999_us = pct(0.999);
  }
  return r;
}

const char* queues_name(Queues q) {
  switch (q) {
    case Queues::kSingle: return "single";
    case Queues::kPartitioned: return "partitioned";
    case Queues::kStealing: return "stealing";
  }
  return "?";
}

}  // namespace

SimResult simulate(const SimConfig& cfg, double load) {
  Sim s(cfg, load);
  return s.run();
}

std::string csv_header() {
  return "label,mode,queues,interval_us,cores,apps,load,service,mean_service_us,"
         "p50_us,p99_us,p999_us,mean_us,efficiency,granted_cores,useful_cores,"
         "completed,pending,grants,revokes";
}

std::string csv_row(const SimConfig& cfg, const SimResult& r) {
  std::ostringstream o;
  const bool stat = cfg.mode == Mode::kStatic;
  std::string label = cfg.label;
  if (label.empty()) {
    std::ostringstream l;
    if (stat) l << "static-" << cfg.static_cores;
    else l << "policy-" << cfg.interval_ns / 1000.0 << "us";
    l << "-" << queues_name(cfg.queues);
    if (cfg.unmodified) l << "-unmodified";
    label = l.str();
  }
  o << label << ',' << (stat ? "static" : "policy") << ','
    << queues_name(cfg.queues) << ',' << (stat ? 0.0 : cfg.interval_ns / 1000.0)
    << ',' << cfg.cores << ',' << cfg.apps << ',' << r.load << ','
    << cfg.service.describe() << ',' << cfg.service.mean_ns() / 1000.0 << ','
    << r.p50_us << ',' << r.p99_us << ',' << r.p999_us << ',' << r.mean_us << ','
    << r.efficiency << ',' << r.granted_cores << ',' << r.useful_cores << ','
    << r.completed << ',' << r.pending << ',' << r.grants << ',' << r.revokes;
  return o.str();
}

}  // namespace kairos::sim
