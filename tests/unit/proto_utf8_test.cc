// proto_utf8_test.cc - lbk_utf8_copy(), lbk_utf8_valid() and the C++ helpers:
// invalid bytes replaced, text cut only at character boundaries.
#include <gtest/gtest.h>

#include <string>

#include "lbkit.h"
#include "proto/utf8.h"

namespace {

using lbk::proto::utf8_excerpt;
using lbk::proto::utf8_sanitize;
using lbk::proto::utf8_truncate;

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, ValidTextIsKept) {
  const std::string s = "geth/é€😀";
  EXPECT_EQ(utf8_sanitize(s), s);
  EXPECT_EQ(lbk_utf8_valid(s.data(), s.size()), 1);
}

TEST(Utf8, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(utf8_sanitize("a\xC3"), "a" + kFffd);                  // cut sequence
  EXPECT_EQ(utf8_sanitize("\xC0\xAF"), kFffd + kFffd);             // overlong
  EXPECT_EQ(utf8_sanitize("\xED\xA0\x80"), kFffd + kFffd + kFffd); // surrogate
  EXPECT_EQ(utf8_sanitize("\xF4\x90\x80\x80").size(), 4 * kFffd.size());  // > U+10FFFF
  EXPECT_EQ(utf8_sanitize(std::string("a\0b", 3)), "a" + kFffd + "b");
  EXPECT_EQ(lbk_utf8_valid("\xFF", 1), 0);
}

TEST(Utf8, CutsAtCharacterBoundaries) {
  EXPECT_EQ(utf8_truncate("aé", 2), "a");
  EXPECT_EQ(utf8_truncate("a€", 3), "a");
  EXPECT_EQ(utf8_truncate("a€", 4), "a€");
  EXPECT_EQ(utf8_excerpt("ééééé", 8), "éé...");
}

TEST(Utf8, CopyFitsWholeCharactersAndTerminates) {
  char buf[6];
  const std::string s = "ab€€";
  EXPECT_EQ(lbk_utf8_copy(buf, sizeof buf, s.data(), s.size()), 5u);
  EXPECT_EQ(std::string(buf), "ab€");
  EXPECT_EQ(lbk_utf8_copy(buf, sizeof buf, "a\xC3", 2), 4u);
  EXPECT_EQ(std::string(buf), "a" + kFffd);
  EXPECT_EQ(lbk_utf8_copy(buf, 1, "abc", 3), 0u);
  EXPECT_EQ(buf[0], '\0');
}

}  // namespace
