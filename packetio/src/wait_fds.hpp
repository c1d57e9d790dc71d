// Internal: block until one of the fds is readable or timeout passes.
#pragma once

#include <poll.h>

#include <chrono>
#include <vector>

namespace kairos::dp {
void wait_fds_readable(std::vector<pollfd>& fds, std::chrono::microseconds timeout);
}  // namespace kairos::dp
