// Active-check verdicts fed into the pool: health-down peers are skipped,
// probe latency drives `fastest`, lag against the best value, agent words.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "lbkit.h"
#include "pool_test_support.h"

namespace {

using lbktest::PoolFixture;

struct Check {
  explicit Check(int kind, int64_t max_lag = 0) : Check(options(kind, max_lag)) {}
  explicit Check(const lbk_check_options &o) {
    EXPECT_EQ(lbk_check_create(&check, &o), 0) << lbk_error_last();
  }
  ~Check() { lbk_check_free(check); }
  // rise and fall 1, so that one verdict decides.
  static lbk_check_options options(int kind, int64_t max_lag = 0) {
    lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
    o.kind = kind;
    o.rise = 1;
    o.fall = 1;
    o.max_lag = max_lag;
    if (kind == LBK_CHECK_JSONRPC) o.jsonrpc_field = "";
    return o;
  }
  lbk_check *check = nullptr;
};

lbk_check_result verdict(int outcome, uint64_t duration_us = 1000) {
  lbk_check_result r;
  std::memset(&r, 0, sizeof r);
  r.version = LBK_CHECK_RESULT_VERSION;
  r.outcome = outcome;
  r.duration_us = duration_us;
  r.agent_state = -1;
  r.agent_weight_pct = -1;
  r.agent_maxconn = -1;
  return r;
}

TEST(PoolHealth, HealthDownPeersAreSkipped) {
  PoolFixture f("round_robin");
  Check c(LBK_CHECK_TCP);
  uint32_t a = f.add("a");
  f.add("b");
  lbk_check_result fail = verdict(LBK_CHECK_FAIL_CONNECT);
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(lbk_pool_report_check(&ev, f.pool, a, c.check, &fail), 0);
  EXPECT_EQ(ev.new_health, LBK_HEALTH_DOWN);
  EXPECT_EQ(f.sequence(4), "bbbb");
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  lbk_pool_peer_info(&info, f.pool, a);
  EXPECT_EQ(info.health, LBK_HEALTH_DOWN);
  EXPECT_EQ(info.checks, 1u);
  EXPECT_EQ(info.checks_failed, 1u);
  EXPECT_EQ(info.last_check_ok, 0);
  EXPECT_STRNE(info.last_reason, "");
  lbk_check_result pass = verdict(LBK_CHECK_PASS);
  ASSERT_EQ(lbk_pool_report_check(&ev, f.pool, a, c.check, &pass), 0);
  EXPECT_EQ(f.sequence(4), "abab");
}

// Agent drain takes the peer out of round robin's schedule (as admin down
// does): the others walk nginx's sequence for their own weights.
TEST(PoolHealth, AgentDrainLeavesTheRoundRobinScheduleAndReadyRestoresIt) {
  PoolFixture f("round_robin");
  Check c(LBK_CHECK_AGENT);
  f.add("a", 5);
  f.add("b", 1);
  uint32_t drained = f.add("c", 1);
  lbk_check_result r = verdict(LBK_CHECK_PASS);
  r.agent_state = LBK_AGENT_DRAIN;
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, drained, c.check, &r), 0);
  EXPECT_EQ(f.sequence(12), "aaabaaaaabaa");  // nginx, weights {5,1}
  r.agent_state = LBK_AGENT_READY;
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, drained, c.check, &r), 0);
  std::map<char, int> counts;
  for (char ch : f.sequence(70)) counts[ch]++;
  EXPECT_EQ(counts['c'], 10);
}

TEST(PoolHealth, FastestSharesTheBandAndIgnoresSlowPeers) {
  PoolFixture f("fastest");
  Check c(LBK_CHECK_TCP);
  uint32_t a = f.add("a"), b = f.add("b"), s = f.add("slow");
  lbk_check_result ra = verdict(LBK_CHECK_PASS, 10000);
  lbk_check_result rb = verdict(LBK_CHECK_PASS, 10900);  // within 10 %
  lbk_check_result rs = verdict(LBK_CHECK_PASS, 30000);
  lbk_pool_report_check(nullptr, f.pool, a, c.check, &ra);
  lbk_pool_report_check(nullptr, f.pool, b, c.check, &rb);
  lbk_pool_report_check(nullptr, f.pool, s, c.check, &rs);
  std::map<char, int> counts;
  for (char ch : f.sequence(100)) counts[ch]++;
  EXPECT_EQ(counts['s'], 0);
  EXPECT_EQ(counts['a'], 50);
  EXPECT_EQ(counts['b'], 50);
  // a and b go down: the slow peer is the only healthy one left.
  lbk_check_result down = verdict(LBK_CHECK_FAIL_TIMEOUT);
  lbk_pool_report_check(nullptr, f.pool, a, c.check, &down);
  lbk_pool_report_check(nullptr, f.pool, b, c.check, &down);
  f.clock.now_us += 100000;
  EXPECT_EQ(f.sequence(3), "sss");
  // b recovers faster than before: after the re-rank interval it leads.
  lbk_check_result fast = verdict(LBK_CHECK_PASS, 5000);
  lbk_pool_report_check(nullptr, f.pool, b, c.check, &fast);
  f.clock.now_us += 100000;
  EXPECT_EQ(f.sequence(3), "bbb");
}

