// jsonrpc.cc - see jsonrpc.h.  Uses nlohmann-json without exceptions
// (parse with allow_exceptions = false): peer bytes never throw.
#include "proto/jsonrpc.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include <nlohmann/json.hpp>

#include "lbkit.h"
#include "proto/utf8.h"

namespace lbk {
namespace proto {
namespace {

using json = nlohmann::json;

// Digits of a path component as an array index; false if not all digits.
bool parse_index(const std::string &s, size_t *out) {
  if (s.empty() || s.size() > 9) return false;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  *out = v;
  return true;
}

// Walks @p path from @p root; nullptr if a component is missing.
const json *walk(const json &root, const std::string &path) {
  const json *node = &root;
  if (path.empty()) return node;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (node->is_object()) {
      auto it = node->find(key);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      size_t index = 0;
      if (!parse_index(key, &index) || index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

bool json_number(const json &node, int64_t *out) {
  if (node.is_number_integer()) {
    if (node.is_number_unsigned() &&
        node.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return false;
    }
    *out = node.get<int64_t>();
    return true;
  }
  if (node.is_number_float()) {
    const double d = node.get<double>();
    // 2^63 as a double; integral values inside int64 only.
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
    const int64_t v = static_cast<int64_t>(d);
    if (static_cast<double>(v) != d) return false;
    *out = v;
    return true;
  }
  if (node.is_string()) return parse_number_text(node.get<std::string>(), out);
  return false;
}

// A short, printable rendering of a JSON value for a reason text.
std::string brief(const json &node, size_t max = 60) {
  std::string s = node.is_string() ? node.get<std::string>()
                                   : node.dump(-1, ' ', true,
                                               json::error_handler_t::replace);
  for (char &c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  // Cut at a character boundary: the text ends up in JSON and HTML writers.
  return utf8_excerpt(s, max + 3);
}

// JSON nesting deeper than this is refused before parsing: nlohmann-json
// builds, prints and destroys nested values recursively, so a hostile reply
// of a million '[' would exhaust the stack.  Real replies nest a few levels.
constexpr int kMaxJsonDepth = 128;

// The deepest nesting of arrays and objects in @p text (strings skipped).
int nesting_depth(const char *text, size_t len) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxJsonDepth) return deepest;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return deepest;
}

JsonRpcVerdict fail(int outcome, std::string reason) {
  JsonRpcVerdict v;
  v.outcome = outcome;
  v.reason = std::move(reason);
  return v;
}

}  // namespace

bool parse_number_text(const std::string &text, int64_t *out) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    uint64_t v = 0;
    for (size_t i = 2; i < text.size(); i++) {
      const char c = text[i];
      int h;
      if (c >= '0' && c <= '9') {
        h = c - '0';
      } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
        h = (c | 0x20) - 'a' + 10;
      } else {
        return false;
      }
      if (v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) >> 4)) {
        return false;
      }
      v = v * 16 + static_cast<uint64_t>(h);
    }
    *out = static_cast<int64_t>(v);
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    negative = text[i] == '-';
    i++;
  }
  if (i == text.size()) return false;
  // Accumulate as a negative number so that INT64_MIN fits.
  int64_t v = 0;
  for (; i < text.size(); i++) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    const int digit = c - '0';
    if (v < (std::numeric_limits<int64_t>::min() + digit) / 10) return false;
    v = v * 10 - digit;
  }
  if (!negative) {
    if (v == std::numeric_limits<int64_t>::min()) return false;
    v = -v;
  }
  *out = v;
  return true;
}

bool parse_version(const std::string &text, std::vector<uint64_t> *out) {
  size_t i = 0;
  while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i]))) i++;
  if (i == text.size()) return false;
  std::vector<uint64_t> parts;
  while (true) {
    uint64_t v = 0;
    size_t digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (v < (uint64_t{1} << 59)) v = v * 10 + static_cast<uint64_t>(text[i] - '0');
      i++;
      digits++;
    }
    parts.push_back(v);
    // Another part only when a dot is followed by a digit ("1.2." ends at 2).
    if (i + 1 < text.size() && text[i] == '.' &&
        std::isdigit(static_cast<unsigned char>(text[i + 1])) && parts.size() < 16) {
      i++;
      continue;
    }
    break;
  }
  *out = std::move(parts);
  return true;
}

