// hash_common.h - what the hash methods (ketama, maglev, modulo) share:
// bounded load (HAProxy hash-balance-factor) and the final fallback scan.
#pragma once

#include "algo/round_robin.h"
#include "pool.h"

namespace lbk {

// HAProxy hash-balance-factor: with factor f (percent, > 100) and T active
// requests in the pool, the pool may hold ceil((T + 1) * f / 100) requests
// and member i at most ceil(that * w_i / total weight): a member at its
// bound is passed over and the walk continues to the next candidate.
class LoadBound {
 public:
  LoadBound(PickContext &ctx, const Tier &tier);
  // May the member at tier position @p pos take one more request?
  bool allows(PickContext &ctx, const Tier &tier, size_t pos) const;
  // Is there a bound (balance_factor set)?
  bool bounded() const { return pool_slots_ != 0; }

 private:
  uint64_t pool_slots_ = 0;  // 0: unbounded
};

// Ends a hash walk that found nothing within its step budget: the first
// usable member from @p start under the load bound, else the first usable
// member ignoring the bound.  O(n).
uint32_t hash_fallback(PickContext &ctx, const Tier &tier, size_t start,
                       const LoadBound &bound);

// Steps a ring or table walk takes before hash_fallback() when a load
// bound is set (nginx has none; without one the hash methods walk as far
// as nginx, NGINX_CANDIDATES, then fall back to round robin).
constexpr size_t HASH_WALK_STEPS = 256;

// Candidates a walk tries before its fallback: nginx's without a load
// bound, HASH_WALK_STEPS with one.
size_t hash_walk_steps(const LoadBound &bound);

// Round robin over the tier (a HashState): nginx's answer to an empty key.
uint32_t hash_round_robin(PickContext &ctx, const Tier &tier);

// The end of a walk that found nothing: round robin over the tier as nginx
// without a load bound, hash_fallback() from @p start with one.
uint32_t hash_walk_failed(PickContext &ctx, const Tier &tier, size_t start,
                          const LoadBound &bound);

// A hash method's state: its own structure plus the round-robin schedule
// that serves empty keys and failed walks.
using HashState = WithRoundRobin;

}  // namespace lbk
