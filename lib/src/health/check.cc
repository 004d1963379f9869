// check.cc - lbk_check_create/free/kind and lbk_check_request: compiling a
// check definition and rendering the bytes a driver sends for it.
#include <cstring>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api.h"
#include "error_internal.h"
#include "health/check_internal.h"
#include "proto/jsonrpc.h"
#include "proto/text_util.h"

namespace lbk {
namespace health {
namespace {

using proto::ascii_lower;
using proto::is_token;

constexpr uint32_t kMaxRiseFall = LBK_CHECK_RISE_FALL_MAX;
constexpr uint32_t kMaxJitterPct = LBK_CHECK_JITTER_PCT_MAX;
constexpr uint32_t kMinHeaderLimit = 64;

// No control characters (CR, LF, NUL...) and no spaces: safe on a request line.
bool is_request_target(const std::string &s) {
  if (s.empty() || s[0] != '/') return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool is_header_value(const std::string &s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

bool has_header(const lbk_check &c, const char *lower_name) {
  const size_t n = std::strlen(lower_name);
  for (const std::string &line : c.header_lines) {
    if (line.size() > n && line[n] == ':' && ascii_lower(line.substr(0, n)) == lower_name) {
      return true;
    }
  }
  return false;
}

// Splits opts->headers into validated "Name: value" lines.
int compile_headers(lbk_check *c, const char *text) {
  std::string all(text);
  size_t start = 0;
  int line_no = 1;
  while (start <= all.size()) {
    size_t nl = all.find('\n', start);
    if (nl == std::string::npos) nl = all.size();
    std::string line = all.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    start = nl + 1;
    if (line.empty()) {
      line_no++;
      continue;
    }
    const size_t colon = line.find(':');
    const std::string name = colon == std::string::npos ? "" : line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    while (!value.empty() && (value[0] == ' ' || value[0] == '\t')) value.erase(0, 1);
    if (!is_token(name) || !is_header_value(value)) {
      return set_error(LBK_EINVAL,
                       "check headers line %d: \"%s\" is not \"Name: value\"", line_no,
                       line.c_str());
    }
    const std::string lname = ascii_lower(name);
    if (lname == "content-length" || lname == "transfer-encoding" ||
        lname == "connection") {
      return set_error(LBK_EINVAL,
                       "check headers line %d: %s is set by lbkit and may not be given",
                       line_no, name.c_str());
    }
    c->header_lines.push_back(name + ": " + value);
    line_no++;
  }
  return LBK_OK;
}

int compile(lbk_check *c, const lbk_check_options &o) {
  if (int rc = check_version(o.version, LBK_CHECK_OPTIONS_VERSION, "check options",
                             "LBK_CHECK_OPTIONS_INIT"))
    return rc;
  if (o.kind < LBK_CHECK_TCP || o.kind > LBK_CHECK_AGENT) {
    return set_error(LBK_EINVAL, "check options: unknown kind %d", o.kind);
  }
  c->kind = o.kind;
  if (o.rise < 1 || o.rise > kMaxRiseFall || o.fall < 1 || o.fall > kMaxRiseFall) {
    return set_error(LBK_ERANGE, "check options: rise %u / fall %u must be 1..%u", o.rise,
                     o.fall, kMaxRiseFall);
  }
  c->rise = o.rise;
  c->fall = o.fall;
  if (o.inter_ms == 0 || o.timeout_ms == 0) {
    return set_error(LBK_ERANGE, "check options: inter_ms %u and timeout_ms %u must be > 0",
                     o.inter_ms, o.timeout_ms);
  }
  c->inter_ms = o.inter_ms;
  c->fastinter_ms = o.fastinter_ms != 0 ? o.fastinter_ms : o.inter_ms;
  c->downinter_ms = o.downinter_ms != 0 ? o.downinter_ms : o.inter_ms;
  c->timeout_ms = o.timeout_ms;
  if (o.jitter_pct > kMaxJitterPct) {
    return set_error(LBK_ERANGE, "check options: jitter_pct %u is above %u", o.jitter_pct,
                     kMaxJitterPct);
  }
  c->jitter_pct = o.jitter_pct;
  if (o.initial_health != LBK_HEALTH_UNKNOWN && o.initial_health != LBK_HEALTH_UP &&
      o.initial_health != LBK_HEALTH_DOWN) {
    return set_error(LBK_EINVAL, "check options: initial_health %d is not an lbk_health",
                     o.initial_health);
  }
  c->initial_health = o.initial_health;

  c->method = o.method != nullptr ? o.method
                                  : (c->kind == LBK_CHECK_JSONRPC ? "POST" : "GET");
  if (!is_token(c->method)) {
    return set_error(LBK_EINVAL, "check options: method \"%s\" is not an HTTP token",
                     c->method.c_str());
  }
  if (o.path != nullptr) c->path = o.path;
  if (!is_request_target(c->path)) {
    return set_error(LBK_EINVAL,
                     "check options: path \"%s\" must start with '/' and contain no "
                     "spaces or control characters",
                     c->path.c_str());
  }
  if (o.host != nullptr) {
    c->has_host = true;
    c->host = o.host;
    if (c->host.empty() || !is_header_value(c->host) ||
        c->host.find(' ') != std::string::npos) {
      return set_error(LBK_EINVAL, "check options: host \"%s\" is not a valid Host",
                       c->host.c_str());
    }
  }
  if (o.headers != nullptr) {
    const int rc = compile_headers(c, o.headers);
    if (rc != LBK_OK) return rc;
  }
  if (o.body != nullptr) {
    if (c->kind == LBK_CHECK_JSONRPC) {
      return set_error(LBK_EINVAL,
                       "check options: a jsonrpc check builds its own body; set "
                       "jsonrpc_method and jsonrpc_params instead of body");
    }
    c->has_body = true;
    c->body = o.body;
  }
  std::string status_error;
  if (!parse_status_list(&c->expect_status,
                         o.expect_status != nullptr ? o.expect_status : "200-399",
                         &status_error)) {
    return set_error(LBK_EPARSE, "check options: %s", status_error.c_str());
  }
  if (o.expect_body != nullptr && o.expect_body[0] != '\0') {
    c->has_expect_body = true;
    c->expect_body = o.expect_body;
  }

  if (o.jsonrpc_method != nullptr) c->jsonrpc_method = o.jsonrpc_method;
  if (c->jsonrpc_method.empty()) {
    return set_error(LBK_EINVAL, "check options: jsonrpc_method is empty");
  }
  if (o.jsonrpc_params != nullptr) {
    const nlohmann::json params =
        nlohmann::json::parse(o.jsonrpc_params, nullptr, false);
    if (params.is_discarded() || !(params.is_array() || params.is_object())) {
      return set_error(LBK_EPARSE,
                       "check options: jsonrpc_params \"%s\" is not a JSON array or object",
                       o.jsonrpc_params);
    }
    c->jsonrpc_params = params.dump();
  }
  if (o.jsonrpc_field != nullptr) {
    c->has_jsonrpc_field = true;
    c->jsonrpc_field = o.jsonrpc_field;
  }
  if (o.max_lag < 0) {
    return set_error(LBK_ERANGE, "check options: max_lag %lld is negative",
                     static_cast<long long>(o.max_lag));
  }
  if (c->kind == LBK_CHECK_JSONRPC && !c->has_jsonrpc_field) {
    // A known head method reads its head where its chain profile says.
    const lbk_chain_profile *profile = lbk_chain_profile_by_head_method(c->jsonrpc_method.c_str());
    if (profile != nullptr) {
      c->has_jsonrpc_field = true;
      c->jsonrpc_field = profile->head_field;
    }
  }
  if (o.max_lag > 0 && !c->has_jsonrpc_field) {
    return set_error(LBK_EINVAL,
                     "check options: max_lag needs jsonrpc_field (the value to compare)");
  }
  c->max_lag = o.max_lag;
  if (o.version_field != nullptr) {
    c->has_version_field = true;
    c->version_field = o.version_field;
  }
  if (o.min_version != nullptr) {
    std::vector<uint64_t> parts;
    if (!lbk::proto::parse_version(o.min_version, &parts)) {
      return set_error(LBK_EPARSE, "check options: min_version \"%s\" has no number",
                       o.min_version);
    }
    if (!c->has_version_field) {
      return set_error(LBK_EINVAL,
                       "check options: min_version needs version_field (where to read it)");
    }
    c->has_min_version = true;
    c->min_version = o.min_version;
  }
  if (o.agent_send != nullptr) {
    c->has_agent_send = true;
    c->agent_send = o.agent_send;
  }
  if (o.max_header_bytes != 0) {
    if (o.max_header_bytes < kMinHeaderLimit) {
      return set_error(LBK_ERANGE, "check options: max_header_bytes %u is below %u",
                       o.max_header_bytes, kMinHeaderLimit);
    }
    c->max_header_bytes = o.max_header_bytes;
  }
  if (o.max_body_bytes != 0) c->max_body_bytes = o.max_body_bytes;
  return LBK_OK;
}

std::string jsonrpc_body(const lbk_check &c) {
  // params is stored as compact JSON already; the method is escaped here.
  return "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":" +
         nlohmann::json(c.jsonrpc_method).dump(-1, ' ', false,
                                               nlohmann::json::error_handler_t::replace) +
         ",\"params\":" + c.jsonrpc_params + "}";
}

// Renders the request bytes of @p c for @p host into *out.
int render_request(std::string *out, const lbk_check &c, const char *host) {
  out->clear();
  switch (c.kind) {
    case LBK_CHECK_TCP:
      return LBK_OK;
    case LBK_CHECK_AGENT:
      if (c.has_agent_send) *out = c.agent_send;
      return LBK_OK;
    default:
      break;
  }
  const std::string host_value = c.has_host ? c.host : (host != nullptr ? host : "");
  if (host_value.empty() && !has_header(c, "host")) {
    return set_error(LBK_EINVAL,
                     "%s check: no Host: pass the peer's host or set the check's host",
                     lbk_check_kind_name(c.kind));
  }
  if (!is_header_value(host_value) || host_value.find(' ') != std::string::npos) {
    return set_error(LBK_EINVAL, "%s check: host \"%s\" is not a valid Host",
                     lbk_check_kind_name(c.kind), host_value.c_str());
  }
  const bool jsonrpc = c.kind == LBK_CHECK_JSONRPC;
  const std::string body = jsonrpc ? jsonrpc_body(c) : c.body;
  std::string &r = *out;
  r.reserve(256 + body.size());
  r += c.method + " " + c.path + " HTTP/1.1\r\n";
  if (!has_header(c, "host")) r += "Host: " + host_value + "\r\n";
  if (!has_header(c, "user-agent")) r += "User-Agent: lbkit/" LBK_VERSION_STRING "\r\n";
  if (jsonrpc && !has_header(c, "content-type")) r += "Content-Type: application/json\r\n";
  if (!has_header(c, "accept")) r += jsonrpc ? "Accept: application/json\r\n" : "Accept: */*\r\n";
  r += "Connection: close\r\n";
  for (const std::string &line : c.header_lines) r += line + "\r\n";
  const bool sends_body = jsonrpc || c.has_body || c.method == "POST" ||
                          c.method == "PUT" || c.method == "PATCH";
  if (sends_body) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n";
  r += body;
  return LBK_OK;
}

}  // namespace

int copy_to_buffer(char *buf, size_t *inout_len, const std::string &bytes,
                   const char *who) {
  const size_t size = *inout_len;
  *inout_len = bytes.size();
  if (bytes.size() > size) {
    return set_error(LBK_ERANGE, "%s: needs %zu bytes, the buffer has %zu", who,
                     bytes.size(), size);
  }
  if (!bytes.empty()) std::memcpy(buf, bytes.data(), bytes.size());
  if (bytes.size() < size) buf[bytes.size()] = '\0';
  return LBK_OK;
}

std::string check_label(const lbk_check &c) {
  return std::string(lbk_check_kind_name(c.kind)) + " check";
}

}  // namespace health
}  // namespace lbk

extern "C" {

LBK_EXTERN int lbk_check_create(lbk_check **out, const lbk_check_options *opts) try {
  lbk::clear_error();
  if (out == nullptr || opts == nullptr) {
    return lbk::set_error(LBK_EINVAL, "lbk_check_create: out and opts must not be NULL");
  }
  *out = nullptr;
  std::unique_ptr<lbk_check> check(new lbk_check());
  const int rc = lbk::health::compile(check.get(), *opts);
  if (rc != LBK_OK) return rc;
  *out = check.release();
  return LBK_OK;
} LBK_API_CATCH

LBK_EXTERN void lbk_check_free(lbk_check *check) { delete check; }

LBK_EXTERN int lbk_check_kind(const lbk_check *check) {
  lbk::clear_error();
  if (check == nullptr) return lbk::set_error(LBK_EINVAL, "lbk_check_kind: NULL check");
  return check->kind;
}

LBK_EXTERN int lbk_check_request(char *buf, size_t *inout_len, const lbk_check *check,
                                 const char *host) try {
  lbk::clear_error();
  if (inout_len == nullptr || check == nullptr || (buf == nullptr && *inout_len != 0)) {
    return lbk::set_error(LBK_EINVAL, "lbk_check_request: NULL argument");
  }
  std::string request;
  const int rc = lbk::health::render_request(&request, *check, host);
  if (rc != LBK_OK) return rc;
  return lbk::health::copy_to_buffer(buf, inout_len, request, "lbk_check_request");
} LBK_API_CATCH

}  // extern "C"
