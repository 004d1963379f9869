// pool_test_support.h - a small fixture around lbk_pool for unit tests:
// an injectable clock and random generator and one-line add/pick helpers.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "lbkit.h"

namespace lbktest {

// A manual clock in microseconds.
struct ManualClock {
  uint64_t now_us = 1000000;
  static uint64_t read(void *ud) { return static_cast<ManualClock *>(ud)->now_us; }
};

struct PoolFixture {
  explicit PoolFixture(const char *method, uint32_t max_peers = 64,
                       lbk_pool_options *custom = nullptr) {
    lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
    if (custom) o = *custom;
    o.method = method;
    o.max_peers = max_peers;
    o.clock = ManualClock::read;
    o.clock_ud = &clock;
    if (o.seed == 0) o.seed = 42;
    int rc = lbk_pool_create(&pool, &o);
    EXPECT_EQ(rc, 0) << lbk_error_last();
  }
  ~PoolFixture() { lbk_pool_free(pool); }
  PoolFixture(const PoolFixture &) = delete;
  PoolFixture &operator=(const PoolFixture &) = delete;

  uint32_t add(const std::string &name, uint32_t weight = 1,
               bool backup = false, uint32_t max_conns = 0,
               uint32_t max_fails = 1, uint32_t fail_timeout_ms = 10000) {
    lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
    pc.name = name.c_str();
    pc.weight = weight;
    pc.backup = backup;
    pc.max_conns = max_conns;
    pc.max_fails = max_fails;
    pc.fail_timeout_ms = fail_timeout_ms;
    uint32_t id = LBK_PEER_NONE;
    int rc = lbk_pool_add(&id, pool, &pc);
    EXPECT_EQ(rc, 0) << lbk_error_last();
    return id;
  }

  std::string name_of(uint32_t id) const {
    lbk_peer_info info;
    info.version = LBK_PEER_INFO_VERSION;
    if (lbk_pool_peer_info(&info, pool, id) != 0) return "?";
    return info.name;
  }

  // Picks (with an optional key) and releases OK at once; returns the id
  // or LBK_PEER_NONE.
  uint32_t pick_release(const std::string &key = std::string(),
                        uint64_t latency_us = 0) {
    uint32_t id = LBK_PEER_NONE;
    int rc = lbk_pool_pick(&id, pool, key.empty() ? nullptr : key.data(),
                           key.size(), nullptr, 0);
    if (rc != 0) return LBK_PEER_NONE;
    lbk_outcome oc = LBK_OUTCOME_INIT;
    oc.latency_us = latency_us;
    EXPECT_EQ(lbk_pool_release(pool, id, &oc), 0);
    return id;
  }

  // The first letters of the names of @p n consecutive picks.
  std::string sequence(int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      uint32_t id = pick_release();
      out += id == LBK_PEER_NONE ? '-' : name_of(id)[0];
    }
    return out;
  }

  // Picks @p id (only) @p n times and keeps the requests open.
  void hold(uint32_t id, int n) {
    for (int i = 0; i < n; ++i) {
      uint64_t tried[1] = {~(uint64_t{1} << id)};
      uint32_t got = LBK_PEER_NONE;
      EXPECT_EQ(lbk_pool_pick(&got, pool, nullptr, 0, tried, 1), 0);
      EXPECT_EQ(got, id);
    }
  }

  void fail(uint32_t id) {
    lbk_outcome oc = LBK_OUTCOME_INIT;
    oc.result = LBK_OUTCOME_FAILED;
    EXPECT_EQ(lbk_pool_release(pool, id, &oc), 0);
  }

  ManualClock clock;
  lbk_pool *pool = nullptr;
};

}  // namespace lbktest
