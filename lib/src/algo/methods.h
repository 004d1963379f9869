// methods.h - the table of balancing methods: names, aliases, ops.
#pragma once

#include "pool.h"

namespace lbk {

// A method's id is its line in the registry (methods.cc); ids are stored in
// placed pool blocks, so the registry is only ever appended to.
// The id of a canonical name or alias (case-sensitive), or -1.  HAProxy's
// "random(N)" is p2c with N draws (random_draws, unless the options set it).
int method_from_name(const char *name);
// N of "random(N)" (1..64), 0 for any other name.
uint32_t method_draws_from_name(const char *name);
// The canonical name of a method id ("round_robin", ...), "unknown" if none.
const char *method_canonical_name(uint32_t method);
// The ops implementing a method, nullptr for an unknown id; hash and source
// choose theirs by @p hash_kind.
const AlgoOps *method_ops(uint32_t method, int hash_kind);

// Feeds one latency sample of a released request into the peer's peak-EWMA
// estimate (formula in peak_ewma.cc).  Every method keeps it: fastest and
// the suspect rule read it too, and lbk_pool_peer_info shows it.
void record_latency_sample(const lbk_pool *pool, PeerSlot &s,
                           uint64_t latency_us, uint64_t now);

// A peer's latency as observed from released requests: its peak-EWMA, or
// with nothing in flight that estimate decayed for the time since its last
// sample (tau = ewma_decay_us), so a peer that lost every pick is retried
// in time; -1 before the first sample.  Used by peak_ewma and fastest.
double observed_latency_us(PickContext &ctx, const PeerSlot &s,
                           uint32_t active);

// least_conn's shared state, after the peer slots of every pool block
// (least_conn.cc): its size and its formatting; and its
// AlgoOps::active_changed hook.
size_t least_conn_area_size(uint32_t max_peers);
void least_conn_area_format(void *area, uint32_t max_peers);
void least_conn_active_changed(lbk_pool *pool, uint32_t id);

}  // namespace lbk
