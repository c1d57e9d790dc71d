// kairosd.toml (--config, and again on every SIGHUP): any text either
// parses or throws ConfigFileError naming the place; nothing else escapes.
// A file that parses is also applied over the defaults, as kairosd does.
#include "config_file.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto file = kairos::parse_config_file(text, "fuzz.toml", 8);
    kairos::KairosdCommandLine cmd;
    kairos::apply_config_file(file, cmd);
    kairos::apply_reloadable(file, cmd.daemon);
  } catch (const kairos::ConfigFileError& e) {
    if (std::string_view(e.what()).rfind("fuzz.toml", 0) != 0) __builtin_trap();
  }
  return 0;
}
