// The pool: creation, placement, peers, errors and every skip rule.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "lbkit.h"
#include "pool_test_support.h"

namespace {

using lbktest::PoolFixture;

TEST(Pool, MethodNamesAndAliases) {
  const std::map<std::string, std::string> aliases = {
      {"round_robin", "round_robin"}, {"roundrobin", "round_robin"},
      {"rr", "round_robin"},          {"static-rr", "round_robin"},
      {"least_conn", "least_conn"},   {"leastconn", "least_conn"},
      {"random", "random"},           {"p2c", "p2c"},
      {"random2", "p2c"},             {"peak_ewma", "peak_ewma"},
      {"ewma", "peak_ewma"},          {"fastest", "fastest"},
      {"first", "first"},             {"hash", "hash"},
      {"consistent", "hash"},         {"maglev", "maglev"},
      {"source", "source"}};
  for (const auto &a : aliases) {
    const char *c = lbk_method_canonical(a.first.c_str());
    ASSERT_NE(c, nullptr) << a.first;
    EXPECT_EQ(std::string(c), a.second);
  }
  EXPECT_EQ(lbk_method_canonical("weighted_magic"), nullptr);
  EXPECT_EQ(lbk_method_canonical(nullptr), nullptr);
}

TEST(Pool, HaproxyRandomNIsP2cWithNDraws) {
  EXPECT_STREQ(lbk_method_canonical("random(3)"), "p2c");
  EXPECT_STREQ(lbk_method_canonical("random(1)"), "p2c");
  for (const char *bad : {"random(0)", "random(65)", "random()", "random(2",
                          "random(2)x", "random(-1)"})
    EXPECT_EQ(lbk_method_canonical(bad), nullptr) << bad;

  // Three draws over three peers always find the one idle peer; two draws
  // would miss it in a third of the picks.
  PoolFixture f("random(3)", 8);
  f.add("a");
  f.add("b");
  f.add("c");
  uint32_t held1, held2, id;
  ASSERT_EQ(lbk_pool_pick(&held1, f.pool, nullptr, 0, nullptr, 0), 0);
  ASSERT_EQ(lbk_pool_pick(&held2, f.pool, nullptr, 0, nullptr, 0), 0);
  ASSERT_NE(held1, held2);
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
    ASSERT_NE(id, held1);
    ASSERT_NE(id, held2);
    lbk_outcome o = LBK_OUTCOME_INIT;
    lbk_pool_release(f.pool, id, &o);
  }
}

TEST(Pool, ErrorsHaveDistinctCodesAndMessages) {
  lbk_pool *pool = nullptr;
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.method = "nonsense";
  EXPECT_EQ(lbk_pool_create(&pool, &o), LBK_EMETHOD);
  EXPECT_NE(std::strstr(lbk_error_last(), "nonsense"), nullptr);

  PoolFixture f("round_robin", 2);
  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  pc.name = "a";
  pc.weight = 0;
  EXPECT_EQ(lbk_pool_add(nullptr, f.pool, &pc), LBK_EWEIGHT);
  EXPECT_NE(std::strstr(lbk_error_last(), "weight 0"), nullptr);
  pc.weight = LBK_WEIGHT_MAX + 1;
  EXPECT_EQ(lbk_pool_add(nullptr, f.pool, &pc), LBK_EWEIGHT);
  pc.weight = 1;
  pc.name = "";
  EXPECT_EQ(lbk_pool_add(nullptr, f.pool, &pc), LBK_ENAME);
  std::string long_name(LBK_NAME_MAX, 'x');
  pc.name = long_name.c_str();
  EXPECT_EQ(lbk_pool_add(nullptr, f.pool, &pc), LBK_ENAME);
  pc.name = "a";
  EXPECT_EQ(lbk_pool_add(nullptr, f.pool, &pc), 0);
  EXPECT_EQ(lbk_pool_add(nullptr, f.pool, &pc), LBK_EDUPNAME);
  EXPECT_NE(std::strstr(lbk_error_last(), "'a' already exists"), nullptr);
  pc.name = "b";
  EXPECT_EQ(lbk_pool_add(nullptr, f.pool, &pc), 0);
  pc.name = "c";
  EXPECT_EQ(lbk_pool_add(nullptr, f.pool, &pc), LBK_ETOOMANY);
  EXPECT_NE(std::strstr(lbk_error_last(), "max_peers 2"), nullptr);
  EXPECT_EQ(lbk_pool_set_weight(f.pool, 0, 0), LBK_EWEIGHT);
  EXPECT_EQ(lbk_pool_set_weight(f.pool, 7, 1), LBK_ENOTFOUND);
  EXPECT_EQ(lbk_pool_set_state(f.pool, 0, 9), LBK_EINVAL);
  EXPECT_EQ(lbk_pool_set_weight_pct(f.pool, 0, 101), LBK_ERANGE);

  PoolFixture h("hash");
  h.add("x");
  uint32_t id;
  EXPECT_EQ(lbk_pool_pick(&id, h.pool, nullptr, 1, nullptr, 0), LBK_EKEY);
  EXPECT_NE(std::strstr(lbk_error_last(), "key is NULL"), nullptr);

  const int codes[] = {LBK_EINVAL,  LBK_ENOMEM,    LBK_ENOPEER, LBK_EWEIGHT,
                       LBK_EDUPNAME, LBK_EMETHOD,  LBK_ETOOMANY, LBK_EKEY,
                       LBK_ENOTFOUND, LBK_ERANGE,  LBK_EPARSE,  LBK_EAGAIN,
                       LBK_ELIMIT,  LBK_ELAYOUT,   LBK_ENAME};
  std::map<std::string, int> texts;
  for (int c : codes) texts[lbk_strerror(c)]++;
  EXPECT_EQ(texts.size(), sizeof codes / sizeof codes[0]);
}

