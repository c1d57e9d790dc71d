// A scheduler made of plain memory, behind the SchedPort the allocator
// uses: owner map, per-app queue lines and per-CPU lines that a test (or a
// benchmark) edits. Safe to use from the allocator thread and the test.
#pragma once

#include "sched_port.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace kairos {

class FakeSched final : public SchedPort {
 public:
  explicit FakeSched(std::uint32_t ncpu)
      : n_(ncpu), owners_(ncpu), cpus_(ncpu) {}

  std::uint32_t nr_cpus() const override { return n_; }
  int set_owner(std::uint32_t cpu, std::uint32_t app) override {
    if (cpu >= n_ || app >= KAIROS_MAX_APPS) return -22;
    if (app && app == refuse_.load()) {
      refused_.fetch_add(1);
      return -2;  // -ENOENT, as kairos_set_owner says for a retired app
    }
    // The scheduler claimed this CPU for app just before this grant of it
    // to app (claim_racing_grants): the grant revokes and grants it again.
    if (app && racing_.load()) {
      std::uint32_t slot = cpu + 1;
      standby_[app].compare_exchange_strong(slot, 0);
    }
    owners_[cpu].store(app);
    if (app) grants_[app].fetch_add(1);
    return 0;
  }
  std::uint32_t owner(std::uint32_t cpu) const override {
    return cpu < n_ ? owners_[cpu].load() : 0;
  }
  std::uint32_t exchange_standby(std::uint32_t app, std::uint32_t slot) override {
    return app < KAIROS_MAX_APPS ? standby_[app].exchange(slot) : 0;
  }
  std::uint32_t standby(std::uint32_t app) const override {
    return app < KAIROS_MAX_APPS ? standby_[app].load() : 0;
  }
  const volatile kairos_app_stats* app_stats() const override { return stats_; }
  const volatile kairos_cpu_state* cpu_state() const override { return cpus_.data(); }

  // Test side.
  void set_queue(std::uint32_t app, std::uint64_t queued, std::uint64_t oldest_ns) {
    stats_[app].oldest_enq_ns = oldest_ns;
    stats_[app].queued = queued;
  }
  int owned_by(std::uint32_t app) const {
    int n = 0;
    for (std::uint32_t c = 0; c < n_; ++c) n += owners_[c].load() == app;
    return n;
  }
  std::uint64_t grants_to(std::uint32_t app) const { return grants_[app].load(); }
  // What the scheduler does when app's work outgrows its CPUs: takes the
  // standby CPU, if one is kept for it, and grants it. The CPU, or -1.
  int claim_standby(std::uint32_t app) {
    const std::uint32_t slot = standby_[app].exchange(0);
    if (!slot) return -1;
    std::uint32_t none = 0;
    if (!owners_[slot - 1].compare_exchange_strong(none, app)) return -1;
    grants_[app].fetch_add(1);
    return static_cast<int>(slot - 1);
  }
  // From now on a grant of an app's standby CPU finds it claimed a moment
  // before (the slot emptied): both gave the app the same CPU.
  void claim_racing_grants() { racing_.store(true); }
  // Makes set_owner refuse grants to app (0: accept all again).
  void refuse_app(std::uint32_t app) { refuse_.store(app); }
  std::uint64_t refused() const { return refused_.load(); }
  std::string describe() const {
    std::string s = "owners:";
    for (std::uint32_t c = 0; c < n_; ++c) s += " " + std::to_string(owners_[c].load());
    return s;
  }

 private:
  std::uint32_t n_;
  std::vector<std::atomic<std::uint32_t>> owners_;
  std::vector<kairos_cpu_state> cpus_;
  volatile kairos_app_stats stats_[KAIROS_MAX_APPS] = {};
  std::atomic<std::uint64_t> grants_[KAIROS_MAX_APPS] = {};
  std::atomic<std::uint32_t> standby_[KAIROS_MAX_APPS] = {};
  std::atomic<bool> racing_{false};
  std::atomic<std::uint32_t> refuse_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace kairos
