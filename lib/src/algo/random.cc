// random.cc - weighted random (nginx `random`): one draw from an alias
// table, O(1).
//
// Each pick draws a member with probability weight / total weight.  As
// nginx's random: an unusable draw is redrawn, and a tier of one member or
// 21 unusable draws end in round robin.  This is one draw, i.e. not
// HAProxy's `balance random` (which defaults to two draws: use p2c).
//
// On change: add, remove and weight changes rebuild the alias table, admin
// state changes the round-robin schedule; other state changes only affect
// which draws are usable.
#include "algo/methods.h"
#include "algo/round_robin.h"
#include "algo/weighted_draw.h"

namespace lbk {
namespace {

struct RandomState : WithRoundRobin {
  explicit RandomState(const Tier &tier) : table(tier.weights) {}
  AliasTable table;
};

std::unique_ptr<AlgoState> build(const Tier &tier, const PoolParams &params) {
  auto state = std::make_unique<RandomState>(tier);
  state->round_robin = round_robin_build(tier, params);
  return state;
}

uint32_t pick(PickContext &ctx, const Tier &tier) {
  const auto &state = *static_cast<const RandomState *>(tier.state.get());
  if (tier.ids.size() >= 2) {
    for (size_t draw = 0; draw < NGINX_CANDIDATES; ++draw) {
      uint32_t id = tier.ids[state.table.draw(ctx.random())];
      if (ctx.usable(id)) return id;
    }
  }
  return round_robin_pick(ctx, tier, *state.round_robin);
}

}  // namespace

extern const AlgoOps random_ops = {.name = "random", .build_reads_admin_state = true,
                                   .build = build, .pick = pick};

}  // namespace lbk
