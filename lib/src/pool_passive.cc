// pool_passive.cc - lbk_pool_release and what it feeds: passive health
// (nginx max_fails/fail_timeout, Envoy-style outlier ejection, the suspect
// rule's stall time), the peer's latency estimate (record_latency_sample,
// peak_ewma.cc), traffic counters and downtime; then the method's
// AlgoOps::released hook.
//
// Owns: PeerSlot's failure window (fail_word), consecutive failures,
// ejection, last_ok/last_fail, traffic statistics and downtime.
// Locks: none besides leaves, one at a time: the method's active_changed
// hook (least_conn's tree lock), then the peer's ewma_lock, a try-lock whose
// sample is dropped when it is taken, then the released hook.  Everything
// else is atomics.
#include "pool_internal.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "algo/methods.h"
#include "api.h"
#include "bits.h"

namespace lbk {
namespace {

constexpr uint32_t MAX_EJECTION_MULTIPLIER = 10;

// Counts what a released outcome tells about traffic (lbk_outcome v2).
void record_traffic(PeerSlot &s, const lbk_outcome &o, uint64_t now) {
  constexpr auto relaxed = std::memory_order_relaxed;
  uint64_t picked = o.latency_us < now ? now - o.latency_us : now;
  uint64_t last = s.last_selected_us.load(relaxed);
  while (picked > last &&
         !s.last_selected_us.compare_exchange_weak(last, picked, relaxed)) {
  }
  if (o.status >= 100 && o.status <= 599) {
    s.responses[o.status / 100 - 1].fetch_add(1, relaxed);
    s.responses_total.fetch_add(1, relaxed);
  }
  if (o.version < 2) return;
  if (o.bytes_sent) s.bytes_sent.fetch_add(o.bytes_sent, relaxed);
  if (o.bytes_received) s.bytes_received.fetch_add(o.bytes_received, relaxed);
  if (o.header_time_us) {
    s.header_time_sum_us.fetch_add(o.header_time_us, relaxed);
    s.header_time_count.fetch_add(1, relaxed);
  }
  if (o.response_time_us) {
    s.response_time_sum_us.fetch_add(o.response_time_us, relaxed);
    s.response_time_count.fetch_add(1, relaxed);
  }
}

// nginx max_fails/fail_timeout: a failure within fail_timeout of the
// previous one adds to the count, an older count restarts at 1; at
// max_fails the peer is unusable for fail_timeout after its last failure.
// As in nginx, a peer that reached max_fails is retried once the window is
// over, and one more failure then disables it again at once (the count is
// only cleared by a success after the window).
void record_failure_window(lbk_pool *pool, PeerSlot &s, uint64_t now) {
  if (s.max_fails == 0) return;
  uint64_t ms = now / 1000;
  uint64_t old = s.fail_word.load(std::memory_order_relaxed), next;
  uint64_t fails;
  bool became_unavailable;
  do {
    fails = old & FAIL_COUNT_MASK;
    uint64_t last = old >> FAIL_COUNT_BITS;
    // usable before this failure: below max_fails, or its window is over
    became_unavailable = fails + 1 >= s.max_fails &&
                         (fails < s.max_fails || ms - last > s.fail_timeout_ms);
    if (fails < s.max_fails && fails > 0 && ms - last > s.fail_timeout_ms)
      fails = 0;
    if (fails < FAIL_COUNT_MASK) ++fails;
    next = (ms << FAIL_COUNT_BITS) | fails;
  } while (!s.fail_word.compare_exchange_weak(old, next,
                                              std::memory_order_acq_rel));
  if (became_unavailable && fails >= s.max_fails)
    s.unavail.fetch_add(1, std::memory_order_relaxed);
  if (fails >= s.max_fails) {
    bump(pool->header->health_epoch);
    if (pool->header->slow_start_us)
      s.ramp_start_us.store(now + uint64_t{s.fail_timeout_ms} * 1000,
                            std::memory_order_relaxed);
  }
}

void clear_stale_failures(PeerSlot &s, uint64_t now) {
  uint64_t old = s.fail_word.load(std::memory_order_relaxed);
  if ((old & FAIL_COUNT_MASK) == 0) return;
  if (now / 1000 - (old >> FAIL_COUNT_BITS) <= s.fail_timeout_ms) return;
  s.fail_word.compare_exchange_strong(old, 0, std::memory_order_acq_rel);
}

// Envoy-style consecutive-failure outlier ejection.  The ejection time
// is base * n for the n-th ejection (capped at 10 * base); at most
// outlier_max_ejection_pct % of the peers are ejected at once, and at
// least one may always be.
void consider_ejection(lbk_pool *pool, PeerSlot &s, uint32_t consecutive,
                       uint64_t now) {
  const PoolHeader &h = *pool->header;
  if (h.outlier_consecutive == 0 || consecutive < h.outlier_consecutive)
    return;
  uint64_t until = s.ejected_until_us.load(std::memory_order_relaxed);
  if (until != 0 && now < until) return;
  uint64_t peers = 0, ejected = 0;
  uint32_t limit = h.id_limit.load(std::memory_order_acquire);
  for (uint32_t id = 0; id < limit; ++id) {
    const PeerSlot &o = pool->slots[id];
    if (!o.in_use.load(std::memory_order_relaxed)) continue;
    ++peers;
    uint64_t u = o.ejected_until_us.load(std::memory_order_relaxed);
    ejected += (u != 0 && now < u);
  }
  if (ejected > 0 && (ejected + 1) * 100 > h.outlier_max_ejection_pct * peers)
    return;
  uint32_t n = s.ejections.fetch_add(1, std::memory_order_relaxed) + 1;
  uint64_t span = h.outlier_base_ejection_us *
                  std::min<uint32_t>(n, MAX_EJECTION_MULTIPLIER);
  s.ejected_until_us.store(now + span, std::memory_order_relaxed);
  s.consecutive_failures.store(0, std::memory_order_relaxed);
  if (h.slow_start_us) s.ramp_start_us.store(now + span);
  bump(pool->header->health_epoch);
}

}  // namespace

void reset_stats(PeerSlot &s, uint64_t now) {
  s.requests.store(0);
  s.successes.store(0);
  s.failures.store(0);
  for (auto &r : s.responses) r.store(0);
  s.responses_total.store(0);
  s.bytes_sent.store(0);
  s.bytes_received.store(0);
  s.header_time_sum_us.store(0);
  s.header_time_count.store(0);
  s.response_time_sum_us.store(0);
  s.response_time_count.store(0);
  s.last_selected_us.store(0);
  s.unavail.store(0);
  s.unhealthy.store(0);
  s.downtime_us.store(0);
  s.checks.store(0);
  s.checks_failed.store(0);
  if (now == 0 || s.down_since_us.load() == 0)
    s.down_since_us.store(0);
  else
    s.down_since_us.store(now);
}

void track_downtime(PeerSlot &s, uint64_t now) {
  bool down = health_excluded(s, now);
  uint64_t since = s.down_since_us.load(std::memory_order_acquire);
  if (down && since == 0) {
    s.down_since_us.compare_exchange_strong(since, now ? now : 1,
                                            std::memory_order_acq_rel);
    return;
  }
  if (down || since == 0) return;
  uint64_t end = now;
  uint64_t word = s.fail_word.load(std::memory_order_relaxed);
  if (s.max_fails != 0 && (word & FAIL_COUNT_MASK) >= s.max_fails &&
      s.health.load(std::memory_order_relaxed) != LBK_HEALTH_DOWN) {
    uint64_t window_end =
        ((word >> FAIL_COUNT_BITS) + uint64_t{s.fail_timeout_ms}) * 1000;
    if (window_end > since && window_end < end) end = window_end;
  }
  if (s.down_since_us.compare_exchange_strong(since, 0,
                                              std::memory_order_acq_rel))
    s.downtime_us.fetch_add(end > since ? end - since : 0,
                            std::memory_order_relaxed);
}

}  // namespace lbk

