#include "kv_base64.hpp"

#include <array>
#include <cstdint>

namespace kairos::kv {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kSkip = 0x80;

constexpr std::array<std::uint8_t, 256> decode_table() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = kSkip;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i)
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  t['='] = 0;
  return t;
}
constexpr auto kDecode = decode_table();

}  // namespace

bool base64_decode(std::string_view in, std::string* out) {
  std::size_t symbols = 0;
  for (unsigned char c : in)
    if (kDecode[c] != kSkip) ++symbols;
  if (symbols == 0 || symbols % 4 != 0) return false;
  out->clear();
  std::uint8_t group[4];
  unsigned n = 0, pad = 0;
  for (unsigned char c : in) {
    if (kDecode[c] == kSkip) continue;
    if (c == '=') ++pad;
    group[n++] = kDecode[c];
    if (n < 4) continue;
    n = 0;
    out->push_back(static_cast<char>((group[0] << 2) | (group[1] >> 4)));
    out->push_back(static_cast<char>((group[1] << 4) | (group[2] >> 2)));
    out->push_back(static_cast<char>((group[2] << 6) | group[3]));
    if (pad == 0) continue;
    if (pad > 2) return false;
    out->resize(out->size() - pad);
    break;
  }
  return !out->empty();
}

void base64_append(std::string& out, std::string_view bytes) {
  std::size_t i = 0;
  auto sym = [&](unsigned v) { out.push_back(kAlphabet[v & 0x3f]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto a = static_cast<unsigned char>(bytes[i]);
    const auto b = static_cast<unsigned char>(bytes[i + 1]);
    const auto c = static_cast<unsigned char>(bytes[i + 2]);
    sym(a >> 2);
    sym((a << 4) | (b >> 4));
    sym((b << 2) | (c >> 6));
    sym(c);
  }
  if (i == bytes.size()) return;
  const auto a = static_cast<unsigned char>(bytes[i]);
  sym(a >> 2);
  if (i + 1 == bytes.size()) {
    sym(a << 4);
    out.append("==");
    return;
  }
  const auto b = static_cast<unsigned char>(bytes[i + 1]);
  sym((a << 4) | (b >> 4));
  sym(b << 2);
  out.push_back('=');
}

}  // namespace kairos::kv
