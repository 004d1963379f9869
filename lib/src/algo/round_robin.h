// round_robin.h - round robin as the fallback of other methods.
//
// nginx's hash, hash consistent and random fall back to its round robin for
// an empty key or after 20 unusable candidates; those methods keep a
// round-robin schedule of their tier beside their own structure (their ops
// set build_reads_admin_state, as round robin's do).
#pragma once

#include "pool.h"

namespace lbk {

// The round-robin schedule of @p tier (its members in service).
std::unique_ptr<AlgoState> round_robin_build(const Tier &tier,
                                             const PoolParams &params);
// A round-robin pick over @p schedule, built by round_robin_build() for
// @p tier: nginx's smooth weighted sequence on the pool's shared counter.
uint32_t round_robin_pick(PickContext &ctx, const Tier &tier,
                          const AlgoState &schedule);

// Candidates nginx's hash methods and random try before falling back to
// round robin: the first and 20 more ("tries > 20").
constexpr size_t NGINX_CANDIDATES = 21;

// The state of a method that falls back to round robin.
struct WithRoundRobin : AlgoState {
  std::unique_ptr<AlgoState> round_robin;
};

}  // namespace lbk
