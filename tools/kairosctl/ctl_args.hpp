// kairosctl's command line, parsed into requests (pure, unit-tested).
#pragma once

#include <kairos/kairosd/annotation.hpp>

#include <string>
#include <variant>
#include <vector>

namespace kairos::ctl {

struct AnnotateCmd {
  std::string cgroup;
  bool clear = false;
  Annotation annotation;
};
struct StatusCmd {
  bool json = false;  // --json: the status document (schema kairos.status)
};
// A live view of kairosd's status, refreshed every interval_ms.
struct TopCmd {
  unsigned interval_ms = 1000;
};
// Moves every untrusted user.kairos.app annotation to the trusted
// attribute (administrators only), checked like a new annotation.
struct MigrateCmd {};
// Prints an old line-based dataplane file (--dataplane-config) as
// kairosd.toml's [dataplane] section.
struct ConvertDataplaneCmd {
  std::string path;
};
struct HelpCmd {};

struct GlobalOpts {
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string status_file = "/run/kairos/status";
};

struct ParsedCmd {
  std::variant<std::monostate, AnnotateCmd, StatusCmd, MigrateCmd, HelpCmd, ConvertDataplaneCmd,
               TopCmd>
      cmd;
  GlobalOpts global;
  std::string error;  // set when cmd is monostate
};

// args excludes argv[0]. max_cpus bounds the core counts.
ParsedCmd parse_args(const std::vector<std::string>& args, unsigned max_cpus);

std::string usage_text();

}  // namespace kairos::ctl
