// Small driver for policy unit tests: holds a view of apps and cores that a
// test edits between polls, and the decisions of the last poll.
#pragma once

#include <kairos/allocator/policy.hpp>

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace kairos::policy::testing {

struct Harness {
  explicit Harness(unsigned ncores, bool smt = false, PolicyConfig cfg = {})
      : Harness(Topology::uniform(ncores, smt), cfg) {}
  Harness(Topology topo, PolicyConfig cfg) : cores(topo.size()) {
    std::string err;
    auto a = CoreAllocator::create(cfg, std::move(topo), &err);
    EXPECT_TRUE(a.has_value()) << err;
    alloc.emplace(std::move(*a));
  }

  // Registers a runtime app with nk parked kthreads.
  void runtime_app(AppId id, unsigned g, unsigned b, unsigned nk) {
    auto err = alloc->add_app({id, g, b, true});
    ASSERT_FALSE(err) << *err;
    kthreads[id].assign(nk, KthreadView{});
    ids.push_back(id);
  }
  void unmodified_app(AppId id, unsigned g, unsigned b, std::vector<bool> allowed = {}) {
    auto err = alloc->add_app({id, g, b, false, std::move(allowed)});
    ASSERT_FALSE(err) << *err;
    bpf[id] = AppQueueStat{};
    ids.push_back(id);
  }

  KthreadView& kt(AppId id, int k) { return kthreads.at(id).at(k); }
  void enqueue(AppId id, int k, unsigned n = 1) { kt(id, k).rq_head += n; }
  void dequeue(AppId id, int k, unsigned n = 1) { kt(id, k).rq_tail += n; }
  void run(AppId id, int k) { kt(id, k).parked = false; }
  // Parks kthread k at a time after the last poll (as a real one would).
  void park(AppId id, int k) {
    kt(id, k).parked = true;
    kt(id, k).last_park_ns = now + 1;
  }

  PollStatus poll(Nanos step = 5'000) {
    now += step;
    views.clear();
    for (AppId id : ids) {
      AppView v;
      v.id = id;
      if (kthreads.count(id)) v.kthreads = kthreads[id];
      if (bpf.count(id)) v.bpf = bpf[id];
      views.push_back(v);
    }
    PollInput in{now, views, cores};
    return alloc->poll(in, out);
  }

  // Grants / revokes of the last poll.
  std::vector<Decision> of(DecisionKind k) const {
    std::vector<Decision> r;
    for (const auto& d : out)
      if (d.kind == k) r.push_back(d);
    return r;
  }
  std::vector<Decision> grants() const { return of(DecisionKind::kGrant); }
  std::vector<Decision> revokes() const { return of(DecisionKind::kRevoke); }

  std::optional<CoreAllocator> alloc;
  std::vector<CoreView> cores;
  std::map<AppId, std::vector<KthreadView>> kthreads;
  std::map<AppId, AppQueueStat> bpf;
  std::vector<AppId> ids;
  std::vector<AppView> views;
  std::vector<Decision> out;
  Nanos now = 1'000'000;
};

}  // namespace kairos::policy::testing
