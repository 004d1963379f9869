// Per-peer traffic statistics (lbk_outcome / lbk_peer_info version 2): the
// counters NGINX Plus reports for an upstream peer, kept in the pool block.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>

#include "lbkit.h"
#include "pool_test_support.h"

namespace {

using lbktest::PoolFixture;

lbk_peer_info info_of(const PoolFixture &f, uint32_t id,
                      unsigned version = LBK_PEER_INFO_VERSION) {
  lbk_peer_info info;
  std::memset(&info, 0xAB, sizeof info);
  info.version = version;
  EXPECT_EQ(lbk_pool_peer_info(&info, f.pool, id), 0) << lbk_error_last();
  return info;
}

// Picks @p id's pool (one peer) and releases with the given outcome.
void request(PoolFixture &f, int result, int status, uint64_t latency_us,
             uint64_t sent = 0, uint64_t received = 0, uint64_t header_us = 0,
             uint64_t response_us = 0) {
  uint32_t id;
  ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
  lbk_outcome o = LBK_OUTCOME_INIT;
  o.result = result;
  o.status = status;
  o.latency_us = latency_us;
  o.bytes_sent = sent;
  o.bytes_received = received;
  o.header_time_us = header_us;
  o.response_time_us = response_us;
  ASSERT_EQ(lbk_pool_release(f.pool, id, &o), 0) << lbk_error_last();
}

TEST(PoolStats, ResponsesByClassBytesAndMeanTimes) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a", 1, false, 0, /*max_fails=*/0);
  request(f, LBK_OUTCOME_OK, 200, 1000, 100, 1000, 400, 1000);
  request(f, LBK_OUTCOME_OK, 204, 3000, 50, 10, 600, 3000);
  request(f, LBK_OUTCOME_OK, 404, 2000, 10, 20, 0, 2000);
  request(f, LBK_OUTCOME_FAILED, 502, 500);
  request(f, LBK_OUTCOME_FAILED, 0, 500);  // no response at all
  request(f, LBK_OUTCOME_OK, 101, 100);
  lbk_peer_info i = info_of(f, a);
  EXPECT_EQ(i.responses[0], 1u);
  EXPECT_EQ(i.responses[1], 2u);
  EXPECT_EQ(i.responses[2], 0u);
  EXPECT_EQ(i.responses[3], 1u);
  EXPECT_EQ(i.responses[4], 1u);
  EXPECT_EQ(i.responses_total, 5u);
  EXPECT_EQ(i.requests, 6u);
  EXPECT_EQ(i.failures, 2u);
  EXPECT_EQ(i.bytes_sent, 160u);
  EXPECT_EQ(i.bytes_received, 1030u);
  EXPECT_EQ(i.header_time_avg_us, 500u);        // (400 + 600) / 2
  EXPECT_EQ(i.response_time_avg_us, 2000u);     // (1000 + 3000 + 2000) / 3
  // the pick of the last release: the clock minus its latency
  EXPECT_EQ(i.last_selected_us, f.clock.now_us - 100);
}

TEST(PoolStats, CancelledOutcomesCountNothing) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a");
  request(f, LBK_OUTCOME_CANCELLED, 200, 10, 5, 5, 5, 5);
  lbk_peer_info i = info_of(f, a);
  EXPECT_EQ(i.responses_total, 0u);
  EXPECT_EQ(i.bytes_sent, 0u);
  EXPECT_EQ(i.last_selected_us, 0u);
}

TEST(PoolStats, VersionOneOutcomesAndInfosStillWork) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a");
  uint32_t id;
  ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
  // a version 1 caller's struct: only the fields up to `status`
  struct {
    unsigned int version;
    int result;
    uint64_t latency_us;
    int status;
  } v1 = {1, LBK_OUTCOME_OK, 700, 503};
  ASSERT_EQ(lbk_pool_release(f.pool, id,
                             reinterpret_cast<const lbk_outcome *>(&v1)), 0)
      << lbk_error_last();
  lbk_peer_info i = info_of(f, a);
  EXPECT_EQ(i.responses[4], 1u);
  EXPECT_EQ(i.bytes_sent, 0u);
  EXPECT_EQ(i.response_time_avg_us, 0u);

  // version 1 info: the v2 part of the caller's memory is left untouched
  lbk_peer_info old = info_of(f, a, 1);
  EXPECT_EQ(old.version, 1u);
  EXPECT_EQ(old.requests, 1u);
  unsigned char pattern[sizeof old.responses];
  std::memset(pattern, 0xAB, sizeof pattern);
  EXPECT_EQ(std::memcmp(old.responses, pattern, sizeof pattern), 0);

  lbk_outcome bad = LBK_OUTCOME_INIT;
  bad.version = LBK_OUTCOME_VERSION + 1;
  EXPECT_EQ(lbk_pool_release(f.pool, a, &bad), LBK_EINVAL);
  lbk_peer_info future;
  future.version = LBK_PEER_INFO_VERSION + 1;
  EXPECT_EQ(lbk_pool_peer_info(&future, f.pool, a), LBK_EINVAL);
}

