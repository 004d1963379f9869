// least_conn's shared tree: every pick is a usable peer with the fewest
// active requests per weight, through run-time adds, removes, weight and
// state changes, max_conns, tried peers and processes sharing one pool.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lbkit.h"
#include "pool_test_support.h"

namespace {

using lbktest::PoolFixture;

lbk_peer_info info_of(lbk_pool *pool, uint32_t id) {
  lbk_peer_info info;
  info.version = LBK_PEER_INFO_VERSION;
  EXPECT_EQ(lbk_pool_peer_info(&info, pool, id), 0);
  return info;
}

bool usable(const lbk_peer_info &i, const uint64_t *tried, uint32_t id) {
  return i.admin_state == LBK_ADMIN_UP && i.effective_weight > 0 &&
         (i.max_conns == 0 || i.active < i.max_conns) &&
         !((tried[id / 64] >> (id % 64)) & 1u);
}

// Checks that @p got has the lowest active / weight among the usable
// peers of its tier (primaries when any is usable).
void expect_least(lbk_pool *pool, uint32_t got, const uint64_t *tried,
                  const std::map<uint32_t, lbk_peer_info> &before) {
  bool primary_usable = false;
  for (const auto &p : before)
    primary_usable |= !p.second.backup && usable(p.second, tried, p.first);
  ASSERT_NE(got, LBK_PEER_NONE);
  const lbk_peer_info &g = before.at(got);
  ASSERT_TRUE(usable(g, tried, got)) << got;
  ASSERT_EQ(g.backup != 0, !primary_usable);
  for (const auto &p : before) {
    const lbk_peer_info &o = p.second;
    if ((o.backup != 0) != (g.backup != 0) || !usable(o, tried, p.first)) continue;
    EXPECT_LE(uint64_t{g.active} * o.effective_weight,
              uint64_t{o.active} * g.effective_weight)
        << "picked " << got << " over " << p.first;
  }
  (void)pool;
}

TEST(LeastConn, RandomChangesAgainstAFullScan) {
  PoolFixture f("least_conn", 256);
  std::mt19937 rng(11);
  std::vector<uint32_t> ids, held;
  auto add = [&](bool backup) {
    static int n = 0;
    lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
    std::string name = "p" + std::to_string(n++);
    pc.name = name.c_str();
    pc.weight = 1 + rng() % 5;
    pc.backup = backup;
    pc.max_conns = rng() % 4 == 0 ? 3 : 0;
    uint32_t id;
    ASSERT_EQ(lbk_pool_add(&id, f.pool, &pc), 0);
    ids.push_back(id);
  };
  for (int i = 0; i < 40; ++i) add(i >= 36);
  for (int step = 0; step < 20000; ++step) {
    int op = static_cast<int>(rng() % 100);
    if (op < 2 && ids.size() < 200) {
      add(rng() % 8 == 0);
    } else if (op < 3 && ids.size() > 10) {
      size_t k = rng() % ids.size();
      ASSERT_EQ(lbk_pool_remove(f.pool, ids[k]), 0);
      std::vector<uint32_t> kept;
      for (uint32_t h : held) if (h != ids[k]) kept.push_back(h);
      held.swap(kept);
      ids.erase(ids.begin() + static_cast<long>(k));
    } else if (op < 5) {
      ASSERT_EQ(lbk_pool_set_weight(f.pool, ids[rng() % ids.size()], 1 + rng() % 7), 0);
    } else if (op < 7) {
      ASSERT_EQ(lbk_pool_set_state(f.pool, ids[rng() % ids.size()],
                                   rng() % 3 == 0 ? LBK_ADMIN_DOWN : LBK_ADMIN_UP), 0);
    } else if (op < 45 && !held.empty()) {
      size_t k = rng() % held.size();
      lbk_outcome oc = LBK_OUTCOME_INIT;
      ASSERT_EQ(lbk_pool_release(f.pool, held[k], &oc), 0);
      held.erase(held.begin() + static_cast<long>(k));
    } else {
      uint64_t tried[4] = {0, 0, 0, 0};
      for (int t = 0; t < 3 && rng() % 2; ++t) {
        uint32_t id = ids[rng() % ids.size()];
        tried[id / 64] |= uint64_t{1} << (id % 64);
      }
      std::map<uint32_t, lbk_peer_info> before;
      bool any = false;
      for (uint32_t id : ids) {
        before[id] = info_of(f.pool, id);
        any |= usable(before[id], tried, id);
      }
      uint32_t got;
      int rc = lbk_pool_pick(&got, f.pool, nullptr, 0, tried, 4);
      if (!any) {
        ASSERT_EQ(rc, LBK_ENOPEER);
        continue;
      }
      ASSERT_EQ(rc, 0) << lbk_error_last();
      expect_least(f.pool, got, tried, before);
      held.push_back(got);
    }
  }
}

TEST(LeastConn, TiesTakeTurnsByWeightAndAnAddedPeerCatchesUp) {
  PoolFixture f("least_conn");
  f.add("a", 1);
  f.add("b", 2);
  EXPECT_EQ(f.sequence(6), "babbab");
  // held requests: the fewest per weight first
  uint32_t c = f.add("c", 1);
  std::vector<uint32_t> held;
  for (int i = 0; i < 4; ++i) {
    uint32_t id;
    ASSERT_EQ(lbk_pool_pick(&id, f.pool, nullptr, 0, nullptr, 0), 0);
    held.push_back(id);
  }
  // a, b, c start at 0 active: c and a get one each, b (weight 2) two
  std::map<std::string, int> n;
  for (uint32_t id : held) n[f.name_of(id)]++;
  EXPECT_EQ(n, (std::map<std::string, int>{{"a", 1}, {"b", 2}, {"c", 1}}));
  (void)c;
}

// Processes sharing one placed pool see each other's requests: the parent
// holds requests on every peer but one; a child's picks go to that one.
TEST(LeastConn, ProcessesShareTheOrder) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.method = "least_conn";
  o.max_peers = 1024;
  size_t size = lbk_pool_size(o.max_peers);
  void *mem = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  lbk_pool *pool;
  ASSERT_EQ(lbk_pool_place(&pool, mem, size, &o, LBK_PLACE_INIT), 0);
  for (int i = 0; i < 1000; ++i) {
    std::string name = "s" + std::to_string(i);
    lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
    pc.name = name.c_str();
    ASSERT_EQ(lbk_pool_add(nullptr, pool, &pc), 0);
  }
  uint32_t id;
  std::vector<uint32_t> held;
  for (int i = 0; i < 999; ++i) {
    ASSERT_EQ(lbk_pool_pick(&id, pool, nullptr, 0, nullptr, 0), 0);
    held.push_back(id);
  }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    lbk_pool *mine;
    if (lbk_pool_place(&mine, mem, size, nullptr, LBK_PLACE_ATTACH) != 0) _exit(3);
    uint32_t got;
    if (lbk_pool_pick(&got, mine, nullptr, 0, nullptr, 0) != 0) _exit(4);
    lbk_peer_info info;
    info.version = LBK_PEER_INFO_VERSION;
    lbk_pool_peer_info(&info, mine, got);
    // the one idle peer, now holding the child's request
    _exit(info.active == 1 && std::find(held.begin(), held.end(), got) == held.end()
              ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // the child's request is still in flight: the parent's next pick goes to
  // a peer with one, not to the child's (which now has one too), and the
  // order holds every peer at one before any gets two
  std::map<uint32_t, int> extra;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(lbk_pool_pick(&id, pool, nullptr, 0, nullptr, 0), 0);
    extra[id]++;
  }
  EXPECT_EQ(extra.size(), 1000u);
  lbk_pool_free(pool);
  munmap(mem, size);
}

}  // namespace
