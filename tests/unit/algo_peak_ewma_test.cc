// peak_ewma: the estimate's arithmetic against hand-computed values, and
// the resulting shares.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <queue>
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

// A busy peer's estimate forgets a one-off slow answer by count: each
// sample keeps at most 63/64 of the old estimate.  By time alone (tau 10 s)
// 300 answers 1 ms apart would keep 97 % of the spike.
TEST(PeakEwma, ABusyPeerForgetsASpikeWithinAFewHundredAnswers) {
  PoolFixture f("peak_ewma");  // tau = 10 s
  uint32_t a = f.add("a");
  release_ok(f, a, 1000);
  f.clock.now_us += 1000;
  release_ok(f, a, 20000);  // the spike counts at once (peak)
  EXPECT_EQ(ewma_of(f, a), 20000u);
  for (int i = 0; i < 300; ++i) {
    f.clock.now_us += 1000;
    release_ok(f, a, 1000);
  }
  // 1000 + 19000 x (63/64)^300 = 1000 + 19000 x 0.0089 = 1169
  EXPECT_NEAR(static_cast<double>(ewma_of(f, a)), 1169.0, 5.0);
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

// Closed loops of 32 requests in flight over three 1 ms peers and one 10 ms
// peer (make bench's tail-latency scenario, in simulated time).
class ClosedLoop {
 public:
  ClosedLoop() : f_("peak_ewma") {  // tau = 10 s
    for (int i = 0; i < 3; ++i) latency_[f_.add("fast" + std::to_string(i))] = 1000;
    slow_ = f_.add("slow");
    latency_[slow_] = 10000;
  }
  // Runs @p requests with 32 in flight and drains them; returns how many
  // went to the slow peer, not counting the first @p grace_us.
  int run(int requests, uint64_t grace_us) {
    const uint64_t counted_from = f_.clock.now_us + grace_us;
    int on_slow = 0;
    auto start = [&] {
      uint32_t id = LBK_PEER_NONE;
      EXPECT_EQ(lbk_pool_pick(&id, f_.pool, nullptr, 0, nullptr, 0), 0);
      on_slow += id == slow_ && f_.clock.now_us >= counted_from;
      in_flight_.push({f_.clock.now_us + latency_[id], id});
    };
    for (int i = 0; i < 32; ++i) start();
    for (int i = 0; i < requests || !in_flight_.empty(); ++i) {
      Done done = in_flight_.top();
      in_flight_.pop();
      f_.clock.now_us = done.first;
      release_ok(f_, done.second, latency_[done.second]);
      if (i < requests) start();
    }
    return on_slow;
  }
  void idle(uint64_t us) { f_.clock.now_us += us; }

 private:
  using Done = std::pair<uint64_t, uint32_t>;  // finish time, peer
  PoolFixture f_;
  std::map<uint32_t, uint64_t> latency_;
  uint32_t slow_;
  std::priority_queue<Done, std::vector<Done>, std::greater<Done>> in_flight_;
};

// With Finagle's cost E x (active + 1), a fast peer with ~11 in flight costs
// more than the idle slow one, which then always holds a request (~0.3 % of
// them, enough to show in a p99).  Load counted in units of the pool's mean
// in-flight keeps the slow peer out once it has answered (by 10 ms).
TEST(PeakEwma, ASlowPeerStaysOutAtHighConcurrency) {
  ClosedLoop loop;
  // 60000 requests at ~1 ms with 32 in flight: about 2 s.  The decayed
  // estimate undercuts the others' cost only after tau x ln(~4) = 14 s.
  // Finagle's cost gives the slow peer about 190 of them.
  EXPECT_LE(loop.run(60000, 10000), 0);
}

// After a pause every estimate reads decayed, the slow peer's most (its
// last sample is the oldest), and the first answers re-raise only the fast
// peers' estimates.  Only a peer with nothing in flight is read decayed, so
// the slow peer gets one retry, not a flood until that retry answers.
TEST(PeakEwma, APauseGivesTheSlowPeerOneRetry) {
  ClosedLoop loop;
  loop.run(60000, 10000);
  loop.idle(30000000);  // 30 s: e^-3 of every estimate is left
  EXPECT_LE(loop.run(30000, 0), 1);
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