TEST(Pool, AddRemoveFindNextAndIdReuse) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a"), b = f.add("b"), c = f.add("c");
  EXPECT_EQ(lbk_pool_count(f.pool), 3u);
  uint32_t found;
  ASSERT_EQ(lbk_pool_find(&found, f.pool, "b"), 0);
  EXPECT_EQ(found, b);
  EXPECT_EQ(lbk_pool_find(&found, f.pool, "zz"), LBK_ENOTFOUND);
  ASSERT_EQ(lbk_pool_remove(f.pool, b), 0);
  EXPECT_EQ(lbk_pool_remove(f.pool, b), LBK_ENOTFOUND);
  EXPECT_EQ(lbk_pool_next(f.pool, LBK_PEER_NONE), a);
  EXPECT_EQ(lbk_pool_next(f.pool, a), c);
  EXPECT_EQ(lbk_pool_next(f.pool, c), LBK_PEER_NONE);
  EXPECT_EQ(f.sequence(4), "acac");
  EXPECT_EQ(f.add("d"), b);  // the lowest free id is reused
  EXPECT_EQ(lbk_pool_count(f.pool), 3u);
}

TEST(Pool, PlacedBlockAttachesAndRejectsOtherLayouts) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.max_peers = 8;
  size_t size = lbk_pool_size(8);
  ASSERT_GT(size, 0u);
  EXPECT_EQ(lbk_pool_size(0), 0u);
  void *mem = std::aligned_alloc(64, size);
  std::memset(mem, 0, size);
  lbk_pool *p1 = nullptr, *p2 = nullptr;
  EXPECT_EQ(lbk_pool_place(&p1, mem, size - 64, &o, LBK_PLACE_INIT), LBK_ENOMEM);
  EXPECT_EQ(lbk_pool_place(&p2, mem, size, &o, LBK_PLACE_ATTACH), LBK_ELAYOUT);
  ASSERT_EQ(lbk_pool_place(&p1, mem, size, &o, LBK_PLACE_INIT), 0);
  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  pc.name = "shared";
  ASSERT_EQ(lbk_pool_add(nullptr, p1, &pc), 0);
  ASSERT_EQ(lbk_pool_place(&p2, mem, size, nullptr, LBK_PLACE_ATTACH), 0);
  EXPECT_EQ(lbk_pool_count(p2), 1u);
  uint32_t id;
  ASSERT_EQ(lbk_pool_pick(&id, p2, nullptr, 0, nullptr, 0), 0);
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  ASSERT_EQ(lbk_pool_peer_info(&info, p1, id), 0);
  EXPECT_EQ(info.active, 1u);  // p1 sees p2's pick
  lbk_outcome oc = LBK_OUTCOME_INIT;
  ASSERT_EQ(lbk_pool_release(p1, id, &oc), 0);
  lbk_pool_free(p2);
  lbk_pool_free(p1);
  // Corrupt the layout version: attach must refuse.
  reinterpret_cast<uint32_t *>(mem)[2] += 1;
  EXPECT_EQ(lbk_pool_place(&p2, mem, size, nullptr, LBK_PLACE_ATTACH),
            LBK_ELAYOUT);
  EXPECT_NE(std::strstr(lbk_error_last(), "layout version"), nullptr);
  std::free(mem);
}

