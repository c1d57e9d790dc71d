#include <kairos/packetio/backends.hpp>

#include "wait_fds.hpp"

#include <poll.h>

#include <stdexcept>

namespace kairos::dp {

std::unique_ptr<Backend> make_backend_with_fallback(const AfXdpConfig& config,
                                                    std::string* why_fallback) {
  try {
    return make_afxdp_backend(config);
  } catch (const std::invalid_argument&) {
    throw;  // a bad configuration is an error, not a reason to degrade
  } catch (const std::exception& e) {
    if (why_fallback) *why_fallback = e.what();
  }
  return make_kernel_udp_backend(config.apps);
}

// Shared by the fd-based backends: ppoll with a microsecond timeout.
void wait_fds_readable(std::vector<pollfd>& fds, std::chrono::microseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1'000'000),
              static_cast<long>(timeout.count() % 1'000'000) * 1000};
  ppoll(fds.data(), fds.size(), &ts, nullptr);
}

}  // namespace kairos::dp
