// Built when DPDK (pkg-config libdpdk) is not found: the DPDK backend
// reports itself unavailable and callers fall back to AF_XDP or kernel UDP.
#include <kairos/contracts/backend.hpp>
#include <kairos/packetio/backends.hpp>

#include <stdexcept>

namespace kairos::dp {

bool dpdk_available() { return false; }

std::unique_ptr<Backend> make_dpdk_backend(const std::vector<std::string>&,
                                           const std::vector<Endpoint>&, std::uint16_t) {
  throw std::runtime_error("DPDK backend: this build has no DPDK (libdpdk not found)");
}

}  // namespace kairos::dp
