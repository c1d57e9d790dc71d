// Parking through /dev/kairos: NOT WIRED YET.
//
// The kernel module's uapi header (kmod/uapi/kairos.h, ABI 0.1) does not
// define park/grant ioctls yet, so this backend cannot be implemented
// honestly. Until it does, asking for it explicitly fails with a clear
// error, and ParkBackend::kAuto falls back to futex parking (saying why
// once on stderr when /dev/kairos exists). Wiring it means: open
// /dev/kairos, check the ABI major, and implement prepare/park/unpark
// below with the module's "park self" and "grant/unpark" ioctls.
#include "internal.hpp"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace kairos::detail {

std::unique_ptr<Parker> make_devkairos_parker(std::string* why) {
  if (access("/dev/kairos", R_OK | W_OK) != 0) {
    *why = "/dev/kairos is not present (kairos.ko not loaded)";
    return nullptr;
  }
  *why =
      "the /dev/kairos park/grant ioctls are not wired into libkairos yet "
      "(kmod/uapi/kairos.h has no park ABI)";
  return nullptr;
}

std::unique_ptr<Parker> make_parker(ParkBackend backend) {
  std::string why;
  switch (backend) {
    case ParkBackend::kFutex:
      return make_futex_parker();
    case ParkBackend::kDevKairos: {
      auto p = make_devkairos_parker(&why);
      if (!p) throw std::runtime_error("kairos: park backend devkairos: " + why);
      return p;
    }
    case ParkBackend::kAuto:
      break;
  }
  if (auto p = make_devkairos_parker(&why)) return p;
  if (access("/dev/kairos", F_OK) == 0) {
    static std::atomic<bool> said{false};  // once per process is enough
    if (!said.exchange(true)) {
      std::fprintf(stderr, "kairos: using futex parking: %s\n", why.c_str());
    }
  }
  return make_futex_parker();
}

}  // namespace kairos::detail
