// Rise/fall/interval state machine (lbk_health_*) against HAProxy's
// documented semantics (configuration.txt, "rise", "fall", "inter"):
// health counter 0..rise+fall-1, up while counter >= rise; a success
// increments (reaching rise jumps to the top), a failure decrements (falling
// below rise drops to 0); intervals: "inter" when fully up, "fastinter" while
// transitioning or unchecked, "downinter" when fully down (0 = inter).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "lbkit.h"

namespace {

struct CheckPtr {
  lbk_check *p = nullptr;
  ~CheckPtr() { lbk_check_free(p); }
};

lbk_check_options timed_options() {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_HTTP;
  o.inter_ms = 1000;
  o.fastinter_ms = 300;
  o.fall = 3;
  o.rise = 2;
  o.jitter_pct = 0;
  return o;
}

lbk_check_result verdict(bool pass) {
  lbk_check_result r;
  if (pass) {
    lbk_check_result_fail(&r, LBK_CHECK_PASS, "status 200");
  } else {
    lbk_check_result_fail(&r, LBK_CHECK_FAIL_TIMEOUT, "after 1000ms");
  }
  return r;
}

// One step of a simulated driver: at time at_ms a check finishes with
// `pass`; afterwards the health is `health` and the next check is due
// `next_ms` later.
struct Step {
  uint64_t at_ms;
  bool pass;
  int health;
  uint64_t next_ms;
};

// Runs the steps as a driver would (each check at the previous time plus
// the delay lbk_health_next_delay returned), checking every expectation.
void run_timeline(const lbk_check *check, lbk_health_state *st, uint64_t start_ms,
                  const std::vector<Step> &steps) {
  uint64_t now_ms = start_ms;
  for (size_t i = 0; i < steps.size(); i++) {
    const Step &s = steps[i];
    SCOPED_TRACE("step " + std::to_string(i) + " at " + std::to_string(s.at_ms) + "ms");
    ASSERT_EQ(now_ms, s.at_ms) << "the check ran at another time than documented";
    lbk_check_result r = verdict(s.pass);
    lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
    ASSERT_EQ(0, lbk_health_report(&ev, st, check, &r, now_ms * 1000));
    EXPECT_EQ(s.health, lbk_health_get(st));
    EXPECT_EQ(s.health, ev.new_health);
    const uint64_t delay_us = lbk_health_next_delay(st, check, 12345);
    EXPECT_EQ(s.next_ms * 1000, delay_us);
    now_ms += delay_us / 1000;
  }
}

TEST(HealthState, FullyUpPeerThatDiesGoesDownAfterFallChecksAtFastinter) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st;
  lbk_health_init(&st, c.p, 0);
  // Bring it to fully up first (counter 2 -> top 4): one success at t=0.
  // Then the peer dies.  Counter: 4 -3-> 3 -> 2 -> 1 (<rise, so 0).
  //   t=0      pass  counter 2->4 (top)  UP,  fully up  -> inter 1000
  //   t=1000   fail  4->3                UP,  transit.  -> fastinter 300
  //   t=1300   fail  3->2                UP,  transit.  -> fastinter 300
  //   t=1600   fail  2->1<rise => 0      DOWN, fully    -> downinter(=inter) 1000
  // So a peer failing from t~1000 is marked down at t=1600: fall (3) checks,
  // 600 ms after the first failure (2 x fastinter).
  run_timeline(c.p, &st, 0,
               {{0, true, LBK_HEALTH_UP, 1000},
                {1000, false, LBK_HEALTH_UP, 300},
                {1300, false, LBK_HEALTH_UP, 300},
                {1600, false, LBK_HEALTH_DOWN, 1000}});
}

TEST(HealthState, DownPeerThatRecoversComesUpAfterRiseChecks) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  o.downinter_ms = 5000;
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st;
  lbk_health_init(&st, c.p, 0);
  //   t=0      fail  counter 2->1<rise => 0   DOWN -> downinter 5000
  //   t=5000   fail  0 stays 0                DOWN -> downinter 5000
  //   t=10000  pass  0->1                     DOWN, transit. -> fastinter 300
  //   t=10300  pass  1->2>=rise => top 4      UP, fully      -> inter 1000
  //   t=11300  pass  stays 4                  UP             -> inter 1000
  // A peer recovering before t=10000 is up at t=10300 (rise = 2 checks).
  run_timeline(c.p, &st, 0,
               {{0, false, LBK_HEALTH_DOWN, 5000},
                {5000, false, LBK_HEALTH_DOWN, 5000},
                {10000, true, LBK_HEALTH_DOWN, 300},
                {10300, true, LBK_HEALTH_UP, 1000},
                {11300, true, LBK_HEALTH_UP, 1000}});
}

