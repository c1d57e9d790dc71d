// Frames from the wire (AF_XDP, DPDK) into parse_udp_frame: the payload
// it returns lies inside the frame, and a parsed datagram built back into
// a frame parses to the same addresses and payload.
#include <kairos/contracts/udp_frame.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A copy of exactly size bytes, so ASan sees any read past the frame.
  std::vector<std::uint8_t> frame(data, data + size);
  const auto f = kairos::dp::parse_udp_frame(frame);
  if (!f) return 0;
  const auto* begin = frame.data();
  if (f->payload.data() < begin || f->payload.data() + f->payload.size() > begin + size)
    __builtin_trap();
  std::vector<std::uint8_t> out(kairos::dp::udp_frame_size(f->payload.size(), false));
  const std::size_t n = kairos::dp::build_udp_frame(out, f->src_mac, f->dst_mac, f->src,
                                                    f->dst, f->payload);
  if (n == 0) __builtin_trap();
  out.resize(n);
  const auto g = kairos::dp::parse_udp_frame(out);
  if (!g || !(g->src == f->src) || !(g->dst == f->dst) ||
      g->payload.size() != f->payload.size() ||
      std::memcmp(g->payload.data(), f->payload.data(), f->payload.size()) != 0)
    __builtin_trap();
  return 0;
}
