// pool.cc - the lbk_pool_* API: creating and placing the block, peers,
// picks and releases, passive health (max_fails/fail_timeout, outlier
// ejection, panic, slow start) and feeding active-check verdicts.
//
// Per-process caches.  Each handle keeps a PoolCache (per tier: member ids,
// weights, names and the algorithm's structure).  It is rebuilt, in every
// process independently, the first time a pick sees that the block's
// topology_generation moved (add, remove, set_weight, set_weight_pct or an
// agent weight; for round robin also a peer entering or leaving admin
// service).  Admin state, health, max_conns, failures and ejection are read
// live from the block at every pick and otherwise cause no rebuild.  While
// one thread rebuilds, other threads keep picking with the previous cache.
#include "pool.h"

#include <signal.h>
#include <sched.h>
#include <sys/types.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "algo/methods.h"
#include "bits.h"
#include "error_internal.h"
#include "health/check_internal.h"

namespace lbk {
namespace {

constexpr size_t KEY_MAX = 65536;          // longest accepted hash key
constexpr int PICK_ATTEMPTS = 8;           // admissions tried per pick
constexpr uint64_t PANIC_REEVALUATE_US = 100000;
constexpr uint64_t DEFAULT_EWMA_DECAY_US = 10000000;
constexpr uint64_t DEFAULT_EJECTION_US = 30000000;
constexpr uint32_t MAX_EJECTION_MULTIPLIER = 10;
constexpr uint64_t LOCK_STEAL_AFTER_SPINS = 2000000;

uint64_t monotonic_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

// This process's id, read from the kernel once per process (getpid() is a
// system call; a forked child forgets its parent's).
uint32_t current_pid() {
  static std::atomic<uint32_t> cached{0};
  static const int forget_on_fork =
      pthread_atfork(nullptr, nullptr, [] { cached.store(0); });
  (void)forget_on_fork;
  uint32_t pid = cached.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = static_cast<uint32_t>(getpid());
    cached.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

// A spin lock living in shared memory.  The holder stores its pid; a
// waiter that spun for long steals the lock from a holder that no longer
// exists (a crashed nginx worker must not wedge the others).
void lock_word(std::atomic<uint32_t> &word) {
  const uint32_t self = current_pid();
  for (uint64_t spins = 0;; ++spins) {
    uint32_t expected = 0;
    if (word.compare_exchange_weak(expected, self, std::memory_order_acquire))
      return;
    if (spins >= LOCK_STEAL_AFTER_SPINS && expected != 0 &&
        kill(static_cast<pid_t>(expected), 0) != 0 && errno == ESRCH) {
      if (word.compare_exchange_strong(expected, self,
                                       std::memory_order_acquire))
        return;
    }
    if ((spins & 63) == 63) sched_yield();
  }
}

void unlock_word(std::atomic<uint32_t> &word) {
  word.store(0, std::memory_order_release);
}

namespace {

struct WordLock {
  explicit WordLock(std::atomic<uint32_t> &w) : word(w) { lock_word(word); }
  ~WordLock() { unlock_word(word); }
  std::atomic<uint32_t> &word;
};

uint32_t compute_effective_weight(uint32_t weight, uint32_t pct) {
  if (pct == 0) return 0;
  uint64_t w = static_cast<uint64_t>(weight) * pct / 100;
  return w == 0 ? 1 : static_cast<uint32_t>(w);
}

// Whether picks and releases keep the pool's in-flight total: only the
// methods that read it (bounded load, peak_ewma), so that the others do not
// share one contended counter between every process of the pool.  Method
// and balance factor are fixed when the pool is created.
bool tracks_in_flight(const PoolHeader &h) {
  return h.balance_factor != 0 || h.method == METHOD_PEAK_EWMA;
}

void bump(std::atomic<uint64_t> &counter) {
  counter.fetch_add(1, std::memory_order_acq_rel);
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

void copy_text(char *dst, size_t cap, const char *src) {
  size_t n = std::strlen(src);
  if (n >= cap) n = cap - 1;
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}

}  // namespace

uint64_t pool_now(const lbk_pool *pool) {
  return pool->clock ? pool->clock(pool->clock_ud) : monotonic_us();
}

uint64_t pool_random(lbk_pool *pool) {
  if (pool->rng) return pool->rng(pool->rng_ud);
  // splitmix64 as a counter-based generator: thread safe and, for one
  // thread, a reproducible sequence for a given seed.
  uint64_t s = pool->rng_state.fetch_add(0x9e3779b97f4a7c15ULL,
                                         std::memory_order_relaxed);
  return splitmix64(s + 0x9e3779b97f4a7c15ULL);
}

namespace {

// Is the slow-start ramp of @p s still running at @p now?  Returns the
// admitted fraction in (0, 1], 1 when no ramp applies.
double ramp_fraction(const lbk_pool *pool, const PeerSlot &s, uint64_t now) {
  uint64_t span = pool->header->slow_start_us;
  if (span == 0) return 1.0;
  uint64_t start = s.ramp_start_us.load(std::memory_order_relaxed);
  if (start == 0 || now >= start + span) return 1.0;
  if (now < start) return 0.01;
  double f = static_cast<double>(now - start) / static_cast<double>(span);
  return f < 0.01 ? 0.01 : f;
}

// Unusable because of passive or active health (not admin state)?
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

}  // namespace

bool admin_excluded(const PeerSlot &s) {
  return s.admin_state.load(std::memory_order_relaxed) != LBK_ADMIN_UP ||
         s.agent_admin.load(std::memory_order_relaxed) != AGENT_ADMIN_NONE ||
         s.effective_weight.load(std::memory_order_relaxed) == 0;
}

bool PickContext::usable(uint32_t id) {
  if (tried_ != nullptr && id / 64 < tried_words_ &&
      (tried_[id / 64] >> (id % 64)) & 1u)
    return false;
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

std::unique_ptr<AlgoState> build_members_only(const Tier &, const PoolParams &) {
  return std::make_unique<AlgoState>();
}

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

// Makes the cache current if the topology moved; never blocks a picker
// behind another thread's rebuild (it keeps using the previous cache).
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
  PoolCache *fresh;
  {
    WordLock lock(pool->header->config_lock);
    fresh = build_cache(pool);
  }
  pool->cache.store(fresh, std::memory_order_seq_cst);
  if (cur != nullptr) pool->retired.push_back(cur);
  collect_retired(pool);
}

// Counts this thread as a cache reader for its lifetime.
struct ReaderGuard {
  explicit ReaderGuard(lbk_pool *p) : pool(p) {
    pool->readers.fetch_add(1, std::memory_order_seq_cst);
  }
  ~ReaderGuard() { pool->readers.fetch_sub(1, std::memory_order_seq_cst); }
  lbk_pool *pool;
};

// Panic: when fewer than panic_threshold_pct % of the primaries are
// healthy (counting healthy backups too, up to the number of primaries),
// picks ignore health, failed windows and ejection and balance over every
// primary that is administratively up (Envoy's panic threshold).
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

// Takes a slot: increments active unless max_conns is reached meanwhile.
// A peer's active count went from 0 to 1: the suspect rule counts from
// now, unless its last completed request stalled (a peer whose requests
// time out stays suspect through the moments it has none in flight).
void became_busy(lbk_pool *pool, PeerSlot &s) {
  if (s.last_fail_us.load(std::memory_order_relaxed) >
      s.last_ok_us.load(std::memory_order_relaxed))
    return;
  s.busy_since_us.store(pool_now(pool), std::memory_order_relaxed);
}

// Tells least_conn's shared order that a peer's active count moved.
void active_changed(lbk_pool *pool, uint32_t id) {
  if (pool->header->method == METHOD_LEAST_CONN)
    least_conn_active_changed(pool, id);
}

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
  if (tracks_in_flight(*pool->header))
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

int check_pool(const lbk_pool *pool) {
  if (pool == nullptr) return set_error(LBK_EINVAL, "pool is NULL");
  return 0;
}

int check_peer(const lbk_pool *pool, uint32_t id) {
  if (int rc = check_pool(pool)) return rc;
  if (id >= pool->header->max_peers ||
      !pool->slots[id].in_use.load(std::memory_order_acquire))
    return set_error(LBK_ENOTFOUND, "no peer with id %u", id);
  return 0;
}

int resolve_options(lbk_pool_options *o, const lbk_pool_options *in) {
  lbk_pool_options defaults = LBK_POOL_OPTIONS_INIT;
  *o = in ? *in : defaults;
  if (o->version != LBK_POOL_OPTIONS_VERSION)
    return set_error(LBK_EINVAL, "pool options version %u is not %d "
                     "(initialise with LBK_POOL_OPTIONS_INIT)",
                     o->version, LBK_POOL_OPTIONS_VERSION);
  if (o->max_peers == 0 || o->max_peers > LBK_PEERS_MAX)
    return set_error(LBK_ERANGE, "max_peers %u is out of range 1..%d",
                     o->max_peers, LBK_PEERS_MAX);
  if (o->hash_kind < LBK_HASH_KETAMA || o->hash_kind > LBK_HASH_MODULO)
    return set_error(LBK_EMETHOD, "hash_kind %d is not ketama (0), maglev (1) "
                     "or modulo (2)", o->hash_kind);
  if (o->balance_factor != 0 &&
      (o->balance_factor <= 100 || o->balance_factor > 65535))
    return set_error(LBK_ERANGE, "balance_factor %u must be 0 (off) or "
                     "101..65535 percent", o->balance_factor);
  if (o->random_draws > 64)
    return set_error(LBK_ERANGE, "random_draws %u is out of range 0..64",
                     o->random_draws);
  if (o->fastest_band_pct > 1000)
    return set_error(LBK_ERANGE, "fastest_band_pct %u is out of range 0..1000",
                     o->fastest_band_pct);
  if (o->outlier_max_ejection_pct > 100)
    return set_error(LBK_ERANGE, "outlier_max_ejection_pct %u is above 100",
                     o->outlier_max_ejection_pct);
  if (o->panic_threshold_pct > 100)
    return set_error(LBK_ERANGE, "panic_threshold_pct %u is above 100",
                     o->panic_threshold_pct);
  const char *method = o->method ? o->method : "round_robin";
  if (method_from_name(method) < 0)
    return set_error(LBK_EMETHOD, "unknown balancing method '%s' (known: "
                     "round_robin, least_conn, random, random(N), p2c, "
                     "peak_ewma, fastest, first, hash, maglev, source)",
                     method);
  if (method_ops(static_cast<uint32_t>(method_from_name(method)),
                 o->hash_kind) == nullptr)
    return set_error(LBK_EMETHOD, "balancing method '%s' is not available in "
                     "this build", method);
  return 0;
}

void format_header(PoolHeader *h, const lbk_pool_options &o, size_t size) {
  new (h) PoolHeader();
  h->magic = POOL_MAGIC;
  h->layout_version = POOL_LAYOUT_VERSION;
  h->max_peers = o.max_peers;
  h->block_size = size;
  h->method = static_cast<uint32_t>(
      method_from_name(o.method ? o.method : "round_robin"));
  h->hash_kind = o.hash_kind;
  h->balance_factor = o.balance_factor;
  uint32_t named_draws = method_draws_from_name(o.method);
  h->random_draws = o.random_draws ? o.random_draws
                                   : named_draws ? named_draws : 2;
  h->ewma_decay_us = o.ewma_decay_us ? o.ewma_decay_us : DEFAULT_EWMA_DECAY_US;
  h->fastest_band_pct = o.fastest_band_pct ? o.fastest_band_pct : 10;
  h->outlier_consecutive = o.outlier_consecutive;
  h->outlier_base_ejection_us = o.outlier_base_ejection_us
                                    ? o.outlier_base_ejection_us
                                    : DEFAULT_EJECTION_US;
  h->outlier_max_ejection_pct =
      o.outlier_max_ejection_pct ? o.outlier_max_ejection_pct : 10;
  h->panic_threshold_pct = o.panic_threshold_pct;
  h->slow_start_us = o.slow_start_us;
  h->topology_generation.store(1);
  h->suspect_floor_us.store(DEFAULT_SUSPECT_FLOOR_US);
  PeerSlot *slots = reinterpret_cast<PeerSlot *>(h + 1);
  for (uint32_t i = 0; i < o.max_peers; ++i) new (&slots[i]) PeerSlot();
  least_conn_area_format(slots + o.max_peers, o.max_peers);
}

lbk_pool *make_handle(PoolHeader *h, const lbk_pool_options &o) {
  lbk_pool *pool = new (std::nothrow) lbk_pool;
  if (pool == nullptr) return nullptr;
  pool->header = h;
  pool->slots = reinterpret_cast<PeerSlot *>(h + 1);
  pool->ops = method_ops(h->method, h->hash_kind);
  pool->method_name = method_canonical_name(h->method);
  pool->params.hash_kind = h->hash_kind;
  pool->params.balance_factor = h->balance_factor;
  pool->params.random_draws = h->random_draws;
  pool->params.ewma_decay_us = h->ewma_decay_us;
  pool->params.fastest_band_pct = h->fastest_band_pct;
  pool->clock = o.clock;
  pool->clock_ud = o.clock_ud;
  pool->rng = o.rng;
  pool->rng_ud = o.rng_ud;
  pool->rng_state.store(o.seed ? o.seed : 0x6c626b6974ULL);
  return pool;
}

// Resets every dynamic field of a slot being (re)used by a new peer.
// Zeroes the traffic statistics; a down spell still open restarts at @p now
// (0: none is open).
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

// Opens or closes the peer's down spell (health_excluded()) at @p now and
// adds a closed spell to downtime_us.  A spell that a failure window alone
// caused ends when the window did, not when this runs.  Called wherever
// health may change and before statistics are read; racing callers settle
// a spell once (the CAS on down_since_us).
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

uint64_t mean_of(const std::atomic<uint64_t> &sum,
                 const std::atomic<uint64_t> &count) {
  uint64_t n = count.load(std::memory_order_relaxed);
  return n ? sum.load(std::memory_order_relaxed) / n : 0;
}

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

// The most of the old estimate one sample keeps (see peak_ewma.cc).
constexpr double EWMA_MAX_KEEP = 1.0 - 1.0 / 64;

// Feeds one latency sample into the peer's peak-EWMA (see peak_ewma.cc for
// the formula) and into the pool-wide mean used for peers with no history.
void record_latency(lbk_pool *pool, PeerSlot &s, uint64_t latency_us,
                    uint64_t now) {
  double sample = static_cast<double>(latency_us);
  uint32_t expected = 0;
  // A concurrent update of the same peer wins; this sample is dropped
  // rather than waiting on the hot path.
  if (s.ewma_lock.compare_exchange_strong(expected, 1,
                                          std::memory_order_acquire)) {
    double next = sample;
    if (s.has_ewma.load(std::memory_order_relaxed)) {
      double old = bits_to_double(s.ewma_bits.load(std::memory_order_relaxed));
      uint64_t then = s.ewma_time_us.load(std::memory_order_relaxed);
      double dt = now > then ? static_cast<double>(now - then) : 0.0;
      double w = std::min(EWMA_MAX_KEEP,
                          std::exp(-dt / static_cast<double>(pool->params.ewma_decay_us)));
      next = sample > old ? sample : old * w + sample * (1.0 - w);
    }
    s.ewma_bits.store(double_to_bits(next), std::memory_order_relaxed);
    s.ewma_time_us.store(now, std::memory_order_relaxed);
    s.has_ewma.store(1, std::memory_order_release);
    s.ewma_lock.store(0, std::memory_order_release);
  }
  // Pool-wide mean: a plain EWMA with weight 1/16 per sample; racing
  // writers may lose a sample, which only slows it down.  Only peak_ewma
  // reads it, so other methods skip the shared write.
  if (pool->header->method != METHOD_PEAK_EWMA) return;
  std::atomic<uint64_t> &mean = pool->header->latency_mean_bits;
  double m = bits_to_double(mean.load(std::memory_order_relaxed));
  m = m == 0.0 ? sample : m + (sample - m) / 16.0;
  mean.store(double_to_bits(m), std::memory_order_relaxed);
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

// Stores a peer's weight and agent percentage and tells every process's
// cache to rebuild.  Caller holds the configuration lock.
void store_weights(lbk_pool *pool, PeerSlot &s, uint32_t weight, uint32_t pct) {
  s.weight.store(weight);
  s.weight_pct.store(pct);
  s.effective_weight.store(compute_effective_weight(weight, pct));
  bump(pool->header->generation);
  bump(pool->header->topology_generation);
}

// A peer entered or left administrative service: methods whose schedule
// holds only peers in service (round robin) rebuild it in every process.
void admin_service_changed(lbk_pool *pool) {
  if (pool->ops->build_reads_admin_state)
    bump(pool->header->topology_generation);
}

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

LBK_EXTERN size_t lbk_pool_size(uint32_t max_peers) {
  if (max_peers == 0 || max_peers > LBK_PEERS_MAX) return 0;
  return sizeof(PoolHeader) + sizeof(PeerSlot) * static_cast<size_t>(max_peers) +
         least_conn_area_size(max_peers);
}

LBK_EXTERN const char *lbk_method_canonical(const char *name) {
  int m = method_from_name(name);
  return m < 0 ? nullptr : method_canonical_name(static_cast<uint32_t>(m));
}

LBK_EXTERN int lbk_pool_create(lbk_pool **out, const lbk_pool_options *opts) {
  if (out == nullptr) return set_error(LBK_EINVAL, "out is NULL");
  *out = nullptr;
  lbk_pool_options o;
  if (int rc = resolve_options(&o, opts)) return rc;
  size_t size = lbk_pool_size(o.max_peers);
  void *block = std::aligned_alloc(64, size);
  if (block == nullptr)
    return set_error(LBK_ENOMEM, "cannot allocate %zu bytes for %u peers",
                     size, o.max_peers);
  PoolHeader *h = static_cast<PoolHeader *>(block);
  format_header(h, o, size);
  lbk_pool *pool = make_handle(h, o);
  if (pool == nullptr) {
    std::free(block);
    return set_error(LBK_ENOMEM, "cannot allocate a pool handle");
  }
  pool->owned_block = block;
  *out = pool;
  return 0;
}

LBK_EXTERN int lbk_pool_place(lbk_pool **out, void *mem, size_t size,
                              const lbk_pool_options *opts,
                              unsigned int flags) {
  if (out == nullptr || mem == nullptr)
    return set_error(LBK_EINVAL, "out or mem is NULL");
  *out = nullptr;
  if (reinterpret_cast<uintptr_t>(mem) % 64 != 0)
    return set_error(LBK_EINVAL, "placed memory %p is not 64-byte aligned", mem);
  lbk_pool_options o;
  if (int rc = resolve_options(&o, opts)) return rc;
  PoolHeader *h = static_cast<PoolHeader *>(mem);
  if (flags == LBK_PLACE_INIT) {
    size_t need = lbk_pool_size(o.max_peers);
    if (size < need)
      return set_error(LBK_ENOMEM, "placed block of %zu bytes is smaller than "
                       "the %zu bytes %u peers need (lbk_pool_size)", size,
                       need, o.max_peers);
    format_header(h, o, size);
  } else if (flags == LBK_PLACE_ATTACH) {
    if (size < sizeof(PoolHeader) || h->magic != POOL_MAGIC)
      return set_error(LBK_ELAYOUT, "placed block is not an lbkit pool "
                       "(format it with LBK_PLACE_INIT first)");
    if (h->layout_version != POOL_LAYOUT_VERSION)
      return set_error(LBK_ELAYOUT, "placed block has layout version %u; this "
                       "library uses %u (restart every process with one "
                       "version)", h->layout_version, POOL_LAYOUT_VERSION);
    size_t need = lbk_pool_size(h->max_peers);
    if (need == 0 || size < need)
      return set_error(LBK_ELAYOUT, "placed block of %zu bytes is too small "
                       "for its %u peers", size, h->max_peers);
    if (h->method >= METHOD_COUNT)
      return set_error(LBK_ELAYOUT, "placed block names method %u, unknown",
                       h->method);
  } else {
    return set_error(LBK_EINVAL, "flags %u: pass LBK_PLACE_INIT or "
                     "LBK_PLACE_ATTACH", flags);
  }
  lbk_pool *pool = make_handle(h, o);
  if (pool == nullptr) return set_error(LBK_ENOMEM, "cannot allocate a handle");
  *out = pool;
  return 0;
}

LBK_EXTERN void lbk_pool_free(lbk_pool *pool) {
  if (pool == nullptr) return;
  delete pool->cache.load();
  for (PoolCache *c : pool->retired) delete c;
  std::free(pool->owned_block);
  delete pool;
}

LBK_EXTERN const char *lbk_pool_method(const lbk_pool *pool) {
  return pool ? pool->method_name : nullptr;
}

namespace {

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

LBK_EXTERN int lbk_pool_add(uint32_t *out_id, lbk_pool *pool,
                            const lbk_peer_config *peer) {
  if (int rc = check_pool(pool)) return rc;
  if (peer == nullptr) return set_error(LBK_EINVAL, "peer config is NULL");
  if (peer->version != LBK_PEER_CONFIG_VERSION)
    return set_error(LBK_EINVAL, "peer config version %u is not %d "
                     "(initialise with LBK_PEER_CONFIG_INIT)", peer->version,
                     LBK_PEER_CONFIG_VERSION);
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
  pool->index_ids.emplace(s.name, free_id);
  bump_topology(pool);
  if (out_id) *out_id = free_id;
  return 0;
}

LBK_EXTERN int lbk_pool_remove(lbk_pool *pool, uint32_t id) {
  if (int rc = check_pool(pool)) return rc;
  PoolHeader &h = *pool->header;
  WordLock lock(h.config_lock);
  if (int rc = check_peer(pool, id)) return rc;
  sync_index(pool);
  PeerSlot &s = pool->slots[id];
  pool->index_ids.erase(s.name);
  pool->index_free.insert(id);
  s.in_use.store(0, std::memory_order_release);
  // The removed peer's in-flight requests leave the pool's total now; their
  // releases are ignored.
  uint32_t active = s.active.exchange(0);
  if (tracks_in_flight(h))
    h.total_active.fetch_sub(std::min<uint64_t>(active, h.total_active.load()));
  h.peer_count.fetch_sub(1, std::memory_order_acq_rel);
  bump_topology(pool);
  return 0;
}

LBK_EXTERN int lbk_pool_find(uint32_t *out_id, const lbk_pool *pool,
                             const char *name) {
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
  if (int rc = check_peer(pool, id)) return rc;
  pool->slots[id].max_conns.store(max_conns, std::memory_order_relaxed);
  bump(pool->header->generation);
  return 0;
}

LBK_EXTERN int lbk_pool_set_fail_limits(lbk_pool *pool, uint32_t id,
                                        uint32_t max_fails,
                                        uint32_t fail_timeout_ms) {
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
  if (int rc = check_pool(pool)) return rc;
  pool->header->suspect_floor_us.store(floor_us, std::memory_order_relaxed);
  pool->header->suspect_all.store(all_methods && floor_us ? 1 : 0,
                                  std::memory_order_relaxed);
  return 0;
}

LBK_EXTERN int lbk_pool_pick(uint32_t *out_id, lbk_pool *pool, const void *key,
                             size_t key_len, const uint64_t *tried,
                             size_t tried_words) {
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
}

LBK_EXTERN int lbk_pool_release(lbk_pool *pool, uint32_t id,
                                const lbk_outcome *outcome) {
  if (int rc = check_pool(pool)) return rc;
  if (outcome == nullptr || outcome->version < 1 ||
      outcome->version > LBK_OUTCOME_VERSION)
    return set_error(LBK_EINVAL, "outcome is NULL or its version is not 1..%d",
                     LBK_OUTCOME_VERSION);
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
  if (active != 0 && tracks_in_flight(*pool->header))
    pool->header->total_active.fetch_sub(1, std::memory_order_relaxed);
  if (active != 0) active_changed(pool, id);
  if (outcome->result == LBK_OUTCOME_CANCELLED) return 0;
  uint64_t now = pool_now(pool);
  lbk_outcome o{};
  std::memcpy(&o, outcome, outcome->version < 2
                  ? offsetof(lbk_outcome, bytes_sent) : sizeof o);
  record_traffic(s, o, now);
  if (outcome->result == LBK_OUTCOME_OK) {
    s.last_ok_us.store(now, std::memory_order_relaxed);
    s.successes.fetch_add(1, std::memory_order_relaxed);
    s.consecutive_failures.store(0, std::memory_order_relaxed);
    clear_stale_failures(s, now);
    if (outcome->latency_us != 0)  // 0: the caller did not measure it
      record_latency(pool, s, outcome->latency_us, now);
  } else {
    s.failures.fetch_add(1, std::memory_order_relaxed);
    // a failure after no progress for longer than the suspect floor (a read
    // timeout, typically) is a stall: see PickContext::suspect()
    uint64_t floor = pool->header->suspect_floor_us.load(std::memory_order_relaxed);
    if (floor != 0 && now - std::max(s.busy_since_us.load(std::memory_order_relaxed),
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
  return 0;
}

LBK_EXTERN int lbk_pool_peer_reset_stats(lbk_pool *pool, uint32_t id) {
  if (int rc = check_peer(pool, id)) return rc;
  reset_stats(pool->slots[id], pool_now(pool));
  return 0;
}

LBK_EXTERN int lbk_pool_peer_info(lbk_peer_info *out, const lbk_pool *pool,
                                  uint32_t id) {
  if (out == nullptr) return set_error(LBK_EINVAL, "out is NULL");
  unsigned int version = out->version;
  if (version < 1 || version > LBK_PEER_INFO_VERSION)
    return set_error(LBK_EINVAL, "peer info version %u is not 1..%d",
                     version, LBK_PEER_INFO_VERSION);
  if (int rc = check_peer(pool, id)) return rc;
  lbk_pool *mpool = const_cast<lbk_pool *>(pool);
  PeerSlot &s = pool->slots[id];
  uint64_t now = pool_now(pool);
  track_downtime(s, now);
  // a version 1 caller's struct ends where version 2's fields begin
  std::memset(out, 0, version < 2 ? offsetof(lbk_peer_info, responses)
                                  : sizeof *out);
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

LBK_EXTERN int lbk_pool_report_check(lbk_health_event *out, lbk_pool *pool,
                                     uint32_t id, const lbk_check *check,
                                     const lbk_check_result *result) {
  if (int rc = check_peer(pool, id)) return rc;
  return lbk_pool_report_check_at(out, pool, id, check, result, pool_now(pool));
}

// The final verdict on a check is made here: the result's, or
// LBK_CHECK_FAIL_LAG for a passing reply whose value lags the best peer's
// by more than max_lag.  The health counter takes it, and the event carries
// it (outcome) to the front ends, which show it and never judge again.
LBK_EXTERN int lbk_pool_report_check_at(lbk_health_event *out, lbk_pool *pool,
                                        uint32_t id, const lbk_check *check,
                                        const lbk_check_result *result,
                                        uint64_t now) {
  if (int rc = check_peer(pool, id)) return rc;
  if (check == nullptr || result == nullptr)
    return set_error(LBK_EINVAL, "check or result is NULL");
  if (result->version != LBK_CHECK_RESULT_VERSION)
    return set_error(LBK_EINVAL, "check result version %u is not %d",
                     result->version, LBK_CHECK_RESULT_VERSION);
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
}

LBK_EXTERN int lbk_pool_peer_next_check_delay(uint64_t *out_us,
                                              const lbk_pool *pool,
                                              uint32_t id,
                                              const lbk_check *check,
                                              uint64_t random) {
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
