// pool_copy_test.cc - lbk_pool_peer_state_copy(): what a reload keeps.
#include <gtest/gtest.h>

#include <cstring>

#include "lbkit.h"
#include "pool_test_support.h"

namespace {

lbk_peer_info info_of(lbk_pool *pool, uint32_t id) {
  lbk_peer_info info;
  std::memset(&info, 0, sizeof info);
  info.version = LBK_PEER_INFO_VERSION;
  EXPECT_EQ(lbk_pool_peer_info(&info, pool, id), 0) << lbk_error_last();
  return info;
}

// Feeds @p n failing http verdicts for @p id.
void fail_checks(lbk_pool *pool, uint32_t id, const lbk_check *check, int n) {
  for (int i = 0; i < n; ++i) {
    lbk_check_result r;
    lbk_check_result_fail(&r, LBK_CHECK_FAIL_TIMEOUT, "timed out after 1000ms");
    ASSERT_EQ(lbk_pool_report_check(nullptr, pool, id, check, &r), 0)
        << lbk_error_last();
  }
}

TEST(PoolCopy, CarriesHealthCountersAndLatencyButNotActiveOrConfig) {
  lbktest::PoolFixture src("round_robin"), dst("round_robin");
  dst.clock.now_us = src.clock.now_us;

  uint32_t a = src.add("a"), b = src.add("b", 1, false, 0, 1, 10000);
  for (int i = 0; i < 6; ++i) src.pick_release(std::string(), 5000);
  src.fail(b);  // max_fails=1: b is out for fail_timeout

  lbk_check *check = nullptr;
  lbk_check_options co = LBK_CHECK_OPTIONS_INIT;
  ASSERT_EQ(lbk_check_create(&check, &co), 0) << lbk_error_last();
  fail_checks(src.pool, a, check, 3);  // fall=3: a goes down

  uint32_t none = LBK_PEER_NONE;  // a is down, b failed: nothing usable
  ASSERT_EQ(lbk_pool_pick(&none, src.pool, nullptr, 0, nullptr, 0),
            LBK_ENOPEER);

  // The new pool lists the servers in another order, with a new one.
  uint32_t nc = dst.add("c"), nb = dst.add("b", 3), na = dst.add("a");
  ASSERT_EQ(lbk_pool_peer_state_copy(dst.pool, na, src.pool, a), 0)
      << lbk_error_last();
  ASSERT_EQ(lbk_pool_peer_state_copy(dst.pool, nb, src.pool, b), 0)
      << lbk_error_last();

  lbk_peer_info sa = info_of(src.pool, a), da = info_of(dst.pool, na);
  EXPECT_EQ(da.health, LBK_HEALTH_DOWN);
  EXPECT_EQ(da.usable, 0);
  EXPECT_EQ(da.requests, sa.requests);
  EXPECT_EQ(da.successes, sa.successes);
  EXPECT_EQ(da.ewma_latency_us, sa.ewma_latency_us);
  EXPECT_EQ(da.checks, 3u);
  EXPECT_EQ(da.checks_failed, 3u);
  EXPECT_STREQ(da.last_reason, sa.last_reason);
  EXPECT_NE(da.last_reason[0], '\0');

  lbk_peer_info db = info_of(dst.pool, nb);
  EXPECT_EQ(db.failures, 1u);
  EXPECT_EQ(db.fails_in_window, 1u);
  EXPECT_EQ(db.usable, 0);
  EXPECT_EQ(db.weight, 3u);  // configuration comes from the new pool

  lbk_peer_info dc = info_of(dst.pool, nc);  // new server: initial state
  EXPECT_EQ(dc.requests, 0u);
  EXPECT_EQ(dc.usable, 1);

  // Only c is usable in the new pool: the copied states take effect.
  for (int i = 0; i < 4; ++i) {
    uint32_t id = dst.pick_release();
    EXPECT_EQ(id, nc);
  }

  // One more health report continues from the copied counter: a success
  // does not bring `a` back while rise (2) is not reached.
  lbk_check_result ok;
  std::memset(&ok, 0, sizeof ok);
  ok.version = LBK_CHECK_RESULT_VERSION;
  ok.outcome = LBK_CHECK_PASS;
  ok.agent_state = -1;
  ok.agent_weight_pct = -1;
  ok.agent_maxconn = -1;
  ASSERT_EQ(lbk_pool_report_check(nullptr, dst.pool, na, check, &ok), 0);
  EXPECT_EQ(info_of(dst.pool, na).health, LBK_HEALTH_DOWN);
  ASSERT_EQ(lbk_pool_report_check(nullptr, dst.pool, na, check, &ok), 0);
  EXPECT_EQ(info_of(dst.pool, na).health, LBK_HEALTH_UP);
  lbk_check_free(check);
}

TEST(PoolCopy, ActiveCountStaysWithTheSourcePool) {
  lbktest::PoolFixture src("round_robin"), dst("round_robin");
  uint32_t a = src.add("a");
  uint32_t id = LBK_PEER_NONE;
  ASSERT_EQ(lbk_pool_pick(&id, src.pool, nullptr, 0, nullptr, 0), 0);
  ASSERT_EQ(id, a);
  uint32_t na = dst.add("a");
  ASSERT_EQ(lbk_pool_peer_state_copy(dst.pool, na, src.pool, a), 0);
  EXPECT_EQ(info_of(src.pool, a).active, 1u);
  EXPECT_EQ(info_of(dst.pool, na).active, 0u);
  lbk_outcome oc = LBK_OUTCOME_INIT;
  EXPECT_EQ(lbk_pool_release(src.pool, a, &oc), 0);
}

TEST(PoolCopy, RejectsUnknownIdsAndNullPools) {
  lbktest::PoolFixture src("round_robin"), dst("round_robin");
  uint32_t a = src.add("a"), na = dst.add("a");
  EXPECT_EQ(lbk_pool_peer_state_copy(dst.pool, na + 5, src.pool, a),
            LBK_ENOTFOUND);
  EXPECT_NE(std::strstr(lbk_error_last(), "destination"), nullptr);
  EXPECT_EQ(lbk_pool_peer_state_copy(dst.pool, na, src.pool, a + 7),
            LBK_ENOTFOUND);
  EXPECT_EQ(lbk_pool_peer_state_copy(nullptr, na, src.pool, a), LBK_EINVAL);
  EXPECT_EQ(lbk_pool_peer_state_copy(dst.pool, na, nullptr, a), LBK_EINVAL);
}

}  // namespace
