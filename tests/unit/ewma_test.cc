// peak_ewma: the estimate's arithmetic against hand-computed values, and
// the resulting shares.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "lbkit.h"
#include "pool_test_support.h"

namespace {

using lbktest::PoolFixture;

uint64_t ewma_of(PoolFixture &f, uint32_t id) {
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  EXPECT_EQ(lbk_pool_peer_info(&info, f.pool, id), 0);
  return info.ewma_latency_us;
}

void release_ok(PoolFixture &f, uint32_t id, uint64_t latency_us) {
  lbk_outcome oc = LBK_OUTCOME_INIT;
  oc.latency_us = latency_us;
  ASSERT_EQ(lbk_pool_release(f.pool, id, &oc), 0);
}

TEST(PeakEwma, ArithmeticMatchesHandComputedValues) {
  PoolFixture f("peak_ewma");  // tau = 10 s
  uint32_t a = f.add("a");
  release_ok(f, a, 100000);  // first sample: E = 100000
  EXPECT_EQ(ewma_of(f, a), 100000u);
  f.clock.now_us += 10000000;  // dt = tau: w = e^-1 = 0.367879
  release_ok(f, a, 50000);
  // 100000 * 0.367879 + 50000 * 0.632121 = 36787.9 + 31606.0 = 68394
  EXPECT_EQ(ewma_of(f, a), 68394u);
  f.clock.now_us += 5000000;  // a higher sample replaces the estimate
  release_ok(f, a, 200000);
  EXPECT_EQ(ewma_of(f, a), 200000u);
  f.clock.now_us += 20000000;  // dt = 2 tau: w = e^-2 = 0.135335
  release_ok(f, a, 0 + 10000);
  // 200000 * 0.135335 + 10000 * 0.864665 = 27067.1 + 8646.6 = 35714
  EXPECT_EQ(ewma_of(f, a), 35714u);
}

TEST(PeakEwma, DecayFollowsTheConfiguredTau) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.ewma_decay_us = 1000000;  // tau = 1 s
  PoolFixture f("ewma", 64, &o);
  uint32_t a = f.add("a");
  release_ok(f, a, 1000);
  f.clock.now_us += 500000;  // w = e^-0.5 = 0.606531
  release_ok(f, a, 0 + 500);
  // 1000 * 0.606531 + 500 * 0.393469 = 606.53 + 196.73 = 803
  EXPECT_EQ(ewma_of(f, a), 803u);
}

TEST(PeakEwma, ASlowPeerGetsASmallShare) {
  PoolFixture f("peak_ewma");
  std::map<uint32_t, uint64_t> latency;
  for (int i = 0; i < 10; ++i) latency[f.add("p" + std::to_string(i))] = 1000;
  uint32_t slow = f.add("slow");
  latency[slow] = 20000;
  int on_slow = 0;
  const int picks = 20000;
  for (int i = 0; i < picks; ++i) {
    uint32_t id;
    ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
    on_slow += id == slow;
    f.clock.now_us += 1000;
    release_ok(f, id, latency[id]);
  }
  // An unweighted share would be 1/11 (9 %).  The two draws are distinct,
  // so once measured the slow peer loses every comparison (with
  // replacement it still won the 1/121 of picks that drew it twice); it is
  // taken at most once, before its first sample, as an average peer.
  EXPECT_LE(on_slow, 1);
}

// Distinct draws keep a once-slow peer out; the estimate read decayed
// with the time since its last sample brings it back for another try.
TEST(PeakEwma, ASlowPeerIsRetriedOnceItsEstimateDecays) {
  PoolFixture f("peak_ewma");  // tau = 10 s
  std::map<uint32_t, uint64_t> latency;
  for (int i = 0; i < 4; ++i) latency[f.add("p" + std::to_string(i))] = 1000;
  uint32_t slow = f.add("slow");
  latency[slow] = 20000;
  std::vector<uint64_t> slow_picked_at_us;
  const int picks = 100000;  // 1 ms apart: 100 s
  for (int i = 0; i < picks; ++i) {
    uint32_t id;
    ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
    if (id == slow) slow_picked_at_us.push_back(f.clock.now_us);
    f.clock.now_us += 1000;
    release_ok(f, id, latency[id]);
  }
  // 20 ms decays below the others' 1 ms after tau x ln(20) = 30 s: a try
  // about every 30 s after the first (unmeasured) pick.
  ASSERT_GE(slow_picked_at_us.size(), 3u);
  EXPECT_LE(slow_picked_at_us.size(), 6u);
  for (size_t k = 1; k < slow_picked_at_us.size(); ++k)
    EXPECT_GE(slow_picked_at_us[k] - slow_picked_at_us[k - 1], 25000000u) << k;
}

TEST(PeakEwma, NewPeerIsNeitherStarvedNorFlooded) {
  PoolFixture f("peak_ewma");
  for (int i = 0; i < 4; ++i) {
    uint32_t id = f.add("old" + std::to_string(i));
    f.hold(id, 5);
    for (int k = 0; k < 5; ++k) release_ok(f, id, 2000);
  }
  uint32_t fresh = f.add("fresh");
  int on_fresh = 0;
  const int picks = 5000;
  for (int i = 0; i < picks; ++i) {
    uint32_t id;
    ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
    on_fresh += id == fresh;
    release_ok(f, id, 2000);
  }
  // Fair share is 1/5 = 20 %.
  EXPECT_GT(on_fresh, picks * 0.10);
  EXPECT_LT(on_fresh, picks * 0.35);
}

}  // namespace
