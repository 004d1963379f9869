// lbk_*_init(): each fills its struct as the LBK_*_INIT macro does, writes
// only the bytes of the version asked for, and refuses NULL and versions
// outside 1..current; the functions that take these structs accept every
// version from 1 to the current one.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "lbkit.h"

namespace {

template <class T> bool same_bytes(const T &a, const T &b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// The struct @p init fills over garbage, at the current version.
template <class T> T filled_by(int (*init)(T *, unsigned int), unsigned version) {
  T value;
  std::memset(static_cast<void *>(&value), 0x5a, sizeof value);
  EXPECT_EQ(0, init(&value, version)) << lbk_error_last();
  return value;
}

// @p init stamps the version asked for and refuses NULL, 0 and current + 1.
template <class T>
void expect_version_range(int (*init)(T *, unsigned int), unsigned current) {
  T value;
  ASSERT_EQ(0, init(&value, current)) << lbk_error_last();
  EXPECT_EQ(current, value.version);
  EXPECT_EQ(LBK_EINVAL, init(nullptr, current));
  EXPECT_EQ(LBK_EINVAL, init(&value, 0));
  EXPECT_NE(nullptr, std::strstr(lbk_error_last(), "version 0 is not 1.."));
  EXPECT_EQ(LBK_EINVAL, init(&value, current + 1));
}

TEST(StructInit, PoolOptionsAsTheMacro) {
  const lbk_pool_options m = LBK_POOL_OPTIONS_INIT;
  lbk_pool_options o = filled_by(lbk_pool_options_init, LBK_POOL_OPTIONS_VERSION);
  EXPECT_EQ(m.version, o.version);
  EXPECT_EQ(m.method, o.method);
  EXPECT_EQ(m.max_peers, o.max_peers);
  EXPECT_EQ(m.hash_kind, o.hash_kind);
  EXPECT_EQ(m.balance_factor, o.balance_factor);
  EXPECT_EQ(m.ewma_decay_us, o.ewma_decay_us);
  EXPECT_EQ(m.slow_start_us, o.slow_start_us);
  EXPECT_EQ(m.clock, o.clock);
  EXPECT_EQ(m.rng_ud, o.rng_ud);
  EXPECT_EQ(m.seed, o.seed);
  // A pool created from it works.
  lbk_pool *pool = nullptr;
  ASSERT_EQ(0, lbk_pool_create(&pool, &o)) << lbk_error_last();
  EXPECT_STREQ("round_robin", lbk_pool_method(pool));
  lbk_pool_free(pool);
  expect_version_range(lbk_pool_options_init, LBK_POOL_OPTIONS_VERSION);
}

TEST(StructInit, PeerConfigAsTheMacro) {
  const lbk_peer_config m = LBK_PEER_CONFIG_INIT;
  lbk_peer_config p = filled_by(lbk_peer_config_init, LBK_PEER_CONFIG_VERSION);
  EXPECT_EQ(m.name, p.name);
  EXPECT_EQ(m.address, p.address);
  EXPECT_EQ(1u, p.weight);
  EXPECT_EQ(m.max_conns, p.max_conns);
  EXPECT_EQ(1u, p.max_fails);
  EXPECT_EQ(10000u, p.fail_timeout_ms);
  EXPECT_EQ(m.backup, p.backup);
  EXPECT_EQ(m.down, p.down);
  expect_version_range(lbk_peer_config_init, LBK_PEER_CONFIG_VERSION);
}

TEST(StructInit, CheckOptionsAsTheMacro) {
  const lbk_check_options m = LBK_CHECK_OPTIONS_INIT;
  lbk_check_options c = filled_by(lbk_check_options_init, LBK_CHECK_OPTIONS_VERSION);
  EXPECT_EQ(LBK_CHECK_HTTP, c.kind);
  EXPECT_EQ(m.rise, c.rise);
  EXPECT_EQ(m.fall, c.fall);
  EXPECT_EQ(m.inter_ms, c.inter_ms);
  EXPECT_EQ(m.timeout_ms, c.timeout_ms);
  EXPECT_EQ(m.jitter_pct, c.jitter_pct);
  EXPECT_EQ(LBK_HEALTH_UP, c.initial_health);
  EXPECT_EQ(nullptr, c.path);
  EXPECT_EQ(nullptr, c.agent_send);
  EXPECT_EQ(m.max_lag, c.max_lag);
  EXPECT_EQ(m.max_body_bytes, c.max_body_bytes);
  lbk_check *check = nullptr;
  ASSERT_EQ(0, lbk_check_create(&check, &c)) << lbk_error_last();
  EXPECT_EQ(LBK_CHECK_HTTP, lbk_check_kind(check));
  lbk_check_free(check);
  expect_version_range(lbk_check_options_init, LBK_CHECK_OPTIONS_VERSION);
}

TEST(StructInit, AgentReplyAsTheMacro) {
  const lbk_agent_reply m = LBK_AGENT_REPLY_INIT;
  lbk_agent_reply r = filled_by(lbk_agent_reply_init, LBK_AGENT_REPLY_VERSION);
  EXPECT_TRUE(same_bytes(m, r));
  expect_version_range(lbk_agent_reply_init, LBK_AGENT_REPLY_VERSION);
}

TEST(StructInit, CheckResultIsABlankPass) {
  lbk_check_result r = filled_by(lbk_check_result_init, LBK_CHECK_RESULT_VERSION);
  EXPECT_EQ(LBK_CHECK_RESULT_VERSION, r.version);
  EXPECT_EQ(LBK_CHECK_PASS, r.outcome);
  EXPECT_EQ(0, r.http_status);
  EXPECT_EQ(0, r.has_value);
  EXPECT_EQ(-1, r.agent_state);
  EXPECT_EQ(-1, r.agent_weight_pct);
  EXPECT_EQ(-1, r.agent_maxconn);
  EXPECT_STREQ("", r.reason);
  EXPECT_STREQ("", r.version_str);
  EXPECT_EQ(LBK_EINVAL, lbk_check_result_init(&r, 0));
  EXPECT_EQ(LBK_EINVAL, lbk_check_result_init(&r, LBK_CHECK_RESULT_VERSION + 1));
}

// Version 1 of lbk_outcome ends at bytes_sent: init must not write past it.
TEST(StructInit, OutcomeVersionOneWritesOnlyItsFields) {
  std::vector<unsigned char> mem(sizeof(lbk_outcome), 0xa5);
  lbk_outcome *o = reinterpret_cast<lbk_outcome *>(mem.data());
  ASSERT_EQ(0, lbk_outcome_init(o, 1));
  EXPECT_EQ(1u, o->version);
  EXPECT_EQ(LBK_OUTCOME_OK, o->result);
  EXPECT_EQ(0u, o->latency_us);
  EXPECT_EQ(0, o->status);
  for (size_t i = offsetof(lbk_outcome, bytes_sent); i < mem.size(); ++i)
    ASSERT_EQ(0xa5, mem[i]) << "byte " << i << " is beyond version 1";
  ASSERT_EQ(0, lbk_outcome_init(o, LBK_OUTCOME_VERSION));
  EXPECT_EQ(0u, o->bytes_sent);
  EXPECT_EQ(0u, o->response_time_us);
  expect_version_range(lbk_outcome_init, LBK_OUTCOME_VERSION);
}

TEST(StructInit, PeerInfoVersionOneWritesOnlyItsFields) {
  std::vector<unsigned char> mem(sizeof(lbk_peer_info), 0xa5);
  lbk_peer_info *info = reinterpret_cast<lbk_peer_info *>(mem.data());
  ASSERT_EQ(0, lbk_peer_info_init(info, 1));
  EXPECT_EQ(1u, info->version);
  EXPECT_EQ(0u, info->active);
  for (size_t i = offsetof(lbk_peer_info, responses); i < mem.size(); ++i)
    ASSERT_EQ(0xa5, mem[i]) << "byte " << i << " is beyond version 1";
  EXPECT_EQ(LBK_EINVAL, lbk_peer_info_init(info, LBK_PEER_INFO_VERSION + 1));
}

// Every function taking a versioned struct accepts 1..current, no other.
TEST(StructVersions, AcceptedFromOneToCurrent) {
  lbk_pool_options po = LBK_POOL_OPTIONS_INIT;
  lbk_pool *pool = nullptr;
  for (unsigned v : {0u, LBK_POOL_OPTIONS_VERSION + 1u}) {
    po.version = v;
    EXPECT_EQ(LBK_EINVAL, lbk_pool_create(&pool, &po)) << v;
    EXPECT_NE(nullptr, std::strstr(lbk_error_last(), "LBK_POOL_OPTIONS_INIT"));
  }
  po.version = 1;
  ASSERT_EQ(0, lbk_pool_create(&pool, &po)) << lbk_error_last();

  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  pc.name = "a";
  uint32_t id = LBK_PEER_NONE;
  pc.version = LBK_PEER_CONFIG_VERSION + 1;
  EXPECT_EQ(LBK_EINVAL, lbk_pool_add(&id, pool, &pc));
  pc.version = 1;
  ASSERT_EQ(0, lbk_pool_add(&id, pool, &pc)) << lbk_error_last();

  for (unsigned v = 1; v <= LBK_OUTCOME_VERSION; ++v) {
    uint32_t picked = LBK_PEER_NONE;
    ASSERT_EQ(0, lbk_pool_pick(&picked, pool, nullptr, 0, nullptr, 0));
    lbk_outcome o;
    ASSERT_EQ(0, lbk_outcome_init(&o, v));
    EXPECT_EQ(0, lbk_pool_release(pool, picked, &o)) << v;
  }
  lbk_outcome bad = LBK_OUTCOME_INIT;
  bad.version = LBK_OUTCOME_VERSION + 1;
  EXPECT_EQ(LBK_EINVAL, lbk_pool_release(pool, id, &bad));

  lbk_check_options co = LBK_CHECK_OPTIONS_INIT;
  co.kind = LBK_CHECK_TCP;
  lbk_check *check = nullptr;
  co.version = LBK_CHECK_OPTIONS_VERSION + 1;
  EXPECT_EQ(LBK_EINVAL, lbk_check_create(&check, &co));
  EXPECT_EQ(nullptr, check);
  co.version = 1;
  ASSERT_EQ(0, lbk_check_create(&check, &co)) << lbk_error_last();

  lbk_check_result r;
  ASSERT_EQ(0, lbk_check_result_init(&r, 1));
  EXPECT_EQ(0, lbk_pool_report_check(nullptr, pool, id, check, &r));
  r.version = LBK_CHECK_RESULT_VERSION + 1;
  EXPECT_EQ(LBK_EINVAL, lbk_pool_report_check(nullptr, pool, id, check, &r));

  lbk_check_free(check);
  lbk_pool_free(pool);
}

}  // namespace
