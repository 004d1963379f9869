// utf8.h - text from the network made safe to show: valid UTF-8, cut only at
// character boundaries.  The one place liblbkit (and, through
// lbk_utf8_copy(), lbctl and the nginx module) decides what a character is.
#pragma once

#include <cstddef>
#include <string>

namespace lbk {
namespace proto {

// The length (1-4) of the valid UTF-8 sequence at @p s (@p n bytes left), or
// 0 when the bytes there do not start one (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).  NUL counts as invalid.
size_t utf8_sequence_length(const unsigned char *s, size_t n);

// @p s with each byte that does not belong to a valid sequence replaced by
// U+FFFD.
std::string utf8_sanitize(const std::string &s);

// At most @p max bytes of the valid UTF-8 @p s, cut at a character boundary
// (a cut character is dropped whole).
std::string utf8_truncate(const std::string &s, size_t max);

// @p s sanitized and, when longer than @p max bytes, cut at a character
// boundary to leave room for "..." (the result is then at most @p max bytes).
std::string utf8_excerpt(const std::string &s, size_t max);

}  // namespace proto
}  // namespace lbk
