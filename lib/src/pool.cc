// pool.cc - creating, placing and freeing pools: option validation, the
// block's layout (format_header: PoolHeader, PeerSlot[max_peers], then
// least_conn's area), the process-local handle (make_handle), and the
// pool's clock and random generator.
//
// Owns: PoolHeader's fixed settings (written once by LBK_PLACE_INIT or
// lbk_pool_create, read-only afterwards) and the handle's lifetime.
// Locks: none.  A block being formatted is not yet shared; attaching only
// reads the header; lbk_pool_free must not race any call on its handle.
#include "pool_internal.h"

#include <time.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "algo/methods.h"
#include "api.h"
#include "bits.h"

namespace lbk {
namespace {

constexpr uint64_t DEFAULT_EWMA_DECAY_US = 10000000;
constexpr uint64_t DEFAULT_EJECTION_US = 30000000;

uint64_t monotonic_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

int resolve_options(lbk_pool_options *o, const lbk_pool_options *in) {
  lbk_pool_options defaults = LBK_POOL_OPTIONS_INIT;
  *o = in ? *in : defaults;
  if (int rc = check_version(o->version, LBK_POOL_OPTIONS_VERSION,
                             "pool options", "LBK_POOL_OPTIONS_INIT"))
    return rc;
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

void copy_text(char *dst, size_t cap, const char *src) {
  size_t n = std::strlen(src);
  if (n >= cap) n = cap - 1;
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}

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
  lbk::clear_error();
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
  lbk::clear_error();
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
    if (method_ops(h->method, h->hash_kind) == nullptr)
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

}  // extern "C"
