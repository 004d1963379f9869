// algo/methods.cc and the ops table: the registry's names, aliases and ids
// (ids are stored in placed blocks, so they never move), the ops a hash
// kind selects, and the hooks the pool calls (peak_ewma's released hook
// keeps the pool-wide latency mean and the in-flight total; least_conn's
// active_changed hook keeps its shared order).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "algo/methods.h"
#include "bits.h"
#include "lbkit.h"
#include "pool.h"
#include "pool_test_support.h"

namespace {

using lbktest::PoolFixture;

TEST(MethodRegistry, IdsNamesAndAliasesStayPut) {
  const struct {
    const char *name;
    int id;
    const char *canonical;
  } cases[] = {
      {"round_robin", 0, "round_robin"}, {"roundrobin", 0, "round_robin"},
      {"rr", 0, "round_robin"},          {"static-rr", 0, "round_robin"},
      {"least_conn", 1, "least_conn"},   {"leastconn", 1, "least_conn"},
      {"random", 2, "random"},           {"p2c", 3, "p2c"},
      {"random2", 3, "p2c"},             {"random(5)", 3, "p2c"},
      {"peak_ewma", 4, "peak_ewma"},     {"ewma", 4, "peak_ewma"},
      {"fastest", 5, "fastest"},         {"first", 6, "first"},
      {"hash", 7, "hash"},               {"consistent", 7, "hash"},
      {"maglev", 8, "maglev"},           {"source", 9, "source"},
  };
  for (const auto &c : cases) {
    EXPECT_EQ(c.id, lbk::method_from_name(c.name)) << c.name;
    EXPECT_STREQ(c.canonical, lbk::method_canonical_name(static_cast<uint32_t>(c.id)));
    EXPECT_STREQ(c.canonical, lbk_method_canonical(c.name)) << c.name;
  }
  for (const char *bad : {"", "r", "rr ", "round", "static", "random(0)", "random(65)",
                          "Round_Robin", "leastconn2"})
    EXPECT_EQ(-1, lbk::method_from_name(bad)) << "'" << bad << "'";
  EXPECT_EQ(-1, lbk::method_from_name(nullptr));
  EXPECT_EQ(nullptr, lbk::method_ops(10, LBK_HASH_KETAMA));
  EXPECT_STREQ("unknown", lbk::method_canonical_name(10));
}

TEST(MethodRegistry, HashKindSelectsTheOps) {
  for (const char *name : {"hash", "source"}) {
    uint32_t m = static_cast<uint32_t>(lbk::method_from_name(name));
    EXPECT_STREQ("ketama", lbk::method_ops(m, LBK_HASH_KETAMA)->name);
    EXPECT_STREQ("maglev", lbk::method_ops(m, LBK_HASH_MAGLEV)->name);
    EXPECT_STREQ("modulo_hash", lbk::method_ops(m, LBK_HASH_MODULO)->name);
  }
  // maglev is maglev whatever the kind; others ignore it.
  uint32_t maglev = static_cast<uint32_t>(lbk::method_from_name("maglev"));
  EXPECT_STREQ("maglev", lbk::method_ops(maglev, LBK_HASH_MODULO)->name);
  uint32_t rr = static_cast<uint32_t>(lbk::method_from_name("rr"));
  EXPECT_STREQ("round_robin", lbk::method_ops(rr, LBK_HASH_MAGLEV)->name);
}

TEST(MethodOps, EveryMethodBuildsAndPicks) {
  for (uint32_t m = 0; lbk::method_ops(m, LBK_HASH_KETAMA) != nullptr; ++m)
    for (int kind : {LBK_HASH_KETAMA, LBK_HASH_MAGLEV, LBK_HASH_MODULO}) {
      const lbk::AlgoOps *ops = lbk::method_ops(m, kind);
      ASSERT_NE(nullptr, ops->name);
      EXPECT_NE(nullptr, ops->build) << ops->name;
      EXPECT_NE(nullptr, ops->pick) << ops->name;
    }
}

double mean_latency(PoolFixture &f) {
  return lbk::load_double(f.pool->header->latency_mean_bits);
}

void pick_release(PoolFixture &f, int result, uint64_t latency_us) {
  uint32_t id = LBK_PEER_NONE;
  ASSERT_EQ(0, lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0));
  // only methods that read the in-flight total make picks keep it
  const uint64_t in_flight = f.pool->ops->reads_in_flight ? 1 : 0;
  EXPECT_EQ(in_flight, f.pool->header->total_active.load()) << f.pool->ops->name;
  lbk_outcome o = LBK_OUTCOME_INIT;
  o.result = result;
  o.latency_us = latency_us;
  ASSERT_EQ(0, lbk_pool_release(f.pool, id, &o));
  EXPECT_EQ(0u, f.pool->header->total_active.load());
}

// peak_ewma's released hook: successful, measured releases move the mean;
// failures and unmeasured ones do not.
TEST(MethodHooks, PeakEwmaReleasedKeepsThePoolMean) {
  PoolFixture f("peak_ewma");
  f.add("a", 1, false, 0, /*max_fails=*/0);
  pick_release(f, LBK_OUTCOME_OK, 1600);
  EXPECT_DOUBLE_EQ(1600.0, mean_latency(f));
  pick_release(f, LBK_OUTCOME_OK, 3200);
  EXPECT_DOUBLE_EQ(1700.0, mean_latency(f));  // 1600 + (3200 - 1600) / 16
  pick_release(f, LBK_OUTCOME_FAILED, 99999);
  pick_release(f, LBK_OUTCOME_OK, 0);
  EXPECT_DOUBLE_EQ(1700.0, mean_latency(f));
}

// Without the hook nothing writes the shared mean or the in-flight total,
// while the peer's own estimate (every method keeps it) still moves.
TEST(MethodHooks, OtherMethodsLeaveThePoolMean) {
  for (const char *method : {"round_robin", "least_conn", "fastest", "p2c"}) {
    PoolFixture f(method);
    uint32_t a = f.add("a");
    pick_release(f, LBK_OUTCOME_OK, 1600);
    EXPECT_EQ(0.0, mean_latency(f)) << method;
    lbk_peer_info info;
    ASSERT_EQ(0, lbk_peer_info_init(&info, LBK_PEER_INFO_VERSION));
    ASSERT_EQ(0, lbk_pool_peer_info(&info, f.pool, a));
    EXPECT_EQ(1600u, info.ewma_latency_us) << method;
  }
}

TEST(MethodHooks, WhichMethodsHaveWhichHooks) {
  auto ops = [](const char *name) {
    return lbk::method_ops(static_cast<uint32_t>(lbk::method_from_name(name)),
                           LBK_HASH_KETAMA);
  };
  EXPECT_NE(nullptr, ops("least_conn")->active_changed);
  EXPECT_NE(nullptr, ops("peak_ewma")->released);
  EXPECT_TRUE(ops("peak_ewma")->reads_in_flight);
  for (const char *name : {"round_robin", "random", "p2c", "fastest", "first", "hash", "maglev"}) {
    EXPECT_EQ(nullptr, ops(name)->active_changed) << name;
    EXPECT_EQ(nullptr, ops(name)->released) << name;
    EXPECT_FALSE(ops(name)->reads_in_flight) << name;
  }
}

}  // namespace
