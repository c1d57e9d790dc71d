#include <kairos/contracts/cpu_list.hpp>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string>

namespace kairos {
namespace {

// The highest CPU id a list may name here: far above any machine, low
// enough that a corrupt range cannot make a huge vector.
constexpr unsigned kMaxCpuId = 1u << 16;

bool parse_uint(std::string_view s, unsigned* out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc{} && end == s.data() + s.size();
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::vector<unsigned> parse_cpu_list(std::string_view text, unsigned limit) {
  std::vector<unsigned> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    while (!part.empty() && (part.back() == '\n' || part.back() == ' ')) part.remove_suffix(1);
    unsigned a = 0, b = 0;
    const auto dash = part.find('-');
    if (dash == std::string_view::npos) {
      if (!parse_uint(part, &a)) continue;
      b = a;
    } else if (!parse_uint(part.substr(0, dash), &a) ||
               !parse_uint(part.substr(dash + 1), &b)) {
      continue;
    }
    for (unsigned c = a; c <= b && c < limit && c <= kMaxCpuId; ++c) out.push_back(c);
  }
  return out;
}

std::optional<std::vector<bool>> cpu_flags_from_file(const std::string& path, unsigned nr) {
  std::ifstream in(path);
  std::string list;
  if (!std::getline(in, list)) return std::nullopt;
  std::vector<bool> flags(nr, false);
  for (unsigned c : parse_cpu_list(list, nr)) flags[c] = true;
  return flags;
}

std::vector<bool> online_cpus(unsigned nr_possible) {
  return cpu_flags_from_file("/sys/devices/system/cpu/online", nr_possible)
      .value_or(std::vector<bool>(nr_possible, true));
}

unsigned possible_cpus() {
  const auto cpus = parse_cpu_list(first_line("/sys/devices/system/cpu/possible"),
                                   kMaxCpuId + 1);
  if (!cpus.empty()) return *std::max_element(cpus.begin(), cpus.end()) + 1;
  const long n = ::sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

std::vector<unsigned> cpu_thread_siblings(unsigned cpu, unsigned limit) {
  return parse_cpu_list(first_line("/sys/devices/system/cpu/cpu" + std::to_string(cpu) +
                                   "/topology/thread_siblings_list"),
                        limit);
}

}  // namespace kairos
