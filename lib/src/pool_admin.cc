// pool_admin.cc - the administrative API: membership (add, remove, find,
// iterate) with the handle's name index, weights, admin state, run-time
// limits (max_conns, fail limits, the suspect floor), and peer snapshots
// (lbk_pool_peer_info).
//
// Owns: PeerSlot configuration (name, address, backup, weight, weight_pct,
// effective_weight, admin_state, max_conns, max_fails, fail_timeout_ms),
// in_use, id_limit, peer_count, the generation counters, and the handle's
// name index (index_ids, index_free).
// Locks: config_lock around membership, weight and admin-state changes
// (taken alone: never under rebuild_mutex here); the peer's state_lock (a
// leaf) while lbk_pool_peer_info copies its texts.  max_conns, fail limits
// and the suspect floor are single atomic stores, no lock.
#include "pool_internal.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "api.h"
#include "bits.h"

namespace lbk {
namespace {

uint32_t compute_effective_weight(uint32_t weight, uint32_t pct) {
  if (pct == 0) return 0;
  uint64_t w = static_cast<uint64_t>(weight) * pct / 100;
  return w == 0 ? 1 : static_cast<uint32_t>(w);
}

bool valid_name(const char *name, const char *what, int *rc) {
  if (name == nullptr || name[0] == '\0') {
    *rc = set_error(LBK_ENAME, "%s is empty", what);
    return false;
  }
  size_t len = std::strlen(name);
  if (len >= LBK_NAME_MAX) {
    *rc = set_error(LBK_ENAME, "%s '%.40s...' is %zu bytes long; at most %d",
                    what, name, len, LBK_NAME_MAX - 1);
    return false;
  }
  for (size_t i = 0; i < len; ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      *rc = set_error(LBK_ENAME, "%s '%s' contains a control character at "
                      "byte %zu", what, name, i);
      return false;
    }
  }
  return true;
}

uint64_t mean_of(const std::atomic<uint64_t> &sum,
                 const std::atomic<uint64_t> &count) {
  uint64_t n = count.load(std::memory_order_relaxed);
  return n ? sum.load(std::memory_order_relaxed) / n : 0;
}

// Resets every dynamic field of a slot being (re)used by a new peer.
void reset_slot(PeerSlot &s) {
  s.admin_state.store(LBK_ADMIN_UP);
  s.health.store(LBK_HEALTH_UNKNOWN);
  s.agent_admin.store(AGENT_ADMIN_NONE);
  s.active.store(0);
  s.fail_word.store(0);
  s.ejected_until_us.store(0);
  s.ramp_start_us.store(0);
  s.requests.store(0);
  s.successes.store(0);
  s.failures.store(0);
  s.consecutive_failures.store(0);
  s.ejections.store(0);
  s.weight_pct.store(100);
  s.ewma_bits.store(0);
  s.ewma_time_us.store(0);
  s.ewma_lock.store(0);
  s.has_ewma.store(0);
  s.busy_since_us.store(0);
  s.last_ok_us.store(0);
  s.last_fail_us.store(0);
  s.last_check_ok.store(0);
  s.probe_latency_us.store(0);
  s.checks.store(0);
  s.checks_failed.store(0);
  s.last_check_us.store(0);
  s.last_change_us.store(0);
  s.has_value.store(0);
  s.value.store(0);
  s.lag.store(0);
  std::memset(&s.health_state, 0, sizeof s.health_state);
  std::memset(s.last_reason, 0, sizeof s.last_reason);
  reset_stats(s, 0);
}

// Stores a peer's weight and agent percentage and tells every process's
// cache to rebuild.  Caller holds the configuration lock.
void store_weights(lbk_pool *pool, PeerSlot &s, uint32_t weight, uint32_t pct) {
  s.weight.store(weight);
  s.weight_pct.store(pct);
  s.effective_weight.store(compute_effective_weight(weight, pct));
  bump(pool->header->generation);
  bump(pool->header->topology_generation);
}

// Brings the handle's name index up to date with the block (under the
// config lock).
void sync_index(lbk_pool *pool) {
  const PoolHeader &h = *pool->header;
  uint64_t gen = h.topology_generation.load(std::memory_order_acquire);
  if (pool->index_generation == gen) return;
  pool->index_ids.clear();
  pool->index_free.clear();
  uint32_t limit = h.id_limit.load(std::memory_order_relaxed);
  for (uint32_t id = 0; id < limit; ++id) {
    const PeerSlot &s = pool->slots[id];
    if (s.in_use.load(std::memory_order_relaxed))
      pool->index_ids.emplace(s.name, id);
    else
      pool->index_free.insert(id);
  }
  pool->index_generation = gen;
}

// Marks the topology changed by this handle, whose index already shows the
// change (under the config lock, so nobody moved it in between).
void bump_topology(lbk_pool *pool) {
  PoolHeader &h = *pool->header;
  bump(h.generation);
  bump(h.topology_generation);
  pool->index_generation = h.topology_generation.load(std::memory_order_acquire);
}

}  // namespace

