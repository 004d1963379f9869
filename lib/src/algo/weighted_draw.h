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

// Draws a usable member by weight; after MAX_DRAW_ATTEMPTS unusable draws
// it falls back to scan_tier() from a random position.
constexpr int MAX_DRAW_ATTEMPTS = 8;
uint32_t draw_usable(PickContext &ctx, const Tier &tier);

}  // namespace lbk