// Each handle keeps its own index of names and free ids; a change made
// through another handle on the same block must be seen by the next add.
TEST(Pool, HandlesOnOneBlockSeeEachOthersNames) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.max_peers = 8;
  size_t size = lbk_pool_size(8);
  void *mem = std::aligned_alloc(64, size);
  std::memset(mem, 0, size);
  lbk_pool *p1 = nullptr, *p2 = nullptr;
  ASSERT_EQ(lbk_pool_place(&p1, mem, size, &o, LBK_PLACE_INIT), 0);
  ASSERT_EQ(lbk_pool_place(&p2, mem, size, nullptr, LBK_PLACE_ATTACH), 0);
  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  uint32_t a, b, c, again;
  pc.name = "a";
  ASSERT_EQ(lbk_pool_add(&a, p1, &pc), 0);
  pc.name = "b";
  ASSERT_EQ(lbk_pool_add(&b, p2, &pc), 0);  // p2 indexes after p1's add
  EXPECT_NE(a, b);
  EXPECT_EQ(lbk_pool_add(&again, p1, &pc), LBK_EDUPNAME);  // p1 sees p2's
  ASSERT_EQ(lbk_pool_remove(p2, a), 0);
  pc.name = "a";
  ASSERT_EQ(lbk_pool_add(&again, p1, &pc), 0);  // p1 sees p2's removal
  EXPECT_EQ(again, a);                          // and reuses the lowest id
  pc.name = "c";
  ASSERT_EQ(lbk_pool_add(&c, p2, &pc), 0);
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
  EXPECT_EQ(lbk_pool_count(p1), 3u);
  lbk_pool_free(p2);
  lbk_pool_free(p1);
  std::free(mem);
}

TEST(Pool, SkipsTriedPeers) {
  PoolFixture f("round_robin");
  f.add("a");
  uint32_t b = f.add("b");
  f.add("c");
  uint64_t tried[1] = {(uint64_t{1} << 0) | (uint64_t{1} << 2)};
  for (int i = 0; i < 5; ++i) {
    uint32_t id;
    ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, tried, 1), 0);
    EXPECT_EQ(id, b);
    lbk_outcome oc = LBK_OUTCOME_INIT;
    lbk_pool_release(f.pool, id, &oc);
  }
  tried[0] |= uint64_t{1} << 1;
  uint32_t id;
  EXPECT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, tried, 1), LBK_ENOPEER);
  EXPECT_EQ(id, LBK_PEER_NONE);
}

TEST(Pool, SkipsEveryAdminStateButUp) {
  for (int state : {LBK_ADMIN_DRAIN, LBK_ADMIN_MAINT, LBK_ADMIN_DOWN}) {
    PoolFixture f("least_conn");
    uint32_t a = f.add("a");
    f.add("b");
    ASSERT_EQ(lbk_pool_set_state(f.pool, a, state), 0);
    EXPECT_EQ(f.sequence(6), "bbbbbb") << state;
    ASSERT_EQ(lbk_pool_set_state(f.pool, a, LBK_ADMIN_UP), 0);
    EXPECT_NE(f.sequence(6).find('a'), std::string::npos);
  }
  PoolFixture g("round_robin");
  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  pc.name = "configured-down";
  pc.down = 1;
  ASSERT_EQ(lbk_pool_add(nullptr, g.pool, &pc), 0);
  g.add("z");
  EXPECT_EQ(g.sequence(4), "zzzz");
}

