#include <kairos/kairosd/dataplane_toml.hpp>

#include <toml++/toml.hpp>

#include <sstream>

namespace kairos {
namespace {

std::string queue_list(std::uint64_t mask) {
  std::string out;
  for (unsigned q = 0; q < 64; ++q) {
    if (!(mask >> q & 1)) continue;
    unsigned end = q;
    while (end + 1 < 64 && (mask >> (end + 1) & 1)) ++end;
    out += (out.empty() ? "" : ",") + std::to_string(q);
    if (end > q) out += "-" + std::to_string(end);
    q = end;
  }
  return out;
}

std::string quoted(const std::string& s) {
  std::ostringstream o;
  o << toml::value<std::string>(s);
  return o.str();
}

}  // namespace

std::string dataplane_to_toml(const dp::ServiceConfig& c) {
  std::ostringstream o;
  o << "[dataplane]\n";
  if (!c.ifname.empty()) o << "interface = " << quoted(c.ifname) << "\n";
  if (c.queues) o << "queues = " << c.queues << "\n";
  o << "backend = \"" << dp::backend_kind_name(c.backend) << "\"\n";
  if (!c.dpdk_args.empty()) {
    o << "dpdk_args = [";
    for (std::size_t i = 0; i < c.dpdk_args.size(); ++i)
      o << (i ? ", " : "") << quoted(c.dpdk_args[i]);
    o << "]\n";
  }
  for (const auto& a : c.apps) {
    o << "\n[[dataplane.app]]\nlisten = " << quoted(a.listen.str()) << "\n";
    if (a.mode == dp::AppMode::kDirect) {
      o << "mode = \"direct\"\npin = " << quoted(a.pin_dir) << "\n";
      if (a.queue_mask) o << "queues = \"" << queue_list(a.queue_mask) << "\"\n";
      continue;
    }
    o << "shm = " << quoted(a.shm_name) << "\nkthreads = " << a.kthreads
      << "\nslots = " << a.slots << "\n";
    if (!a.cgroup.empty()) o << "cgroup = " << quoted(a.cgroup) << "\n";
  }
  return o.str();
}

}  // namespace kairos
