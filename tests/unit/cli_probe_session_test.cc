// RoundSchedule: which nodes a round of the canary (or the agent) probes,
// and how long until the next round; ProbeSession::next_check_ms: inter,
// fastinter and downinter by the node's health; ProbeSession::keep_state_of:
// a rebuilt session keeps the health of the servers it still has.
#include <gtest/gtest.h>

#include "probe_round.h"
#include "probe_session.h"

namespace {

using lbctl::RoundSchedule;
using std::chrono::milliseconds;

int64_t ms_of(const timeval &tv) { return tv.tv_sec * 1000 + tv.tv_usec / 1000; }

TEST(RoundSchedule, EachNodeAtItsOwnInterval) {
  RoundSchedule s(2);
  auto interval = [](size_t i) { return i == 0 ? 100u : 1000u; };
  EXPECT_EQ(s.period_ms(), 0u);
  const auto t0 = RoundSchedule::Clock::now();
  EXPECT_EQ(s.begin(t0), (std::vector<bool>{true, true}));  // all due at start
  EXPECT_EQ(ms_of(s.finish(t0 + milliseconds(10), interval)), 90);
  EXPECT_EQ(s.period_ms(), 100u);
  // Rounds at 100, 200, ... 900 ms probe the first node only.
  for (int k = 1; k < 10; ++k) {
    const auto t = t0 + milliseconds(100 * k);
    EXPECT_EQ(s.begin(t), (std::vector<bool>{true, false})) << k;
    EXPECT_EQ(ms_of(s.finish(t + milliseconds(5), interval)), 95) << k;
  }
  EXPECT_EQ(s.begin(t0 + milliseconds(1000)), (std::vector<bool>{true, true}));
}

TEST(RoundSchedule, ALateRoundStartsTheNextAtOnce) {
  RoundSchedule s(2);
  const auto t0 = RoundSchedule::Clock::now();
  s.begin(t0);
  EXPECT_EQ(ms_of(s.finish(t0 + milliseconds(250), [](size_t) { return 100u; })), 0);
}

TEST(RoundSchedule, AnIntervalChangeTakesEffectAtTheNodesNextRound) {
  RoundSchedule s(1);
  const auto t0 = RoundSchedule::Clock::now();
  s.begin(t0);
  s.finish(t0, [](size_t) { return 2000u; });  // e.g. went down: downinter
  EXPECT_EQ(s.period_ms(), 2000u);
  EXPECT_EQ(s.begin(t0 + milliseconds(1000)), (std::vector<bool>{false}));
  EXPECT_EQ(s.begin(t0 + milliseconds(2000)), (std::vector<bool>{true}));
  EXPECT_EQ(ms_of(s.finish(t0 + milliseconds(2000), [](size_t) { return 300u; })), 300);
}

}  // namespace

namespace {

lbctl::Config two_node_config(const std::vector<std::string> &urls) {
  lbctl::Config config;
  lbctl::PoolConfig pool;
  pool.name = "api";
  pool.check.kind = "tcp";
  pool.check.rise = 3;
  pool.check.fall = 1;
  std::string why;
  EXPECT_TRUE(lbctl::resolve_chain_defaults(pool.check, why)) << why;  // as the INI reader does
  for (const std::string &url : urls) {
    lbctl::ServerConfig s;
    s.url = url;
    s.name = url;
    pool.servers.push_back(s);
  }
  config.pools.push_back(pool);
  return config;
}

lbk::probe::Result outcome(int code) {
  lbk::probe::Result r;
  r.verdict.version = LBK_CHECK_RESULT_VERSION;
  r.verdict.outcome = code;
  r.verdict.agent_state = r.verdict.agent_weight_pct = r.verdict.agent_maxconn = -1;
  return r;
}

// A session rebuilt for a changed server set (lbctl sync) keeps the health
// of the servers it still has; new ones start afresh.
TEST(ProbeSessionKeepState, ServersStillThereKeepTheirHealth) {
  lbctl::ProbeSession old;
  std::string error;
  ASSERT_TRUE(old.init(two_node_config({"tcp://10.0.0.1:80", "tcp://10.0.0.2:80"}), error))
      << error;
  old.absorb({outcome(LBK_CHECK_PASS), outcome(LBK_CHECK_FAIL_CONNECT)}, false);
  // .2 is down (fall 1) and needs 3 passes (rise 3) to come back.
  old.absorb({outcome(LBK_CHECK_PASS), outcome(LBK_CHECK_PASS)}, false);
  ASSERT_EQ(old.snapshot(0).pools[0].nodes[1].health, "down");

  lbctl::ProbeSession fresh;
  ASSERT_TRUE(fresh.init(two_node_config({"tcp://10.0.0.2:80", "tcp://10.0.0.3:80"}), error))
      << error;
  fresh.keep_state_of(old);
  fresh.absorb({outcome(LBK_CHECK_PASS), outcome(LBK_CHECK_PASS)}, false);
  const lbctl::State state = fresh.snapshot(0);
  EXPECT_EQ(state.pools[0].nodes[0].health, "down");  // 2 of 3 passes: still recovering
  EXPECT_EQ(state.pools[0].nodes[0].checks, 3u);
  EXPECT_EQ(state.pools[0].nodes[1].checks, 1u);      // new: its own history only
  fresh.absorb({outcome(LBK_CHECK_PASS), outcome(LBK_CHECK_PASS)}, false);
  EXPECT_EQ(fresh.snapshot(0).pools[0].nodes[0].health, "up");
}

}  // namespace
