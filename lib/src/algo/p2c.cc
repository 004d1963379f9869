// p2c.cc - power of N choices (Envoy least_request, HAProxy random(N)).
//
// Draws random_draws (default 2) usable members by weight and keeps the one
// with the fewest active requests; ties go to the earlier draw.  O(N^2) per
// pick in the number of draws (N = 2 by default).  The draws are distinct
// whenever enough members are usable (weighted draw without replacement,
// see draw_usable_distinct): unlike HAProxy and Envoy, which may draw one
// member twice, the most loaded member never wins a pick of two draws
// unless it is the only usable one.
//
// On change: add, remove and weight changes rebuild the alias table; state
// and active counts are read live.
#include "algo/methods.h"
#include "algo/weighted_draw.h"

namespace lbk {
namespace {

uint32_t pick(PickContext &ctx, const Tier &tier) {
  uint32_t draws = ctx.params().random_draws;
  uint32_t best = LBK_PEER_NONE;
  uint32_t best_active = 0;
  uint32_t drawn[MAX_CHOICES];
  for (uint32_t d = 0; d < draws && d < MAX_CHOICES; ++d) {
    uint32_t id = draw_usable_distinct(ctx, tier, drawn, d);
    if (id == LBK_PEER_NONE) break;
    drawn[d] = id;
    uint32_t active = ctx.slot(id).active.load(std::memory_order_relaxed);
    if (best == LBK_PEER_NONE || active < best_active) {
      best = id;
      best_active = active;
    }
  }
  return best;
}

}  // namespace

const AlgoOps p2c_ops = {"p2c", false, build_alias_state, pick, false};

}  // namespace lbk
