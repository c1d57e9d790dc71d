// Number parsing exactly as memcached's ASCII protocol does it (its
// safe_strto* helpers over strtoul/strtol/strtoull): leading blanks and a
// sign are accepted as the C library accepts them, a trailing blank ends
// the number, anything else after the digits fails it, out of range fails
// it, and a negative number read as unsigned fails it. Matching these
// quirks byte for byte is what lets replies equal memcached's.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace kairos::kv {

// Flags: memcached reads them as unsigned long and keeps the low 32 bits.
bool parse_flags(std::string_view token, std::uint32_t* out);
// exptime, value length, delays: a long, of which memcached keeps the low
// 32 bits (a signed 32-bit number).
bool parse_i32(std::string_view token, std::int32_t* out);
// CAS ids, incr/decr deltas, verbosity: unsigned 64-bit.
bool parse_u64(std::string_view token, std::uint64_t* out);
// A stored value read as a counter (incr/decr): the value as memcached
// sees it in memory, followed by its CRLF.
bool parse_stored_u64(std::string_view value, std::uint64_t* out);

// Decimal text of a number appended to a reply.
template <typename Int>
void append_number(std::string& out, Int v) {
  char b[24];
  const auto r = std::to_chars(b, b + sizeof b, v);
  out.append(b, r.ptr);
}

}  // namespace kairos::kv
