// pool_copy.cc - lbk_pool_peer_state_copy(): carries one peer's dynamic
// state from one pool to another.  The nginx module calls it while it loads
// a new configuration (reload), so that a server that still exists keeps its
// health, counters and latency instead of starting from zero.
//
// What is copied: health (active checks, with the rise/fall counter), the
// failure window (max_fails/fail_timeout), outlier ejection, slow-start
// ramp, request counters, peak-EWMA latency, check results and the last
// reason, and the agent's administrative word and weight percentage.
// What is not: the configuration (weight, max_conns, max_fails,
// fail_timeout, backup, admin state), which comes from the new
// configuration, and the active count, which belongs to the processes still
// releasing into the source pool.
//
// Both pools must use the same clock (timestamps are copied as they are).
#include <atomic>
#include <cstring>

#include "api.h"
#include "error_internal.h"
#include "pool.h"

namespace lbk {
namespace {

template <typename T>
void copy_atomic(std::atomic<T> &dst, const std::atomic<T> &src) {
  dst.store(src.load(std::memory_order_acquire), std::memory_order_relaxed);
}

int check_slot(const lbk_pool *pool, uint32_t id, const char *which) {
  if (pool == nullptr) return set_error(LBK_EINVAL, "%s pool is NULL", which);
  if (id >= pool->header->max_peers ||
      !pool->slots[id].in_use.load(std::memory_order_acquire))
    return set_error(LBK_ENOTFOUND, "%s pool has no peer with id %u", which,
                     id);
  return 0;
}

}  // namespace
}  // namespace lbk

using namespace lbk;

extern "C" {

LBK_EXTERN int lbk_pool_peer_state_copy(lbk_pool *dst, uint32_t dst_id,
                                        const lbk_pool *src, uint32_t src_id) try {
  lbk::clear_error();
  if (int rc = check_slot(dst, dst_id, "destination")) return rc;
  if (int rc = check_slot(src, src_id, "source")) return rc;
  if (dst == src && dst_id == src_id) return 0;

  // The reason text is read under the source's state lock.
  lbk_peer_info info;
  std::memset(&info, 0, sizeof info);
  info.version = LBK_PEER_INFO_VERSION;
  if (int rc = lbk_pool_peer_info(&info, src, src_id)) return rc;

  const PeerSlot &s = src->slots[src_id];
  PeerSlot &d = dst->slots[dst_id];

  copy_atomic(d.health, s.health);
  std::memcpy(&d.health_state, &s.health_state, sizeof d.health_state);
  copy_atomic(d.agent_admin, s.agent_admin);
  copy_atomic(d.fail_word, s.fail_word);
  copy_atomic(d.ejected_until_us, s.ejected_until_us);
  copy_atomic(d.ramp_start_us, s.ramp_start_us);

  copy_atomic(d.requests, s.requests);
  copy_atomic(d.successes, s.successes);
  copy_atomic(d.failures, s.failures);
  copy_atomic(d.consecutive_failures, s.consecutive_failures);
  copy_atomic(d.ejections, s.ejections);
  copy_atomic(d.ewma_bits, s.ewma_bits);
  copy_atomic(d.ewma_time_us, s.ewma_time_us);
  copy_atomic(d.has_ewma, s.has_ewma);

  copy_atomic(d.last_check_ok, s.last_check_ok);
  copy_atomic(d.probe_latency_us, s.probe_latency_us);
  copy_atomic(d.checks, s.checks);
  copy_atomic(d.checks_failed, s.checks_failed);
  copy_atomic(d.last_check_us, s.last_check_us);
  copy_atomic(d.last_change_us, s.last_change_us);
  copy_atomic(d.value, s.value);
  copy_atomic(d.lag, s.lag);
  copy_atomic(d.has_value, s.has_value);
  for (int c = 0; c < 5; ++c) copy_atomic(d.responses[c], s.responses[c]);
  copy_atomic(d.responses_total, s.responses_total);
  copy_atomic(d.bytes_sent, s.bytes_sent);
  copy_atomic(d.bytes_received, s.bytes_received);
  copy_atomic(d.header_time_sum_us, s.header_time_sum_us);
  copy_atomic(d.header_time_count, s.header_time_count);
  copy_atomic(d.response_time_sum_us, s.response_time_sum_us);
  copy_atomic(d.response_time_count, s.response_time_count);
  copy_atomic(d.last_selected_us, s.last_selected_us);
  copy_atomic(d.unavail, s.unavail);
  copy_atomic(d.unhealthy, s.unhealthy);
  copy_atomic(d.downtime_us, s.downtime_us);
  copy_atomic(d.down_since_us, s.down_since_us);
  std::memcpy(d.last_reason, info.last_reason, sizeof d.last_reason);
  d.last_reason[sizeof d.last_reason - 1] = '\0';

  // The pool-wide mean latency seeds peers without history (peak_ewma).
  if (dst->header->latency_mean_bits.load() == 0)
    copy_atomic(dst->header->latency_mean_bits, src->header->latency_mean_bits);

  // Health and probe results changed: picks re-evaluate panic and rankings.
  dst->header->generation.fetch_add(1, std::memory_order_acq_rel);
  dst->header->health_epoch.fetch_add(1, std::memory_order_acq_rel);
  dst->header->probe_epoch.fetch_add(1, std::memory_order_acq_rel);

  // The agent's weight percentage changes the topology: go through the API.
  uint32_t pct = s.weight_pct.load(std::memory_order_acquire);
  if (pct != d.weight_pct.load(std::memory_order_acquire))
    return lbk_pool_set_weight_pct(dst, dst_id, pct);
  return 0;
} LBK_API_CATCH

}  // extern "C"
