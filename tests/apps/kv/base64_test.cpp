// Base64 for meta keys, with memcached's leniency (the table of cases was
// checked against memcached 1.6.38's replies to "mg <key> b k").
#include "kv_base64.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kairos::kv {
namespace {

std::string enc(std::string_view s) {
  std::string out;
  base64_append(out, s);
  return out;
}

TEST(KvBase64, RoundTripsEveryLengthModuloThree) {
  for (const std::string& s : {std::string("k"), std::string("k1"), std::string("k12"),
                               std::string("\x01\x02 x", 4), std::string(250, '\xff')}) {
    std::string back;
    ASSERT_TRUE(base64_decode(enc(s), &back)) << s;
    EXPECT_EQ(back, s);
  }
  EXPECT_EQ(enc("k1"), "azE=");
  EXPECT_EQ(enc(std::string("\x01\x02 x", 4)), "AQIgeA==");
}

TEST(KvBase64, SkipsForeignBytesAndRefusesBrokenGroups) {
  std::string out;
  EXPECT_TRUE(base64_decode("az!E=", &out));  // '!' skipped
  EXPECT_EQ(out, "k1");
  EXPECT_TRUE(base64_decode("azE=AAAA", &out));  // stops at the padded group
  EXPECT_EQ(out, "k1");
  EXPECT_FALSE(base64_decode("a", &out));      // not a whole group
  EXPECT_FALSE(base64_decode("====", &out));   // nothing decoded
  EXPECT_FALSE(base64_decode("A===", &out));   // three pads
  EXPECT_FALSE(base64_decode("!!", &out));     // no symbol at all
  EXPECT_FALSE(base64_decode("", &out));
}

}  // namespace
}  // namespace kairos::kv
