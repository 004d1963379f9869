// lbk_check_*: option validation, request rendering, reply verdicts.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "health_test_support.h"
#include "lbkit.h"

namespace {

struct Check {
  explicit Check(const lbk_check_options &o) { rc = lbk_check_create(&p, &o); }
  ~Check() { lbk_check_free(p); }
  lbk_check *p = nullptr;
  int rc;
};

std::string request_of(const lbk_check *c, const char *host) {
  size_t len = 0;
  int rc = lbk_check_request(nullptr, &len, c, host);
  if (rc == 0) return std::string();
  EXPECT_EQ(LBK_ERANGE, rc);
  std::string buf(len, '\0');
  EXPECT_EQ(0, lbk_check_request(&buf[0], &len, c, host)) << lbk_error_last();
  buf.resize(len);
  return buf;
}

using lbk_test::verdict_of;

TEST(Check, DefaultsCompile) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  Check c(o);
  ASSERT_EQ(0, c.rc);
  EXPECT_EQ(LBK_CHECK_HTTP, lbk_check_kind(c.p));
  EXPECT_EQ(LBK_EINVAL, lbk_check_create(nullptr, &o));
}

TEST(Check, BadOptionsAreRejectedWithTheirName) {
  struct Case {
    void (*mutate)(lbk_check_options *);
    int code;
    const char *mentions;
  };
  const Case cases[] = {
      {[](lbk_check_options *o) { o->version = 0; }, LBK_EINVAL, "version"},
      {[](lbk_check_options *o) { o->kind = 9; }, LBK_EINVAL, "kind"},
      {[](lbk_check_options *o) { o->rise = 0; }, LBK_ERANGE, "rise"},
      {[](lbk_check_options *o) { o->fall = 0; }, LBK_ERANGE, "fall"},
      {[](lbk_check_options *o) { o->inter_ms = 0; }, LBK_ERANGE, "inter_ms"},
      {[](lbk_check_options *o) { o->jitter_pct = 51; }, LBK_ERANGE, "jitter_pct"},
      {[](lbk_check_options *o) { o->initial_health = 7; }, LBK_EINVAL, "initial_health"},
      {[](lbk_check_options *o) { o->method = "GE T"; }, LBK_EINVAL, "method"},
      {[](lbk_check_options *o) { o->path = "health"; }, LBK_EINVAL, "path"},
      {[](lbk_check_options *o) { o->path = "/a\r\nX: y"; }, LBK_EINVAL, "path"},
      {[](lbk_check_options *o) { o->headers = "X-Ok: 1\nbroken"; }, LBK_EINVAL, "line 2"},
      {[](lbk_check_options *o) { o->headers = "Content-Length: 3"; }, LBK_EINVAL,
       "Content-Length"},
      {[](lbk_check_options *o) { o->expect_status = "200-399,4O4"; }, LBK_EPARSE, "4O4"},
      {[](lbk_check_options *o) { o->expect_status = "399-200"; }, LBK_EPARSE, "399-200"},
      {[](lbk_check_options *o) { o->expect_status = ""; }, LBK_EPARSE, "expect_status"},
      {[](lbk_check_options *o) { o->expect_status = "200,"; }, LBK_EPARSE, "item 2"},
      {[](lbk_check_options *o) { o->jsonrpc_params = "[1,"; }, LBK_EPARSE, "jsonrpc_params"},
      {[](lbk_check_options *o) { o->max_lag = 3; }, LBK_EINVAL, "jsonrpc_field"},
      {[](lbk_check_options *o) { o->max_lag = -1; }, LBK_ERANGE, "max_lag"},
      {[](lbk_check_options *o) { o->min_version = "x"; }, LBK_EPARSE, "min_version"},
      {[](lbk_check_options *o) { o->min_version = "1.2"; }, LBK_EINVAL, "version_field"},
      {[](lbk_check_options *o) { o->max_header_bytes = 10; }, LBK_ERANGE,
       "max_header_bytes"},
  };
  for (const Case &c : cases) {
    lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
    c.mutate(&o);
    lbk_check *check = nullptr;
    EXPECT_EQ(c.code, lbk_check_create(&check, &o)) << c.mentions;
    EXPECT_EQ(nullptr, check);
    EXPECT_NE(nullptr, std::strstr(lbk_error_last(), c.mentions))
        << "message \"" << lbk_error_last() << "\" should name " << c.mentions;
  }
}

