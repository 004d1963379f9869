// Smooth weighted round robin: nginx's sequence and proportions.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "lbkit.h"
#include "pool_test_support.h"

namespace {

using lbktest::PoolFixture;

TEST(RoundRobin, NginxSmoothSequenceFor511) {
  PoolFixture f("round_robin");
  f.add("a", 5);
  f.add("b", 1);
  f.add("c", 1);
  EXPECT_EQ(f.sequence(14), "aabacaaaabacaa");
}

// An independent, straightforward O(n)-per-pick implementation of nginx's
// smooth weighted round robin, as nginx documents it.
std::string reference_smooth_rr(const std::vector<int> &weights, int picks) {
  std::vector<long> current(weights.size(), 0);
  long total = 0;
  for (int w : weights) total += w;
  std::string out;
  for (int p = 0; p < picks; ++p) {
    size_t best = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    out += static_cast<char>('a' + best);
  }
  return out;
}

TEST(RoundRobin, MatchesReferenceForMixedWeights) {
  const std::vector<std::vector<int>> cases = {
      {5, 1, 1}, {3, 2}, {1, 2, 3, 4}, {4, 4, 2}, {7, 3, 3, 1, 9}, {10, 1}};
  for (const auto &weights : cases) {
    PoolFixture f("round_robin");
    for (size_t i = 0; i < weights.size(); ++i)
      f.add(std::string(1, static_cast<char>('a' + i)), weights[i]);
    int period = 0;
    for (int w : weights) period += w;
    EXPECT_EQ(f.sequence(3 * period), reference_smooth_rr(weights, 3 * period));
  }
}

TEST(RoundRobin, EqualWeightsRotateInIdOrder) {
  PoolFixture f("roundrobin");
  for (const char *n : {"a", "b", "c", "d"}) f.add(n, 3);
  EXPECT_EQ(f.sequence(8), "abcdabcd");
}

TEST(RoundRobin, SkipsDownPeerAndKeepsOthersProportional) {
  PoolFixture f("round_robin");
  f.add("a", 2);
  uint32_t b = f.add("b", 1);
  f.add("c", 1);
  ASSERT_EQ(lbk_pool_set_state(f.pool, b, LBK_ADMIN_DOWN), 0);
  std::map<char, int> counts;
  for (char c : f.sequence(400)) counts[c]++;
  EXPECT_EQ(counts['b'], 0);
  EXPECT_EQ(counts['a'] + counts['c'], 400);
  EXPECT_GT(counts['a'], counts['c']);
}

// nginx never adds a `down` peer's weight: the others walk the smooth
// sequence of their own weights, {5,1} here, not {5,1,1} with c skipped.
TEST(RoundRobin, AdminDownPeerIsLeftOutOfTheSequenceAsInNginx) {
  for (int state : {LBK_ADMIN_DOWN, LBK_ADMIN_MAINT, LBK_ADMIN_DRAIN}) {
    PoolFixture f("round_robin");
    f.add("a", 5);
    f.add("b", 1);
    uint32_t c = f.add("c", 1);
    ASSERT_EQ(lbk_pool_set_state(f.pool, c, state), 0);
    EXPECT_EQ(f.sequence(12), reference_smooth_rr({5, 1}, 12)) << state;
    EXPECT_EQ(f.sequence(12), "aaabaaaaabaa") << state;
  }
}

TEST(RoundRobin, DownFromTheConfigAndBackUpRebuildsTheSchedule) {
  PoolFixture f("round_robin");
  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  pc.name = "a";
  pc.weight = 1;
  ASSERT_EQ(lbk_pool_add(nullptr, f.pool, &pc), 0);
  pc.name = "b";
  pc.weight = 3;
  pc.down = 1;  // nginx `server ... down`
  uint32_t b = LBK_PEER_NONE;
  ASSERT_EQ(lbk_pool_add(&b, f.pool, &pc), 0);
  pc.name = "c";
  pc.weight = 2;
  pc.down = 0;
  ASSERT_EQ(lbk_pool_add(nullptr, f.pool, &pc), 0);
  // nginx's sequence for a:1, c:2 (b's weight is never added).
  EXPECT_EQ(f.sequence(9), "caccaccac");
  ASSERT_EQ(lbk_pool_set_state(f.pool, b, LBK_ADMIN_UP), 0);
  // Back in service: the {1,3,2} period (6) in full, from wherever the
  // shared counter stands.
  std::map<char, int> counts;
  for (char ch : f.sequence(60)) counts[ch]++;
  EXPECT_EQ(counts['a'], 10);
  EXPECT_EQ(counts['b'], 30);
  EXPECT_EQ(counts['c'], 20);
}

TEST(RoundRobin, WeightChangeRebuildsSchedule) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a", 1);
  f.add("b", 1);
  EXPECT_EQ(f.sequence(4), "abab");
  ASSERT_EQ(lbk_pool_set_weight(f.pool, a, 3), 0);
  std::map<char, int> counts;
  for (char c : f.sequence(400)) counts[c]++;
  EXPECT_EQ(counts['a'], 300);
  EXPECT_EQ(counts['b'], 100);
}

TEST(RoundRobin, LargePeriodFallsBackToStrideWithSameProportions) {
  // 3000 peers with distinct weights exceed the exact-simulation budget.
  PoolFixture f("round_robin", 3000);
  uint64_t total = 0;
  for (int i = 0; i < 3000; ++i) {
    f.add("p" + std::to_string(i), 1 + i % 97);
    total += 1 + i % 97;
  }
  std::vector<uint64_t> counts(3000, 0);
  for (uint64_t k = 0; k < total; ++k) counts[f.pick_release()]++;
  for (int i = 0; i < 3000; ++i) EXPECT_EQ(counts[i], 1u + i % 97) << i;
}

}  // namespace
