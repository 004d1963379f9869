// JSON-RPC judge: result / error / invalid JSON / value extraction (chain
// head) / versions, directly and through an lbk_check_reply.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "health_test_support.h"
#include "lbkit.h"
#include "proto/jsonrpc.h"

namespace {

using lbk::proto::JsonRpcExpect;
using lbk::proto::JsonRpcVerdict;

JsonRpcVerdict judge(const std::string &body, const JsonRpcExpect &e = JsonRpcExpect()) {
  return lbk::proto::judge_jsonrpc(body.data(), body.size(), e);
}

JsonRpcExpect value_at(const std::string &path) {
  JsonRpcExpect e;
  e.has_value_path = true;
  e.value_path = path;
  return e;
}

TEST(JsonRpc, ResultPasses) {
  const JsonRpcVerdict v = judge(R"({"jsonrpc":"2.0","id":1,"result":"0x10"})");
  EXPECT_EQ(LBK_CHECK_PASS, v.outcome);
  EXPECT_FALSE(v.has_value);
  // A null result is still a result; a null error is no error.
  EXPECT_EQ(LBK_CHECK_PASS, judge(R"({"jsonrpc":"2.0","id":1,"result":null})").outcome);
  EXPECT_EQ(LBK_CHECK_PASS,
            judge(R"({"jsonrpc":"2.0","id":1,"result":true,"error":null})").outcome);
}

TEST(JsonRpc, ErrorFailsWithCodeAndMessage) {
  const JsonRpcVerdict v = judge(
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}})");
  EXPECT_EQ(LBK_CHECK_FAIL_JSONRPC, v.outcome);
  EXPECT_EQ("jsonrpc error -32000: header not found", v.reason);
  // An error wins even next to a result.
  EXPECT_EQ(LBK_CHECK_FAIL_JSONRPC,
            judge(R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1}})").outcome);
}

TEST(JsonRpc, JsonRpc1RepliesAsBitcoinCoreSendsThem) {
  const JsonRpcVerdict ok = judge(R"({"result":{"blocks":850000},"error":null,"id":1})");
  EXPECT_EQ(LBK_CHECK_PASS, ok.outcome) << ok.reason;
  const JsonRpcVerdict err =
      judge(R"({"result":null,"error":{"code":-28,"message":"Loading block index"},"id":1})");
  EXPECT_EQ(LBK_CHECK_FAIL_JSONRPC, err.outcome);
  EXPECT_NE(std::string::npos, err.reason.find("-28")) << err.reason;
}

TEST(JsonRpc, InvalidRepliesFail) {
  const char *bad[] = {
      "",
      "not json",
      R"({"jsonrpc":"2.0","id":1,"result":)",
      R"([{"jsonrpc":"2.0","id":1,"result":1}])",
      R"({"id":1,"result":1})",
      R"({"jsonrpc":"1.0","id":1,"result":1})",
      R"({"jsonrpc":"2.0","id":1})",
      "\"just a string\"",
  };
  for (const char *body : bad) {
    SCOPED_TRACE(body);
    const JsonRpcVerdict v = judge(body);
    EXPECT_EQ(LBK_CHECK_FAIL_JSONRPC, v.outcome);
    EXPECT_FALSE(v.reason.empty());
  }
}

TEST(JsonRpc, DeepNestingIsRefusedWithoutRecursion) {
  const auto nested = [](const char *member, int depth) {
    return std::string(R"({"jsonrpc":"2.0","id":1,")") + member + "\":" +
           std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  // A million levels would overflow the stack of a recursive parser.
  const JsonRpcVerdict deep = judge(nested("result", 1000000));
  EXPECT_EQ(LBK_CHECK_FAIL_JSONRPC, deep.outcome);
  EXPECT_NE(std::string::npos, deep.reason.find("deeper than"));
  EXPECT_EQ(LBK_CHECK_FAIL_JSONRPC, judge(nested("error", 1000000)).outcome);
  EXPECT_EQ(LBK_CHECK_PASS, judge(nested("result", 100)).outcome);
  // Brackets inside strings do not count.
  EXPECT_EQ(LBK_CHECK_PASS,
            judge(R"({"jsonrpc":"2.0","id":1,"result":")" + std::string(1000, '[') +
                  R"(\"["})")
                .outcome);
}