int compare_versions(const std::vector<uint64_t> &a,
                     const std::vector<uint64_t> &b) {
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; i++) {
    const uint64_t x = i < a.size() ? a[i] : 0;
    const uint64_t y = i < b.size() ? b[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

std::string format_version(const std::vector<uint64_t> &v) {
  std::string s;
  for (size_t i = 0; i < v.size(); i++) {
    if (i > 0) s += '.';
    s += std::to_string(v[i]);
  }
  return s;
}

JsonRpcVerdict judge_jsonrpc(const char *body, size_t len,
                             const JsonRpcExpect &expect) {
  if (nesting_depth(body, len) > kMaxJsonDepth) {
    return fail(LBK_CHECK_FAIL_JSONRPC,
                "reply nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  const json doc = json::parse(body, body + len, nullptr, false);
  if (doc.is_discarded()) return fail(LBK_CHECK_FAIL_JSONRPC, "reply is not valid JSON");
  if (!doc.is_object()) {
    return fail(LBK_CHECK_FAIL_JSONRPC, "reply is not a JSON-RPC object");
  }
  // JSON-RPC 2.0 replies say so; a JSON-RPC 1.0 reply (Bitcoin Core before
  // v28, and later ones asked in 1.0 style) has no "jsonrpc" member and
  // carries both "result" and "error" (null on success).
  auto version = doc.find("jsonrpc");
  const bool v1 = version == doc.end() && doc.contains("result") && doc.contains("error");
  if (!v1 && (version == doc.end() || !version->is_string() ||
              version->get<std::string>() != "2.0")) {
    return fail(LBK_CHECK_FAIL_JSONRPC,
                "reply lacks \"jsonrpc\": \"2.0\" (nor is it a JSON-RPC 1.0 reply)");
  }
  auto error = doc.find("error");
  if (error != doc.end() && !error->is_null()) {
    std::string reason = "jsonrpc error";
    if (error->is_object()) {
      auto code = error->find("code");
      auto message = error->find("message");
      if (code != error->end()) reason += " " + brief(*code, 24);
      if (message != error->end()) reason += ": " + brief(*message);
    } else {
      reason += ": " + brief(*error);
    }
    return fail(LBK_CHECK_FAIL_JSONRPC, reason);
  }
  auto result = doc.find("result");
  if (result == doc.end()) return fail(LBK_CHECK_FAIL_JSONRPC, "reply has no result");

  JsonRpcVerdict verdict;
  verdict.outcome = LBK_CHECK_PASS;
  verdict.reason = "result ok";
  if (expect.has_value_path) {
    const json *node = walk(*result, expect.value_path);
    const std::string where =
        expect.value_path.empty() ? "result" : "result." + expect.value_path;
    if (node == nullptr) return fail(LBK_CHECK_FAIL_JSONRPC, where + " is missing");
    if (!json_number(*node, &verdict.value)) {
      return fail(LBK_CHECK_FAIL_JSONRPC,
                  where + " is not a number: " + brief(*node, 40));
    }
    verdict.has_value = true;
    verdict.reason = "value " + std::to_string(verdict.value);
  }
  if (expect.has_version_path) {
    const json *node = walk(*result, expect.version_path);
    const std::string where =
        expect.version_path.empty() ? "result" : "result." + expect.version_path;
    if (node == nullptr || !(node->is_string() || node->is_number())) {
      if (expect.has_min_version) {
        return fail(LBK_CHECK_FAIL_VERSION, where + " has no version string");
      }
    } else {
      verdict.version = brief(*node, 60);  // fits version_str[64]
      if (expect.has_min_version) {
        std::vector<uint64_t> found;
        if (!parse_version(verdict.version, &found)) {
          JsonRpcVerdict v = fail(LBK_CHECK_FAIL_VERSION,
                                  "version \"" + verdict.version + "\" has no number");
          v.version = verdict.version;
          return v;
        }
        if (compare_versions(found, expect.min_version) < 0) {
          JsonRpcVerdict v =
              fail(LBK_CHECK_FAIL_VERSION,
                   "version " + format_version(found) + " is below " +
                       format_version(expect.min_version));
          v.version = verdict.version;
          v.has_value = verdict.has_value;
          v.value = verdict.value;
          return v;
        }
      }
      verdict.reason += ", version " + verdict.version;
    }
  }
  return verdict;
}

}  // namespace proto
}  // namespace lbk
