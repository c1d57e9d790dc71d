// kairosd's command line, parsed into options without acting on them
// (main() in kairosd.cpp does that), so it is unit-tested
// (tests/kairosd/kairosd_options_test.cpp) as kairosctl's is.
#pragma once

#include "daemon.hpp"
#include "metrics_listen.hpp"

#include <string>
#include <vector>

namespace kairos {

struct KairosdCommandLine {
  DaemonOptions daemon;
  long scan_ms = 200;     // --scan-interval-ms
  long stats_ms = 0;      // --stats-interval-ms, 0 = only at exit
  long fault_ms = -1;     // --test-fault-after-ms, -1 = none
  std::string dataplane_config;  // --dataplane-config, "" = no relay
  std::string config_path;       // --config, "" = none (config_file.hpp)
  std::optional<MetricsListen> metrics_listen;  // --metrics-listen, none = off
};

struct ParsedKairosdArgs {
  enum class Action { kRun, kHelp, kError };
  Action action = Action::kError;
  KairosdCommandLine cmd;
  std::string error;  // kError: what was wrong, one sentence
  bool show_usage = false;  // kError: print the usage after it
};

// args excludes argv[0]; nr_cpus_conf bounds --allocator-cpu. The flags
// are parsed over base: the built-in defaults, or those with --config's
// file applied (flags override the file).
ParsedKairosdArgs parse_kairosd_args(const std::vector<std::string>& args,
                                     unsigned nr_cpus_conf,
                                     const KairosdCommandLine& base = {});

std::string kairosd_usage();

}  // namespace kairos
