// pool_pick.cc - lbk_pool_pick: which peers a pick may take (skip rules,
// PickContext), panic mode, slow start, and admission (max_conns).
//
// A pick refreshes the process's cache (pool_cache.cc), decides panic,
// lets the method's AlgoOps::pick choose in the primaries then the
// backups, and admits the candidate or retries (at most PICK_ATTEMPTS).
// Owns: PeerSlot::active and busy_since_us on admission, the handle's panic
// cache, PoolHeader::total_active on admission.
// Locks: refresh_cache()'s rebuild_mutex and config_lock, both released
// before the method picks; the method may take a leaf lock (least_conn's
// tree lock, fastest's rerank_mutex); admission is a CAS on active, no lock.
#include "pool_internal.h"

#include <algorithm>

#include "algo/methods.h"
#include "api.h"

namespace lbk {
namespace {

constexpr size_t KEY_MAX = 65536;          // longest accepted hash key
constexpr int PICK_ATTEMPTS = 8;           // admissions tried per pick
constexpr uint64_t PANIC_REEVALUATE_US = 100000;

// A peer's active count went from 0 to 1: the suspect rule counts from
// now, unless its last completed request stalled (a peer whose requests
// time out stays suspect through the moments it has none in flight).
// Only the suspect rule reads busy_since: without it, no clock read here
// (lbk_pool_set_suspect() stamps the peers already busy when it turns on).
void became_busy(lbk_pool *pool, PeerSlot &s) {
  if (!tracks_busy(pool)) return;
  if (s.last_fail_us.load(std::memory_order_relaxed) >
      s.last_ok_us.load(std::memory_order_relaxed))
    return;
  s.busy_since_us.store(pool_now(pool), std::memory_order_relaxed);
}

// Takes a slot: increments active unless max_conns is reached meanwhile.
bool admit(lbk_pool *pool, uint32_t id) {
  PeerSlot &s = pool->slots[id];
  uint32_t max_conns = s.max_conns.load(std::memory_order_relaxed);
  if (max_conns == 0) {
    if (s.active.fetch_add(1, std::memory_order_acq_rel) == 0) became_busy(pool, s);
  } else {
    uint32_t cur = s.active.load(std::memory_order_relaxed);
    do {
      if (cur >= max_conns) {
        active_changed(pool, id);
        return false;
      }
    } while (!s.active.compare_exchange_weak(cur, cur + 1,
                                             std::memory_order_acq_rel));
    if (cur == 0) became_busy(pool, s);
  }
  active_changed(pool, id);
  s.requests.fetch_add(1, std::memory_order_relaxed);
  if (tracks_in_flight(pool))
    pool->header->total_active.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// Primaries first, backups only when no primary is usable.
uint32_t pick_in_tiers(PickContext &ctx, const lbk_pool *pool,
                       const PoolCache &cache) {
  for (const Tier &tier : cache.tiers) {
    if (tier.ids.empty()) continue;
    uint32_t id = pool->ops->pick(ctx, tier);
    if (id != LBK_PEER_NONE) return id;
  }
  return LBK_PEER_NONE;
}

}  // namespace

double ramp_fraction(const lbk_pool *pool, const PeerSlot &s, uint64_t now) {
  uint64_t span = pool->header->slow_start_us;
  if (span == 0) return 1.0;
  uint64_t start = s.ramp_start_us.load(std::memory_order_relaxed);
  if (start == 0 || now >= start + span) return 1.0;
  if (now < start) return 0.01;
  double f = static_cast<double>(now - start) / static_cast<double>(span);
  return f < 0.01 ? 0.01 : f;
}

bool health_excluded(const PeerSlot &s, uint64_t now) {
  if (s.health.load(std::memory_order_relaxed) == LBK_HEALTH_DOWN) return true;
  if (s.max_fails != 0) {
    uint64_t word = s.fail_word.load(std::memory_order_relaxed);
    uint64_t fails = word & FAIL_COUNT_MASK;
    if (fails >= s.max_fails &&
        now / 1000 - (word >> FAIL_COUNT_BITS) <= s.fail_timeout_ms)
      return true;
  }
  uint64_t until = s.ejected_until_us.load(std::memory_order_relaxed);
  return until != 0 && now < until;
}

bool admin_excluded(const PeerSlot &s) {
  return s.admin_state.load(std::memory_order_relaxed) != LBK_ADMIN_UP ||
         s.agent_admin.load(std::memory_order_relaxed) != AGENT_ADMIN_NONE ||
         s.effective_weight.load(std::memory_order_relaxed) == 0;
}

bool PickContext::usable(uint32_t id) {
  if (tried(id)) return false;
  for (int i = 0; i < n_excluded_; ++i)
    if (excluded_[i] == id) return false;
  const PeerSlot &s = pool_->slots[id];
  if (!s.in_use.load(std::memory_order_acquire)) return false;
  if (admin_excluded(s)) return false;
  uint32_t max_conns = s.max_conns.load(std::memory_order_relaxed);
  if (max_conns != 0 && s.active.load(std::memory_order_relaxed) >= max_conns)
    return false;
  if (avoid_suspect_ && suspect(id)) return false;
  if (panic_) return true;
  if (s.health.load(std::memory_order_relaxed) == LBK_HEALTH_DOWN)
    return false;
  // Only read the clock when a time-based exclusion may apply.
  if ((s.max_fails != 0 &&
       (s.fail_word.load(std::memory_order_relaxed) & FAIL_COUNT_MASK) >=
           s.max_fails) ||
      s.ejected_until_us.load(std::memory_order_relaxed) != 0)
    return !health_excluded(s, now());
  return true;
}

bool PickContext::suspect(uint32_t id) {
  uint64_t floor = pool_->header->suspect_floor_us.load(std::memory_order_relaxed);
  const PeerSlot &s = pool_->slots[id];
  uint32_t active = s.active.load(std::memory_order_relaxed);
  if (floor == 0) return false;
  uint64_t last_ok = s.last_ok_us.load(std::memory_order_relaxed);
  if (active == 0) {
    // idle after a stalled request: suspect until SUSPECT_RETRY_US have
    // passed, then one request at a time tries it again
    uint64_t stall = s.last_fail_us.load(std::memory_order_relaxed);
    return stall > last_ok && now() - stall < SUSPECT_RETRY_US;
  }
  uint64_t since = std::max(s.busy_since_us.load(std::memory_order_relaxed), last_ok);
  uint64_t t = now();
  if (t <= since + floor) return false;
  double latency = observed_latency_us(*this, s, active);
  return static_cast<double>(t - since) > SUSPECT_FACTOR * latency;
}

uint32_t scan_tier(PickContext &ctx, const Tier &tier, size_t start,
                   const uint32_t *skip, size_t n_skip) {
  size_t n = tier.ids.size();
  if (n == 0) return LBK_PEER_NONE;
  start %= n;
  for (size_t i = 0; i < n; ++i) {
    size_t pos = start + i;
    if (pos >= n) pos -= n;
    uint32_t id = tier.ids[pos];
    if (std::find(skip, skip + n_skip, id) == skip + n_skip && ctx.usable(id)) return id;
  }
  return LBK_PEER_NONE;
}

bool evaluate_panic(lbk_pool *pool) {
  const PoolHeader &h = *pool->header;
  if (h.panic_threshold_pct == 0) return false;
  uint64_t epoch = h.health_epoch.load(std::memory_order_acquire);
  uint64_t now = pool_now(pool);
  if (epoch == pool->panic_epoch.load(std::memory_order_relaxed) &&
      now - pool->panic_evaluated_us.load(std::memory_order_relaxed) <
          PANIC_REEVALUATE_US)
    return pool->panic.load(std::memory_order_relaxed) != 0;
  uint64_t primaries = 0, healthy = 0, healthy_backups = 0;
  uint32_t limit = h.id_limit.load(std::memory_order_acquire);
  for (uint32_t id = 0; id < limit; ++id) {
    const PeerSlot &s = pool->slots[id];
    if (!s.in_use.load(std::memory_order_acquire)) continue;
    bool ok = !admin_excluded(s) && !health_excluded(s, now);
    if (s.backup) {
      healthy_backups += ok;
    } else {
      ++primaries;
      healthy += ok;
    }
  }
  healthy += std::min(healthy_backups, primaries - std::min(primaries, healthy));
  bool panic = primaries > 0 && healthy * 100 < h.panic_threshold_pct * primaries;
  pool->panic.store(panic, std::memory_order_relaxed);
  pool->panic_evaluated_us.store(now, std::memory_order_relaxed);
  pool->panic_epoch.store(epoch, std::memory_order_relaxed);
  return panic;
}


}  // namespace lbk

using namespace lbk;

extern "C" {

LBK_EXTERN int lbk_pool_pick(uint32_t *out_id, lbk_pool *pool, const void *key,
                             size_t key_len, const uint64_t *tried,
                             size_t tried_words) try {
  lbk::clear_error();
  if (int rc = check_pool(pool)) return rc;
  if (out_id == nullptr) return set_error(LBK_EINVAL, "out_id is NULL");
  *out_id = LBK_PEER_NONE;
  if (pool->ops->needs_key) {
    // An empty key is balanced by round robin, as nginx's hash does.
    if (key == nullptr && key_len != 0)
      return set_error(LBK_EKEY, "the key is NULL but key_len is %zu",
                       key_len);
    if (key_len > KEY_MAX)
      return set_error(LBK_EKEY, "hash key of %zu bytes is longer than %zu",
                       key_len, KEY_MAX);
  }
  if (tried == nullptr) tried_words = 0;
  ReaderGuard reader(pool);
  refresh_cache(pool, false);
  const PoolCache *cache = pool->cache.load(std::memory_order_seq_cst);
  bool panic = evaluate_panic(pool);
  PickContext ctx(pool, key, key_len, tried, tried_words, panic);
  // suspect_all: suspect peers are avoided while another is usable
  bool avoiding = pool->header->suspect_all.load(std::memory_order_relaxed) != 0;
  ctx.avoid_suspect(avoiding);
  uint32_t ramping = LBK_PEER_NONE;
  bool use_ramp = pool->header->slow_start_us != 0 && !pool->ops->needs_key;
  for (int attempt = 0; attempt < PICK_ATTEMPTS; ++attempt) {
    uint32_t id = pick_in_tiers(ctx, pool, *cache);
    if (id == LBK_PEER_NONE && avoiding) {
      avoiding = false;
      ctx.avoid_suspect(false);
      id = pick_in_tiers(ctx, pool, *cache);
    }
    if (id == LBK_PEER_NONE) break;
    if (use_ramp) {
      // Slow start: a recovering peer is admitted with probability equal
      // to its ramp fraction; a refused one is remembered as a fallback.
      double f = ramp_fraction(pool, pool->slots[id], ctx.now());
      if (f < 1.0 &&
          static_cast<double>(ctx.random() >> 11) * 0x1.0p-53 >= f) {
        if (ramping == LBK_PEER_NONE) ramping = id;
        ctx.exclude(id);
        active_changed(pool, id);  // picked, not admitted
        continue;
      }
    }
    if (admit(pool, id)) {
      *out_id = id;
      return 0;
    }
    ctx.exclude(id);
  }
  if (ramping != LBK_PEER_NONE && admit(pool, ramping)) {
    *out_id = ramping;
    return 0;
  }
  return set_error(LBK_ENOPEER, "no live peer: all %u peers are tried, down, "
                   "draining, full, failed or ejected",
                   lbk_pool_count(pool));
} LBK_API_CATCH

}  // extern "C"
