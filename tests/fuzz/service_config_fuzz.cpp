// The dataplane service's line-based configuration (--dataplane-config):
// any text either parses or throws ConfigError; nothing else escapes.
#include <kairos/relay/service_config.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto cfg = kairos::dp::parse_service_config(text, "fuzz.conf");
    for (const auto& app : cfg.apps)
      if (app.slots == 0 || (app.slots & (app.slots - 1)) != 0) __builtin_trap();
  } catch (const kairos::dp::ConfigError&) {
  }
  return 0;
}
