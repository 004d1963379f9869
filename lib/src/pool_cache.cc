// pool_cache.cc - the per-process cache of a pool handle: per tier, the
// member ids, weights, names and the method's built structure.
//
// Owns: lbk_pool::cache, ::retired and ::readers.  The cache is rebuilt,
// in every process independently, the first time a pick sees that the
// block's topology_generation moved (add, remove, set_weight,
// set_weight_pct or an agent weight; for methods whose build reads admin
// state, also a peer entering or leaving admin service).  Admin state,
// health, max_conns, failures and ejection are read live from the block at
// every pick and otherwise cause no rebuild.  While one thread rebuilds,
// other threads keep picking with the previous cache; a replaced cache is
// freed once no thread of the process is inside a pick (ReaderGuard).
// Locks: rebuild_mutex (a try-lock, unless the caller must wait or there is
// no cache yet), then config_lock inside it while the cache is built from
// the block (the method's build() runs under both).  Both are released
// before refresh_cache() returns.
#include "pool_internal.h"

#include <memory>
#include <mutex>

namespace lbk {
namespace {

// Builds a cache from the block.  Caller holds the configuration lock.
PoolCache *build_cache(const lbk_pool *pool) {
  std::unique_ptr<PoolCache> cache(new PoolCache);
  cache->topology_generation =
      pool->header->topology_generation.load(std::memory_order_acquire);
  uint32_t limit = pool->header->id_limit.load(std::memory_order_acquire);
  for (uint32_t id = 0; id < limit; ++id) {
    const PeerSlot &s = pool->slots[id];
    if (!s.in_use.load(std::memory_order_acquire)) continue;
    Tier &tier = cache->tiers[s.backup ? 1 : 0];
    // Weight 0 (agent 0%) peers stay members with weight 1 so that the
    // structures keep their place; usable() skips them.
    uint32_t w = s.effective_weight.load(std::memory_order_relaxed);
    if (w == 0) w = 1;
    tier.ids.push_back(id);
    tier.in_service.push_back(!admin_excluded(s));
    tier.weights.push_back(w);
    tier.names.emplace_back(s.name);
    tier.total_weight += w;
  }
  for (Tier &tier : cache->tiers)
    if (!tier.ids.empty()) tier.state = pool->ops->build(tier, pool->params);
  return cache.release();
}

// Frees retired caches once no thread of this process is inside a pick.
// Caller holds rebuild_mutex.
void collect_retired(lbk_pool *pool) {
  if (pool->retired.empty()) return;
  if (pool->readers.load(std::memory_order_seq_cst) != 0) return;
  for (PoolCache *c : pool->retired) delete c;
  pool->retired.clear();
}

}  // namespace

std::unique_ptr<AlgoState> build_members_only(const Tier &, const PoolParams &) {
  return std::make_unique<AlgoState>();
}

void refresh_cache(lbk_pool *pool, bool must_wait) {
  uint64_t gen = pool->header->topology_generation.load(
      std::memory_order_acquire);
  PoolCache *cur = pool->cache.load(std::memory_order_seq_cst);
  if (cur != nullptr && cur->topology_generation == gen) return;
  std::unique_lock<std::mutex> guard(pool->rebuild_mutex, std::defer_lock);
  if (must_wait || cur == nullptr)
    guard.lock();
  else if (!guard.try_lock())
    return;
  cur = pool->cache.load(std::memory_order_seq_cst);
  gen = pool->header->topology_generation.load(std::memory_order_acquire);
  if (cur != nullptr && cur->topology_generation == gen) return;
  if (cur != nullptr) pool->retired.reserve(pool->retired.size() + 1);
  PoolCache *fresh;
  {
    WordLock lock(pool->header->config_lock);
    fresh = build_cache(pool);
  }
  pool->cache.store(fresh, std::memory_order_seq_cst);
  if (cur != nullptr) pool->retired.push_back(cur);
  collect_retired(pool);
}

}  // namespace lbk
