// jsonrpc.h - judge of a JSON-RPC 2.0 reply body, and dotted versions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lbk {
namespace proto {

// What the judge extracts besides validity.  Paths are dot-separated keys
// into `result`; a component that is a decimal number indexes an array
// ("blocks.0.number"); the empty path is `result` itself.
struct JsonRpcExpect {
  bool has_value_path = false;
  std::string value_path;
  bool has_version_path = false;
  std::string version_path;
  bool has_min_version = false;
  std::vector<uint64_t> min_version;  // from parse_version()
};

struct JsonRpcVerdict {
  int outcome = 0;     // enum lbk_check_outcome
  std::string reason;  // "jsonrpc error -32000: header not found", ...
  bool has_value = false;
  int64_t value = 0;
  std::string version;  // the version string found, "" if none
};

// Judges @p body: healthy only when it is one JSON object with
// "jsonrpc": "2.0", a `result` member and no (non-null) `error` member.
// Then extracts the numeric value and version the options name; a value
// path that is missing or not a number fails with LBK_CHECK_FAIL_JSONRPC;
// a version below the minimum fails with LBK_CHECK_FAIL_VERSION.
JsonRpcVerdict judge_jsonrpc(const char *body, size_t len,
                             const JsonRpcExpect &expect);

// Numbers as JSON-RPC nodes send them: a JSON integer (or an integral
// float), a "0x"-prefixed hex string ("0x1a", Ethereum quantities) or a
// decimal string ("-12").  False when @p text is none of these or does not
// fit in int64.
bool parse_number_text(const std::string &text, int64_t *out);

// The first dotted run of numbers in @p text: "Geth/v1.10.26-stable" gives
// {1, 10, 26}, "2" gives {2}.  False when @p text has no digit.
bool parse_version(const std::string &text, std::vector<uint64_t> *out);

// <0, 0, >0 as a is below, equal to, above b; missing parts count as 0
// (so 1.2 == 1.2.0).
int compare_versions(const std::vector<uint64_t> &a,
                     const std::vector<uint64_t> &b);

// "1.10.26".
std::string format_version(const std::vector<uint64_t> &v);

}  // namespace proto
}  // namespace lbk
