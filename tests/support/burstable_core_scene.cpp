#include "burstable_core_scene.hpp"

#include <unistd.h>

#include <algorithm>

namespace kairos::schedtest {

using kairos::vmtest::wait_for;

BurstableCoreScene::BurstableCoreScene(const std::string& cgroup_name)
    : lc_(cgroup_name), app_("cgroup=" + lc_.name()) {
  std::string out;
  if (kairosctl({"annotate", lc_.name(), "--class", "lc", "--guaranteed", "0", "--burstable",
                 "1"},
                &out) != 0) {
    error_ = "kairosctl annotate failed: " + out;
    return;
  }
  // Low-power allocator with fast polls: the emulated VM's timer honours them.
  kairosd_ = std::make_unique<Kairosd>(std::vector<std::string>{
      "--allocator-low-power", "--poll-us", "50", "--scan-interval-ms", "20"});
  if (!kairosd_->wait_ready()) {
    error_ = "kairosd did not attach: " + kairosd_->output();
    return;
  }
  spinners_ = spinners(sysconf(_SC_NPROCESSORS_ONLN));
}

long BurstableCoreScene::owned() const {
  return status_number(kairosd_->status(), "app", app_, "owned");
}

long BurstableCoreScene::grants() const {
  return status_number(kairosd_->status(), "allocator", "", "grants");
}

bool BurstableCoreScene::runtime_found_idle(pid_t pid, std::chrono::seconds limit) const {
  const std::string who = "pid=" + std::to_string(pid);
  return wait_for([&] {
    const std::string st = kairosd_->status();
    return status_field(st, "runtime", who, "kthreads") == "1" &&
           status_number(st, "app", app_, "owned") == 0;
  }, limit);
}

BurstableCoreScene::Watch BurstableCoreScene::watch_until_exit(const Child& load,
                                                               std::chrono::seconds limit) const {
  Watch w;
  w.load_exited = wait_for([&] {
    const long o = owned();
    w.max_owned = std::max(w.max_owned, o);
    w.samples_owned += o > 0;
    return !load.alive();
  }, limit);
  return w;
}

bool BurstableCoreScene::back_to_idle(pid_t pid, std::chrono::seconds limit) const {
  const std::string who = "pid=" + std::to_string(pid);
  return wait_for([&] {
    const std::string st = kairosd_->status();
    return status_number(st, "app", app_, "owned") == 0 &&
           status_number(st, "runtime", who, "running") == 0;
  }, limit);
}

}  // namespace kairos::schedtest