TEST(JsonRpc, ValueExtraction) {
  JsonRpcVerdict v = judge(R"({"jsonrpc":"2.0","id":1,"result":"0x1b4"})", value_at(""));
  EXPECT_EQ(LBK_CHECK_PASS, v.outcome);
  EXPECT_TRUE(v.has_value);
  EXPECT_EQ(436, v.value);
  v = judge(R"({"jsonrpc":"2.0","id":1,"result":{"number":"0xA","hash":"0x0"}})",
            value_at("number"));
  EXPECT_EQ(10, v.value);
  v = judge(R"({"jsonrpc":"2.0","id":1,"result":{"a":{"b":[5,{"c":"123"}]}}})",
            value_at("a.b.1.c"));
  EXPECT_EQ(123, v.value);
  v = judge(R"({"jsonrpc":"2.0","id":1,"result":{"slot":18446744073}})", value_at("slot"));
  EXPECT_EQ(18446744073, v.value);
  v = judge(R"({"jsonrpc":"2.0","id":1,"result":2.0})", value_at(""));
  EXPECT_EQ(2, v.value);
}

TEST(JsonRpc, MissingOrNonNumericValueFails) {
  const char *cases[][2] = {
      {R"({"jsonrpc":"2.0","id":1,"result":{"x":1}})", "number"},
      {R"({"jsonrpc":"2.0","id":1,"result":"0xZZ"})", ""},
      {R"({"jsonrpc":"2.0","id":1,"result":"0x"})", ""},
      {R"({"jsonrpc":"2.0","id":1,"result":"0x10000000000000000"})", ""},
      {R"({"jsonrpc":"2.0","id":1,"result":1.5})", ""},
      {R"({"jsonrpc":"2.0","id":1,"result":[1,2]})", "5"},
      {R"({"jsonrpc":"2.0","id":1,"result":18446744073709551615})", ""},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c[0]);
    const JsonRpcVerdict v = judge(c[0], value_at(c[1]));
    EXPECT_EQ(LBK_CHECK_FAIL_JSONRPC, v.outcome);
    EXPECT_FALSE(v.has_value);
  }
}

TEST(JsonRpc, NumberTexts) {
  int64_t v = 0;
  EXPECT_TRUE(lbk::proto::parse_number_text("0x7fffffffffffffff", &v));
  EXPECT_EQ(INT64_MAX, v);
  EXPECT_FALSE(lbk::proto::parse_number_text("0x8000000000000000", &v));
  EXPECT_TRUE(lbk::proto::parse_number_text("-9223372036854775808", &v));
  EXPECT_EQ(INT64_MIN, v);
  EXPECT_FALSE(lbk::proto::parse_number_text("9223372036854775808", &v));
  EXPECT_TRUE(lbk::proto::parse_number_text("42", &v));
  EXPECT_EQ(42, v);
  EXPECT_FALSE(lbk::proto::parse_number_text("4 2", &v));
  EXPECT_FALSE(lbk::proto::parse_number_text("-", &v));
}

TEST(JsonRpc, Versions) {
  std::vector<uint64_t> v;
  ASSERT_TRUE(lbk::proto::parse_version("Geth/v1.10.26-stable/linux-amd64/go1.18.5", &v));
  EXPECT_EQ((std::vector<uint64_t>{1, 10, 26}), v);
  ASSERT_TRUE(lbk::proto::parse_version("2", &v));
  EXPECT_EQ((std::vector<uint64_t>{2}), v);
  EXPECT_FALSE(lbk::proto::parse_version("none", &v));
  using lbk::proto::compare_versions;
  EXPECT_EQ(0, compare_versions({1, 2}, {1, 2, 0}));
  EXPECT_LT(compare_versions({1, 9, 99}, {1, 10}), 0);
  EXPECT_GT(compare_versions({2}, {1, 99, 99}), 0);
}

