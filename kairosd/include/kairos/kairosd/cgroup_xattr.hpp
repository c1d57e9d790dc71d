// Mechanism: annotations as trusted.* extended attributes on cgroup
// directories (cgroupfs keeps them for the cgroup's lifetime, so they
// survive kairosd restarts; only CAP_SYS_ADMIN reads or writes them), and a
// walk of the cgroup tree to find them (annotation.hpp says why trusted.*).
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
  Parsed<Annotation> parsed;  // never a value when untrusted
  bool untrusted = false;  // only the user.* attribute: ignored, reported
};

// "" when dir is a cgroup directory, else why not.
std::string check_cgroup_dir(const std::string& dir);
// The stored annotation of dir, nullopt if none; throws on I/O errors.
std::optional<std::string> read_annotation(const std::string& dir);
// The untrusted user.kairos.app of dir, nullopt if none.
std::optional<std::string> read_untrusted_annotation(const std::string& dir);
// Stores / removes it (remove: the untrusted attribute too); throws
// std::runtime_error with the reason (EPERM: not an administrator).
void write_annotation(const std::string& dir, const std::string& value);
void remove_annotation(const std::string& dir);
// Every annotated cgroup under root (depth-limited walk): those with the
// trusted attribute, and those with only the untrusted one (untrusted).
std::vector<FoundCgroup> scan_annotated(const std::string& root);

}  // namespace kairos
