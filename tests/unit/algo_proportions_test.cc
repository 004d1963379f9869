// Per-method shares over many picks, with stated tolerances.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "lbkit.h"
#include "pool_test_support.h"

namespace {

using lbktest::PoolFixture;

// Picks and releases @p picks times; shares per name.
std::map<std::string, double> shares(PoolFixture &f, int picks) {
  std::map<uint32_t, int> counts;
  for (int i = 0; i < picks; ++i) counts[f.pick_release()]++;
  std::map<std::string, double> out;
  for (const auto &c : counts) out[f.name_of(c.first)] = double(c.second) / picks;
  return out;
}

// Weighted methods with no load: shares follow weights 1:2:3:4 within
// 1.5 percentage points over 40000 picks (about 6 standard deviations).
TEST(Proportions, WeightedMethodsFollowWeights) {
  // least_conn: with every request released at once all peers tie, and
  // ties go by weight, as nginx's weighted round robin among equals.
  for (const char *method : {"random", "p2c", "round_robin", "least_conn"}) {
    PoolFixture f(method);
    f.add("a", 1);
    f.add("b", 2);
    f.add("c", 3);
    f.add("d", 4);
    auto s = shares(f, 40000);
    EXPECT_NEAR(s["a"], 0.1, 0.015) << method;
    EXPECT_NEAR(s["b"], 0.2, 0.015) << method;
    EXPECT_NEAR(s["c"], 0.3, 0.015) << method;
    EXPECT_NEAR(s["d"], 0.4, 0.015) << method;
  }
}

TEST(Proportions, LeastConnHoldsActivePerWeight) {
  PoolFixture f("leastconn");
  uint32_t a = f.add("a", 1);
  uint32_t b = f.add("b", 3);
  std::map<uint32_t, int> held;
  for (int i = 0; i < 400; ++i) {
    uint32_t id;
    ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
    held[id]++;
  }
  EXPECT_NEAR(held[a], 100, 1);
  EXPECT_NEAR(held[b], 300, 1);
}

TEST(Proportions, P2cPrefersTheLessLoadedOfTwoDraws) {
  PoolFixture f("p2c");
  uint32_t busy = f.add("busy");
  f.add("idle1");
  f.add("idle2");
  f.add("idle3");
  // Hold 50 requests on busy.  The two draws are distinct, so busy always
  // meets an idle peer and never wins (with replacement it won 1/16).
  f.hold(busy, 50);
  int on_busy = 0;
  const int picks = 16000;
  for (int i = 0; i < picks; ++i) on_busy += f.pick_release() == busy;
  EXPECT_EQ(on_busy, 0);
}

TEST(Proportions, DistinctDrawsReachALightPeerBesideAHeavyOne) {
  // busy holds 1000 of 1002 weight units: nearly every draw hits it, so
  // the second draw needs the bounded redraws and then the scan.
  for (const char *method : {"p2c", "peak_ewma"}) {
    PoolFixture f(method);
    uint32_t busy = f.add("busy", 1000);
    uint32_t light1 = f.add("light1", 1);
    uint32_t light2 = f.add("light2", 1);
    f.hold(busy, 50);
    std::map<uint32_t, int> counts;
    const int picks = 4000;
    for (int i = 0; i < picks; ++i) counts[f.pick_release()]++;
    EXPECT_EQ(counts[busy], 0) << method;
    EXPECT_EQ(counts[light1] + counts[light2], picks) << method;
    // The scan starts at a random position: both light peers are reached.
    EXPECT_GT(counts[light1], picks / 10) << method;
    EXPECT_GT(counts[light2], picks / 10) << method;
  }
}

TEST(Proportions, DrawsStopWhenOnlyOnePeerIsUsable) {
  for (const char *method : {"p2c", "peak_ewma"}) {
    PoolFixture f(method);
    uint32_t only = f.add("only");
    uint32_t down = f.add("down");
    ASSERT_EQ(lbk_pool_set_state(f.pool, down, LBK_ADMIN_DOWN), 0);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(f.pick_release(), only) << method;
  }
}

TEST(Proportions, OneDrawP2cIsWeightedRandom) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.random_draws = 1;  // HAProxy random(1)
  PoolFixture f("p2c", 64, &o);
  uint32_t busy = f.add("busy");
  f.add("idle");
  f.hold(busy, 20);
  int on_busy = 0;
  for (int i = 0; i < 10000; ++i) on_busy += f.pick_release() == busy;
  EXPECT_NEAR(on_busy, 5000, 300);  // load is ignored with one draw
}

TEST(Proportions, FastestWithoutProbeDataSharesLikeRoundRobin) {
  PoolFixture f("fastest");
  f.add("a");
  f.add("b");
  f.add("c");
  EXPECT_EQ(f.sequence(6), "abcabc");
}

TEST(Proportions, FirstFillsPeersInIdOrder) {
  PoolFixture f("first");
  uint32_t a = f.add("a", 1, false, 3);
  uint32_t b = f.add("b", 1, false, 2);
  uint32_t c = f.add("c", 1, false, 0);
  std::vector<uint32_t> got;
  for (int i = 0; i < 7; ++i) {
    uint32_t id;
    ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
    got.push_back(id);
  }
  EXPECT_EQ(got, (std::vector<uint32_t>{a, a, a, b, b, c, c}));
  lbk_outcome oc = LBK_OUTCOME_INIT;
  lbk_pool_release(f.pool, a, &oc);
  uint32_t id;
  ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
  EXPECT_EQ(id, a);
}

std::string random_picks(uint64_t seed, lbk_rng_fn rng = nullptr, void *ud = nullptr) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.seed = seed;
  o.rng = rng;
  o.rng_ud = ud;
  PoolFixture f("random", 64, &o);
  for (const char *n : {"a", "b", "c", "d", "e"}) f.add(n);
  return f.sequence(200);
}

TEST(Determinism, SameSeedSameSequenceOtherSeedOtherSequence) {
  EXPECT_EQ(random_picks(5), random_picks(5));
  EXPECT_NE(random_picks(5), random_picks(6));
}

uint64_t counting_rng(void *ud) {
  uint64_t &n = *static_cast<uint64_t *>(ud);
  // The middle of the k-th fifth of the range, k = 0..4 in turn (a draw's
  // column comes from the high bits); low bits all ones.
  return ((n++ % 5) * (UINT64_MAX / 5) + UINT64_MAX / 10) | 0xffffffffu;
}

TEST(Determinism, InjectedGeneratorIsUsed) {
  uint64_t n = 0;
  std::string seq = random_picks(1, counting_rng, &n);
  EXPECT_EQ(seq.substr(0, 10), "abcdeabcde");
  EXPECT_GE(n, 200u);
}

}  // namespace
