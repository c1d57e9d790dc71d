#include "kv_numbers.hpp"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

namespace kairos::kv {

namespace {

// The token as a C string (the C parsers need the terminator), on the
// stack for the short tokens every well-formed command has.
class CString {
 public:
  explicit CString(std::string_view s, std::string_view suffix = {}) {
    const std::size_t n = s.size() + suffix.size();
    if (n < sizeof small_) {
      p_ = small_;
    } else {
      big_.resize(n + 1);
      p_ = big_.data();
    }
    // An empty view may have a null data(): memcpy from null is undefined.
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());
    if (!suffix.empty()) std::memcpy(p_ + s.size(), suffix.data(), suffix.size());
    p_[n] = '\0';
  }
  const char* c_str() const { return p_; }

 private:
  char small_[64];
  std::string big_;
  char* p_;
};

bool ends_number(const char* str, const char* end) {
  return std::isspace(static_cast<unsigned char>(*end)) ||
         (*end == '\0' && end != str);
}

bool negative_text(const char* str, const char* end) {
  return std::memchr(str, '-', static_cast<std::size_t>(end - str)) != nullptr;
}

bool strtoull_checked(const char* str, std::uint64_t* out) {
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(str, &end, 10);
  if (errno == ERANGE || end == str) return false;
  if (!ends_number(str, end)) return false;
  if (static_cast<long long>(v) < 0 && negative_text(str, end)) return false;
  *out = v;
  return true;
}

}  // namespace

bool parse_flags(std::string_view token, std::uint32_t* out) {
  CString s(token);
  const char* str = s.c_str();
  errno = 0;
  char* end = nullptr;
  const unsigned long v = std::strtoul(str, &end, 10);
  if (errno == ERANGE || end == str) return false;
  if (!ends_number(str, end)) return false;
  if (static_cast<long>(v) < 0 && negative_text(str, end)) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

bool parse_i32(std::string_view token, std::int32_t* out) {
  CString s(token);
  const char* str = s.c_str();
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(str, &end, 10);
  if (errno == ERANGE || end == str) return false;
  if (!ends_number(str, end)) return false;
  // memcached keeps the low 32 bits: 2147483648 reads as -2147483648.
  *out = static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return true;
}

bool parse_u64(std::string_view token, std::uint64_t* out) {
  CString s(token);
  return strtoull_checked(s.c_str(), out);
}

bool parse_stored_u64(std::string_view value, std::uint64_t* out) {
  CString s(value, "\r\n");
  return strtoull_checked(s.c_str(), out);
}

}  // namespace kairos::kv
