// `kairosctl status`: kairosd's status document read and rendered as text
// or JSON (pure, unit-tested; kairosctl.cpp does the file and the cgroups).
#pragma once

#include <kairos/kairosd/status_snapshot.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kairos::ctl {

// kairosd writes the snapshot as JSON beside its status file.
std::string status_json_path(const std::string& status_file);

// What kairosctl knows about kairosd: its snapshot when one was read and
// its pid is alive, else why not.
struct StatusRead {
  std::optional<status::Snapshot> snapshot;
  std::string why_not;  // "no live /run/kairos/status", or a parse error
};
// pid_alive(pid): whether that process exists (kill(pid, 0)).
StatusRead read_status(const std::string& status_file, bool (*pid_alive)(int));

// The running daemon, as `kairosctl status` prints it.
std::string render_status_text(const status::Snapshot& s);

// An annotated cgroup found without kairosd (from the cgroup tree).
struct OfflineApp {
  std::string cgroup;
  std::string cls;  // "" when the annotation is not usable
  unsigned guaranteed = 0, burstable = 0;
  std::string error;    // why it is not usable
  bool untrusted = false;
};
std::string render_offline_text(const std::string& why_not, const std::vector<OfflineApp>& apps);

// --json: the snapshot's document with "running": true, or, without a
// live kairosd, {"schema", "version", "running": false, "why_not",
// "annotations": [...]}.
std::string render_status_json(const status::Snapshot& s);
std::string render_offline_json(const std::string& why_not, const std::vector<OfflineApp>& apps);

}  // namespace kairos::ctl
