// text_util.h - small ASCII helpers shared by the parsers and check code.
#pragma once

#include <cstring>
#include <string>

namespace lbk {
namespace proto {

// RFC 9110 tchar: the characters of a header name or method.
inline bool is_token_char(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

inline bool is_token(const std::string &s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

inline std::string ascii_lower(std::string s) {
  for (char &c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Without leading and trailing spaces and tabs.
inline std::string trim_blanks(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) b++;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
  return s.substr(b, e - b);
}

// @p s in double quotes for a message: at most @p max bytes, each byte that
// is not printable ASCII (or is a quote) shown as '?', "..." when cut.
inline std::string quoted_excerpt(const std::string &s, size_t max) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; i++) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f && c != '"') ? static_cast<char>(c) : '?';
  }
  if (s.size() > max) out += "...";
  return out + "\"";
}

}  // namespace proto
}  // namespace lbk
