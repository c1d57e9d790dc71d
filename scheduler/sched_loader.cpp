#include "sched_loader.hpp"

#include "kairos_sched.skel.h"

#include <bpf/libbpf.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace kairos {

std::string sched_ext_state() {
  std::ifstream in("/sys/kernel/sched_ext/state");
  std::string s;
  if (!(in >> s)) return "";
  return s;
}

SchedLoader::SchedLoader(const SchedOptions& opts) {
  if (sched_ext_state().empty())
    throw std::runtime_error(
        "this kernel has no sched_ext (/sys/kernel/sched_ext/state missing)");
  skel_ = kairos_sched__open();
  if (!skel_) throw std::runtime_error("cannot open the BPF skeleton");
  skel_->rodata->slice_ns = opts.slice_ns;
  if (int err = kairos_sched__load(skel_)) {
    kairos_sched__destroy(skel_);
    throw std::runtime_error(std::string("loading the scheduler failed: ") +
                             std::strerror(-err));
  }
  link_ = bpf_map__attach_struct_ops(skel_->maps.kairos_ops);
  if (!link_) {
    const int err = errno;
    kairos_sched__destroy(skel_);
    throw std::runtime_error(
        std::string("attaching the scheduler failed: ") + std::strerror(err) +
        (err == EBUSY ? " (another sched_ext scheduler is running)" : ""));
  }
}

SchedLoader::~SchedLoader() {
  bpf_link__destroy(link_);
  kairos_sched__destroy(skel_);
}

kairos_sched_stats SchedLoader::stats() const {
  return skel_->bss->stats;
}

std::optional<SchedExit> SchedLoader::exit_info() const {
  const auto& rec = skel_->bss->exit_record;
  const std::uint32_t kind =
      std::atomic_ref<const std::uint32_t>(rec.kind).load(
          std::memory_order_acquire);
  if (kind == 0) return std::nullopt;
  return SchedExit{kind, rec.exit_code,
                   std::string(rec.reason, strnlen(rec.reason, sizeof rec.reason)),
                   std::string(rec.msg, strnlen(rec.msg, sizeof rec.msg))};
}

}  // namespace kairos
