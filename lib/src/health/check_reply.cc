// check_reply.cc - lbk_check_reply_*: reads one reply incrementally and
// judges it against its check; lbk_check_result_fail for driver failures.
//
// Verdicts come as early as the reply allows: an http(s) check with no
// expect_body is judged once the headers are in (its body is not read), and
// any http-like check fails as soon as the status is outside the set.
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "api.h"
#include "error_internal.h"
#include "health/check_internal.h"
#include "proto/agent_reply.h"
#include "proto/http_response.h"
#include "proto/jsonrpc.h"
#include "proto/text_util.h"

struct lbk_check_reply {
  explicit lbk_check_reply(const lbk_check *c)
      : check(c), http(lbk::proto::HttpResponseParser::Limits{c->max_header_bytes,
                                                             c->max_body_bytes}) {}

  const lbk_check *check;
  lbk::proto::HttpResponseParser http;
  lbk::proto::JsonRpcExpect jsonrpc_expect;
  std::string agent_line;
  bool done = false;
  lbk_check_result result{};
};

namespace lbk {
namespace health {

void blank_result(lbk_check_result *r) {
  std::memset(r, 0, sizeof *r);
  r->version = LBK_CHECK_RESULT_VERSION;
  r->agent_state = -1;
  r->agent_weight_pct = -1;
  r->agent_maxconn = -1;
}

namespace {

void finish(lbk_check_reply *reply, int outcome, const std::string &reason) {
  reply->done = true;
  reply->result.outcome = outcome;
  copy_reason(reply->result.reason, reason);
}

bool is_http_like(int kind) {
  return kind == LBK_CHECK_HTTP || kind == LBK_CHECK_HTTPS || kind == LBK_CHECK_JSONRPC;
}

bool needs_body(const lbk_check &c) {
  return c.kind == LBK_CHECK_JSONRPC || c.has_expect_body;
}

void prepare(lbk_check_reply *reply) {
  reply->done = false;
  reply->agent_line.clear();
  reply->http.reset();
  blank_result(&reply->result);
  const lbk_check &c = *reply->check;
  if (c.kind == LBK_CHECK_TCP) {
    // Connecting is the whole of a tcp check: the driver only asks for this
    // verdict once its connection succeeded.
    finish(reply, LBK_CHECK_PASS, "connected");
  }
}

void judge_status(lbk_check_reply *reply) {
  const int status = reply->http.status();
  reply->result.http_status = status;
  finish(reply, LBK_CHECK_FAIL_STATUS, "status " + std::to_string(status));
}

void judge_http(lbk_check_reply *reply) {
  const lbk_check &c = *reply->check;
  const int status = reply->http.status();
  reply->result.http_status = status;
  if (!status_in(c.expect_status, status)) {
    judge_status(reply);
    return;
  }
  const std::string status_text = "status " + std::to_string(status);
  const std::string &body = reply->http.body();
  if (c.has_expect_body && body.find(c.expect_body) == std::string::npos) {
    finish(reply, LBK_CHECK_FAIL_BODY,
           status_text + ", body lacks " + proto::quoted_excerpt(c.expect_body, 60));
    return;
  }
  if (c.kind != LBK_CHECK_JSONRPC) {
    finish(reply, LBK_CHECK_PASS, status_text);
    return;
  }
  const proto::JsonRpcVerdict v =
      proto::judge_jsonrpc(body.data(), body.size(), reply->jsonrpc_expect);
  reply->result.has_value = v.has_value ? 1 : 0;
  reply->result.value = v.value;
  copy_reason(reply->result.version_str, v.version);
  finish(reply, v.outcome, v.outcome == LBK_CHECK_PASS ? status_text + ", " + v.reason
                                                       : v.reason);
}

void on_http_state(lbk_check_reply *reply, proto::HttpResponseParser::State state) {
  using State = proto::HttpResponseParser::State;
  const lbk_check &c = *reply->check;
  switch (state) {
    case State::kError:
      reply->result.http_status = reply->http.status();
      finish(reply, LBK_CHECK_FAIL_PROTOCOL, "malformed reply: " + reply->http.error());
      return;
    case State::kLimit:
      reply->result.http_status = reply->http.status();
      finish(reply, LBK_CHECK_FAIL_LIMIT, reply->http.error());
      return;
    case State::kComplete:
      judge_http(reply);
      return;
    case State::kNeedMore:
      if (!reply->http.headers_complete()) return;
      if (!status_in(c.expect_status, reply->http.status())) {
        judge_status(reply);
      } else if (!needs_body(c)) {
        judge_http(reply);
      }
      return;
  }
}

void judge_agent(lbk_check_reply *reply) {
  lbk_agent_reply parsed;
  std::string error;
  const std::string &line = reply->agent_line;
  if (proto::parse_agent_reply(&parsed, line.data(), line.size(), &error) != LBK_OK) {
    finish(reply, LBK_CHECK_FAIL_PROTOCOL, error);
    return;
  }
  lbk_check_result &r = reply->result;
  r.agent_state = parsed.state == LBK_AGENT_NONE ? -1 : parsed.state;
  r.agent_weight_pct = parsed.weight_pct;
  r.agent_maxconn = parsed.maxconn;
  size_t end = 0;
  while (end < line.size() && line[end] != '\r' && line[end] != '\n') end++;
  const std::string text = "reply " + proto::quoted_excerpt(line.substr(0, end), 120);
  const bool says_down = parsed.state == LBK_AGENT_DOWN || parsed.state == LBK_AGENT_FAIL ||
                         parsed.state == LBK_AGENT_STOPPED || parsed.state == LBK_AGENT_MAINT;
  finish(reply, says_down ? LBK_CHECK_FAIL_AGENT : LBK_CHECK_PASS, text);
}

void feed_agent(lbk_check_reply *reply, const char *data, size_t len) {
  const size_t cap = reply->check->max_header_bytes;
  size_t take = 0;
  while (take < len && data[take] != '\r' && data[take] != '\n') take++;
  const bool line_ends = take < len;
  if (reply->agent_line.size() + take > cap) {
    finish(reply, LBK_CHECK_FAIL_LIMIT,
           "agent reply longer than " + std::to_string(cap) + " bytes");
    return;
  }
  reply->agent_line.append(data, take);
  if (line_ends) judge_agent(reply);
}

}  // namespace
}  // namespace health
}  // namespace lbk