TEST(Pool, FullPeersAreSkippedUntilReleased) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a", 1, false, /*max_conns=*/2);
  uint32_t b = f.add("b", 1, false, /*max_conns=*/1);
  std::vector<uint32_t> held;
  for (int i = 0; i < 3; ++i) {
    uint32_t id;
    ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
    held.push_back(id);
  }
  uint32_t id;
  EXPECT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), LBK_ENOPEER);
  std::map<uint32_t, int> per;
  for (uint32_t h : held) per[h]++;
  EXPECT_EQ(per[a], 2);
  EXPECT_EQ(per[b], 1);
  lbk_outcome oc = LBK_OUTCOME_INIT;
  ASSERT_EQ(lbk_pool_release(f.pool, b, &oc), 0);
  ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
  EXPECT_EQ(id, b);
  // Raising max_conns at run time frees a slot.
  ASSERT_EQ(lbk_pool_set_max_conns(f.pool, a, 3), 0);
  ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
  EXPECT_EQ(id, a);
}

TEST(Pool, FailedWindowFollowsNginxAndExpiresWithTheClock) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a", 1, false, 0, /*max_fails=*/2, /*fail_timeout_ms=*/10000);
  f.add("b");
  f.fail(a);
  EXPECT_NE(f.sequence(4).find('a'), std::string::npos);  // 1 < max_fails
  f.clock.now_us += 5000000;
  f.fail(a);  // second failure within 10 s: a is out
  EXPECT_EQ(f.sequence(6), "bbbbbb");
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  ASSERT_EQ(lbk_pool_peer_info(&info, f.pool, a), 0);
  EXPECT_EQ(info.usable, 0);
  EXPECT_EQ(info.fails_in_window, 2u);
  f.clock.now_us += 9999000;  // still within fail_timeout of the last failure
  EXPECT_EQ(f.sequence(4), "bbbb");
  f.clock.now_us += 2000;  // window over: a is usable again...
  lbk_pool_peer_info(&info, f.pool, a);
  EXPECT_EQ(info.usable, 1);
  // ...but a failure of that first retry disables it again at once (nginx).
  f.fail(a);
  EXPECT_EQ(f.sequence(4), "bbbb");
  f.clock.now_us += 10001000;
  std::string seq = f.sequence(4);  // successes clear the count
  EXPECT_NE(seq.find('a'), std::string::npos);
  f.fail(a);
  EXPECT_NE(f.sequence(4).find('a'), std::string::npos);
}

TEST(Pool, FailuresOlderThanTheWindowDoNotAccumulate) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a", 1, false, 0, 2, 1000);
  f.add("b");
  f.fail(a);
  f.clock.now_us += 1500000;
  f.fail(a);  // the first failure is 1.5 s old: count restarts at 1
  EXPECT_NE(f.sequence(4).find('a'), std::string::npos);
}

TEST(Pool, MaxFailsZeroDisablesTheWindow) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a", 1, false, 0, 0, 10000);
  for (int i = 0; i < 10; ++i) f.fail(a);
  EXPECT_EQ(f.sequence(3), "aaa");
}

TEST(Pool, BackupsOnlyWhenNoPrimaryIsUsable) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a");
  uint32_t b = f.add("b");
  f.add("x", 1, /*backup=*/true);
  f.add("y", 1, true);
  std::string seq = f.sequence(8);
  EXPECT_EQ(seq.find('x'), std::string::npos);
  EXPECT_EQ(seq.find('y'), std::string::npos);
  lbk_pool_set_state(f.pool, a, LBK_ADMIN_DOWN);
  lbk_pool_set_state(f.pool, b, LBK_ADMIN_DRAIN);
  seq = f.sequence(8);
  EXPECT_EQ(seq.find_first_not_of("xy"), std::string::npos);
  EXPECT_NE(seq.find('x'), std::string::npos);
  EXPECT_NE(seq.find('y'), std::string::npos);
  lbk_pool_set_state(f.pool, b, LBK_ADMIN_UP);
  EXPECT_EQ(f.sequence(3), "bbb");
}

TEST(Pool, ReleaseAfterRemoveIsIgnored) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a");
  uint32_t id;
  ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
  ASSERT_EQ(lbk_pool_remove(f.pool, a), 0);
  lbk_outcome oc = LBK_OUTCOME_INIT;
  oc.result = LBK_OUTCOME_FAILED;
  EXPECT_EQ(lbk_pool_release(f.pool, a, &oc), 0);
  EXPECT_EQ(lbk_pool_count(f.pool), 0u);
  EXPECT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), LBK_ENOPEER);
}

