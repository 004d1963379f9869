// libFuzzer target: the incremental HTTP/1.x response reader, through the
// public check-reply API.  The first input byte picks the check shape (kind
// and small limits); the rest is the reply, fed in pieces whose sizes come
// from the input itself so that every split is explored.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "lbkit.h"
#include "proto/http_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  const uint8_t shape = data[0];
  const uint8_t split = data[1];
  data += 2;
  size -= 2;

  // The parser on its own, with small limits and a piecewise feed.
  lbk::proto::HttpResponseParser parser({static_cast<size_t>(64 + (shape & 0x3f) * 8),
                                         static_cast<size_t>(shape & 0x40 ? 16 : 4096)});
  parser.set_head_request((shape & 0x80) != 0);
  const size_t step = 1 + split % 17;
  for (size_t off = 0; off < size; off += step) {
    const size_t n = size - off < step ? size - off : step;
    parser.feed(reinterpret_cast<const char *>(data) + off, n);
  }
  parser.eof();
  if (parser.state() == lbk::proto::HttpResponseParser::State::kComplete &&
      parser.status() != 0 && (parser.status() < 100 || parser.status() > 599)) {
    __builtin_trap();  // a complete reply always has a valid status
  }

  // The whole judge: http with expect_body, or jsonrpc with a value path.
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = (shape & 1) ? LBK_CHECK_JSONRPC : LBK_CHECK_HTTP;
  o.expect_body = (shape & 1) ? nullptr : "ok";
  o.jsonrpc_field = (shape & 1) ? "number" : nullptr;
  o.max_header_bytes = 256;
  o.max_body_bytes = 1024;
  lbk_check *check = nullptr;
  if (lbk_check_create(&check, &o) != 0) __builtin_trap();
  lbk_check_reply *reply = nullptr;
  if (lbk_check_reply_create(&reply, check) != 0) __builtin_trap();
  int rc = LBK_EAGAIN;
  for (size_t off = 0; off < size && rc == LBK_EAGAIN; off += step) {
    const size_t n = size - off < step ? size - off : step;
    rc = lbk_check_reply_feed(reply, data + off, n);
  }
  lbk_check_reply_eof(reply);
  lbk_check_result result;
  if (lbk_check_reply_result(&result, reply) != 0) __builtin_trap();
  if (strnlen(result.reason, sizeof result.reason) == sizeof result.reason) __builtin_trap();
  // Texts made from the reply are valid UTF-8 (they reach JSON and HTML).
  if (!lbk_utf8_valid(result.reason, strlen(result.reason)) ||
      !lbk_utf8_valid(result.version_str, strnlen(result.version_str, sizeof result.version_str)))
    __builtin_trap();
  lbk_check_reply_free(reply);
  lbk_check_free(check);
  return 0;
}