extern "C" {

LBK_EXTERN int lbk_check_reply_create(lbk_check_reply **out, const lbk_check *check) try {
  lbk::clear_error();
  if (out == nullptr || check == nullptr) {
    return lbk::set_error(LBK_EINVAL, "lbk_check_reply_create: NULL argument");
  }
  *out = nullptr;
  std::unique_ptr<lbk_check_reply> reply(new lbk_check_reply(check));
  lbk::proto::JsonRpcExpect &e = reply->jsonrpc_expect;
  e.has_value_path = check->has_jsonrpc_field;
  e.value_path = check->jsonrpc_field;
  e.has_version_path = check->has_version_field;
  e.version_path = check->version_field;
  e.has_min_version =
      check->has_min_version && lbk::proto::parse_version(check->min_version, &e.min_version);
  reply->http.set_head_request(check->method == "HEAD");
  reply->http.set_keep_body(lbk::health::needs_body(*check));
  lbk::health::prepare(reply.get());
  *out = reply.release();
  return LBK_OK;
} LBK_API_CATCH

LBK_EXTERN void lbk_check_reply_reset(lbk_check_reply *reply) {
  if (reply != nullptr) lbk::health::prepare(reply);
}

LBK_EXTERN void lbk_check_reply_free(lbk_check_reply *reply) { delete reply; }

LBK_EXTERN int lbk_check_reply_feed(lbk_check_reply *reply, const void *data,
                                    size_t len) try {
  lbk::clear_error();
  if (reply == nullptr || (data == nullptr && len != 0)) {
    return lbk::set_error(LBK_EINVAL, "lbk_check_reply_feed: NULL argument");
  }
  if (reply->done) return LBK_OK;
  if (len == 0) return LBK_EAGAIN;
  const char *bytes = static_cast<const char *>(data);
  try {
    if (reply->check->kind == LBK_CHECK_AGENT) {
      lbk::health::feed_agent(reply, bytes, len);
    } else if (lbk::health::is_http_like(reply->check->kind)) {
      lbk::health::on_http_state(reply, reply->http.feed(bytes, len));
    }
  } catch (const std::bad_alloc &) {
    lbk::health::finish(reply, LBK_CHECK_FAIL_LIMIT, "out of memory reading the reply");
  } catch (const std::exception &e) {
    // Never expected (the JSON parser runs without exceptions); a C caller
    // must not see one either way.
    lbk::health::finish(reply, LBK_CHECK_FAIL_PROTOCOL,
                        std::string("reply could not be judged: ") + e.what());
  }
  return reply->done ? LBK_OK : LBK_EAGAIN;
} LBK_API_CATCH

LBK_EXTERN int lbk_check_reply_eof(lbk_check_reply *reply) try {
  lbk::clear_error();
  if (reply == nullptr) return lbk::set_error(LBK_EINVAL, "lbk_check_reply_eof: NULL reply");
  if (reply->done) return LBK_OK;
  try {
    if (reply->check->kind == LBK_CHECK_AGENT) {
      if (reply->agent_line.empty()) {
        lbk::health::finish(reply, LBK_CHECK_FAIL_PROTOCOL,
                            "connection closed without a reply");
      } else {
        lbk::health::judge_agent(reply);  // a last line without its newline
      }
    } else {
      lbk::health::on_http_state(reply, reply->http.eof());
    }
  } catch (const std::bad_alloc &) {
    lbk::health::finish(reply, LBK_CHECK_FAIL_LIMIT, "out of memory reading the reply");
  } catch (const std::exception &e) {
    // Never expected (the JSON parser runs without exceptions); a C caller
    // must not see one either way.
    lbk::health::finish(reply, LBK_CHECK_FAIL_PROTOCOL,
                        std::string("reply could not be judged: ") + e.what());
  }
  return LBK_OK;
} LBK_API_CATCH

LBK_EXTERN int lbk_check_reply_result(lbk_check_result *out,
                                      const lbk_check_reply *reply) {
  lbk::clear_error();
  if (out == nullptr || reply == nullptr) {
    return lbk::set_error(LBK_EINVAL, "lbk_check_reply_result: NULL argument");
  }
  if (!reply->done) return LBK_EAGAIN;
  *out = reply->result;
  return LBK_OK;
}

LBK_EXTERN void lbk_check_result_fail(lbk_check_result *out, int outcome,
                                      const char *detail) {
  if (out == nullptr) return;
  lbk::health::blank_result(out);
  out->outcome = outcome;
  // Phrased to follow the check's name: "http check timed out after 1000ms".
  // Other outcomes take the detail verbatim ("status 500").
  const bool has_detail = detail != nullptr && detail[0] != '\0';
  const char *phrase = has_detail ? "" : outcome == LBK_CHECK_PASS ? "passed" : "failed";
  const char *separator = "";
  switch (outcome) {
    case LBK_CHECK_FAIL_TIMEOUT: phrase = "timed out"; separator = " "; break;
    case LBK_CHECK_FAIL_CONNECT: phrase = "connect failed"; separator = ": "; break;
    case LBK_CHECK_FAIL_TLS: phrase = "TLS failed"; separator = ": "; break;
    case LBK_CHECK_FAIL_DNS: phrase = "DNS lookup failed"; separator = ": "; break;
    default: break;
  }
  const int n = std::snprintf(out->reason, sizeof out->reason, "%s%s", phrase,
                              has_detail ? separator : "");
  if (has_detail && n >= 0 && static_cast<size_t>(n) < sizeof out->reason) {
    // A long detail is cut to the buffer at a character boundary.
    lbk_utf8_copy(out->reason + n, sizeof out->reason - static_cast<size_t>(n), detail,
                  std::strlen(detail));
  }
}

}  // extern "C"