TEST(Check, HttpRequest) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.path = "/healthz?full=1";
  o.headers = "X-Token: abc\r\n\nAccept: text/plain";
  Check c(o);
  ASSERT_EQ(0, c.rc) << lbk_error_last();
  EXPECT_EQ("GET /healthz?full=1 HTTP/1.1\r\n"
            "Host: api.example:8080\r\n"
            "User-Agent: lbkit/" LBK_VERSION_STRING "\r\n"
            "Connection: close\r\n"
            "X-Token: abc\r\n"
            "Accept: text/plain\r\n"
            "\r\n",
            request_of(c.p, "api.example:8080"));
  // Without a host anywhere an HTTP request cannot be built.
  size_t len = 0;
  EXPECT_EQ(LBK_EINVAL, lbk_check_request(nullptr, &len, c.p, nullptr));
}

TEST(Check, HttpRequestWithBodyAndConfiguredHost) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.method = "POST";
  o.host = "status.internal";
  o.body = "ping";
  Check c(o);
  ASSERT_EQ(0, c.rc);
  EXPECT_EQ("POST / HTTP/1.1\r\n"
            "Host: status.internal\r\n"
            "User-Agent: lbkit/" LBK_VERSION_STRING "\r\n"
            "Accept: */*\r\n"
            "Connection: close\r\n"
            "Content-Length: 4\r\n"
            "\r\n"
            "ping",
            request_of(c.p, "10.0.0.1"));
}

TEST(Check, JsonRpcRequest) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_JSONRPC;
  o.path = "/rpc";
  o.jsonrpc_method = "eth_getBlockByNumber";
  o.jsonrpc_params = "[ \"latest\", false ]";
  Check c(o);
  ASSERT_EQ(0, c.rc);
  const std::string body =
      R"({"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]})";
  EXPECT_EQ("POST /rpc HTTP/1.1\r\n"
            "Host: node1\r\n"
            "User-Agent: lbkit/" LBK_VERSION_STRING "\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json\r\n"
            "Connection: close\r\n"
            "Content-Length: " + std::to_string(body.size()) + "\r\n"
            "\r\n" + body,
            request_of(c.p, "node1"));
}

TEST(Check, JsonRpcMethodIsEscaped) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_JSONRPC;
  o.jsonrpc_method = "a\"b";
  Check c(o);
  ASSERT_EQ(0, c.rc);
  EXPECT_NE(std::string::npos, request_of(c.p, "h").find(R"("method":"a\"b","params":[]})"));
}

TEST(Check, AgentAndTcpRequests) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_AGENT;
  o.agent_send = "backend-a\n";
  Check agent(o);
  ASSERT_EQ(0, agent.rc);
  EXPECT_EQ("backend-a\n", request_of(agent.p, nullptr));
  o.agent_send = nullptr;
  Check silent(o);
  size_t len = 5;
  char buf[5];
  EXPECT_EQ(0, lbk_check_request(buf, &len, silent.p, nullptr));
  EXPECT_EQ(0u, len);
  o.kind = LBK_CHECK_TCP;
  Check tcp(o);
  len = 5;
  EXPECT_EQ(0, lbk_check_request(buf, &len, tcp.p, "h"));
  EXPECT_EQ(0u, len);
}

TEST(Check, RequestBufferTooSmallReportsTheSizeNeeded) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  Check c(o);
  const std::string full = request_of(c.p, "h");
  char small[10];
  size_t len = sizeof small;
  EXPECT_EQ(LBK_ERANGE, lbk_check_request(small, &len, c.p, "h"));
  EXPECT_EQ(full.size(), len);
}

TEST(Check, StatusSet) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.expect_status = "200, 204, 300-302";
  Check c(o);
  ASSERT_EQ(0, c.rc);
  const struct {
    int status;
    int outcome;
  } cases[] = {{200, LBK_CHECK_PASS},        {204, LBK_CHECK_PASS},
               {301, LBK_CHECK_PASS},        {302, LBK_CHECK_PASS},
               {201, LBK_CHECK_FAIL_STATUS}, {303, LBK_CHECK_FAIL_STATUS},
               {500, LBK_CHECK_FAIL_STATUS}};
  for (const auto &k : cases) {
    const std::string reply =
        "HTTP/1.1 " + std::to_string(k.status) + " X\r\nContent-Length: 0\r\n\r\n";
    const lbk_check_result r = verdict_of(c.p, reply, false);
    EXPECT_EQ(k.outcome, r.outcome) << k.status;
    EXPECT_EQ(k.status, r.http_status);
  }
  const lbk_check_result r =
      verdict_of(c.p, "HTTP/1.1 500 Internal\r\nContent-Length: 0\r\n\r\n", false);
  EXPECT_STREQ("status 500", r.reason);
}

