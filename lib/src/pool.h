// pool.h - the process-local pool handle and the interface between the
// pool and its balancing algorithms (algo/*.cc).
//
// A pick runs in three layers:
//  1. pool_pick.cc (lbk_pool_pick) acquires the process-local cache, decides
//     panic mode and which tier (primaries, then backups) to try;
//  2. the method's AlgoOps::pick chooses a candidate in that tier using its
//     own structure (schedule, ring, table, ...) and PickContext::usable();
//  3. pool_pick.cc admits the candidate (slow start, max_conns CAS) or retries.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "lbkit.h"
#include "pool_layout.h"

namespace lbk {

// Algorithm-specific, immutable per-tier data built from the topology.
struct AlgoState {
  virtual ~AlgoState() = default;
};

// Members of one tier (primaries or backups) at the time a cache was built,
// in ascending id order.
struct Tier {
  std::vector<uint32_t> ids;
  std::vector<uint32_t> weights;  // effective weights (>= 1 here)
  std::vector<std::string> names;
  uint64_t total_weight = 0;
  // Per member: administratively in service when the cache was built
  // (admin state up, no agent drain/maint, effective weight > 0).  Kept
  // current only for methods whose AlgoOps::build_reads_admin_state is set.
  std::vector<uint8_t> in_service;
  std::unique_ptr<AlgoState> state;
};

// Read-only settings of a pool, copied from the block header.
struct PoolParams {
  int hash_kind;
  uint32_t balance_factor;
  uint32_t random_draws;
  uint64_t ewma_decay_us;
  uint32_t fastest_band_pct;
};

struct PoolCache {
  uint64_t topology_generation = 0;
  Tier tiers[2];  // [0] primaries, [1] backups
};

class PickContext;

// One balancing algorithm: the ops table of algo/NAME.cc, registered by one
// line in algo/methods.cc.  Fields are set by name; those left out are
// false or nullptr:
//
//   extern const AlgoOps NAME_ops = {.name = "NAME", .build = build,
//                                    .pick = pick};
//
// (extern: a namespace-scope const is file-local otherwise.)
//
// build() runs when the topology changes (under the block's configuration
// lock, in each process); pick() must be thread safe and return a usable id
// of the tier or LBK_PEER_NONE.  The hooks are optional and run in the
// thread of the pick or release, with none of the pool's locks held, so a
// hook may take a leaf lock of its own (docs/ARCHITECTURE.md, lock order).
//
// Weight changes, peers added or removed and, for methods that set
// build_reads_admin_state, peers entering or leaving service reach a method
// through build(): every process rebuilds its cache when the block's
// topology_generation moves.  A method that keeps state in the block checks
// PoolHeader::generation and health_epoch (least_conn.cc).
struct AlgoOps {
  const char *name = nullptr;  // the algorithm file's name, for diagnostics
  // pick() reads the key: picks check it (NULL with a length, or above
  // 64 KiB), and slow start does not move keys.
  bool needs_key = false;
  // build() reads Tier::in_service: a peer entering or leaving service
  // administratively (set_state, agent drain/maint) rebuilds the cache.
  bool build_reads_admin_state = false;
  // pick() reads PoolHeader::total_active, the pool's in-flight requests:
  // picks and releases keep it (so do bounded-load pools, whatever method).
  bool reads_in_flight = false;
  // pick() reads PickContext::suspect(): a peer becoming busy is stamped
  // with the time (so is every peer when suspect_all is on).
  bool reads_suspect = false;
  std::unique_ptr<AlgoState> (*build)(const Tier &tier,
                                      const PoolParams &p) = nullptr;
  uint32_t (*pick)(PickContext &ctx, const Tier &tier) = nullptr;
  // Hook: peer @p id's active count moved (admitted, refused at admission,
  // or released).
  void (*active_changed)(lbk_pool *pool, uint32_t id) = nullptr;
  // Hook: a release of peer @p id with @p outcome (ok or failed; cancelled
  // ones count nothing) was recorded at @p now: the peer's counters,
  // failure window, ejection and latency estimate are up to date.
  void (*released)(lbk_pool *pool, uint32_t id, const lbk_outcome &outcome,
                   uint64_t now) = nullptr;
};

}  // namespace lbk

// The process-local handle.
struct lbk_pool {
  lbk::PoolHeader *header = nullptr;
  lbk::PeerSlot *slots = nullptr;
  void *owned_block = nullptr;  // heap pools: the block to free
  const lbk::AlgoOps *ops = nullptr;
  const char *method_name = nullptr;
  lbk::PoolParams params{};

  lbk_clock_fn clock = nullptr;
  void *clock_ud = nullptr;
  lbk_rng_fn rng = nullptr;
  void *rng_ud = nullptr;
  std::atomic<uint64_t> rng_state{0};  // splitmix64 counter

  // Cache publication: readers count themselves in `readers` around every
  // use of `cache`; a replaced cache is retired and freed once `readers`
  // has been seen at zero after its replacement (see pool_cache.cc).
  std::atomic<lbk::PoolCache *> cache{nullptr};
  std::atomic<uint64_t> readers{0};
  std::mutex rebuild_mutex;
  std::vector<lbk::PoolCache *> retired;

