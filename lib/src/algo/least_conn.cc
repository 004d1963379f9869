// least_conn.cc - fewest active requests per weight (nginx least_conn).
//
// Exact: every pick compares active/weight of every usable member (as
// nginx does; cross-multiplied, no division) starting at a position taken
// from the pool's shared round-robin counter, so members that tie are taken
// in turn.  O(n) per pick: an exact minimum under concurrent, lock-free
// increments from several processes would need a shared heap updated on
// every pick and release; we prefer the plain scan (see the benchmark).
//
// On change: add, remove and weight changes rebuild the member list; active
// counts and states are read live.
#include "algo/methods.h"

namespace lbk {
namespace {

uint32_t pick(PickContext &ctx, const Tier &tier) {
  size_t n = tier.ids.size();
  size_t start = static_cast<size_t>(
      ctx.pool()->header->rr_counter.fetch_add(1, std::memory_order_relaxed) % n);
  uint32_t best = LBK_PEER_NONE;
  uint64_t best_active = 0, best_weight = 1;
  for (size_t i = 0; i < n; ++i) {
    size_t pos = start + i;
    if (pos >= n) pos -= n;
    uint32_t id = tier.ids[pos];
    uint64_t active = ctx.slot(id).active.load(std::memory_order_relaxed);
    uint64_t weight = tier.weights[pos];
    // active / weight < best_active / best_weight; the cheap comparison
    // goes first so usable() runs only for would-be winners.
    if ((best == LBK_PEER_NONE || active * best_weight < best_active * weight) &&
        ctx.usable(id)) {
      best = id;
      best_active = active;
      best_weight = weight;
    }
  }
  return best;
}

}  // namespace

const AlgoOps least_conn_ops = {"least_conn", false, build_members_only, pick, false};

}  // namespace lbk
