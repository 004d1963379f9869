// hash_common.h - what the hash methods (ketama, maglev, modulo) share:
// bounded load (HAProxy hash-balance-factor) and the final fallback scan.
#pragma once

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

 private:
  uint64_t pool_slots_ = 0;  // 0: unbounded
};

// Ends a hash walk that found nothing within its step budget: the first
// usable member from @p start under the load bound, else the first usable
// member ignoring the bound.  O(n).
uint32_t hash_fallback(PickContext &ctx, const Tier &tier, size_t start,
                       const LoadBound &bound);

// Steps a ring or table walk takes before hash_fallback().
constexpr size_t HASH_WALK_STEPS = 256;

}  // namespace lbk
