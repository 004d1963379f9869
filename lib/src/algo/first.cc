// first.cc - HAProxy `balance first`: the lowest id with a free slot.
//
// Members are walked in ascending id order; the first usable one (not full
// against max_conns, not down, ...) wins, so traffic fills peers one after
// the other and idle peers can be powered down.  O(k) for the k-th peer.
//
// On change: add and remove rebuild the member list; everything else is
// read live.
#include "algo/methods.h"

namespace lbk {
namespace {

uint32_t pick(PickContext &ctx, const Tier &tier) {
  return scan_tier(ctx, tier, 0);
}

}  // namespace

extern const AlgoOps first_ops = {.name = "first", .build = build_members_only, .pick = pick};

}  // namespace lbk
