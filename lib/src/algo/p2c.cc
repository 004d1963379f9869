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
  return pick_cheapest_of_draws(
      ctx, tier, [](uint32_t, uint32_t active) { return double(active); });
}

}  // namespace

extern const AlgoOps p2c_ops = {.name = "p2c", .build = build_alias_state, .pick = pick};

}  // namespace lbk
