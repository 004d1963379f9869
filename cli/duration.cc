// cli/duration.cc - see duration.h.
#include "duration.h"

#include <cctype>

namespace lbctl {

namespace {

size_t leading_digits(const std::string &text) {
  size_t n = 0;
  while (n < text.size() && std::isdigit(static_cast<unsigned char>(text[n]))) ++n;
  return n;
}

}  // namespace

bool parse_duration_ms(const std::string &text, uint32_t &out_ms, BareNumber bare) {
  const size_t digits = leading_digits(text);
  if (digits == 0 || digits > 12) return false;
  uint64_t number = 0;
  for (size_t i = 0; i < digits; ++i) number = number * 10 + static_cast<uint64_t>(text[i] - '0');
  const std::string unit = text.substr(digits);
  uint64_t ms;
  if (unit.empty()) {
    if (bare == BareNumber::kRefused) return false;
    ms = number;
  } else if (unit == "us") {
    ms = number / 1000;
  } else if (unit == "ms") {
    ms = number;
  } else if (unit == "s") {
    ms = number * 1000;
  } else if (unit == "m") {
    ms = number * 60 * 1000;
  } else if (unit == "h") {
    ms = number * 3600 * 1000;
  } else if (unit == "d") {
    ms = number * 86400 * 1000;
  } else {
    return false;
  }
  if (ms > UINT32_MAX) return false;
  out_ms = static_cast<uint32_t>(ms);
  return true;
}

std::string duration_problem(const std::string &text) {
  const size_t digits = leading_digits(text);
  if (digits > 0 && digits == text.size())
    return "'" + text + "' has no unit: " + text + "s or " + text + "ms?";
  return "bad duration '" + text + "' (use e.g. 500ms, 2s, 1m)";
}

}  // namespace lbctl
