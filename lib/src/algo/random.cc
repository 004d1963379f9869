// random.cc - weighted random: one draw from an alias table, O(1).
//
// Each pick draws a member with probability weight / total weight.  An
// unusable draw is redrawn (up to MAX_DRAW_ATTEMPTS), then a scan from a
// random position takes the first usable member.  This is one draw, i.e.
// not HAProxy's `balance random` (which defaults to two draws: use p2c).
//
// On change: add, remove and weight changes rebuild the alias table; state
// changes only affect which draws are usable.
#include "algo/methods.h"
#include "algo/weighted_draw.h"

namespace lbk {
namespace {

uint32_t pick(PickContext &ctx, const Tier &tier) {
  return draw_usable(ctx, tier);
}

}  // namespace

const AlgoOps random_ops = {"random", false, build_alias_state, pick, false};

}  // namespace lbk
