// The packet relay's counters (DataplaneService) for the status snapshot.
#pragma once

#include <kairos/kairosd/status_snapshot.hpp>

namespace kairos::dp {
class DataplaneService;
}

namespace kairos {

status::DataplaneInfo dataplane_info(const dp::DataplaneService& svc);

}  // namespace kairos
