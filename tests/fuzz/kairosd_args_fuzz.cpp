// kairosd's command line: the input is split into arguments at NUL and
// newline bytes. Every outcome is run, help or an error that says why.
#include "options.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args(1);
  for (std::size_t i = 0; i < size; i++) {
    const char c = static_cast<char>(data[i]);
    if (c == '\0' || c == '\n')
      args.emplace_back();
    else
      args.back() += c;
  }
  if (args.size() == 1 && args[0].empty()) args.clear();
  const auto parsed = kairos::parse_kairosd_args(args, 4);
  using A = kairos::ParsedKairosdArgs::Action;
  if (parsed.action == A::kError && parsed.error.empty()) __builtin_trap();
  if (parsed.action == A::kRun && parsed.cmd.daemon.allocator.cpu >= 4 &&
      parsed.cmd.daemon.allocator.enabled)
    __builtin_trap();  // --allocator-cpu is bounded by the CPU count
  return 0;
}
