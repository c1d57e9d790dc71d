// Mechanism: annotations as user.* extended attributes on cgroup
// directories (cgroupfs keeps them for the cgroup's lifetime, so they
// survive kairosd restarts), and a walk of the cgroup tree to find them.
#pragma once

#include <kairos/kairosd/annotation.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kairos {

inline constexpr const char* kCgroupRoot = "/sys/fs/cgroup";

struct FoundCgroup {
  std::string path;        // relative to the root, "a/b"
  std::uint64_t id = 0;    // cgroup id (the directory's inode number)
  std::string raw;         // stored annotation text
  Parsed<Annotation> parsed;
};

// "" when dir is a cgroup directory, else why not.
std::string check_cgroup_dir(const std::string& dir);
// The stored annotation of dir, nullopt if none; throws on I/O errors.
std::optional<std::string> read_annotation(const std::string& dir);
// Stores / removes it; throws std::runtime_error with the reason.
void write_annotation(const std::string& dir, const std::string& value);
void remove_annotation(const std::string& dir);
// Every annotated cgroup under root (depth-limited walk).
std::vector<FoundCgroup> scan_annotated(const std::string& root);

}  // namespace kairos
