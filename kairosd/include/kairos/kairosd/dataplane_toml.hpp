// The old line-based dataplane file (--dataplane-config, deprecated) as
// kairosd.toml's [dataplane] section: `kairosctl convert-dataplane OLD`
// prints it. config_file.hpp reads the section back.
#pragma once

#include <kairos/relay/service_config.hpp>

#include <string>

namespace kairos {

std::string dataplane_to_toml(const dp::ServiceConfig& c);

}  // namespace kairos
