// Base64 for the meta commands' binary keys (the b flag), with memcached's
// leniency on input: bytes outside the alphabet are skipped, the symbols
// left must come in whole groups of four, and decoding stops at the first
// group with padding. Hand-written: it is a few lines, and no library in
// the build decodes with exactly these rules, which decide which keys a
// client may send.
#pragma once

#include <string>
#include <string_view>

namespace kairos::kv {

// False (and *out unspecified) where memcached's decoder gives nothing.
bool base64_decode(std::string_view in, std::string* out);
void base64_append(std::string& out, std::string_view bytes);

}  // namespace kairos::kv
