// Many threads, and several fork()ed processes on one placed pool in
// MAP_SHARED memory, picking and releasing at once: afterwards every active
// count is zero and the request totals add up.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "lbkit.h"

namespace {

constexpr int PEERS = 8;

void add_peers(lbk_pool *pool) {
  for (int i = 0; i < PEERS; ++i) {
    std::string name = "peer" + std::to_string(i);
    lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
    pc.name = name.c_str();
    pc.weight = 1 + i % 3;
    pc.max_fails = 0;  // failures below must not take peers out
    ASSERT_EQ(lbk_pool_add(nullptr, pool, &pc), 0) << lbk_error_last();
  }
}

// Picks and releases @p rounds times; every 7th release is a failure and
// every 11th a cancellation.  Returns the number of successful picks.
int hammer(lbk_pool *pool, int rounds, int salt) {
  int picked = 0;
  for (int i = 0; i < rounds; ++i) {
    std::string key = "k" + std::to_string(i * 31 + salt);
    uint32_t id;
    if (lbk_pool_pick(&id, pool, key.data(), key.size(), nullptr, 0) != 0) continue;
    ++picked;
    lbk_outcome oc = LBK_OUTCOME_INIT;
    oc.latency_us = 100 + i % 50;
    if (i % 7 == 0) oc.result = LBK_OUTCOME_FAILED;
    if (i % 11 == 0) oc.result = LBK_OUTCOME_CANCELLED;
    lbk_pool_release(pool, id, &oc);
  }
  return picked;
}

// A pool placed in anonymous MAP_SHARED memory, formatted here; fork()ed
// children share it.
struct SharedPool {
  explicit SharedPool(lbk_pool_options o) : size(lbk_pool_size(o.max_peers)) {
    mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
               -1, 0);
    EXPECT_NE(mem, MAP_FAILED);
    if (mem == MAP_FAILED) return;
    EXPECT_EQ(lbk_pool_place(&pool, mem, size, &o, LBK_PLACE_INIT), 0);
  }
  ~SharedPool() {
    lbk_pool_free(pool);
    if (mem != MAP_FAILED) munmap(mem, size);
  }
  size_t size;
  void *mem = MAP_FAILED;
  lbk_pool *pool = nullptr;
};

struct Totals {
  uint64_t active = 0, requests = 0, outcomes = 0;
};

Totals totals(lbk_pool *pool) {
  Totals t;
  for (uint32_t id = lbk_pool_next(pool, LBK_PEER_NONE); id != LBK_PEER_NONE;
       id = lbk_pool_next(pool, id)) {
    lbk_peer_info info;
    info.version = LBK_PEER_INFO_VERSION;
    EXPECT_EQ(lbk_pool_peer_info(&info, pool, id), 0);
    t.active += info.active;
    t.requests += info.requests;
    t.outcomes += info.successes + info.failures;
  }
  return t;
}

int cancelled_in(int rounds) {
  int n = 0;
  for (int i = 0; i < rounds; ++i) n += (i % 11 == 0);
  return n;
}

class Concurrency : public ::testing::TestWithParam<const char *> {};

TEST_P(Concurrency, ThreadsOnOneHeapPool) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.method = GetParam();
  lbk_pool *pool;
  ASSERT_EQ(lbk_pool_create(&pool, &o), 0);
  add_peers(pool);
  const int threads = 6, rounds = 20000;
  std::vector<std::thread> workers;
  std::vector<int> picked(threads, 0);
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] { picked[t] = hammer(pool, rounds, t); });
  for (auto &w : workers) w.join();
  Totals t = totals(pool);
  EXPECT_EQ(t.active, 0u);
  EXPECT_EQ(t.requests, uint64_t{threads} * rounds);
  EXPECT_EQ(t.outcomes, uint64_t{threads} * (rounds - cancelled_in(rounds)));
  for (int p : picked) EXPECT_EQ(p, rounds);
  lbk_pool_free(pool);
}