TEST(PoolStats, UnavailCountsEachTimeMaxFailsTakesThePeerOut) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a", 1, false, 0, /*max_fails=*/2, /*fail_timeout=*/1000);
  f.add("b", 1, false, 0, 0);
  lbk_outcome failed = LBK_OUTCOME_INIT;
  failed.result = LBK_OUTCOME_FAILED;
  auto fail_a = [&] {
    // releases need not follow a pick of the same peer for the counters
    ASSERT_EQ(lbk_pool_release(f.pool, a, &failed), 0);
  };
  fail_a();
  EXPECT_EQ(info_of(f, a).unavail, 0u);
  EXPECT_EQ(info_of(f, a).down_since_us, 0u);
  fail_a();
  lbk_peer_info i = info_of(f, a);
  EXPECT_EQ(i.unavail, 1u);
  uint64_t went_down = f.clock.now_us;
  EXPECT_EQ(i.down_since_us, went_down);
  f.clock.now_us += 300000;
  fail_a();  // still inside the window: not a new spell
  EXPECT_EQ(info_of(f, a).unavail, 1u);
  EXPECT_EQ(info_of(f, a).downtime_us, 300000u);
  // the window ends 1 s after the last failure; read 5 s later, the spell
  // ends where the window did
  f.clock.now_us += 5000000;
  i = info_of(f, a);
  EXPECT_EQ(i.down_since_us, 0u);
  EXPECT_EQ(i.downtime_us, 1300000u);
  // retried after the window, one failure takes it out again (nginx)
  fail_a();
  EXPECT_EQ(info_of(f, a).unavail, 2u);
}

TEST(PoolStats, UnhealthyAndDowntimeFromChecks) {
  PoolFixture f("round_robin");
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_TCP;
  o.rise = 1;
  o.fall = 1;
  lbk_check *check = nullptr;
  ASSERT_EQ(lbk_check_create(&check, &o), 0);
  uint32_t a = f.add("a");
  lbk_check_result r;
  std::memset(&r, 0, sizeof r);
  r.version = LBK_CHECK_RESULT_VERSION;
  r.agent_state = r.agent_weight_pct = r.agent_maxconn = -1;
  r.outcome = LBK_CHECK_FAIL_CONNECT;
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, check, &r), 0);
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, check, &r), 0);
  f.clock.now_us += 2000000;
  lbk_peer_info i = info_of(f, a);
  EXPECT_EQ(i.unhealthy, 1u);
  EXPECT_EQ(i.checks, 2u);
  EXPECT_EQ(i.checks_failed, 2u);
  EXPECT_EQ(i.downtime_us, 2000000u);  // the open spell counts
  r.outcome = LBK_CHECK_PASS;
  f.clock.now_us += 1000000;
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, check, &r), 0);
  f.clock.now_us += 7000000;
  i = info_of(f, a);
  EXPECT_EQ(i.down_since_us, 0u);
  EXPECT_EQ(i.downtime_us, 3000000u);
  EXPECT_EQ(i.last_check_ok, 1);

  // reset: counters to zero, state kept
  ASSERT_EQ(lbk_pool_peer_reset_stats(f.pool, a), 0);
  i = info_of(f, a);
  EXPECT_EQ(i.unhealthy, 0u);
  EXPECT_EQ(i.checks, 0u);
  EXPECT_EQ(i.downtime_us, 0u);
  EXPECT_EQ(i.health, LBK_HEALTH_UP);
  EXPECT_EQ(lbk_pool_peer_reset_stats(f.pool, 99), LBK_ENOTFOUND);
  lbk_check_free(check);
}

TEST(PoolStats, StateCopyCarriesTheCounters) {
  PoolFixture f("round_robin"), g("round_robin");
  uint32_t a = f.add("a");
  request(f, LBK_OUTCOME_OK, 200, 100, 7, 9, 50, 100);
  uint32_t b = g.add("a");
  ASSERT_EQ(lbk_pool_peer_state_copy(g.pool, b, f.pool, a), 0);
  lbk_peer_info i = info_of(g, b);
  EXPECT_EQ(i.responses[1], 1u);
  EXPECT_EQ(i.bytes_sent, 7u);
  EXPECT_EQ(i.bytes_received, 9u);
  EXPECT_EQ(i.header_time_avg_us, 50u);
}

}  // namespace

namespace {

TEST(PoolFailLimits, SetAtRunTimeJudgesTheWindowByTheNewLimits) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a", 1, false, 0, /*max_fails=*/3, /*fail_timeout=*/10000);
  f.add("b", 1, false, 0, 0);
  lbk_outcome failed = LBK_OUTCOME_INIT;
  failed.result = LBK_OUTCOME_FAILED;
  ASSERT_EQ(lbk_pool_release(f.pool, a, &failed), 0);
  EXPECT_EQ(f.sequence(4), "abab");  // 1 of 3 failures: still usable
  ASSERT_EQ(lbk_pool_set_fail_limits(f.pool, a, 1, 5000), 0);
  EXPECT_EQ(f.sequence(4), "bbbb");  // 1 of 1: out for fail_timeout
  lbk_peer_info i = info_of(f, a);
  EXPECT_EQ(i.max_fails, 1u);
  EXPECT_EQ(i.fail_timeout_ms, 5000u);
  f.clock.now_us += 5001000;
  EXPECT_EQ(f.sequence(2), "ab");
  EXPECT_EQ(lbk_pool_set_fail_limits(f.pool, 42, 1, 1), LBK_ENOTFOUND);
}

}  // namespace
