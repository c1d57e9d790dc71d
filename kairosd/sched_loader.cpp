#include "sched_loader.hpp"

#include "kairos_sched.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace kairos {

namespace {

std::runtime_error sys_error(const std::string& what, int err) {
  return std::runtime_error(what + ": " + std::strerror(err));
}

}  // namespace

std::string sched_ext_state() {
  std::ifstream in("/sys/kernel/sched_ext/state");
  std::string s;
  if (!(in >> s)) return "";
  return s;
}

std::uint64_t sched_ext_hotplug_seq() {
  std::ifstream seq("/sys/kernel/sched_ext/hotplug_seq");
  unsigned long long v = 0;
  if (!(seq >> v)) return 0;
  return v;
}

SchedLoader::SchedLoader(const SchedOptions& opts) {
  if (sched_ext_state().empty())
    throw std::runtime_error(
        "this kernel has no sched_ext (/sys/kernel/sched_ext/state missing)");
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) throw sys_error("counting possible CPUs", -ncpu);
  if (ncpu > KAIROS_SCHED_MAX_CPUS)
    throw std::runtime_error("more than " + std::to_string(KAIROS_SCHED_MAX_CPUS) +
                             " possible CPUs are not supported");
  nr_cpus_ = static_cast<std::uint32_t>(ncpu);
  skel_ = kairos_sched__open();
  if (!skel_) throw std::runtime_error("cannot open the BPF skeleton");
  skel_->rodata->nr_cpus = nr_cpus_;
  skel_->data->tunables = opts.tunables;
  skel_->struct_ops.kairos_ops->hotplug_seq = sched_ext_hotplug_seq();
  if (int err = kairos_sched__load(skel_)) {
    kairos_sched__destroy(skel_);
    throw sys_error("loading the scheduler failed", -err);
  }
  stats_len_ = sizeof(kairos_app_stats) * KAIROS_MAX_APPS;
  stats_len_ = (stats_len_ + getpagesize() - 1) / getpagesize() * getpagesize();
  void* m = mmap(nullptr, stats_len_, PROT_READ, MAP_SHARED,
                 bpf_map__fd(skel_->maps.app_stats), 0);
  if (m == MAP_FAILED) {
    const int err = errno;
    kairos_sched__destroy(skel_);
    throw sys_error("mmap of the app_stats map failed", err);
  }
  stats_map_ = static_cast<volatile kairos_app_stats*>(m);
  cpu_state_len_ = sizeof(kairos_cpu_state) * KAIROS_SCHED_MAX_CPUS;
  cpu_state_len_ =
      (cpu_state_len_ + getpagesize() - 1) / getpagesize() * getpagesize();
  void* cs = mmap(nullptr, cpu_state_len_, PROT_READ, MAP_SHARED,
                  bpf_map__fd(skel_->maps.cpu_state), 0);
  if (cs == MAP_FAILED) {
    const int err = errno;
    munmap(m, stats_len_);
    kairos_sched__destroy(skel_);
    throw sys_error("mmap of the cpu_state map failed", err);
  }
  cpu_state_ = static_cast<volatile kairos_cpu_state*>(cs);
  link_ = bpf_map__attach_struct_ops(skel_->maps.kairos_ops);
  if (!link_) {
    const int err = errno;
    munmap(cs, cpu_state_len_);
    munmap(m, stats_len_);
    kairos_sched__destroy(skel_);
    throw std::runtime_error(
        std::string("attaching the scheduler failed: ") + std::strerror(err) +
        (err == EBUSY ? " (another sched_ext scheduler is running)" : ""));
  }
}

SchedLoader::~SchedLoader() {
  bpf_link__destroy(link_);
  munmap(const_cast<kairos_cpu_state*>(cpu_state_), cpu_state_len_);
  munmap(const_cast<kairos_app_stats*>(stats_map_), stats_len_);
  kairos_sched__destroy(skel_);
}

kairos_sched_stats SchedLoader::stats() const { return skel_->bss->stats; }

std::optional<SchedExit> SchedLoader::exit_info() const {
  const auto& rec = skel_->bss->exit_record;
  const std::uint32_t kind =
      std::atomic_ref<const std::uint32_t>(rec.kind).load(
          std::memory_order_acquire);
  if (kind == 0) return std::nullopt;
  return SchedExit{kind, rec.exit_code,
                   std::string(rec.reason, strnlen(rec.reason, sizeof rec.reason)),
                   std::string(rec.msg, strnlen(rec.msg, sizeof rec.msg)),
                   std::string(rec.dump, strnlen(rec.dump, sizeof rec.dump))};
}

