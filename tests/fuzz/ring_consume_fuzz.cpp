// kairosd's relay reading an app's TX ring: the app writes the ring's
// indices and slots (any bytes), the dataplane peeks, takes the payload
// and releases as Dataplane::poll_tx does. Every payload must lie inside
// its slot, whatever the app wrote.
#include <kairos/contracts/shm_rings.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace {

constexpr std::uint32_t kSlots = 8;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static kairos::dp::ShmRegion region = kairos::dp::ShmRegion::create(1, kSlots);
  const kairos_dp_region& h = region.header();
  // The TX ring of kthread 0: after the region header and the RX ring.
  auto* tx_at = const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(&h)) +
                sizeof(kairos_dp_region) + h.ring_bytes;
  const std::size_t ring_bytes = sizeof(kairos_dp_ring) + kSlots * KAIROS_DP_SLOT_SIZE;
  std::memset(tx_at, 0, ring_bytes);
  std::memcpy(tx_at, data, size < ring_bytes ? size : ring_bytes);

  auto tx = region.rings(0).tx;
  const std::uint8_t* slots = tx_at + sizeof(kairos_dp_ring);
  volatile std::uint8_t sink = 0;
  for (int n = 0; n < 2 * static_cast<int>(kSlots); n++) {
    const kairos_dp_slot* s = tx.peek();
    if (!s) break;
    const auto* at = reinterpret_cast<const std::uint8_t*>(s);
    if (at < slots || at + KAIROS_DP_SLOT_SIZE > slots + kSlots * KAIROS_DP_SLOT_SIZE)
      __builtin_trap();  // the slot itself is outside the ring
    const auto payload = kairos::dp::RingView::payload(s);
    if (payload.data() + payload.size() > at + KAIROS_DP_SLOT_SIZE)
      __builtin_trap();  // the payload runs past its slot
    for (std::uint8_t b : payload) sink = sink ^ b;
    tx.release();
  }
  return 0;
}
