// libFuzzer target: the JSON-RPC judge (validity, value path, version).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lbkit.h"
#include "proto/jsonrpc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t shape = data[0];
  const char *body = reinterpret_cast<const char *>(data + 1);
  const size_t len = size - 1;

  static const char *const kPaths[] = {"", "number", "a.b.0", "0", "x.1.y"};
  lbk::proto::JsonRpcExpect expect;
  expect.has_value_path = (shape & 1) != 0;
  expect.value_path = kPaths[(shape >> 1) % 5];
  expect.has_version_path = (shape & 0x10) != 0;
  expect.version_path = kPaths[(shape >> 5) % 5];
  expect.has_min_version = (shape & 0x80) != 0;
  expect.min_version = {1, 10, 0};
  const lbk::proto::JsonRpcVerdict v = lbk::proto::judge_jsonrpc(body, len, expect);
  if (v.outcome == LBK_CHECK_PASS && expect.has_value_path && !v.has_value) {
    __builtin_trap();  // a pass with a value path always carries the value
  }
  if (v.outcome != LBK_CHECK_PASS && v.reason.empty()) __builtin_trap();
  // Texts made from the reply are valid UTF-8 (they reach JSON and HTML).
  if (!lbk_utf8_valid(v.reason.data(), v.reason.size()) ||
      !lbk_utf8_valid(v.version.data(), v.version.size()))
    __builtin_trap();

  // The number and version helpers on the raw text as well.
  const std::string text(body, len);
  int64_t n = 0;
  lbk::proto::parse_number_text(text, &n);
  std::vector<uint64_t> parts;
  if (lbk::proto::parse_version(text, &parts) && parts.empty()) __builtin_trap();
  return 0;
}