  // Panic mode, re-evaluated when the health epoch changes or every
  // PANIC_REEVALUATE_US of clock time.
  std::atomic<uint64_t> panic_epoch{UINT64_MAX};
  std::atomic<uint64_t> panic_evaluated_us{0};
  std::atomic<uint32_t> panic{0};

  // Names and free ids of the block for lbk_pool_add and lbk_pool_remove,
  // so adding n peers is O(n log n), not O(n^2).  Used only under the
  // block's config_lock; valid while the block's topology_generation equals
  // `index_generation` (0: never built), rebuilt from the slots otherwise
  // (another process, or a weight change, moved it).
  uint64_t index_generation = 0;
  std::unordered_map<std::string, uint32_t> index_ids;
  std::set<uint32_t> index_free;  // ids below id_limit not in use
};

namespace lbk {

uint64_t pool_now(const lbk_pool *pool);
uint64_t pool_random(lbk_pool *pool);

// Per-pick state handed to algorithms.
class PickContext {
 public:
  PickContext(lbk_pool *pool, const void *key, size_t key_len,
              const uint64_t *tried, size_t tried_words, bool panic)
      : pool_(pool), key_(key), key_len_(key_len), tried_(tried),
        tried_words_(tried_words), panic_(panic) {}

  // Would a pick take @p id now?  Skips tried, locally excluded, removed,
  // admin/agent not up, weight 0, full, and (unless in panic) health-down,
  // failed-window and ejected peers.
  bool usable(uint32_t id);
  // Is @p id suspect of hanging?  It has requests in flight and has
  // completed none OK for longer than max(suspect floor, SUSPECT_FACTOR x
  // its observed latency) since it last did or became busy after a
  // success; or it has none in flight, its last request stalled, and
  // SUSPECT_RETRY_US have not passed since.  Never when the pool's suspect
  // floor is 0.
  bool suspect(uint32_t id);
  // Let usable() refuse suspect peers (the pool's suspect_all mode).
  void avoid_suspect(bool on) { avoid_suspect_ = on; }
  // Clock time of the pick, read from the pool clock at most once.
  uint64_t now() {
    if (!have_now_) {
      now_ = pool_now(pool_);
      have_now_ = true;
    }
    return now_;
  }
  uint64_t random() { return pool_random(pool_); }
  const void *key() const { return key_; }
  size_t key_len() const { return key_len_; }
  lbk_pool *pool() const { return pool_; }
  PeerSlot &slot(uint32_t id) const { return pool_->slots[id]; }
  const PoolParams &params() const { return pool_->params; }
  void exclude(uint32_t id) {
    if (n_excluded_ < MAX_EXCLUDED) excluded_[n_excluded_++] = id;
  }
  bool panic() const { return panic_; }
  // Did the caller mark @p id tried (an earlier attempt of the request)?
  bool tried(uint32_t id) const {
    return tried_ != nullptr && id / 64 < tried_words_ && ((tried_[id / 64] >> (id % 64)) & 1u);
  }

  static constexpr int MAX_EXCLUDED = 8;

 private:
  lbk_pool *pool_;
  const void *key_;
  size_t key_len_;
  const uint64_t *tried_;
  size_t tried_words_;
  bool panic_;
  bool have_now_ = false;
  bool avoid_suspect_ = false;
  uint64_t now_ = 0;
  uint32_t excluded_[MAX_EXCLUDED];
  int n_excluded_ = 0;
};

// How much older than its observed latency a peer's lack of progress must
// be for it to be suspect.
constexpr double SUSPECT_FACTOR = 5.0;
// How long a peer whose last request stalled (failed after no progress for
// longer than the floor) stays suspect with nothing in flight.
constexpr uint64_t SUSPECT_RETRY_US = 10000000;
// The suspect floor of a new pool (lbk_pool_set_suspect changes it).
constexpr uint64_t DEFAULT_SUSPECT_FLOOR_US = 20000;

// First usable member of @p tier scanning from position @p start (wrapping)
// that is none of the @p n_skip ids in @p skip; LBK_PEER_NONE if none.  The
// bounded fallback every algorithm ends with.
uint32_t scan_tier(PickContext &ctx, const Tier &tier, size_t start,
                   const uint32_t *skip = nullptr, size_t n_skip = 0);

// A spin lock in shared memory (0 = free, else the holder's pid); a waiter
// steals it from a holder that no longer exists.
void lock_word(std::atomic<uint32_t> &word);
void unlock_word(std::atomic<uint32_t> &word);
uint32_t current_pid();

// Out of service administratively: admin state not up, agent drain or
// maint, or effective weight 0.
bool admin_excluded(const PeerSlot &s);

// build() for algorithms that need nothing beyond the tier's member list.
std::unique_ptr<AlgoState> build_members_only(const Tier &tier,
                                              const PoolParams &params);

// Uniform integer in [0, n) from 64 random bits (n > 0).
inline uint64_t random_below(uint64_t random_bits, uint64_t n) {
  return static_cast<uint64_t>(
      (static_cast<unsigned __int128>(random_bits) * n) >> 64);
}

}  // namespace lbk
