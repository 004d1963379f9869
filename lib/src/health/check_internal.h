// check_internal.h - the compiled form of an lbk_check, shared by the health
// code (check.cc, health_state.cc) and the pool (lbk_pool_report_check).
//
// A compiled check is immutable after lbk_check_create(): every string of
// lbk_check_options is copied and every default is resolved here, so readers
// never look at a 0 meaning "default".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lbkit.h"

namespace lbk {
namespace health {

// One inclusive range of accepted HTTP statuses ("200-399" or "204").
struct StatusRange {
  int low;
  int high;
};

}  // namespace health
}  // namespace lbk

struct lbk_check {
  int kind = LBK_CHECK_HTTP;
  uint32_t rise = 2;
  uint32_t fall = 3;
  uint32_t inter_ms = 2000;
  uint32_t fastinter_ms = 2000;  // resolved: 0 in the options means inter
  uint32_t downinter_ms = 2000;  // resolved: 0 in the options means inter
  uint32_t timeout_ms = 1000;
  uint32_t jitter_pct = 10;
  int initial_health = LBK_HEALTH_UP;

  std::string method;  // resolved: "GET", or "POST" for jsonrpc
  std::string path = "/";
  bool has_host = false;  // false: the peer's host is used
  std::string host;
  std::vector<std::string> header_lines;  // "Name: value", validated
  bool has_body = false;
  std::string body;
  std::vector<lbk::health::StatusRange> expect_status;  // never empty
  bool has_expect_body = false;
  std::string expect_body;

  std::string jsonrpc_method = "eth_blockNumber";
  std::string jsonrpc_params = "[]";
  bool has_jsonrpc_field = false;
  std::string jsonrpc_field;
  int64_t max_lag = 0;  // 0 = the pool does not judge lag
  bool has_version_field = false;
  std::string version_field;
  bool has_min_version = false;
  std::string min_version;

  bool has_agent_send = false;
  std::string agent_send;

  uint32_t max_header_bytes = 16384;
  uint32_t max_body_bytes = 1048576;
};

namespace lbk {
namespace health {

// Accessors the pool uses; every one accepts only a non-NULL check.
inline int check_kind(const lbk_check &c) { return c.kind; }
inline uint32_t check_rise(const lbk_check &c) { return c.rise; }
inline uint32_t check_fall(const lbk_check &c) { return c.fall; }
inline int check_initial_health(const lbk_check &c) { return c.initial_health; }
// > 0 when the pool must compare the peer's value with the best healthy
// peer's and fail it (LBK_CHECK_FAIL_LAG) when best - value > max_lag.
inline int64_t check_max_lag(const lbk_check &c) { return c.max_lag; }

// The versions of lbk_health_event a caller may pass: @p out NULL (no event
// wanted) or its version 1..LBK_HEALTH_EVENT_VERSION.  Otherwise LBK_EINVAL
// with a message naming @p who.
int check_event_version(const lbk_health_event *out, const char *who);

// Copies the fields of out->version's layout from @p event (a current
// version event), keeping out->version; nothing for a NULL @p out.
void store_event(lbk_health_event *out, const lbk_health_event &event);

// The text used at the start of every event reason: "http check".
std::string check_label(const lbk_check &c);

// Parses an expect_status list ("200-399,404"); false with a message naming
// the offending item in *error.
bool parse_status_list(std::vector<StatusRange> *out, const std::string &text,
                       std::string *error);
bool status_in(const std::vector<StatusRange> &set, int status);

// A passing verdict with nothing measured: agent fields -1, the rest 0.
void blank_result(lbk_check_result *r);

// The buffer contract of lbk_check_request() and lbk_agent_format(): on
// entry *inout_len is the size of @p buf, on return the length of @p bytes;
// LBK_ERANGE (message naming @p who) when they do not fit.  A NUL follows
// the bytes when there is room.
int copy_to_buffer(char *buf, size_t *inout_len, const std::string &bytes,
                   const char *who);

// Copies @p text into a fixed reason buffer as valid UTF-8, cut at a
// character boundary and NUL-terminated (lbk_utf8_copy()).
template <size_t N>
void copy_reason(char (&dst)[N], const std::string &text) {
  lbk_utf8_copy(dst, N, text.data(), text.size());
}

}  // namespace health
}  // namespace lbk