TEST(HealthState, FlappingDuringTransitionReturnsToTheExtreme) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  o.rise = 3;
  o.fall = 3;  // top = 5
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st;
  lbk_health_init(&st, c.p, 0);
  //   t=0     pass  3 -> top 5          UP   -> inter 1000
  //   t=1000  fail  5 -> 4              UP   -> fastinter 300
  //   t=1300  pass  4 -> 5 (top)        UP   -> inter 1000
  //   t=2300  fail  5 -> 4; t=2600 fail 4 -> 3; t=2900 fail 3->2<3 => 0 DOWN
  //   t=3900  pass  0 -> 1              DOWN -> fastinter
  //   t=4200  fail  1 -> 0              DOWN -> downinter (=inter)
  run_timeline(c.p, &st, 0,
               {{0, true, LBK_HEALTH_UP, 1000},
                {1000, false, LBK_HEALTH_UP, 300},
                {1300, true, LBK_HEALTH_UP, 1000},
                {2300, false, LBK_HEALTH_UP, 300},
                {2600, false, LBK_HEALTH_UP, 300},
                {2900, false, LBK_HEALTH_DOWN, 1000},
                {3900, true, LBK_HEALTH_DOWN, 300},
                {4200, false, LBK_HEALTH_DOWN, 1000}});
}

TEST(HealthState, DefaultInitialHealthIsUpAtRiseSoOneFailureTakesItDown) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  ASSERT_EQ(LBK_HEALTH_UP, o.initial_health);
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st;
  lbk_health_init(&st, c.p, 0);
  EXPECT_EQ(LBK_HEALTH_UP, lbk_health_get(&st));
  // Unchecked (counter at rise, not at the top) is transitional: fastinter.
  EXPECT_EQ(300000u, lbk_health_next_delay(&st, c.p, 0));
  lbk_check_result fail = verdict(false);
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &fail, 1000));
  EXPECT_EQ(1, ev.changed);
  EXPECT_EQ(LBK_HEALTH_UP, ev.old_health);
  EXPECT_EQ(LBK_HEALTH_DOWN, ev.new_health);
  EXPECT_EQ(0u, ev.counter);
  EXPECT_EQ(1u, ev.failures);
}

TEST(HealthState, InitialDownNeedsRiseSuccesses) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  o.initial_health = LBK_HEALTH_DOWN;
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st;
  lbk_health_init(&st, c.p, 0);
  EXPECT_EQ(LBK_HEALTH_DOWN, lbk_health_get(&st));
  EXPECT_EQ(1000000u, lbk_health_next_delay(&st, c.p, 0));  // downinter = inter
  lbk_check_result pass = verdict(true);
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &pass, 1));
  EXPECT_EQ(0, ev.changed);
  EXPECT_EQ(LBK_HEALTH_DOWN, ev.new_health);
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &pass, 2));
  EXPECT_EQ(1, ev.changed);
  EXPECT_EQ(LBK_HEALTH_UP, ev.new_health);
  EXPECT_EQ(4u, ev.counter);  // rise + fall - 1
  EXPECT_EQ(2u, ev.successes);
}

TEST(HealthState, InitialUnknownBecomesUpOrDownOnFirstReport) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  o.initial_health = LBK_HEALTH_UNKNOWN;
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st;
  lbk_health_init(&st, c.p, 0);
  EXPECT_EQ(LBK_HEALTH_UNKNOWN, lbk_health_get(&st));
  lbk_check_result pass = verdict(true);
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &pass, 1));
  EXPECT_EQ(1, ev.changed);
  EXPECT_EQ(LBK_HEALTH_UP, ev.new_health);
}

TEST(HealthState, ReasonCarriesCheckVerdictAndHaproxyProgress) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st;
  lbk_health_init(&st, c.p, 0);
  lbk_check_result pass = verdict(true);
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &pass, 1));
  EXPECT_STREQ("http check: status 200 (3/3)", ev.reason);
  lbk_check_result status500;
  lbk_check_result_fail(&status500, LBK_CHECK_FAIL_STATUS, nullptr);
  std::snprintf(status500.reason, sizeof status500.reason, "status 500");
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &status500, 2));
  EXPECT_STREQ("http check: status 500 (2/3)", ev.reason);
  lbk_check_result timeout = verdict(false);
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &timeout, 3));
  EXPECT_STREQ("http check timed out after 1000ms (1/3)", ev.reason);
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &timeout, 4));
  EXPECT_STREQ("http check timed out after 1000ms (0/2)", ev.reason);
  EXPECT_EQ(1, ev.changed);
  // A long verdict is shortened; the progress stays at the end.
  lbk_check_result wordy;
  lbk_check_result_fail(&wordy, LBK_CHECK_FAIL_PROTOCOL, std::string(300, 'w').c_str());
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &wordy, 5));
  const std::string reason = ev.reason;
  EXPECT_EQ(static_cast<size_t>(LBK_REASON_MAX - 1), reason.size());
  EXPECT_EQ("www... (0/2)", reason.substr(reason.size() - 12));
}

