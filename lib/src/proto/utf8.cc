// utf8.cc - UTF-8 validation, replacement and boundary-safe cutting.
#include "proto/utf8.h"

#include <cstring>

#include "lbkit.h"

namespace lbk {
namespace proto {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD, 3 bytes

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

size_t utf8_sequence_length(const unsigned char *s, size_t n) {
  if (n == 0) return 0;
  const unsigned char c = s[0];
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;        // overlong
    if (c == 0xED) hi = 0x9F;        // UTF-16 surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;        // overlong
    if (c == 0xF4) hi = 0x8F;        // above U+10FFFF
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (!is_continuation(s[i])) return 0;
  return len;
}

std::string utf8_sanitize(const std::string &s) {
  const auto *p = reinterpret_cast<const unsigned char *>(s.data());
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence_length(p + i, s.size() - i);
    if (len == 0) {
      out += kReplacement;
      i++;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  return out;
}

std::string utf8_truncate(const std::string &s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  // Back over the continuation bytes of the character the cut falls in.
  while (end > 0 && is_continuation(static_cast<unsigned char>(s[end]))) end--;
  return s.substr(0, end);
}

std::string utf8_excerpt(const std::string &s, size_t max) {
  std::string clean = utf8_sanitize(s);
  if (clean.size() <= max) return clean;
  return utf8_truncate(clean, max > 3 ? max - 3 : 0) + "...";
}

}  // namespace proto
}  // namespace lbk

extern "C" {

LBK_EXTERN size_t lbk_utf8_copy(char *dst, size_t dst_size, const char *src,
                                size_t src_len) {
  if (dst == nullptr || dst_size == 0) return 0;
  const auto *p = reinterpret_cast<const unsigned char *>(src);
  size_t out = 0;
  for (size_t i = 0; src != nullptr && i < src_len;) {
    size_t len = lbk::proto::utf8_sequence_length(p + i, src_len - i);
    const char *bytes = src + i;
    i += len ? len : 1;
    if (len == 0) {
      bytes = lbk::proto::kReplacement;
      len = 3;
    }
    if (out + len > dst_size - 1) break;  // the whole character or nothing
    std::memcpy(dst + out, bytes, len);
    out += len;
  }
  dst[out] = '\0';
  return out;
}

LBK_EXTERN size_t lbk_utf8_char_len(const char *s, size_t len) {
  return lbk::proto::utf8_sequence_length(reinterpret_cast<const unsigned char *>(s), len);
}

LBK_EXTERN int lbk_utf8_valid(const char *s, size_t len) {
  const auto *p = reinterpret_cast<const unsigned char *>(s);
  for (size_t i = 0; i < len;) {
    const size_t n = lbk::proto::utf8_sequence_length(p + i, len - i);
    if (n == 0) return 0;
    i += n;
  }
  return 1;
}

}  // extern "C"
