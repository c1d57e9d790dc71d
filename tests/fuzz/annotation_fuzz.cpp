// The cgroup annotation (trusted.kairos.app), as kairosd reads it from any
// cgroup: a value that parses must print back to a value that parses to
// the same annotation.
#include <kairos/kairosd/annotation.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = kairos::parse_annotation(text);
  if (!parsed) {
    if (parsed.error.empty()) __builtin_trap();  // a refusal always says why
    return 0;
  }
  const auto again = kairos::parse_annotation(kairos::format_annotation(*parsed.value));
  if (!again || !(*again.value == *parsed.value)) __builtin_trap();
  return 0;
}
