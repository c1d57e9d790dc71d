// CPU lists and the machine's CPUs as Linux shows them in sysfs: the one
// parser of the "0-3,8" format (sysfs online/possible files, thread
// siblings) that kairosd and tools share.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kairos {

// "0-1,4" -> {0, 1, 4}, in the order written; parts that are neither a
// number nor a range are skipped, CPUs >= limit are dropped.
std::vector<unsigned> parse_cpu_list(std::string_view text, unsigned limit);

// One flag per CPU id < nr from the CPU list in the first line of a file
// (sysfs, a cgroup's cpuset); nullopt when the file is unreadable.
std::optional<std::vector<bool>> cpu_flags_from_file(const std::string& path, unsigned nr);

// The online map (one flag per CPU id < nr_possible) from
// /sys/devices/system/cpu/online; all online when that file is unreadable.
std::vector<bool> online_cpus(unsigned nr_possible);

// Number of possible CPU ids (highest in /sys/devices/system/cpu/possible
// plus one); the configured count from sysconf if that file is unreadable.
unsigned possible_cpus();

// The hyperthread siblings of cpu (itself included, as sysfs lists them),
// CPUs >= limit dropped; empty when sysfs does not say.
std::vector<unsigned> cpu_thread_siblings(unsigned cpu, unsigned limit);

}  // namespace kairos