// Without active checks fastest ranks by the latency it observes from
// released requests: every peer is tried in the first ranking interval,
// then the slow one is left out until its estimate has decayed (tau 10 s),
// tried again for one interval, left out again.
TEST(PoolHealth, FastestWithoutChecksUsesObservedLatency) {
  PoolFixture f("fastest");
  uint32_t a = f.add("a"), b = f.add("b"), s = f.add("slow");
  std::map<uint32_t, uint64_t> latency_us = {{a, 1000}, {b, 1080}, {s, 5000}};
  std::map<uint32_t, int> counts;
  auto run = [&](int n) {
    for (int i = 0; i < n; ++i) {
      uint32_t id = LBK_PEER_NONE;
      ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
      lbk_outcome oc = LBK_OUTCOME_INIT;
      oc.latency_us = latency_us[id];
      ASSERT_EQ(lbk_pool_release(f.pool, id, &oc), 0);
      counts[id]++;
      f.clock.now_us += 1000;  // 1 ms a request: re-ranked every 20
    }
  };
  run(20);  // the first ranking interval: nobody measured, all share
  int tried = counts[s];
  EXPECT_GE(tried, 1);
  EXPECT_LE(tried, 7);
  run(280);
  EXPECT_EQ(counts[s], tried);
  EXPECT_GT(counts[a], 100);
  EXPECT_GT(counts[b], 100);
  // 20 s more of requests: 5000 us decays to a's and b's 1000-1080 in
  // about 15 s; slow is tried again within the band for one interval
  run(20000);
  EXPECT_GE(counts[s], tried + 1);
  EXPECT_LE(counts[s], tried + 7);
  // with a probe latency the probes rank again, as before
  Check c(LBK_CHECK_TCP);
  lbk_check_result fast = verdict(LBK_CHECK_PASS, 500);
  lbk_pool_report_check(nullptr, f.pool, s, c.check, &fast);
  f.clock.now_us += 100000;
  EXPECT_EQ(f.sequence(3), "sss");
}

TEST(PoolHealth, LagBeyondMaxLagFailsTheCheck) {
  PoolFixture f("round_robin");
  Check c(LBK_CHECK_JSONRPC, /*max_lag=*/5);
  uint32_t a = f.add("a"), b = f.add("b");
  lbk_check_result ra = verdict(LBK_CHECK_PASS), rb = verdict(LBK_CHECK_PASS);
  ra.has_value = 1;
  ra.value = 1000;
  rb.has_value = 1;
  rb.value = 997;  // lags by 3: fine
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(lbk_pool_report_check(&ev, f.pool, a, c.check, &ra), 0);
  ASSERT_EQ(lbk_pool_report_check(&ev, f.pool, b, c.check, &rb), 0);
  EXPECT_NE(ev.new_health, LBK_HEALTH_DOWN);
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  lbk_pool_peer_info(&info, f.pool, b);
  EXPECT_EQ(info.lag, 3);
  ra.value = 1010;  // b now lags by 13 > 5
  ASSERT_EQ(lbk_pool_report_check(&ev, f.pool, a, c.check, &ra), 0);
  ASSERT_EQ(lbk_pool_report_check(&ev, f.pool, b, c.check, &rb), 0);
  EXPECT_EQ(ev.new_health, LBK_HEALTH_DOWN);
  lbk_pool_peer_info(&info, f.pool, b);
  EXPECT_EQ(info.lag, 13);
  EXPECT_NE(std::strstr(info.last_reason, "lags"), nullptr) << info.last_reason;
  EXPECT_EQ(f.sequence(3), "aaa");
}