TEST(Pool, NoPeersGivesENOPEER) {
  PoolFixture f("round_robin");
  uint32_t id;
  EXPECT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), LBK_ENOPEER);
  EXPECT_STRNE(lbk_error_last(), "");
}

TEST(Pool, ActiveAndTotalsAreCounted) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a");
  uint32_t id;
  ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
  ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  lbk_pool_peer_info(&info, f.pool, a);
  EXPECT_EQ(info.active, 2u);
  EXPECT_EQ(info.requests, 2u);
  lbk_outcome ok = LBK_OUTCOME_INIT, cancelled = LBK_OUTCOME_INIT;
  cancelled.result = LBK_OUTCOME_CANCELLED;
  lbk_pool_release(f.pool, a, &ok);
  lbk_pool_release(f.pool, a, &cancelled);
  lbk_pool_peer_info(&info, f.pool, a);
  EXPECT_EQ(info.active, 0u);
  EXPECT_EQ(info.successes, 1u);
  EXPECT_EQ(info.failures, 0u);
  lbk_outcome bad = LBK_OUTCOME_INIT;
  bad.result = 7;
  EXPECT_EQ(lbk_pool_release(f.pool, a, &bad), LBK_EINVAL);
}

TEST(Pool, OutlierEjectionGrowsAndIsCapped) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.outlier_consecutive = 3;
  o.outlier_base_ejection_us = 1000000;
  o.outlier_max_ejection_pct = 50;
  PoolFixture f("round_robin", 64, &o);
  uint32_t a = f.add("a", 1, false, 0, 0);
  uint32_t b = f.add("b", 1, false, 0, 0);
  f.add("c", 1, false, 0, 0);
  f.add("d", 1, false, 0, 0);
  for (int i = 0; i < 3; ++i) f.fail(a);
  EXPECT_EQ(f.sequence(6).find('a'), std::string::npos);
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  lbk_pool_peer_info(&info, f.pool, a);
  EXPECT_EQ(info.ejections, 1u);
  EXPECT_EQ(info.ejected_until_us, f.clock.now_us + 1000000);
  // 50 % of 4 peers: b may be ejected too, c may not.
  for (int i = 0; i < 3; ++i) f.fail(b);
  uint32_t c;
  lbk_pool_find(&c, f.pool, "c");
  for (int i = 0; i < 3; ++i) f.fail(c);
  std::string seq = f.sequence(8);
  EXPECT_EQ(seq.find('b'), std::string::npos);
  EXPECT_NE(seq.find('c'), std::string::npos);
  // After 1 s a returns; its second ejection lasts 2 s.
  f.clock.now_us += 1000001;
  EXPECT_NE(f.sequence(8).find('a'), std::string::npos);
  for (int i = 0; i < 3; ++i) f.fail(a);
  lbk_pool_peer_info(&info, f.pool, a);
  EXPECT_EQ(info.ejections, 2u);
  EXPECT_EQ(info.ejected_until_us, f.clock.now_us + 2000000);
}

lbk_pool_options panic_below_half() {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.panic_threshold_pct = 50;
  return o;
}

// Round robin over peers a, b, c, d (max_fails 1), panic below 50 % healthy.
struct PanicPool {
  PanicPool() {
    for (int i = 0; i < 4; ++i)
      ids[i] = f.add(std::string(1, static_cast<char>('a' + i)), 1, false, 0, 1);
  }
  lbk_pool_options options = panic_below_half();
  PoolFixture f{"round_robin", 64, &options};
  uint32_t ids[4];
};

TEST(Pool, PanicUsesEveryAdminUpPeerWhenTooFewAreHealthy) {
  PanicPool p;
  PoolFixture &f = p.f;
  const uint32_t *ids = p.ids;
  f.fail(ids[0]);  // 3 of 4 healthy: no panic
  EXPECT_EQ(f.sequence(6).find('a'), std::string::npos);
  f.fail(ids[1]);  // 2 of 4 = 50 %: not below the threshold
  EXPECT_EQ(f.sequence(6).find_first_of("ab"), std::string::npos);
  f.fail(ids[2]);  // 1 of 4 < 50 %: panic, all four take traffic
  std::string seq = f.sequence(8);
  for (char c : std::string("abcd")) EXPECT_NE(seq.find(c), std::string::npos) << c;
  // An administratively down peer stays out even in panic.
  lbk_pool_set_state(f.pool, ids[3], LBK_ADMIN_DOWN);
  seq = f.sequence(8);
  EXPECT_EQ(seq.find('d'), std::string::npos);
}