TEST_P(Concurrency, ForkedProcessesOnOneSharedPlacedPool) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.method = GetParam();
  o.max_peers = 16;
  SharedPool shared(o);
  ASSERT_NE(shared.pool, nullptr);
  lbk_pool *pool = shared.pool;
  void *mem = shared.mem;
  size_t size = shared.size;
  add_peers(pool);
  const int children = 4, rounds = 20000;
  std::vector<pid_t> pids;
  for (int c = 0; c < children; ++c) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Half the children inherit the handle, half attach their own.
      lbk_pool *mine = pool;
      if (c % 2 == 1 &&
          lbk_pool_place(&mine, mem, size, nullptr, LBK_PLACE_ATTACH) != 0)
        _exit(3);
      _exit(hammer(mine, rounds, c) == rounds ? 0 : 1);
    }
    pids.push_back(pid);
  }
  // Wait for every child, bounded in time; stop stragglers by pid.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (pid_t pid : pids) {
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (done == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "child " << pid << " did not finish in time";
      continue;
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  Totals t = totals(pool);
  EXPECT_EQ(t.active, 0u);
  EXPECT_EQ(t.requests, uint64_t{children} * rounds);
  EXPECT_EQ(t.outcomes, uint64_t{children} * (rounds - cancelled_in(rounds)));
}

TEST(ConcurrencyLimits, MaxConnsHoldsUnderRacingThreads) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  lbk_pool *pool;
  ASSERT_EQ(lbk_pool_create(&pool, &o), 0);
  for (int i = 0; i < 2; ++i) {
    std::string name = "limited" + std::to_string(i);
    lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
    pc.name = name.c_str();
    pc.max_conns = 3;
    ASSERT_EQ(lbk_pool_add(nullptr, pool, &pc), 0);
  }
  std::atomic<int> over_limit{0}, refused{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t)
    workers.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        uint32_t id;
        if (lbk_pool_pick(&id, pool, nullptr, 0, nullptr, 0) != 0) {
          refused++;
          continue;
        }
        lbk_peer_info info;
        info.version = LBK_PEER_INFO_VERSION;
        lbk_pool_peer_info(&info, pool, id);
        if (info.active > 3) over_limit++;
        lbk_outcome oc = LBK_OUTCOME_INIT;
        lbk_pool_release(pool, id, &oc);
      }
    });
  for (auto &w : workers) w.join();
  EXPECT_EQ(over_limit.load(), 0);
  Totals t = totals(pool);
  EXPECT_EQ(t.active, 0u);
  EXPECT_EQ(t.requests + static_cast<uint64_t>(refused.load()), 8u * 5000u);
  lbk_pool_free(pool);
}

// A peer added by one process is picked by another whose cache was built
// before the change (the block's generation tells it to rebuild).
TEST(ConcurrencyTopology, ChangeInOneProcessIsSeenByAnother) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.method = "hash";
  o.max_peers = 4;
  SharedPool shared(o);
  ASSERT_NE(shared.pool, nullptr);
  lbk_pool *pool = shared.pool;
  void *mem = shared.mem;
  size_t size = shared.size;
  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  pc.name = "old:80";
  uint32_t old_id;
  ASSERT_EQ(lbk_pool_add(&old_id, pool, &pc), 0);
  uint32_t id;
  ASSERT_EQ(lbk_pool_pick(&id, pool, "k", 1, nullptr, 0), 0);  // builds the ring
  lbk_outcome oc = LBK_OUTCOME_INIT;
  lbk_pool_release(pool, id, &oc);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    lbk_pool *mine;
    if (lbk_pool_place(&mine, mem, size, nullptr, LBK_PLACE_ATTACH) != 0) _exit(2);
    lbk_peer_config add = LBK_PEER_CONFIG_INIT;
    add.name = "new:80";
    int rc = lbk_pool_add(nullptr, mine, &add);
    rc |= lbk_pool_set_state(mine, old_id, LBK_ADMIN_DRAIN);
    _exit(rc == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  uint32_t new_id;
  ASSERT_EQ(lbk_pool_find(&new_id, pool, "new:80"), 0);
  for (int k = 0; k < 20; ++k) {
    std::string key = std::to_string(k);
    ASSERT_EQ(lbk_pool_pick(&id, pool, key.data(), key.size(), nullptr, 0), 0);
    EXPECT_EQ(id, new_id);
    lbk_pool_release(pool, id, &oc);
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, Concurrency,
                         ::testing::Values("round_robin", "least_conn", "p2c",
                                           "peak_ewma", "hash", "maglev",
                                           "first"),
                         [](const auto &info) { return std::string(info.param); });

}  // namespace