TEST(Check, DefaultStatusRangeAndEarlyVerdict) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  Check c(o);
  lbk_check_reply *reply = nullptr;
  ASSERT_EQ(0, lbk_check_reply_create(&reply, c.p));
  // No expect_body: judged once the headers are in, the body is not needed.
  const std::string head = "HTTP/1.1 399 X\r\nContent-Length: 1000\r\n\r\n";
  EXPECT_EQ(0, lbk_check_reply_feed(reply, head.data(), head.size()));
  lbk_check_result r;
  ASSERT_EQ(0, lbk_check_reply_result(&r, reply));
  EXPECT_EQ(LBK_CHECK_PASS, r.outcome);
  EXPECT_EQ(0, lbk_check_reply_feed(reply, "more", 4));  // ignored after verdict
  lbk_check_reply_free(reply);
  EXPECT_EQ(LBK_CHECK_FAIL_STATUS,
            verdict_of(c.p, "HTTP/1.1 400 X\r\n\r\n", false).outcome);
}

TEST(Check, LargePageWithoutBodyCheckPasses) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.max_body_bytes = 16;  // only applies to bodies the check must read
  Check c(o);
  EXPECT_EQ(LBK_CHECK_PASS,
            verdict_of(c.p, "HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n", false)
                .outcome);
}

TEST(Check, BodySubstring) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.expect_body = "\"status\":\"ok\"";
  Check c(o);
  const std::string good =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\n{\"stat\r\n8\r\nus\":\"ok\"\r\n1\r\n}\r\n0\r\n\r\n";
  EXPECT_EQ(LBK_CHECK_PASS, verdict_of(c.p, good, false).outcome);
  const lbk_check_result bad =
      verdict_of(c.p, "HTTP/1.1 200 OK\r\n\r\n{\"status\":\"degraded\"}", true);
  EXPECT_EQ(LBK_CHECK_FAIL_BODY, bad.outcome);
  EXPECT_NE(nullptr, std::strstr(bad.reason, "body lacks"));
}

TEST(Check, LimitsAndGarbage) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.max_header_bytes = 128;
  o.max_body_bytes = 16;
  o.expect_body = "x";
  Check c(o);
  lbk_check_result r =
      verdict_of(c.p, "HTTP/1.1 200 OK\r\nX: " + std::string(200, 'a') + "\r\n\r\n", true);
  EXPECT_EQ(LBK_CHECK_FAIL_LIMIT, r.outcome);
  r = verdict_of(c.p, "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n", false);
  EXPECT_EQ(LBK_CHECK_FAIL_LIMIT, r.outcome);
  r = verdict_of(c.p, "SSH-2.0-OpenSSH_9.2\r\n", false);
  EXPECT_EQ(LBK_CHECK_FAIL_PROTOCOL, r.outcome);
  EXPECT_NE(nullptr, std::strstr(r.reason, "malformed reply"));
  r = verdict_of(c.p, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true);
  EXPECT_EQ(LBK_CHECK_FAIL_PROTOCOL, r.outcome);
}

TEST(Check, TcpPassesOnceConnected) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_TCP;
  Check c(o);
  lbk_check_reply *reply = nullptr;
  ASSERT_EQ(0, lbk_check_reply_create(&reply, c.p));
  lbk_check_result r;
  ASSERT_EQ(0, lbk_check_reply_result(&r, reply));
  EXPECT_EQ(LBK_CHECK_PASS, r.outcome);
  lbk_check_reply_free(reply);
}

TEST(Check, DriverFailures) {
  lbk_check_result r;
  lbk_check_result_fail(&r, LBK_CHECK_FAIL_TIMEOUT, "after 1000ms");
  EXPECT_EQ(LBK_CHECK_FAIL_TIMEOUT, r.outcome);
  EXPECT_STREQ("timed out after 1000ms", r.reason);
  EXPECT_EQ(-1, r.agent_state);
  lbk_check_result_fail(&r, LBK_CHECK_FAIL_CONNECT, "connection refused");
  EXPECT_STREQ("connect failed: connection refused", r.reason);
  lbk_check_result_fail(&r, LBK_CHECK_FAIL_TLS, nullptr);
  EXPECT_STREQ("TLS failed", r.reason);
  const std::string long_detail(500, 'z');
  lbk_check_result_fail(&r, LBK_CHECK_FAIL_DNS, long_detail.c_str());
  EXPECT_EQ(LBK_REASON_MAX - 1, std::strlen(r.reason));
}

}  // namespace