TEST(Pool, PeerInfoUsableFollowsPanic) {
  PanicPool p;
  PoolFixture &f = p.f;
  const uint32_t *ids = p.ids;
  auto usable = [&f](uint32_t id) {
    lbk_peer_info info;
    info.version = LBK_PEER_INFO_VERSION;
    EXPECT_EQ(lbk_pool_peer_info(&info, f.pool, id), 0);
    return info.usable;
  };
  f.fail(ids[0]);
  f.fail(ids[1]);  // 2 of 4 healthy: no panic, the failed ones are out
  EXPECT_EQ(usable(ids[0]), 0);
  EXPECT_EQ(usable(ids[2]), 1);
  f.fail(ids[2]);  // 1 of 4: panic, a pick would take any of them
  EXPECT_EQ(usable(ids[0]), 1);
  EXPECT_EQ(usable(ids[2]), 1);
  uint32_t id;
  ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
  // Admin down stays out in panic, as in a pick.
  ASSERT_EQ(lbk_pool_set_state(f.pool, ids[1], LBK_ADMIN_DOWN), 0);
  EXPECT_EQ(usable(ids[1]), 0);
}

TEST(Pool, EveryMethodRecordsTheLatencyEstimate) {
  for (const char *method : {"round_robin", "least_conn", "random", "p2c",
                             "peak_ewma", "fastest", "first", "hash",
                             "maglev"}) {
    PoolFixture f(method);
    uint32_t a = f.add("a", 1, false, 0, /*max_fails=*/0);
    ASSERT_EQ(f.pick_release("key", 2500), a) << method;
    lbk_peer_info info;
    info.version = LBK_PEER_INFO_VERSION;
    ASSERT_EQ(lbk_pool_peer_info(&info, f.pool, a), 0);
    EXPECT_EQ(info.ewma_latency_us, 2500u) << method;
    // A failure or an unmeasured (0) latency leaves the estimate alone.
    f.fail(a);
    ASSERT_EQ(f.pick_release("key", 0), a) << method;
    ASSERT_EQ(lbk_pool_peer_info(&info, f.pool, a), 0);
    EXPECT_EQ(info.ewma_latency_us, 2500u) << method;
  }
}

TEST(Pool, SlowStartRampsARecoveredPeer) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.slow_start_us = 10000000;
  PoolFixture f("round_robin", 64, &o);
  uint32_t a = f.add("a");
  f.add("b");
  lbk_pool_set_state(f.pool, a, LBK_ADMIN_MAINT);
  lbk_pool_set_state(f.pool, a, LBK_ADMIN_UP);  // ramp starts now
  f.clock.now_us += 1000000;                    // 10 % into the ramp
  std::map<char, int> counts;
  for (char c : f.sequence(2000)) counts[c]++;
  // Unramped a would take half; at 10 % admission about 1/11 of picks.
  EXPECT_GT(counts['a'], 60);
  EXPECT_LT(counts['a'], 300);
  f.clock.now_us += 9000000;  // ramp over
  counts.clear();
  for (char c : f.sequence(2000)) counts[c]++;
  EXPECT_EQ(counts['a'], 1000);
}

TEST(Pool, WeightPercentScalesAndZeroStopsTraffic) {
  PoolFixture f("round_robin");
  uint32_t a = f.add("a", 4);
  f.add("b", 4);
  ASSERT_EQ(lbk_pool_set_weight_pct(f.pool, a, 25), 0);
  std::map<char, int> counts;
  for (char c : f.sequence(500)) counts[c]++;
  EXPECT_EQ(counts['a'], 100);
  EXPECT_EQ(counts['b'], 400);
  ASSERT_EQ(lbk_pool_set_weight_pct(f.pool, a, 0), 0);
  EXPECT_EQ(f.sequence(5), "bbbbb");
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  lbk_pool_peer_info(&info, f.pool, a);
  EXPECT_EQ(info.weight, 4u);
  EXPECT_EQ(info.effective_weight, 0u);
}

}  // namespace
