// methods.h - the table of balancing methods: names, aliases, ops.
#pragma once

#include "pool.h"

namespace lbk {

enum MethodId : uint32_t {
  METHOD_ROUND_ROBIN = 0,
  METHOD_LEAST_CONN,
  METHOD_RANDOM,
  METHOD_P2C,
  METHOD_PEAK_EWMA,
  METHOD_FASTEST,
  METHOD_FIRST,
  METHOD_HASH,
  METHOD_MAGLEV,
  METHOD_SOURCE,
  METHOD_COUNT
};

// The method for a canonical name or alias (case-sensitive), or -1.
// N of HAProxy's "random(N)" (1..64), 0 for any other name.  "random(N)"
// is p2c with N draws (random_draws, unless the options set it).
uint32_t method_draws_from_name(const char *name);
int method_from_name(const char *name);
// The canonical name of a method id ("round_robin", ...).
const char *method_canonical_name(uint32_t method);
// The ops implementing a method; hash and source use @p hash_kind.
const AlgoOps *method_ops(uint32_t method, int hash_kind);

// A peer's latency as observed from released requests: its peak-EWMA, or
// with nothing in flight that estimate decayed for the time since its last
// sample (tau = ewma_decay_us), so a peer that lost every pick is retried
// in time; -1 before the first sample.  Used by peak_ewma and fastest.
double observed_latency_us(PickContext &ctx, const PeerSlot &s,
                           uint32_t active);

// least_conn's shared state, after the peer slots of every pool block
// (least_conn.cc): its size, its formatting, and the hook the pool calls
// after every change of a peer's active count (admitted, refused, released).
size_t least_conn_area_size(uint32_t max_peers);
void least_conn_area_format(void *area, uint32_t max_peers);
void least_conn_active_changed(lbk_pool *pool, uint32_t id);

// One ops table per algorithm file.
extern const AlgoOps round_robin_ops;
extern const AlgoOps least_conn_ops;
extern const AlgoOps random_ops;
extern const AlgoOps p2c_ops;
extern const AlgoOps peak_ewma_ops;
extern const AlgoOps fastest_ops;
extern const AlgoOps first_ops;
extern const AlgoOps ketama_ops;
extern const AlgoOps maglev_ops;
extern const AlgoOps modulo_hash_ops;

}  // namespace lbk
