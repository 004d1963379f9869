// cli/failover.h: JSON-RPC methods of a body, reads and writes, and which
// replies make lbctl forward try the next node.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "failover.h"

namespace {

using lbctl::judge_reply;
using lbctl::kDefaultFailoverErrors;

TEST(LbctlFailover, MethodsOfCallsAndBatches) {
  std::vector<std::string> m;
  ASSERT_TRUE(lbctl::jsonrpc_methods(R"({"jsonrpc":"2.0","id":1,"method":"eth_call","params":[]})", m));
  EXPECT_EQ(m, std::vector<std::string>{"eth_call"});
  ASSERT_TRUE(lbctl::jsonrpc_methods(R"([{"method":"a"},{"method":"eth_sendRawTransaction"}])", m));
  EXPECT_EQ(lbctl::first_write_method(m, nullptr), "eth_sendRawTransaction");
  ASSERT_TRUE(lbctl::jsonrpc_methods(R"([{"method":"eth_blockNumber"},{"method":"eth_call"}])", m));
  EXPECT_EQ(lbctl::first_write_method(m, nullptr), "");
  EXPECT_FALSE(lbctl::jsonrpc_methods("plain", m));
  EXPECT_FALSE(lbctl::jsonrpc_methods("[]", m));
  EXPECT_FALSE(lbctl::jsonrpc_methods(R"([{"method":"a"},{"id":2}])", m));
}

TEST(LbctlFailover, NodeFailuresAndApplicationErrors) {
  auto failed = [](long status, const std::string &body) {
    return judge_reply(status, body, kDefaultFailoverErrors).node_failed;
  };
  EXPECT_TRUE(failed(503, "busy"));
  EXPECT_TRUE(failed(429, ""));
  EXPECT_FALSE(failed(404, ""));
  EXPECT_TRUE(judge_reply(404, "", kDefaultFailoverErrors).is_error);
  EXPECT_TRUE(failed(200, R"({"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"limit exceeded"}})"));
  EXPECT_TRUE(failed(200, R"({"id":1,"error":{"code":-32000,"message":"header not found"}})"));
  EXPECT_TRUE(failed(200, R"([{"id":1,"result":"0x1"},{"id":2,"error":{"code":-32000,"message":"missing trie node abc"}}])"));
  EXPECT_FALSE(failed(200, R"({"id":1,"error":{"code":3,"message":"execution reverted"}})"));
  EXPECT_FALSE(failed(200, R"({"id":1,"error":{"code":-32000,"message":"execution reverted: timeout"}})"));
  EXPECT_FALSE(failed(200, R"({"id":1,"error":{"code":-32602,"message":"invalid params: timeout"}})"));
  EXPECT_FALSE(failed(200, R"({"id":1,"result":"0x1"})"));
  const lbctl::ReplyJudgement app = judge_reply(200, R"({"id":1,"error":{"code":3,"message":"execution reverted"}})",
                                                kDefaultFailoverErrors);
  EXPECT_TRUE(app.is_error);
  EXPECT_EQ(app.why, "jsonrpc error 3: execution reverted");
  // The list is configurable: codes and texts.
  EXPECT_TRUE(judge_reply(200, R"({"id":1,"error":{"code":-1,"message":"x"}})", "-1").node_failed);
  EXPECT_FALSE(judge_reply(200, R"({"id":1,"error":{"code":-32005,"message":"x"}})", "busy").node_failed);
}

}  // namespace
