// weighted_draw.h - O(1) weighted random draws (Vose's alias method), shared
// by random, p2c and peak_ewma, and the draw-then-fallback helper they use.
#pragma once

#include <cstdint>
#include <vector>

#include "pool.h"

namespace lbk {

// Alias table over tier positions: a draw takes one 64-bit random value:
// the high part picks a column uniformly, the low 32 bits decide between
// the column and its alias with probability prob[column] / 2^32.
class AliasTable {
 public:
  explicit AliasTable(const std::vector<uint32_t> &weights);
  uint32_t draw(uint64_t random_bits) const;
  size_t size() const { return prob_.size(); }

 private:
  std::vector<uint32_t> prob_;   // scaled to 2^32
  std::vector<uint32_t> alias_;
};

struct AliasState : AlgoState {
  explicit AliasState(const Tier &tier) : table(tier.weights) {}
  AliasTable table;
};

std::unique_ptr<AlgoState> build_alias_state(const Tier &tier,
                                             const PoolParams &);

// Draws made before draw_usable_distinct() scans.
constexpr int MAX_DRAW_ATTEMPTS = 8;

// Draws a usable member by weight that is none of the @p n_drawn ids in
// @p drawn (weighted draw without replacement): a draw that hits an
// unusable or already drawn member is redrawn, at most MAX_DRAW_ATTEMPTS
// draws in all, then the tier is scanned from a random position for the
// next usable member not yet drawn.  Returns LBK_PEER_NONE only when every
// usable member is already drawn.  O(1 + n_drawn) expected per draw while
// the drawn members hold a minor share of the weight; O(n) in the scan.
uint32_t draw_usable_distinct(PickContext &ctx, const Tier &tier,
                              const uint32_t *drawn, size_t n_drawn);

// The most draws a pick of p2c or peak_ewma makes (random_draws <= 64).
constexpr size_t MAX_CHOICES = 64;

// The pick of p2c and peak_ewma: draws random_draws distinct usable members
// by weight and returns the one with the lowest @p cost(id, active); ties go
// to fewer active requests, then to the earlier draw.  LBK_PEER_NONE when no
// member is usable.
template <class CostFn>
uint32_t pick_cheapest_of_draws(PickContext &ctx, const Tier &tier,
                                CostFn cost) {
  uint32_t draws = ctx.params().random_draws;
  uint32_t best = LBK_PEER_NONE;
  double best_cost = 0;
  uint32_t best_active = 0;
  uint32_t drawn[MAX_CHOICES];
  for (uint32_t d = 0; d < draws && d < MAX_CHOICES; ++d) {
    uint32_t id = draw_usable_distinct(ctx, tier, drawn, d);
    if (id == LBK_PEER_NONE) break;
    drawn[d] = id;
    uint32_t active = ctx.slot(id).active.load(std::memory_order_relaxed);
    double c = cost(id, active);
    if (best == LBK_PEER_NONE || c < best_cost ||
        (c == best_cost && active < best_active)) {
      best = id;
      best_cost = c;
      best_active = active;
    }
  }
  return best;
}

}  // namespace lbk
