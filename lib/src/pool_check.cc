// pool_check.cc - active-check results kept in the pool: lbk_pool_report_check
// (health state, lag against the best peer, agent words, reason),
// lbk_pool_attach_check and lbk_pool_peer_next_check_delay.
//
// Owns: PeerSlot's health_state, health, value/has_value/lag, agent_admin,
// check counters, probe latency and last_reason.
// Locks: the peer's state_lock (a leaf) around each peer's check state; it
// is released before an agent weight is applied through
// lbk_pool_set_weight_pct(), which takes config_lock.
#include "pool_internal.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "api.h"
#include "health/check_internal.h"

namespace lbk {
namespace {

// An all-zero health state has never been initialised (nor reported on).
bool never_checked(const lbk_health_state &st) {
  static const lbk_health_state zero{};
  return std::memcmp(&st, &zero, sizeof zero) == 0;
}

void set_reason(PeerSlot &s, const char *text) {
  // Reasons carry backend text: valid UTF-8, cut at a character boundary.
  lbk_utf8_copy(s.last_reason, sizeof s.last_reason, text, std::strlen(text));
}

}  // namespace

}  // namespace lbk

using namespace lbk;

extern "C" {

LBK_EXTERN int lbk_pool_report_check(lbk_health_event *out, lbk_pool *pool,
                                     uint32_t id, const lbk_check *check,
                                     const lbk_check_result *result) {
  if (int rc = check_pool(pool)) return rc;  // the rest is checked by _at
  return lbk_pool_report_check_at(out, pool, id, check, result, pool_now(pool));
}

// The final verdict on a check is made here: the result's, or
// LBK_CHECK_FAIL_LAG for a passing reply whose value lags the best peer's
// by more than max_lag.  The health counter takes it, and the event carries
// it (outcome) to the front ends, which show it and never judge again.
LBK_EXTERN int lbk_pool_report_check_at(lbk_health_event *out, lbk_pool *pool,
                                        uint32_t id, const lbk_check *check,
                                        const lbk_check_result *result,
                                        uint64_t now) try {
  lbk::clear_error();
  if (int rc = check_peer(pool, id)) return rc;
  if (check == nullptr || result == nullptr)
    return set_error(LBK_EINVAL, "check or result is NULL");
  if (int rc = check_version(result->version, LBK_CHECK_RESULT_VERSION,
                             "check result", "lbk_check_result_init()"))
    return rc;
  if (int rc = health::check_event_version(out, "lbk_pool_report_check"))
    return rc;
  PoolHeader &h = *pool->header;
  PeerSlot &s = pool->slots[id];
  lbk_check_result verdict = *result;
  lbk_health_event event;
  std::memset(&event, 0, sizeof event);
  event.version = LBK_HEALTH_EVENT_VERSION;
  int rc;
  {
    WordLock lock(s.state_lock);
    bool passed = verdict.outcome == LBK_CHECK_PASS;
    if (passed && verdict.has_value) {
      s.value.store(verdict.value);
      s.has_value.store(1);
    } else if (passed) {
      s.has_value.store(0);
    }
    if (s.has_value.load()) {
      // Lag against the best value among peers not known to be down.
      int64_t best = s.value.load();
      uint32_t limit = h.id_limit.load(std::memory_order_acquire);
      for (uint32_t other = 0; other < limit; ++other) {
        const PeerSlot &o = pool->slots[other];
        if (!o.in_use.load(std::memory_order_relaxed) ||
            !o.has_value.load(std::memory_order_relaxed) ||
            o.health.load(std::memory_order_relaxed) == LBK_HEALTH_DOWN)
          continue;
        best = std::max<int64_t>(best, o.value.load(std::memory_order_relaxed));
      }
      int64_t lag = best - s.value.load();
      s.lag.store(lag);
      int64_t max_lag = health::check_max_lag(*check);
      if (passed && max_lag > 0 && lag > max_lag) {
        verdict.outcome = LBK_CHECK_FAIL_LAG;
        std::snprintf(verdict.reason, sizeof verdict.reason,
                      "value %lld lags the best peer (%lld) by %lld > max_lag "
                      "%lld", static_cast<long long>(s.value.load()),
                      static_cast<long long>(best), static_cast<long long>(lag),
                      static_cast<long long>(max_lag));
      }
    } else {
      s.lag.store(0);
    }
    // HAProxy agent words: drain/maint/up, N% and maxconn:N.
    uint32_t old_agent = s.agent_admin.load();
    if (verdict.agent_state == LBK_AGENT_DRAIN)
      s.agent_admin.store(AGENT_ADMIN_DRAIN);
    else if (verdict.agent_state == LBK_AGENT_MAINT)
      s.agent_admin.store(AGENT_ADMIN_MAINT);
    else if (verdict.agent_state == LBK_AGENT_UP ||
             verdict.agent_state == LBK_AGENT_READY)
      s.agent_admin.store(AGENT_ADMIN_NONE);
    if ((old_agent == AGENT_ADMIN_NONE) !=
        (s.agent_admin.load() == AGENT_ADMIN_NONE))
      admin_service_changed(pool);
    if (verdict.agent_maxconn >= 0)
      s.max_conns.store(static_cast<uint32_t>(verdict.agent_maxconn));
    uint32_t old_health = s.health.load();
    rc = lbk_health_report(&event, &s.health_state, check, &verdict, now);
    if (rc == 0) {
      uint32_t health = static_cast<uint32_t>(lbk_health_get(&s.health_state));
      s.health.store(health);
      if (health != old_health) {
        s.last_change_us.store(now);
        if (health == LBK_HEALTH_UP && old_health == LBK_HEALTH_DOWN &&
            h.slow_start_us)
          s.ramp_start_us.store(now);
        if (health == LBK_HEALTH_DOWN) s.unhealthy.fetch_add(1);
        bump(h.generation);
        bump(h.health_epoch);
        track_downtime(s, now);
      }
      s.checks.fetch_add(1);
      if (verdict.outcome != LBK_CHECK_PASS) s.checks_failed.fetch_add(1);
      s.last_check_us.store(now);
      s.last_check_ok.store(verdict.outcome == LBK_CHECK_PASS);
      if (verdict.outcome == LBK_CHECK_PASS) {
        s.probe_latency_us.store(verdict.duration_us ? verdict.duration_us : 1);
        bump(h.probe_epoch);
      }
      set_reason(s, event.reason[0] ? event.reason : verdict.reason);
    }
  }
  if (rc != 0) return rc;
  if (verdict.agent_weight_pct >= 0) {
    uint32_t pct = static_cast<uint32_t>(std::min(verdict.agent_weight_pct, 100));
    if (int wrc = lbk_pool_set_weight_pct(pool, id, pct)) return wrc;
  }
  health::store_event(out, event);
  return 0;
} LBK_API_CATCH

LBK_EXTERN int lbk_pool_peer_next_check_delay(uint64_t *out_us,
                                              const lbk_pool *pool,
                                              uint32_t id,
                                              const lbk_check *check,
                                              uint64_t random) {
  lbk::clear_error();
  if (int rc = check_peer(pool, id)) return rc;
  if (out_us == nullptr || check == nullptr)
    return set_error(LBK_EINVAL, "out_us or check is NULL");
  PeerSlot &s = pool->slots[id];
  lbk_health_state st;
  {
    WordLock lock(s.state_lock);
    st = s.health_state;
  }
  if (never_checked(st)) lbk_health_init(&st, check, pool_now(pool));
  *out_us = lbk_health_next_delay(&st, check, random);
  return 0;
}

LBK_EXTERN int lbk_pool_attach_check(lbk_pool *pool, uint32_t id,
                                     const lbk_check *check) {
  lbk::clear_error();
  if (int rc = check_peer(pool, id)) return rc;
  if (check == nullptr) return set_error(LBK_EINVAL, "check is NULL");
  PoolHeader &h = *pool->header;
  PeerSlot &s = pool->slots[id];
  uint64_t now = pool_now(pool);
  WordLock lock(s.state_lock);
  if (!never_checked(s.health_state)) return 0;
  lbk_health_init(&s.health_state, check, now);
  // Initial up (or unknown) leaves the peer shown as never checked
  // (LBK_HEALTH_UNKNOWN, usable) until its first report.
  if (lbk_health_get(&s.health_state) != LBK_HEALTH_DOWN) return 0;
  uint32_t health = LBK_HEALTH_DOWN;
  uint32_t old_health = s.health.exchange(health);
  set_reason(s, "not checked yet: starts down (check initial health) until "
             "rise checks pass");
  if (health != old_health) {
    s.last_change_us.store(now);
    bump(h.generation);
    bump(h.health_epoch);
  }
  return 0;
}

}  // extern "C"