TEST(PoolHealth, AgentWordsSetDrainWeightAndMaxconn) {
  PoolFixture f("round_robin");
  Check c(LBK_CHECK_AGENT);
  uint32_t a = f.add("a", 4), b = f.add("b", 4);
  lbk_check_result r = verdict(LBK_CHECK_PASS);
  r.agent_state = LBK_AGENT_DRAIN;
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, c.check, &r), 0);
  EXPECT_EQ(f.sequence(3), "bbb");
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  lbk_pool_peer_info(&info, f.pool, a);
  EXPECT_EQ(info.admin_state, LBK_ADMIN_DRAIN);
  r.agent_state = LBK_AGENT_READY;
  r.agent_weight_pct = 50;
  r.agent_maxconn = 7;
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, c.check, &r), 0);
  lbk_pool_peer_info(&info, f.pool, a);
  EXPECT_EQ(info.admin_state, LBK_ADMIN_UP);
  EXPECT_EQ(info.effective_weight, 2u);
  EXPECT_EQ(info.max_conns, 7u);
  std::map<char, int> counts;
  for (char ch : f.sequence(600)) counts[ch]++;
  EXPECT_EQ(counts['a'], 200);
  EXPECT_EQ(counts['b'], 400);
  (void)b;
}

lbk_check *check_starting(int initial_health, uint32_t rise) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_TCP;
  o.rise = rise;
  o.fall = 1;
  o.initial_health = initial_health;
  lbk_check *check = nullptr;
  EXPECT_EQ(lbk_check_create(&check, &o), 0) << lbk_error_last();
  return check;
}

int health_of(PoolFixture &f, uint32_t id, int *usable = nullptr) {
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  EXPECT_EQ(lbk_pool_peer_info(&info, f.pool, id), 0);
  if (usable) *usable = info.usable;
  return info.health;
}

TEST(PoolHealth, AttachCheckStartsAPeerInTheInitialHealth) {
  PoolFixture f("round_robin");
  lbk_check *starts_down = check_starting(LBK_HEALTH_DOWN, 2);
  lbk_check *starts_up = check_starting(LBK_HEALTH_UP, 2);
  uint32_t a = f.add("a");
  uint32_t b = f.add("b");
  int usable = -1;
  EXPECT_EQ(health_of(f, a, &usable), LBK_HEALTH_UNKNOWN);
  EXPECT_EQ(usable, 1);
  ASSERT_EQ(lbk_pool_attach_check(f.pool, a, starts_down), 0);
  ASSERT_EQ(lbk_pool_attach_check(f.pool, b, starts_up), 0);
  EXPECT_EQ(health_of(f, a, &usable), LBK_HEALTH_DOWN);
  EXPECT_EQ(usable, 0);
  // initial=up: shown as never checked (and usable) until its first report
  EXPECT_EQ(health_of(f, b, &usable), LBK_HEALTH_UNKNOWN);
  EXPECT_EQ(usable, 1);
  EXPECT_EQ(f.sequence(4), "bbbb");
  // rise = 2 passes bring it in.
  lbk_check_result pass = verdict(LBK_CHECK_PASS);
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, starts_down, &pass), 0);
  EXPECT_EQ(health_of(f, a), LBK_HEALTH_DOWN);
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, starts_down, &pass), 0);
  EXPECT_EQ(health_of(f, a), LBK_HEALTH_UP);
  EXPECT_EQ(f.sequence(4), "abab");
  // Attaching again (a reload) keeps the state the reports built.
  ASSERT_EQ(lbk_pool_attach_check(f.pool, a, starts_down), 0);
  EXPECT_EQ(health_of(f, a), LBK_HEALTH_UP);
  EXPECT_EQ(lbk_pool_attach_check(f.pool, a, nullptr), LBK_EINVAL);
  EXPECT_EQ(lbk_pool_attach_check(f.pool, 99, starts_down), LBK_ENOTFOUND);
  lbk_check_free(starts_down);
  lbk_check_free(starts_up);
}

