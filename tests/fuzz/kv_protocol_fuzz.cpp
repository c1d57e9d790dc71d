// kairos-kv's memcached ASCII engine on client bytes: the input is fed to
// one Session in two reads, split where its first byte says (a request
// across reads), as the server feeds each read; nothing but replies and
// a close may come out. The same bytes go through the UDP frame header.
#include "kv_protocol.hpp"
#include "kv_udp_frame.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)kairos::kv::parse_udp_header(std::span<const std::uint8_t>(data, size));
  if (size == 0) return 0;
  kairos::kv::Store store{kairos::kv::StoreConfig{
      .max_bytes = 1u << 20, .item_size_max = 64u << 10, .shards = 4, .process_start = 1000}};
  kairos::kv::ServerCounters counters;
  kairos::kv::ServerContext ctx{store, counters, kairos::kv::ServerInfo{.process_start = 1000},
                                [] { return std::int64_t{2000}; }};
  kairos::kv::Session session(ctx, 0);
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = in.empty() ? 0 : data[0] % (in.size() + 1);
  std::string out;
  if (session.feed(in.substr(0, cut), out) == kairos::kv::Session::Status::kOpen)
    (void)session.feed(in.substr(cut), out);
  return 0;
}