void admin_service_changed(lbk_pool *pool) {
  if (pool->ops->build_reads_admin_state)
    bump(pool->header->topology_generation);
}

}  // namespace lbk

using namespace lbk;

extern "C" {

LBK_EXTERN int lbk_pool_add(uint32_t *out_id, lbk_pool *pool,
                            const lbk_peer_config *peer) try {
  lbk::clear_error();
  if (int rc = check_pool(pool)) return rc;
  if (peer == nullptr) return set_error(LBK_EINVAL, "peer config is NULL");
  if (int rc = check_version(peer->version, LBK_PEER_CONFIG_VERSION,
                             "peer config", "LBK_PEER_CONFIG_INIT"))
    return rc;
  int rc = 0;
  if (!valid_name(peer->name, "peer name", &rc)) return rc;
  if (peer->address != nullptr && std::strlen(peer->address) >= LBK_ADDRESS_MAX)
    return set_error(LBK_ENAME, "peer '%s': address is longer than %d bytes",
                     peer->name, LBK_ADDRESS_MAX - 1);
  if (peer->weight == 0 || peer->weight > LBK_WEIGHT_MAX)
    return set_error(LBK_EWEIGHT, "peer '%s': weight %u is out of range 1..%d",
                     peer->name, peer->weight, LBK_WEIGHT_MAX);
  PoolHeader &h = *pool->header;
  WordLock lock(h.config_lock);
  sync_index(pool);
  uint32_t limit = h.id_limit.load(std::memory_order_relaxed);
  auto same_name = pool->index_ids.find(peer->name);
  if (same_name != pool->index_ids.end())
    return set_error(LBK_EDUPNAME, "peer '%s' already exists (id %u)",
                     peer->name, same_name->second);
  uint32_t free_id = pool->index_free.empty() ? LBK_PEER_NONE
                                              : *pool->index_free.begin();
  if (free_id == LBK_PEER_NONE) {
    if (limit >= h.max_peers)
      return set_error(LBK_ETOOMANY, "cannot add peer '%s': the pool is full "
                       "(max_peers %u)", peer->name, h.max_peers);
    free_id = limit;
  }
  // The only step that allocates comes first: if it throws, nothing changed.
  pool->index_ids.emplace(peer->name, free_id);
  PeerSlot &s = pool->slots[free_id];
  reset_slot(s);
  copy_text(s.name, sizeof s.name, peer->name);
  copy_text(s.address, sizeof s.address,
            peer->address ? peer->address : peer->name);
  s.backup = peer->backup ? 1 : 0;
  s.max_fails = peer->max_fails;
  s.fail_timeout_ms = peer->fail_timeout_ms;
  s.weight.store(peer->weight);
  s.effective_weight.store(peer->weight);
  s.max_conns.store(peer->max_conns);
  s.admin_state.store(peer->down ? LBK_ADMIN_DOWN : LBK_ADMIN_UP);
  s.last_change_us.store(pool_now(pool));
  s.in_use.store(1, std::memory_order_release);
  h.peer_count.fetch_add(1, std::memory_order_acq_rel);
  if (free_id >= limit) h.id_limit.store(free_id + 1, std::memory_order_release);
  pool->index_free.erase(free_id);
  bump_topology(pool);
  if (out_id) *out_id = free_id;
  return 0;
} LBK_API_CATCH

LBK_EXTERN int lbk_pool_remove(lbk_pool *pool, uint32_t id) try {
  lbk::clear_error();
  if (int rc = check_pool(pool)) return rc;
  PoolHeader &h = *pool->header;
  WordLock lock(h.config_lock);
  if (int rc = check_peer(pool, id)) return rc;
  sync_index(pool);
  PeerSlot &s = pool->slots[id];
  pool->index_free.insert(id);  // allocates: first, so a throw changes nothing
  pool->index_ids.erase(s.name);
  s.in_use.store(0, std::memory_order_release);
  // The removed peer's in-flight requests leave the pool's total now; their
  // releases are ignored.
  uint32_t active = s.active.exchange(0);
  if (tracks_in_flight(pool))
    h.total_active.fetch_sub(std::min<uint64_t>(active, h.total_active.load()));
  h.peer_count.fetch_sub(1, std::memory_order_acq_rel);
  bump_topology(pool);
  return 0;
} LBK_API_CATCH

LBK_EXTERN int lbk_pool_find(uint32_t *out_id, const lbk_pool *pool,
                             const char *name) {
  lbk::clear_error();
  if (int rc = check_pool(pool)) return rc;
  if (out_id == nullptr || name == nullptr)
    return set_error(LBK_EINVAL, "out_id or name is NULL");
  uint32_t limit = pool->header->id_limit.load(std::memory_order_acquire);
  for (uint32_t id = 0; id < limit; ++id) {
    const PeerSlot &s = pool->slots[id];
    if (s.in_use.load(std::memory_order_acquire) &&
        std::strcmp(s.name, name) == 0) {
      *out_id = id;
      return 0;
    }
  }
  return set_error(LBK_ENOTFOUND, "no peer named '%s'", name);
}

LBK_EXTERN uint32_t lbk_pool_count(const lbk_pool *pool) {
  return pool ? pool->header->peer_count.load(std::memory_order_acquire) : 0;
}

LBK_EXTERN uint32_t lbk_pool_next(const lbk_pool *pool, uint32_t id) {
  if (pool == nullptr) return LBK_PEER_NONE;
  uint32_t limit = pool->header->id_limit.load(std::memory_order_acquire);
  uint32_t start = id == LBK_PEER_NONE ? 0 : id + 1;
  for (uint32_t i = start; i < limit; ++i)
    if (pool->slots[i].in_use.load(std::memory_order_acquire)) return i;
  return LBK_PEER_NONE;
}

LBK_EXTERN int lbk_pool_set_weight(lbk_pool *pool, uint32_t id,
                                   uint32_t weight) {
  lbk::clear_error();
  if (int rc = check_peer(pool, id)) return rc;
  PeerSlot &s = pool->slots[id];
  if (weight == 0 || weight > LBK_WEIGHT_MAX)
    return set_error(LBK_EWEIGHT, "peer '%s': weight %u is out of range 1..%d",
                     s.name, weight, LBK_WEIGHT_MAX);
  WordLock lock(pool->header->config_lock);
  store_weights(pool, s, weight, s.weight_pct.load());
  return 0;
}

LBK_EXTERN int lbk_pool_set_weight_pct(lbk_pool *pool, uint32_t id,
                                       uint32_t pct) {
  lbk::clear_error();
  if (int rc = check_peer(pool, id)) return rc;
  PeerSlot &s = pool->slots[id];
  if (pct > 100)
    return set_error(LBK_ERANGE, "peer '%s': weight percentage %u is above 100",
                     s.name, pct);
  WordLock lock(pool->header->config_lock);
  if (s.weight_pct.load() != pct) store_weights(pool, s, s.weight.load(), pct);
  return 0;
}

LBK_EXTERN int lbk_pool_set_state(lbk_pool *pool, uint32_t id,
                                  int admin_state) {
  lbk::clear_error();
  if (int rc = check_peer(pool, id)) return rc;
  PeerSlot &s = pool->slots[id];
  if (admin_state < LBK_ADMIN_UP || admin_state > LBK_ADMIN_DOWN)
    return set_error(LBK_EINVAL, "peer '%s': admin state %d is not up (0), "
                     "drain (1), maint (2) or down (3)", s.name, admin_state);
  WordLock lock(pool->header->config_lock);
  uint32_t old = s.admin_state.exchange(static_cast<uint32_t>(admin_state));
  if (old != static_cast<uint32_t>(admin_state)) {
    uint64_t now = pool_now(pool);
    s.last_change_us.store(now);
    if (admin_state == LBK_ADMIN_UP && pool->header->slow_start_us)
      s.ramp_start_us.store(now);
    bump(pool->header->generation);
    bump(pool->header->health_epoch);
    if (old == LBK_ADMIN_UP || admin_state == LBK_ADMIN_UP)
      admin_service_changed(pool);
  }
  return 0;
}

LBK_EXTERN int lbk_pool_set_max_conns(lbk_pool *pool, uint32_t id,
                                      uint32_t max_conns) {
  lbk::clear_error();
  if (int rc = check_peer(pool, id)) return rc;
  pool->slots[id].max_conns.store(max_conns, std::memory_order_relaxed);
  bump(pool->header->generation);
  return 0;
}

LBK_EXTERN int lbk_pool_set_fail_limits(lbk_pool *pool, uint32_t id,
                                        uint32_t max_fails,
                                        uint32_t fail_timeout_ms) {
  lbk::clear_error();
  if (int rc = check_peer(pool, id)) return rc;
  PeerSlot &s = pool->slots[id];
  // Picks read these words without the lock; each store is one aligned
  // 32-bit write, so a pick sees the old or the new value of each.
  __atomic_store_n(&s.max_fails, max_fails, __ATOMIC_RELEASE);
  __atomic_store_n(&s.fail_timeout_ms, fail_timeout_ms, __ATOMIC_RELEASE);
  bump(pool->header->generation);
  bump(pool->header->health_epoch);
  return 0;
}

LBK_EXTERN int lbk_pool_set_suspect(lbk_pool *pool, uint64_t floor_us,
                                    int all_methods) {
  lbk::clear_error();
  if (int rc = check_pool(pool)) return rc;
  PoolHeader &h = *pool->header;
  bool tracked = tracks_busy(pool);
  h.suspect_floor_us.store(floor_us, std::memory_order_relaxed);
  h.suspect_all.store(all_methods && floor_us ? 1 : 0, std::memory_order_relaxed);
  if (!tracked && tracks_busy(pool)) {
    // became_busy() kept no time while the rule was off: the peers busy
    // now count from now
    uint64_t now = pool_now(pool);
    for (uint32_t id = 0; id < h.max_peers; ++id) {
      PeerSlot &s = pool->slots[id];
      if (s.in_use.load(std::memory_order_acquire) &&
          s.active.load(std::memory_order_relaxed) != 0)
        s.busy_since_us.store(now, std::memory_order_relaxed);
    }
  }
  return 0;
}

LBK_EXTERN int lbk_pool_peer_info(lbk_peer_info *out, const lbk_pool *pool,
                                  uint32_t id) {
  lbk::clear_error();
  if (out == nullptr) return set_error(LBK_EINVAL, "out is NULL");
  unsigned int version = out->version;
  if (int rc = check_version(version, LBK_PEER_INFO_VERSION, "peer info",
                             "lbk_peer_info_init()"))
    return rc;
  if (int rc = check_peer(pool, id)) return rc;
  lbk_pool *mpool = const_cast<lbk_pool *>(pool);
  PeerSlot &s = pool->slots[id];
  uint64_t now = pool_now(pool);
  track_downtime(s, now);
  std::memset(out, 0, struct_size<lbk_peer_info>(version));
  out->version = version;
  out->id = id;
  {
    WordLock lock(s.state_lock);
    copy_text(out->name, sizeof out->name, s.name);
    copy_text(out->address, sizeof out->address, s.address);
    copy_text(out->last_reason, sizeof out->last_reason, s.last_reason);
  }
  out->weight = s.weight.load();
  uint32_t eff = s.effective_weight.load();
  double ramp = ramp_fraction(pool, s, now);
  out->effective_weight = ramp < 1.0 ? std::max<uint32_t>(
      1, static_cast<uint32_t>(eff * ramp)) : eff;
  if (eff == 0) out->effective_weight = 0;
  out->max_conns = s.max_conns.load();
  out->max_fails = s.max_fails;
  out->fail_timeout_ms = s.fail_timeout_ms;
  out->backup = static_cast<int>(s.backup);
  uint32_t agent = s.agent_admin.load();
  out->admin_state = static_cast<int>(s.admin_state.load());
  if (out->admin_state == LBK_ADMIN_UP && agent == AGENT_ADMIN_DRAIN)
    out->admin_state = LBK_ADMIN_DRAIN;
  if (out->admin_state == LBK_ADMIN_UP && agent == AGENT_ADMIN_MAINT)
    out->admin_state = LBK_ADMIN_MAINT;
  out->health = static_cast<int>(s.health.load());
  // As a pick now: in panic, health, failed windows and ejection are
  // ignored.
  PickContext ctx(mpool, nullptr, 0, nullptr, 0, evaluate_panic(mpool));
  out->usable = ctx.usable(id) ? 1 : 0;
  out->active = s.active.load();
  out->requests = s.requests.load();
  out->successes = s.successes.load();
  out->failures = s.failures.load();
  uint64_t word = s.fail_word.load();
  uint64_t fails = word & FAIL_COUNT_MASK;
  bool in_window = now / 1000 - (word >> FAIL_COUNT_BITS) <= s.fail_timeout_ms;
  out->fails_in_window = in_window ? static_cast<uint32_t>(fails) : 0;
  out->ewma_latency_us = s.has_ewma.load()
      ? static_cast<uint64_t>(std::llround(bits_to_double(s.ewma_bits.load())))
      : 0;
  out->probe_latency_us = s.probe_latency_us.load();
  out->checks = s.checks.load();
  out->checks_failed = s.checks_failed.load();
  out->last_check_us = s.last_check_us.load();
  out->last_check_ok = static_cast<int>(s.last_check_ok.load());
  out->has_value = static_cast<int>(s.has_value.load());
  out->value = s.value.load();
  out->lag = s.lag.load();
  out->ejections = s.ejections.load();
  uint64_t until = s.ejected_until_us.load();
  out->ejected_until_us = until > now ? until : 0;
  out->last_change_us = s.last_change_us.load();
  if (version < 2) return 0;
  for (int c = 0; c < 5; ++c) out->responses[c] = s.responses[c].load();
  out->responses_total = s.responses_total.load();
  out->bytes_sent = s.bytes_sent.load();
  out->bytes_received = s.bytes_received.load();
  out->header_time_avg_us = mean_of(s.header_time_sum_us, s.header_time_count);
  out->response_time_avg_us =
      mean_of(s.response_time_sum_us, s.response_time_count);
  out->last_selected_us = s.last_selected_us.load();
  out->unavail = s.unavail.load();
  out->unhealthy = s.unhealthy.load();
  uint64_t since = s.down_since_us.load();
  out->down_since_us = since;
  out->downtime_us = s.downtime_us.load() + (since && now > since ? now - since : 0);
  return 0;
}

}  // extern "C"
