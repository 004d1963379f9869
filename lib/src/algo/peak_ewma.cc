// peak_ewma.cc - power of two choices on peak-EWMA cost (Finagle, Linkerd).
//
// Latency estimate per peer, updated on every successful release with a
// sample s (microseconds) at time t, previous estimate E set at time t0:
//     w  = exp(-(t - t0) / tau)             tau = ewma_decay_us, default 10 s
//     E' = s                     if s > E   (peak: a slow sample counts now)
//     E' = E * w + s * (1 - w)   otherwise  (decays toward recent samples)
// At a pick the estimate is read decayed toward 0 for the time since its
// last sample, E x exp(-(now - t0) / tau) (Finagle and Linkerd read it so):
// a peer measured slow once and then never chosen (distinct draws make it
// lose every comparison) is retried once its estimate has decayed below
// the others', e.g. after tau x ln(150) = 50 s for 150 ms against 1 ms.
// A pick draws random_draws (default 2) distinct usable members by weight
// (without replacement, see draw_usable_distinct, so the costliest member
// loses every pick while another is usable) and takes the lowest
// cost = E x (active + 1); ties go to fewer active, then to the earlier draw.
//
// Peers with no latency history (new, or never answered) are costed at the
// pool-wide mean latency (a running mean of every sample, weight 1/16 per
// sample).  That neither starves them (an infinite or peak default would)
// nor floods them (a zero default would until their first sample returns):
// they compete as an average peer, and the (active + 1) factor limits how
// many requests they take before their first answer.  With no history at
// all every cost is 0 and the draw with fewer active requests wins (p2c).
//
// On change: add, remove and weight changes rebuild the alias table; the
// estimates live in the pool block and survive every change except removal.
#include <cmath>
#include <cstring>

#include "algo/methods.h"
#include "algo/weighted_draw.h"

namespace lbk {
namespace {

double load_double(const std::atomic<uint64_t> &bits) {
  uint64_t b = bits.load(std::memory_order_relaxed);
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

// The peer's estimate decayed for the time since its last sample.
double decayed_latency(PickContext &ctx, const PeerSlot &s) {
  double latency = load_double(s.ewma_bits);
  uint64_t then = s.ewma_time_us.load(std::memory_order_relaxed);
  uint64_t now = ctx.now();
  if (now <= then) return latency;
  return latency * std::exp(-static_cast<double>(now - then) /
                            static_cast<double>(ctx.params().ewma_decay_us));
}

uint32_t pick(PickContext &ctx, const Tier &tier) {
  double default_cost = load_double(ctx.pool()->header->latency_mean_bits);
  return pick_cheapest_of_draws(
      ctx, tier, [&](uint32_t id, uint32_t active) {
        const PeerSlot &s = ctx.slot(id);
        double latency = s.has_ewma.load(std::memory_order_acquire)
                             ? decayed_latency(ctx, s)
                             : default_cost;
        return latency * (static_cast<double>(active) + 1.0);
      });
}

}  // namespace

const AlgoOps peak_ewma_ops = {"peak_ewma", false, build_alias_state, pick, false};

}  // namespace lbk
