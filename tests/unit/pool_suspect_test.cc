// Suspect peers: requests in flight and no progress for longer than
// max(floor, 5 x observed latency) -- avoided by peak_ewma and fastest,
// by every method with all_methods, never to the point of refusing a pick.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "lbkit.h"
#include "pool_test_support.h"

namespace {

using lbktest::PoolFixture;

// Picks and releases OK at @p latency_us each, @p n times, 1 ms apart;
// returns how many went to each name.
std::map<std::string, int> serve(PoolFixture &f, int n, uint64_t latency_us = 1000) {
  std::map<std::string, int> counts;
  for (int i = 0; i < n; ++i) {
    uint32_t id = LBK_PEER_NONE;
    EXPECT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0) << lbk_error_last();
    if (id == LBK_PEER_NONE) break;
    lbk_outcome oc = LBK_OUTCOME_INIT;
    oc.latency_us = latency_us;
    EXPECT_EQ(lbk_pool_release(f.pool, id, &oc), 0);
    counts[f.name_of(id)]++;
    f.clock.now_us += 1000;
  }
  return counts;
}

// The names of @p n picks, each released as cancelled (no progress).
std::string peek(PoolFixture &f, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    uint32_t id = LBK_PEER_NONE;
    EXPECT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
    lbk_outcome oc = LBK_OUTCOME_INIT;
    oc.result = LBK_OUTCOME_CANCELLED;
    lbk_pool_release(f.pool, id, &oc);
    out += f.name_of(id)[0];
  }
  return out;
}

TEST(Suspect, PeakEwmaAvoidsAPeerThatStoppedAnswering) {
  PoolFixture f("peak_ewma");
  f.add("a");
  uint32_t b = f.add("b");
  serve(f, 50);  // both measured at 1 ms
  f.hold(b, 2);  // b hangs with two requests in flight
  // before the floor (20 ms) b still competes on cost
  f.clock.now_us += 25000;
  auto counts = serve(f, 100);
  EXPECT_EQ(counts["b"], 0);
  EXPECT_EQ(counts["a"], 100);
  // b answers both: it competes again
  lbk_outcome ok = LBK_OUTCOME_INIT;
  ok.latency_us = 1000;
  ASSERT_EQ(lbk_pool_release(f.pool, b, &ok), 0);
  ASSERT_EQ(lbk_pool_release(f.pool, b, &ok), 0);
  f.clock.now_us += 1000;
  counts = serve(f, 100);
  EXPECT_GT(counts["b"], 10);
}

// The rule, seen through round robin with suspect=... for every method:
// 5 x 10 ms = 50 ms without progress (above the 20 ms floor), and one
// answer is progress.
TEST(Suspect, TheRuleScalesWithLatencyAboveTheFloor) {
  PoolFixture f("round_robin");
  ASSERT_EQ(lbk_pool_set_suspect(f.pool, 20000, 1), 0);
  f.add("a");
  uint32_t b = f.add("b");
  serve(f, 50, 10000);  // both measured at 10 ms
  f.hold(b, 2);
  f.clock.now_us += 30000;  // 30 ms without progress: not yet suspect
  EXPECT_EQ(peek(f, 4), "abab");
  f.clock.now_us += 30000;  // 60 ms: suspect
  EXPECT_EQ(peek(f, 4), "aaaa");
  lbk_outcome ok = LBK_OUTCOME_INIT;
  ok.latency_us = 10000;
  ASSERT_EQ(lbk_pool_release(f.pool, b, &ok), 0);  // progress
  std::string after = peek(f, 4);
  EXPECT_EQ(std::count(after.begin(), after.end(), 'b'), 2) << after;
}

// A peer whose requests time out (fail after no progress) stays suspect
// with nothing in flight for 10 s; then one request tries it, and the peer
// is suspect again at once while that request is out.
TEST(Suspect, AStalledPeerIsRetriedOneRequestAtATime) {
  PoolFixture f("round_robin");
  ASSERT_EQ(lbk_pool_set_suspect(f.pool, 20000, 1), 0);
  f.add("a", 1, false, 0, /*max_fails=*/0);
  uint32_t b = f.add("b", 1, false, 0, /*max_fails=*/0);
  serve(f, 10);
  f.hold(b, 1);
  f.clock.now_us += 1000000;  // the read timeout
  f.fail(b);                  // a stall: b has nothing in flight now
  EXPECT_EQ(peek(f, 4), "aaaa");
  f.clock.now_us += 10000000;  // 10 s later it is tried again
  std::string again = peek(f, 2);
  EXPECT_NE(again.find('b'), std::string::npos) << again;
  f.hold(b, 1);  // that request is out: suspect at once, no new one
  EXPECT_EQ(peek(f, 4), "aaaa");
  // a fast failure (no stall) does not make a peer suspect
  PoolFixture g("round_robin");
  ASSERT_EQ(lbk_pool_set_suspect(g.pool, 20000, 1), 0);
  g.add("a", 1, false, 0, 0);
  uint32_t gb = g.add("b", 1, false, 0, 0);
  g.hold(gb, 1);
  g.clock.now_us += 1000;
  g.fail(gb);
  std::string fast = peek(g, 4);
  EXPECT_EQ(std::count(fast.begin(), fast.end(), 'b'), 2) << fast;
}

TEST(Suspect, AllMethodsWhenAskedAndNeverRefusingAPick) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a"), b = f.add("b");
  ASSERT_EQ(lbk_pool_set_suspect(f.pool, 20000, 1), 0);
  serve(f, 10);
  f.hold(b, 1);
  f.clock.now_us += 21000;
  EXPECT_EQ(peek(f, 6), "aaaaaa");
  f.hold(a, 1);  // a hangs too: both suspect, picks go on
  f.clock.now_us += 21000;
  auto counts = serve(f, 6);
  EXPECT_EQ(counts["a"] + counts["b"], 6);
  // off: round robin again
  ASSERT_EQ(lbk_pool_set_suspect(f.pool, 0, 1), 0);
  PoolFixture g("round_robin");
  g.add("a");
  uint32_t gb = g.add("b");
  ASSERT_EQ(lbk_pool_set_suspect(g.pool, 0, 1), 0);
  g.hold(gb, 1);
  g.clock.now_us += 100000;
  EXPECT_EQ(peek(g, 4), "abab");
}

TEST(Suspect, RoundRobinIgnoresItByDefault) {
  PoolFixture f("round_robin");
  f.add("a");
  uint32_t b = f.add("b");
  f.hold(b, 1);
  f.clock.now_us += 100000;
  EXPECT_EQ(peek(f, 4), "abab");
}

// A method that does not read the rule keeps no busy time; turned on for
// every method, the rule counts a peer busy since before from the moment
// it was turned on, not from the clock's origin.
TEST(Suspect, TurnedOnWhileAPeerIsBusyCountsFromThen) {
  PoolFixture f("round_robin");
  f.add("a");
  uint32_t b = f.add("b");
  serve(f, 4);
  f.hold(b, 1);
  f.clock.now_us += 100000;  // far past the floor, while nobody looked
  ASSERT_EQ(lbk_pool_set_suspect(f.pool, 20000, 1), 0);
  EXPECT_EQ(peek(f, 4), "abab");  // busy 0 ms as the rule counts
  f.clock.now_us += 21000;
  EXPECT_EQ(peek(f, 4), "aaaa");
}

}  // namespace
