// hash_common.cc - bounded load and the fallback of the hash methods.
#include "algo/hash_common.h"

namespace lbk {

LoadBound::LoadBound(PickContext &ctx, const Tier &) {
  uint32_t factor = ctx.params().balance_factor;
  if (factor == 0) return;
  uint64_t total = ctx.pool()->header->total_active.load(std::memory_order_relaxed);
  pool_slots_ = ((total + 1) * factor + 99) / 100;
}

bool LoadBound::allows(PickContext &ctx, const Tier &tier, size_t pos) const {
  if (pool_slots_ == 0) return true;
  uint64_t w = tier.weights[pos];
  uint64_t cap = (pool_slots_ * w + tier.total_weight - 1) / tier.total_weight;
  return ctx.slot(tier.ids[pos]).active.load(std::memory_order_relaxed) < cap;
}

size_t hash_walk_steps(const LoadBound &bound) {
  return bound.bounded() ? HASH_WALK_STEPS : NGINX_CANDIDATES;
}

uint32_t hash_walk_failed(PickContext &ctx, const Tier &tier, size_t start,
                          const LoadBound &bound) {
  if (bound.bounded()) return hash_fallback(ctx, tier, start, bound);
  return hash_round_robin(ctx, tier);
}

uint32_t hash_round_robin(PickContext &ctx, const Tier &tier) {
  return round_robin_pick(
      ctx, tier, *static_cast<const HashState *>(tier.state.get())->round_robin);
}

uint32_t hash_fallback(PickContext &ctx, const Tier &tier, size_t start,
                       const LoadBound &bound) {
  size_t n = tier.ids.size();
  start %= n;
  for (size_t i = 0; i < n; ++i) {
    size_t pos = (start + i) % n;
    if (bound.allows(ctx, tier, pos) && ctx.usable(tier.ids[pos]))
      return tier.ids[pos];
  }
  return scan_tier(ctx, tier, start);
}

}  // namespace lbk
