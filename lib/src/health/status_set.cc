// status_set.cc - expect_status lists: "200-399", "200,204,300-399".
#include <cctype>
#include <string>
#include <vector>

#include "health/check_internal.h"
#include "proto/text_util.h"

namespace lbk {
namespace health {
namespace {

using proto::trim_blanks;

bool parse_status_code(const std::string &text, int *out) {
  if (text.size() != 3) return false;
  int v = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  if (v < 100 || v > 599) return false;
  *out = v;
  return true;
}

}  // namespace

bool parse_status_list(std::vector<StatusRange> *out, const std::string &text,
                       std::string *error) {
  std::vector<StatusRange> ranges;
  size_t start = 0;
  int item = 1;
  while (true) {
    size_t comma = text.find(',', start);
    const std::string part = trim_blanks(
        text.substr(start, comma == std::string::npos ? std::string::npos
                                                      : comma - start));
    const size_t dash = part.find('-');
    StatusRange r{0, 0};
    bool ok;
    if (dash == std::string::npos) {
      ok = parse_status_code(part, &r.low);
      r.high = r.low;
    } else {
      ok = parse_status_code(trim_blanks(part.substr(0, dash)), &r.low) &&
           parse_status_code(trim_blanks(part.substr(dash + 1)), &r.high) &&
           r.low <= r.high;
    }
    if (!ok) {
      *error = "expect_status \"" + text + "\": item " + std::to_string(item) +
               " \"" + part +
               "\" is not a status (100..599) or an ascending range \"low-high\"";
      return false;
    }
    ranges.push_back(r);
    if (comma == std::string::npos) break;
    start = comma + 1;
    item++;
  }
  *out = std::move(ranges);
  return true;
}

bool status_in(const std::vector<StatusRange> &set, int status) {
  for (const StatusRange &r : set) {
    if (status >= r.low && status <= r.high) return true;
  }
  return false;
}

}  // namespace health
}  // namespace lbk
