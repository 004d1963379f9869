// pool_internal.h - what the pool_*.cc files share: small lock and counter
// helpers, and the functions one concern calls in another.
//
// The files (each starts with what it owns and which locks it takes):
//   pool.cc          create/place/free, option validation, block layout,
//                    the handle, clock and random generator
//   pool_lock.cc     lock_word: the shared-memory lock that takes over
//                    from a dead holder
//   pool_cache.cc    the per-process cache and its refresh
//   pool_pick.cc     lbk_pool_pick: skip rules, PickContext, panic, slow
//                    start, admission
//   pool_passive.cc  lbk_pool_release: failure window, ejection, suspect
//                    stalls, latency, traffic counters, downtime
//   pool_admin.cc    membership and the name index, weights, admin state,
//                    run-time limits, lbk_pool_peer_info
//   pool_check.cc    active-check results (lbk_pool_report_check, ...)
//   pool_copy.cc     lbk_pool_peer_state_copy (reloads)
//
// Lock order (docs/ARCHITECTURE.md): a lock may be taken while holding only
// locks above it.
//   1. nginx's shpool->mutex (the module, around zone init and API writes)
//   2. lbk_pool::rebuild_mutex (process-local)
//   3. PoolHeader::config_lock (shared memory, lock_word)
// Leaves, never held together and never taken under 2 or 3:
// PeerSlot::state_lock, PeerSlot::ewma_lock (try-lock), least_conn's tree
// lock, fastest's rerank_mutex (try-lock).  liblbkit never calls out while
// holding one of its locks.
#pragma once

#include <atomic>
#include <cstdint>

#include "error_internal.h"
#include "pool.h"

namespace lbk {

// Holds a lock_word() lock for its scope.
struct WordLock {
  explicit WordLock(std::atomic<uint32_t> &w) : word(w) { lock_word(word); }
  ~WordLock() { unlock_word(word); }
  std::atomic<uint32_t> &word;
};

// Moves a generation or epoch counter of the block on.
inline void bump(std::atomic<uint64_t> &counter) {
  counter.fetch_add(1, std::memory_order_acq_rel);
}

// Whether picks and releases keep the pool's in-flight total: only when
// something reads it (bounded load, AlgoOps::reads_in_flight), so that
// other pools do not share one contended counter between every process.
// Method and balance factor are fixed when the pool is created.
inline bool tracks_in_flight(const lbk_pool *pool) {
  return pool->header->balance_factor != 0 || pool->ops->reads_in_flight;
}

// Whether the suspect rule can be read (AlgoOps::reads_suspect, or any
// method with suspect_all): only then does a peer becoming busy read the
// clock (became_busy()) and a failed release judge a stall.
inline bool tracks_busy(const lbk_pool *pool) {
  const PoolHeader &h = *pool->header;
  return h.suspect_floor_us.load(std::memory_order_relaxed) != 0 &&
         (h.suspect_all.load(std::memory_order_relaxed) != 0 || pool->ops->reads_suspect);
}

// Counts this thread as a reader of the handle's cache for its lifetime
// (pool_cache.cc frees a replaced cache once no reader is left).
struct ReaderGuard {
  explicit ReaderGuard(lbk_pool *p) : pool(p) {
    pool->readers.fetch_add(1, std::memory_order_seq_cst);
  }
  ~ReaderGuard() { pool->readers.fetch_sub(1, std::memory_order_seq_cst); }
  lbk_pool *pool;
};

// pool.cc
// LBK_EINVAL for a NULL pool; for check_peer() also LBK_ENOTFOUND for an
// id that is out of range or not in use.
int check_pool(const lbk_pool *pool);
int check_peer(const lbk_pool *pool, uint32_t id);
// Copies @p src into @p dst of @p cap bytes, cut to fit, NUL-terminated.
void copy_text(char *dst, size_t cap, const char *src);

// pool_cache.cc
// Makes the cache current if the topology moved; never blocks a picker
// behind another thread's rebuild (it keeps using the previous cache)
// unless @p must_wait.  Call within a ReaderGuard.
void refresh_cache(lbk_pool *pool, bool must_wait);

// pool_pick.cc
// Is the slow-start ramp of @p s still running at @p now?  Returns the
// admitted fraction in (0, 1], 1 when no ramp applies.
double ramp_fraction(const lbk_pool *pool, const PeerSlot &s, uint64_t now);
// Unusable because of passive or active health (not admin state)?
bool health_excluded(const PeerSlot &s, uint64_t now);
// Panic: when fewer than panic_threshold_pct % of the primaries are
// healthy (counting healthy backups too, up to the number of primaries),
// picks ignore health, failed windows and ejection and balance over every
// primary that is administratively up (Envoy's panic threshold).
bool evaluate_panic(lbk_pool *pool);
// Peer @p id's active count moved: calls the method's hook, if any.
inline void active_changed(lbk_pool *pool, uint32_t id) {
  if (pool->ops->active_changed != nullptr) pool->ops->active_changed(pool, id);
}

// pool_passive.cc
// Zeroes the traffic statistics; a down spell still open restarts at @p now
// (0: none is open).
void reset_stats(PeerSlot &s, uint64_t now);
// Opens or closes the peer's down spell (health_excluded()) at @p now and
// adds a closed spell to downtime_us.  A spell that a failure window alone
// caused ends when the window did, not when this runs.  Called wherever
// health may change and before statistics are read; racing callers settle
// a spell once (the CAS on down_since_us).
void track_downtime(PeerSlot &s, uint64_t now);

// pool_admin.cc
// A peer entered or left administrative service: methods whose schedule
// holds only peers in service (round robin) rebuild it in every process.
void admin_service_changed(lbk_pool *pool);

}  // namespace lbk