TEST(PoolHealth, AttachCheckKeepsStateCopiedAcrossAReload) {
  lbk_check *starts_down = check_starting(LBK_HEALTH_DOWN, 2);
  PoolFixture old_pool("round_robin");
  uint32_t old_a = old_pool.add("a");
  ASSERT_EQ(lbk_pool_attach_check(old_pool.pool, old_a, starts_down), 0);
  lbk_check_result pass = verdict(LBK_CHECK_PASS);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(lbk_pool_report_check(nullptr, old_pool.pool, old_a,
                                    starts_down, &pass), 0);
  ASSERT_EQ(health_of(old_pool, old_a), LBK_HEALTH_UP);
  PoolFixture new_pool("round_robin");
  uint32_t a = new_pool.add("a");
  uint32_t fresh = new_pool.add("fresh");
  ASSERT_EQ(lbk_pool_peer_state_copy(new_pool.pool, a, old_pool.pool, old_a), 0);
  ASSERT_EQ(lbk_pool_attach_check(new_pool.pool, a, starts_down), 0);
  ASSERT_EQ(lbk_pool_attach_check(new_pool.pool, fresh, starts_down), 0);
  EXPECT_EQ(health_of(new_pool, a), LBK_HEALTH_UP);
  EXPECT_EQ(health_of(new_pool, fresh), LBK_HEALTH_DOWN);
  lbk_check_free(starts_down);
}

// The next-check delay of a pool's peer follows its health as the pool
// keeps it: fastinter before the first verdict and while changing, inter
// while steady, downinter while down.
TEST(PoolHealth, NextCheckDelayFollowsThePeersHealth) {
  lbk_check_options o = Check::options(LBK_CHECK_TCP);
  o.rise = 2;
  o.fall = 2;
  o.inter_ms = 1000;
  o.fastinter_ms = 200;
  o.downinter_ms = 5000;
  o.jitter_pct = 0;
  Check c(o);
  ASSERT_NE(c.check, nullptr);
  lbk_check *check = c.check;
  PoolFixture f("round_robin");
  uint32_t a = f.add("a");
  auto delay_ms = [&] {
    uint64_t us = 0;
    EXPECT_EQ(lbk_pool_peer_next_check_delay(&us, f.pool, a, check, 0), 0);
    return us / 1000;
  };
  EXPECT_EQ(delay_ms(), 200u);  // not judged yet
  lbk_check_result pass = verdict(LBK_CHECK_PASS);
  lbk_check_result fail = verdict(LBK_CHECK_FAIL_CONNECT);
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, check, &pass), 0);
  EXPECT_EQ(delay_ms(), 1000u);  // up and steady
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, check, &fail), 0);
  EXPECT_EQ(delay_ms(), 200u);  // failing, not down yet
  ASSERT_EQ(lbk_pool_report_check(nullptr, f.pool, a, check, &fail), 0);
  EXPECT_EQ(delay_ms(), 5000u);  // down
  uint64_t us = 0;
  EXPECT_EQ(lbk_pool_peer_next_check_delay(&us, f.pool, 42, check, 0), LBK_ENOTFOUND);
  EXPECT_EQ(lbk_pool_peer_next_check_delay(nullptr, f.pool, a, check, 0), LBK_EINVAL);
}

// An event of an older version gets only its own fields; an unknown
// version is refused before the peer's state changes.
TEST(PoolHealth, ReportFillsTheEventVersionTheCallerSet) {
  PoolFixture f("round_robin");
  Check c(LBK_CHECK_TCP);
  uint32_t a = f.add("a");
  lbk_check_result fail = verdict(LBK_CHECK_FAIL_CONNECT);
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ev.version = LBK_HEALTH_EVENT_VERSION + 1;
  EXPECT_EQ(LBK_EINVAL, lbk_pool_report_check(&ev, f.pool, a, c.check, &fail));
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  ASSERT_EQ(0, lbk_pool_peer_info(&info, f.pool, a));
  EXPECT_EQ(0u, info.checks);
  EXPECT_NE(LBK_HEALTH_DOWN, info.health);

  ev.version = 1;
  ev.outcome = -7;  // past the end of a version 1 event
  ASSERT_EQ(0, lbk_pool_report_check(&ev, f.pool, a, c.check, &fail));
  EXPECT_EQ(1u, ev.version);
  EXPECT_EQ(-7, ev.outcome);
  EXPECT_EQ(LBK_HEALTH_DOWN, ev.new_health);
  ev.version = LBK_HEALTH_EVENT_VERSION;
  ASSERT_EQ(0, lbk_pool_report_check(&ev, f.pool, a, c.check, &fail));
  EXPECT_EQ(LBK_CHECK_FAIL_CONNECT, ev.outcome);
}

}  // namespace
