// lbk_chain_profile_*: the JSON-RPC defaults of each chain family, and the
// head field a JSON-RPC check takes from them.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "lbkit.h"

namespace {

TEST(ChainProfile, EveryNamedProfileAndTheDefault) {
  for (const char *name : {"ethereum", "bitcoin", "steem", "hive", "solana"}) {
    const lbk_chain_profile *p = lbk_chain_profile_find(name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_STREQ(p->name, name);
    EXPECT_GT(p->max_lag, 0) << name;
    EXPECT_NE(p->head_method[0], '\0') << name;
    EXPECT_NE(std::string(lbk_chain_profile_names()).find(name), std::string::npos) << name;
  }
  EXPECT_STREQ(lbk_chain_profile_find(nullptr)->name, "ethereum");
  EXPECT_STREQ(lbk_chain_profile_find("")->name, "ethereum");
  EXPECT_EQ(lbk_chain_profile_find("dogecoin"), nullptr);
  const lbk_chain_profile *steem = lbk_chain_profile_find("steem");
  EXPECT_STREQ(steem->head_method, "condenser_api.get_dynamic_global_properties");
  EXPECT_STREQ(steem->head_field, "head_block_number");
  EXPECT_STREQ(lbk_chain_profile_by_head_method("getSlot")->name, "solana");
  EXPECT_EQ(lbk_chain_profile_by_head_method("eth_call"), nullptr);
}

TEST(ChainProfile, WriteMethods) {
  const lbk_chain_profile *eth = lbk_chain_profile_find("ethereum");
  EXPECT_TRUE(lbk_chain_profile_is_write(eth, "eth_sendRawTransaction"));
  EXPECT_TRUE(lbk_chain_profile_is_write(nullptr, "eth_sendTransaction"));
  EXPECT_TRUE(lbk_chain_profile_is_write(eth, "personal_unlockAccount"));  // prefix item
  EXPECT_FALSE(lbk_chain_profile_is_write(eth, "eth_call"));
  EXPECT_FALSE(lbk_chain_profile_is_write(eth, "eth_sendRawTransactionX"));
  EXPECT_FALSE(lbk_chain_profile_is_write(eth, nullptr));
  const lbk_chain_profile *hive = lbk_chain_profile_find("hive");
  EXPECT_TRUE(lbk_chain_profile_is_write(hive, "condenser_api.broadcast_transaction_synchronous"));
  EXPECT_TRUE(lbk_chain_profile_is_write(hive, "network_broadcast_api.broadcast_transaction"));
  EXPECT_FALSE(lbk_chain_profile_is_write(hive, "condenser_api.get_block"));
  EXPECT_TRUE(lbk_chain_profile_is_write(lbk_chain_profile_find("bitcoin"), "sendrawtransaction"));
  EXPECT_TRUE(lbk_chain_profile_is_write(lbk_chain_profile_find("solana"), "sendTransaction"));
}

// max_lag alone on a JSON-RPC check of a head method: the head is read
// where the profile says, so the lag can be judged (the nginx module's
// `type=jsonrpc max_lag=5`).
TEST(ChainProfile, MaxLagAloneReadsTheProfilesHead) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_JSONRPC;
  o.max_lag = 5;
  lbk_check *check = nullptr;
  ASSERT_EQ(0, lbk_check_create(&check, &o)) << lbk_error_last();
  lbk_check_reply *reply = nullptr;
  ASSERT_EQ(0, lbk_check_reply_create(&reply, check));
  const char bytes[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x10\"}";
  EXPECT_EQ(0, lbk_check_reply_feed(reply, bytes, std::strlen(bytes)));
  lbk_check_result r;
  ASSERT_EQ(0, lbk_check_reply_result(&r, reply));
  EXPECT_EQ(r.outcome, LBK_CHECK_PASS) << r.reason;
  EXPECT_EQ(r.has_value, 1);
  EXPECT_EQ(r.value, 16);
  lbk_check_reply_free(reply);
  lbk_check_free(check);
  // A method no profile knows still needs its field.
  o.jsonrpc_method = "eth_getBlockByNumber";
  EXPECT_EQ(LBK_EINVAL, lbk_check_create(&check, &o));
}

}  // namespace