using namespace lbk;

extern "C" {

LBK_EXTERN int lbk_pool_release(lbk_pool *pool, uint32_t id,
                                const lbk_outcome *outcome) {
  lbk::clear_error();
  if (int rc = check_pool(pool)) return rc;
  if (outcome == nullptr) return set_error(LBK_EINVAL, "outcome is NULL");
  if (int rc = check_version(outcome->version, LBK_OUTCOME_VERSION, "outcome",
                             "LBK_OUTCOME_INIT"))
    return rc;
  if (outcome->result < LBK_OUTCOME_OK ||
      outcome->result > LBK_OUTCOME_CANCELLED)
    return set_error(LBK_EINVAL, "outcome result %d is not ok (0), failed (1) "
                     "or cancelled (2)", outcome->result);
  if (id >= pool->header->max_peers)
    return set_error(LBK_ENOTFOUND, "no peer with id %u", id);
  PeerSlot &s = pool->slots[id];
  if (!s.in_use.load(std::memory_order_acquire)) return 0;  // removed
  uint32_t active = s.active.load(std::memory_order_relaxed);
  do {
    if (active == 0) break;  // a release for a removed-and-reused slot
  } while (!s.active.compare_exchange_weak(active, active - 1,
                                           std::memory_order_acq_rel));
  if (active != 0 && tracks_in_flight(pool))
    pool->header->total_active.fetch_sub(1, std::memory_order_relaxed);
  if (active != 0) active_changed(pool, id);
  if (outcome->result == LBK_OUTCOME_CANCELLED) return 0;
  uint64_t now = pool_now(pool);
  lbk_outcome o{};
  std::memcpy(&o, outcome, struct_size<lbk_outcome>(outcome->version));
  record_traffic(s, o, now);
  if (outcome->result == LBK_OUTCOME_OK) {
    s.last_ok_us.store(now, std::memory_order_relaxed);
    s.successes.fetch_add(1, std::memory_order_relaxed);
    s.consecutive_failures.store(0, std::memory_order_relaxed);
    clear_stale_failures(s, now);
    if (outcome->latency_us != 0)  // 0: the caller did not measure it
      record_latency_sample(pool, s, outcome->latency_us, now);
  } else {
    s.failures.fetch_add(1, std::memory_order_relaxed);
    // a failure after no progress for longer than the suspect floor (a read
    // timeout, typically) is a stall: see PickContext::suspect()
    uint64_t floor = pool->header->suspect_floor_us.load(std::memory_order_relaxed);
    if (tracks_busy(pool) && now - std::max(s.busy_since_us.load(std::memory_order_relaxed),
                                     s.last_ok_us.load(std::memory_order_relaxed)) > floor)
      s.last_fail_us.store(now, std::memory_order_relaxed);
    record_failure_window(pool, s, now);
    uint32_t consecutive =
        s.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
    consider_ejection(pool, s, consecutive, now);
  }
  if (s.down_since_us.load(std::memory_order_relaxed) != 0 ||
      outcome->result == LBK_OUTCOME_FAILED)
    track_downtime(s, now);
  if (pool->ops->released != nullptr) pool->ops->released(pool, id, o, now);
  return 0;
}

LBK_EXTERN int lbk_pool_peer_reset_stats(lbk_pool *pool, uint32_t id) {
  lbk::clear_error();
  if (int rc = check_peer(pool, id)) return rc;
  reset_stats(pool->slots[id], pool_now(pool));
  return 0;
}

}  // extern "C"