TEST(HealthState, JitterSpreadsUniformlyWithinPercent) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  o.jitter_pct = 10;
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st;
  lbk_health_init(&st, c.p, 0);
  lbk_check_result pass = verdict(true);
  ASSERT_EQ(0, lbk_health_report(nullptr, &st, c.p, &pass, 1));  // fully up
  // inter 1000 ms +/- 10 %: [900000, 1100000] us, both ends reachable.
  EXPECT_EQ(900000u, lbk_health_next_delay(&st, c.p, 0));
  EXPECT_EQ(1100000u, lbk_health_next_delay(&st, c.p, 200000));
  uint64_t x = 88172645463325252ull;
  uint64_t lowest = UINT64_MAX, highest = 0;
  for (int i = 0; i < 2000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const uint64_t d = lbk_health_next_delay(&st, c.p, x);
    ASSERT_GE(d, 900000u);
    ASSERT_LE(d, 1100000u);
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
  }
  EXPECT_LT(lowest, 920000u);  // the spread is actually used
  EXPECT_GT(highest, 1080000u);
}

TEST(HealthState, AgentDownIsImmediateAndAgentUpRestores) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  o.kind = LBK_CHECK_AGENT;
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st;
  lbk_health_init(&st, c.p, 0);
  lbk_check_result r;
  lbk_check_result_fail(&r, LBK_CHECK_PASS, "reply \"up\"");
  r.agent_state = LBK_AGENT_UP;
  ASSERT_EQ(0, lbk_health_report(nullptr, &st, c.p, &r, 1));
  EXPECT_EQ(LBK_HEALTH_UP, lbk_health_get(&st));
  lbk_check_result_fail(&r, LBK_CHECK_FAIL_AGENT, "reply \"down\"");
  r.agent_state = LBK_AGENT_DOWN;
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &r, 2));  // fully up, yet down
  EXPECT_EQ(LBK_HEALTH_DOWN, ev.new_health);
  lbk_check_result_fail(&r, LBK_CHECK_PASS, "reply \"up\"");
  r.agent_state = LBK_AGENT_UP;
  ASSERT_EQ(0, lbk_health_report(&ev, &st, c.p, &r, 3));  // one "up" suffices
  EXPECT_EQ(LBK_HEALTH_UP, ev.new_health);
}

TEST(HealthState, ZeroedStateIsUnknownAndAdoptsTheCheck) {
  CheckPtr c;
  lbk_check_options o = timed_options();
  ASSERT_EQ(0, lbk_check_create(&c.p, &o));
  lbk_health_state st{};
  EXPECT_EQ(LBK_HEALTH_UNKNOWN, lbk_health_get(&st));
  EXPECT_EQ(300000u, lbk_health_next_delay(&st, c.p, 0));
  lbk_check_result fail = verdict(false);
  ASSERT_EQ(0, lbk_health_report(nullptr, &st, c.p, &fail, 5));
  EXPECT_EQ(LBK_HEALTH_DOWN, lbk_health_get(&st));
  EXPECT_EQ(LBK_EINVAL, lbk_health_report(nullptr, nullptr, c.p, &fail, 5));
}

// A peer of timed_options()'s check, just initialised.
struct TimedPeer {
  CheckPtr c;
  lbk_health_state st;
  TimedPeer() {
    const lbk_check_options o = timed_options();
    EXPECT_EQ(0, lbk_check_create(&c.p, &o));
    lbk_health_init(&st, c.p, 0);
  }
};

// The event carries the verdict the counter took; a caller built against
// version 1 of lbk_health_event gets only version 1's fields.
TEST(HealthState, EventCarriesTheOutcomeAndKeepsOlderVersions) {
  TimedPeer p;
  lbk_check_result fail = verdict(false), pass = verdict(true);
  lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
  ASSERT_EQ(0, lbk_health_report(&ev, &p.st, p.c.p, &fail, 1000));
  EXPECT_EQ(LBK_CHECK_FAIL_TIMEOUT, ev.outcome);
  EXPECT_EQ(2u, ev.version);

  ev.version = 1;
  ev.outcome = -7;  // beyond a version 1 struct: must stay as it is
  ASSERT_EQ(0, lbk_health_report(&ev, &p.st, p.c.p, &pass, 2000));
  EXPECT_EQ(1u, ev.version);
  EXPECT_EQ(-7, ev.outcome);
  EXPECT_EQ(1u, ev.successes);
  EXPECT_NE(nullptr, std::strstr(ev.reason, "http check: status 200")) << ev.reason;
}

TEST(HealthState, UnknownEventVersionIsRefusedWithTheStateUntouched) {
  TimedPeer p;
  lbk_check_result fail = verdict(false);
  for (unsigned int version : {0u, LBK_HEALTH_EVENT_VERSION + 1u}) {
    lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
    ev.version = version;
    EXPECT_EQ(LBK_EINVAL, lbk_health_report(&ev, &p.st, p.c.p, &fail, 1000));
    EXPECT_NE(nullptr, std::strstr(lbk_error_last(), "health event version"))
        << lbk_error_last();
  }
  // Still the initial state: up, and one failure takes it down.
  EXPECT_EQ(LBK_HEALTH_UP, lbk_health_get(&p.st));
  ASSERT_EQ(0, lbk_health_report(nullptr, &p.st, p.c.p, &fail, 2000));
  EXPECT_EQ(LBK_HEALTH_DOWN, lbk_health_get(&p.st));
}

}  // namespace