void SchedLoader::set_tunables(const kairos_tunables& t) {
  // Plain stores: the BPF side reads each field on its own.
  auto& dst = skel_->data->tunables;
  std::atomic_ref<__kairos_u64>(dst.quantum_ns).store(t.quantum_ns);
  std::atomic_ref<__kairos_u64>(dst.period_ns).store(t.period_ns);
  std::atomic_ref<__kairos_u64>(dst.lc_slice_ns).store(t.lc_slice_ns);
  std::atomic_ref<__kairos_u64>(dst.be_slice_ns).store(t.be_slice_ns);
  std::atomic_ref<__kairos_u64>(dst.rescue_ns).store(t.rescue_ns);
}

kairos_app SchedLoader::app(std::uint32_t app) const {
  kairos_app a{};
  if (app < KAIROS_MAX_APPS)
    bpf_map__lookup_elem(skel_->maps.apps, &app, sizeof app, &a, sizeof a, 0);
  return a;
}

kairos_app_wait_hist SchedLoader::app_wait_hist(std::uint32_t app) const {
  kairos_app_wait_hist sum{};
  const int ncpu = libbpf_num_possible_cpus();
  if (app >= KAIROS_MAX_APPS || ncpu <= 0) return sum;
  // A per-CPU map's lookup fills one value per possible CPU.
  std::vector<kairos_app_wait_hist> per_cpu(static_cast<std::size_t>(ncpu));
  static_assert(sizeof(kairos_app_wait_hist) % 8 == 0);
  if (bpf_map__lookup_elem(skel_->maps.app_wait_hist, &app, sizeof app, per_cpu.data(),
                           per_cpu.size() * sizeof(kairos_app_wait_hist), 0))
    return sum;
  for (const auto& h : per_cpu)
    for (unsigned b = 0; b < KAIROS_WAIT_HIST_BUCKETS; ++b) sum.count[b] += h.count[b];
  return sum;
}

void SchedLoader::set_app_class(std::uint32_t app, std::uint32_t cls) {
  if (app == 0 || app >= KAIROS_MAX_APPS)
    throw std::runtime_error("app id " + std::to_string(app) + " out of range");
  // Only the class is ours: owned/nr_owned belong to the BPF side, so the
  // record is never written from here (that would clobber them).
  kairos_class_req req{app, cls};
  LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = &req, .ctx_size_in = sizeof req);
  if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.kairos_set_class), &run))
    throw sys_error("setting the class of app " + std::to_string(app), errno);
  if (run.retval)
    throw sys_error("setting the class of app " + std::to_string(app),
                    -static_cast<int>(run.retval));
}

void SchedLoader::map_cgroup(std::uint64_t cgroup_id, std::uint32_t app) {
  if (bpf_map__update_elem(skel_->maps.cgroup_app, &cgroup_id, sizeof cgroup_id,
                           &app, sizeof app, 0))
    throw sys_error("updating the cgroup_app map", errno);
}

void SchedLoader::unmap_cgroup(std::uint64_t cgroup_id) {
  bpf_map__delete_elem(skel_->maps.cgroup_app, &cgroup_id, sizeof cgroup_id, 0);
}

void SchedLoader::bump_config_gen() {
  std::atomic_ref<std::uint32_t>(skel_->bss->config_gen).fetch_add(1);
}

void SchedLoader::inject_error() {
  std::atomic_ref<std::uint32_t>(skel_->bss->inject_error).store(1);
}

int SchedLoader::set_owner(std::uint32_t cpu, std::uint32_t app) {
  kairos_owner_req req{cpu, app, 0};
  LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = &req, .ctx_size_in = sizeof req);
  if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.kairos_set_owner),
                             &run))
    return -errno;
  return static_cast<int>(run.retval);
}

// The slots live in the object's .bss, mapped into kairosd: an exchange
// there is the same atomic the scheduler's claim uses, and costs no
// system call.
std::uint32_t SchedLoader::exchange_standby(std::uint32_t app, std::uint32_t slot) {
  if (app >= KAIROS_MAX_APPS) return 0;
  return std::atomic_ref<std::uint32_t>(skel_->bss->standby[app]).exchange(slot);
}

std::uint32_t SchedLoader::standby(std::uint32_t app) const {
  if (app >= KAIROS_MAX_APPS) return 0;
  return std::atomic_ref<std::uint32_t>(skel_->bss->standby[app]).load();
}

std::uint32_t SchedLoader::owner(std::uint32_t cpu) const {
  std::uint32_t app = 0;
  bpf_map__lookup_elem(skel_->maps.cpu_owner, &cpu, sizeof cpu, &app,
                       sizeof app, 0);
  return app;
}

}  // namespace kairos