TEST(JsonRpc, OldVersionFails) {
  JsonRpcExpect e;
  e.has_version_path = true;
  e.version_path = "";
  e.has_min_version = true;
  ASSERT_TRUE(lbk::proto::parse_version("1.10.0", &e.min_version));
  JsonRpcVerdict v = judge(R"({"jsonrpc":"2.0","id":1,"result":"Geth/v1.9.25-stable"})", e);
  EXPECT_EQ(LBK_CHECK_FAIL_VERSION, v.outcome);
  EXPECT_EQ("version 1.9.25 is below 1.10.0", v.reason);
  EXPECT_EQ("Geth/v1.9.25-stable", v.version);
  v = judge(R"({"jsonrpc":"2.0","id":1,"result":"Geth/v1.10.0-stable"})", e);
  EXPECT_EQ(LBK_CHECK_PASS, v.outcome);
  EXPECT_EQ("Geth/v1.10.0-stable", v.version);
  v = judge(R"({"jsonrpc":"2.0","id":1,"result":"unversioned"})", e);
  EXPECT_EQ(LBK_CHECK_FAIL_VERSION, v.outcome);
  e.version_path = "client.version";
  v = judge(R"({"jsonrpc":"2.0","id":1,"result":{"client":{}}})", e);
  EXPECT_EQ(LBK_CHECK_FAIL_VERSION, v.outcome);
}

// The same judge through the public API: a lagging head is reported as a
// value (the pool compares peers), an old version fails.
TEST(JsonRpc, ThroughCheckReply) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_JSONRPC;
  o.jsonrpc_field = "";
  o.max_lag = 5;
  lbk_check *check = nullptr;
  ASSERT_EQ(0, lbk_check_create(&check, &o));
  lbk_check_reply *reply = nullptr;
  ASSERT_EQ(0, lbk_check_reply_create(&reply, check));
  const std::string http = lbk_test::http_ok(R"({"jsonrpc":"2.0","id":1,"result":"0x64"})");
  EXPECT_EQ(0, lbk_check_reply_feed(reply, http.data(), http.size()));
  lbk_check_result r;
  ASSERT_EQ(0, lbk_check_reply_result(&r, reply));
  EXPECT_EQ(LBK_CHECK_PASS, r.outcome);
  EXPECT_EQ(200, r.http_status);
  EXPECT_EQ(1, r.has_value);
  EXPECT_EQ(100, r.value);
  EXPECT_STREQ("status 200, value 100", r.reason);

  lbk_check_reply_reset(reply);
  const std::string err = R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no such method"}})";
  const std::string http_err = "HTTP/1.1 200 OK\r\n\r\n" + err;
  EXPECT_EQ(LBK_EAGAIN, lbk_check_reply_feed(reply, http_err.data(), http_err.size()));
  EXPECT_EQ(LBK_EAGAIN, lbk_check_reply_result(&r, reply));
  EXPECT_EQ(0, lbk_check_reply_eof(reply));
  ASSERT_EQ(0, lbk_check_reply_result(&r, reply));
  EXPECT_EQ(LBK_CHECK_FAIL_JSONRPC, r.outcome);
  EXPECT_STREQ("jsonrpc error -32601: no such method", r.reason);
  lbk_check_reply_free(reply);
  lbk_check_free(check);
}

TEST(JsonRpc, CheckReplyMinVersion) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_JSONRPC;
  o.jsonrpc_method = "web3_clientVersion";
  o.version_field = "";
  o.min_version = "1.13";
  lbk_check *check = nullptr;
  ASSERT_EQ(0, lbk_check_create(&check, &o));
  lbk_check_reply *reply = nullptr;
  ASSERT_EQ(0, lbk_check_reply_create(&reply, check));
  const std::string http = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
                           R"({"jsonrpc":"2.0","id":1,"result":"Geth/v1.12.2"}  )";
  ASSERT_EQ(50u, http.size() - http.find("\r\n\r\n") - 4);
  EXPECT_EQ(0, lbk_check_reply_feed(reply, http.data(), http.size()));
  lbk_check_result r;
  ASSERT_EQ(0, lbk_check_reply_result(&r, reply));
  EXPECT_EQ(LBK_CHECK_FAIL_VERSION, r.outcome);
  EXPECT_STREQ("Geth/v1.12.2", r.version_str);
  lbk_check_reply_free(reply);
  lbk_check_free(check);
}

}  // namespace

namespace {

// A lagging head end to end: the check extracts each node's head and the
// pool compares it with the best healthy node's (max_lag 5).
lbk_check_result head_reply(const lbk_check *check, int64_t head) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(head));
  const std::string body = std::string(R"({"jsonrpc":"2.0","id":1,"result":{"number":")") +
                           hex + "\"}}";
  return lbk_test::verdict_of(check, lbk_test::http_ok(body), false);
}

