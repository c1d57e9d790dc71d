// kairosd's configuration file (/etc/kairos/kairosd.toml, `kairosd
// --config FILE`), parsed and checked without touching the system, so a
// bad file is refused whole, at start and on SIGHUP alike. Every error
// names the place: "FILE:LINE: what". Unknown keys and sections are
// errors (a typo must not be silently ignored). The sections, with every
// key, are in deploy/kairosd.toml; kairosd/README.md says which take
// effect on reload.
//
// Precedence: built-in defaults < the file < command-line flags
// (apply_config_file() fills the defaults the flags are then parsed over).
#pragma once

#include "app_rules.hpp"
#include "kube_rules.hpp"
#include "options.hpp"

#include <kairos/kairosd/dataplane_toml.hpp>
#include <kairos/relay/service_config.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kairos {

class ConfigFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Each setting is optional: what the file leaves out keeps its default
// (or its flag).
struct KairosdConfigFile {
  std::string path;
  // [daemon]
  std::optional<long> scan_interval_ms, rescan_interval_ms, stats_interval_ms;
  std::optional<long> slice_us, lc_slice_us;
  std::optional<std::string> cgroup_root, status_file, kairos_dev;
  std::optional<Backend> backend;
  std::optional<bool> cgroup_watch;
  // [allocator]
  std::optional<bool> allocator_enabled, standby;
  std::optional<long> poll_us, allocator_cpu, rt_priority;
  std::optional<AllocatorOptions::Power> power;
  // [guard]: used when kairos.ko does not give the tunables
  std::optional<std::uint64_t> quantum_us, period_us;
  // [[rule]] and [kubernetes]
  std::vector<AppRule> rules;
  KubeSettings kubernetes;
  // [dataplane] with [[dataplane.app]]
  std::optional<dp::ServiceConfig> dataplane;
};

// source names the text in messages (the file's path); nr_cpus bounds
// [allocator] cpu. Throws ConfigFileError.
KairosdConfigFile parse_config_file(std::string_view text, const std::string& source,
                                    unsigned nr_cpus);
KairosdConfigFile load_config_file(const std::string& path, unsigned nr_cpus);

// Writes the file's settings over cmd (the built-in defaults), before the
// flags are parsed over them.
void apply_config_file(const KairosdConfigFile& file, KairosdCommandLine& cmd);

// Only the settings a reload changes: [guard], [[rule]], [kubernetes].
void apply_reloadable(const KairosdConfigFile& file, DaemonOptions& d);

}  // namespace kairos
