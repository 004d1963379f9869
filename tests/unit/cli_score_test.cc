// Unit tests of the ranking formula (cli/score.h).
#include <gtest/gtest.h>

#include <cmath>

#include "score.h"

namespace {

lbctl::NodeState node(const char *name, bool healthy, int64_t lag, double p50, bool backup = false) {
  lbctl::NodeState n;
  n.name = name;
  n.url = std::string("http://") + name + "/";
  n.healthy = healthy;
  n.lag = lag;
  n.p50_ms = p50;
  n.backup = backup;
  return n;
}

TEST(LbctlScore, Formula) {
  EXPECT_DOUBLE_EQ(lbctl::compute_score(true, 0, 10, 10).score, 100.0);
  EXPECT_DOUBLE_EQ(lbctl::compute_score(true, 0, 20, 10).score, 75.0);  // 100 * (0.5 + 0.25)
  EXPECT_DOUBLE_EQ(lbctl::compute_score(true, 1, 10, 10).score, 50.0);
  EXPECT_DOUBLE_EQ(lbctl::compute_score(true, 2, 40, 10).score, 25.0 * 0.625);
  EXPECT_DOUBLE_EQ(lbctl::compute_score(false, 0, 1, 1).score, 0.0);
  EXPECT_DOUBLE_EQ(lbctl::compute_score(true, -3, 10, 10).score, 100.0);  // negative lag = 0
  EXPECT_DOUBLE_EQ(lbctl::compute_score(true, 0, -1, 10).score, 100.0);   // unknown latency
  EXPECT_GT(lbctl::compute_score(true, 1000, 10, 10).score, 0.0);         // capped at 2^-30
}

TEST(LbctlScore, OneBlockOfLagOutweighsAnyLatency) {
  // The slowest node without lag still beats the fastest one with lag 1.
  const double slow_no_lag = lbctl::compute_score(true, 0, 1e9, 1).score;
  const double fast_lag1 = lbctl::compute_score(true, 1, 1, 1).score;
  EXPECT_GT(slow_no_lag, fast_lag1);
}

TEST(LbctlScore, RankOrder) {
  std::vector<lbctl::NodeState> nodes = {
      node("down", false, 0, 1),       node("lag2", true, 2, 1),
      node("slow", true, 0, 50),       node("backup", true, 0, 30, true),
      node("fast", true, 0, 5),        node("lag1", true, 1, 100),
  };
  lbctl::rank_nodes(nodes);
  std::vector<std::string> order;
  for (const auto &n : nodes) order.push_back(n.name);
  EXPECT_EQ(order, (std::vector<std::string>{"fast", "slow", "lag1", "lag2", "backup", "down"}));
  EXPECT_DOUBLE_EQ(nodes[0].score, 100.0);
  EXPECT_DOUBLE_EQ(nodes[2].score, 50.0);  // fastest of lag 1
  EXPECT_DOUBLE_EQ(nodes[5].score, 0.0);
}

TEST(LbctlScore, RankingLatencyFallsBackToLast) {
  lbctl::NodeState n;
  n.last_ms = 7;
  EXPECT_DOUBLE_EQ(lbctl::ranking_latency_ms(n), 7);
  n.p50_ms = 3;
  EXPECT_DOUBLE_EQ(lbctl::ranking_latency_ms(n), 3);
}

}  // namespace
