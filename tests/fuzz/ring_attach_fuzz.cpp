// An app attaching the ring region (ShmRegion::attach): any bytes are
// either refused with std::invalid_argument / std::system_error, or give
// a region whose rings all lie inside the mapping. The header's process
// and doorbell are pointed at this process's own eventfd, so the fuzzer
// never reaches into another process (pidfd_getfd).
#include <kairos/contracts/shm_rings.hpp>

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (size > (4u << 20)) return 0;
  std::vector<std::uint8_t> bytes(data, data + size);
  if (bytes.size() >= sizeof(kairos_dp_region)) {
    kairos_dp_region h;
    std::memcpy(&h, bytes.data(), sizeof h);
    h.dp_pid = getpid();
    h.doorbell_fd = bell;
    std::memcpy(bytes.data(), &h, sizeof h);
  }
  const int fd = memfd_create("kairos-ring-fuzz", MFD_CLOEXEC);
  if (fd < 0) __builtin_trap();
  if (!bytes.empty() && write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
    __builtin_trap();
  try {
    auto region = kairos::dp::ShmRegion::attach(fd);
    for (std::uint32_t k = 0; k < region.nr_kthreads(); k++) {
      auto r = region.rings(k);
      for (auto* ring : {&r.rx, &r.tx}) {
        (void)ring->occupancy();
        (void)ring->full_count();
        // The last slot of the ring ends inside the mapping.
        const std::size_t end = sizeof(kairos_dp_region) +
                                (2ull * k + (ring == &r.tx) + 1) * region.header().ring_bytes;
        if (end > size) __builtin_trap();
      }
    }
    (void)region.dataplane_alive();
  } catch (const std::invalid_argument&) {
  } catch (const std::system_error&) {
  }
  close(fd);
  return 0;
}