// A JSON-RPC check with max_lag 5 and a pool of two peers, a and b.
struct LagPool {
  lbk_check *check = nullptr;
  lbk_pool *pool = nullptr;
  uint32_t a = 0, b = 0;
  LagPool() {
    lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
    o.kind = LBK_CHECK_JSONRPC;
    o.jsonrpc_method = "eth_getBlockByNumber";
    o.jsonrpc_params = R"(["latest", false])";
    o.jsonrpc_field = "number";
    o.max_lag = 5;
    EXPECT_EQ(0, lbk_check_create(&check, &o));
    lbk_pool_options po = LBK_POOL_OPTIONS_INIT;
    EXPECT_EQ(0, lbk_pool_create(&pool, &po));
    lbk_peer_config pa = LBK_PEER_CONFIG_INIT, pb = LBK_PEER_CONFIG_INIT;
    pa.name = "a";
    pb.name = "b";
    EXPECT_EQ(0, lbk_pool_add(&a, pool, &pa));
    EXPECT_EQ(0, lbk_pool_add(&b, pool, &pb));
  }
  ~LagPool() {
    lbk_pool_free(pool);
    lbk_check_free(check);
  }
  lbk_peer_info info(uint32_t id) const {
    lbk_peer_info out;
    out.version = LBK_PEER_INFO_VERSION;
    EXPECT_EQ(0, lbk_pool_peer_info(&out, pool, id));
    return out;
  }
};

TEST(JsonRpc, LaggingHeadFailsInThePool) {
  LagPool f;
  lbk_check_result ra = head_reply(f.check, 1000);
  ASSERT_EQ(LBK_CHECK_PASS, ra.outcome);
  ASSERT_EQ(0, lbk_pool_report_check(nullptr, f.pool, f.a, f.check, &ra));
  lbk_check_result rb = head_reply(f.check, 995);  // lag 5: still fine
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(0, lbk_pool_report_check(&ev, f.pool, f.b, f.check, &rb));
  EXPECT_EQ(LBK_CHECK_PASS, ev.outcome);
  lbk_peer_info info = f.info(f.b);
  EXPECT_EQ(LBK_HEALTH_UP, info.health);
  EXPECT_EQ(5, info.lag);

  rb = head_reply(f.check, 994);  // lag 6 > max_lag
  ASSERT_EQ(LBK_CHECK_PASS, rb.outcome);
  ASSERT_EQ(0, lbk_pool_report_check(&ev, f.pool, f.b, f.check, &rb));
  // The pool's verdict travels in the event: the reply passed, the check did not.
  EXPECT_EQ(LBK_CHECK_FAIL_LAG, ev.outcome);
  EXPECT_EQ(1u, ev.failures);
  info = f.info(f.b);
  EXPECT_EQ(6, info.lag);
  EXPECT_EQ(994, info.value);
  EXPECT_EQ(0, info.last_check_ok);
  EXPECT_NE(nullptr, std::strstr(ev.reason, "jsonrpc check: ")) << ev.reason;
  EXPECT_NE(nullptr, std::strstr(ev.reason, "max_lag")) << ev.reason;
  // b was fully up (counter 4 of rise 2 + fall 3): one lagging check is 1 of 3.
  EXPECT_EQ(LBK_HEALTH_UP, info.health);

  // A failed reply keeps its own outcome (no value, nothing to compare).
  lbk_check_result down;
  lbk_check_result_fail(&down, LBK_CHECK_FAIL_TIMEOUT, "after 1000ms");
  ASSERT_EQ(0, lbk_pool_report_check(&ev, f.pool, f.b, f.check, &down));
  EXPECT_EQ(LBK_CHECK_FAIL_TIMEOUT, ev.outcome);
}

// The same verdict at an explicit time: the pool records the caller's clock.
TEST(JsonRpc, ReportAtTheCallersTimeJudgesLagAlike) {
  LagPool f;
  lbk_check_result ra = head_reply(f.check, 1000), rb = head_reply(f.check, 900);
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(0, lbk_pool_report_check_at(&ev, f.pool, f.a, f.check, &ra, 7000000));
  EXPECT_EQ(LBK_CHECK_PASS, ev.outcome);
  ASSERT_EQ(0, lbk_pool_report_check_at(&ev, f.pool, f.b, f.check, &rb, 8000000));
  EXPECT_EQ(LBK_CHECK_FAIL_LAG, ev.outcome);
  const lbk_peer_info info = f.info(f.b);
  EXPECT_EQ(8000000u, info.last_check_us);
  EXPECT_EQ(100, info.lag);
}

}  // namespace
