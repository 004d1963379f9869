// RoundSchedule: which nodes a round of the canary (or the agent) probes,
// and how long until the next round; ProbeSession::next_check_ms: inter,
// fastinter and downinter by the node's health.
#include <gtest/gtest.h>

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
