// peak_ewma.cc - power of two choices on peak-EWMA cost (Finagle, Linkerd).
//
// Latency estimate per peer, updated on every successful release with a
// sample s (microseconds) at time t, previous estimate E set at time t0:
//     w  = min(63/64, exp(-(t - t0) / tau))  tau = ewma_decay_us, default 10 s
//     E' = s                     if s > E   (peak: a slow sample counts now)
//     E' = E * w + s * (1 - w)   otherwise  (decays toward recent samples)
// Finagle's w is the time term alone.  The 63/64 cap matters only for a
// peer answering more often than every tau/64 (156 ms by default): there a
// time constant of 10 s spans thousands of samples, and E became the
// largest latency of the last seconds, a noise peak rather than the peer's
// speed (on a busy host 1 ms backends read 9 ms, a 10 ms one 15 ms, too
// close to keep it out; make bench).  With the cap a busy peer forgets a
// spike within a few hundred answers; a peer that gets no answers still
// forgets it by time only.
// At a pick the estimate of a peer with nothing in flight is read decayed
// toward 0 for the time since its last sample, E x exp(-(now - t0) / tau)
// (Finagle and Linkerd read it so): a peer measured slow once and then never
// chosen (distinct draws make it lose every comparison) is retried once its
// estimate has decayed below the others', e.g. after tau x ln(150) = 50 s
// for 150 ms against 1 ms.  A peer with requests in flight is read
// undecayed: it is being tried, and its answer, not the clock, should move
// the estimate.  Otherwise after a pause, when every estimate reads decayed
// and the first answers re-raise only the busy fast peers', a slow peer
// looked cheap and took a request per pick until its first retry answered.
// A pick draws random_draws (default 2) distinct usable members by weight
// (without replacement, see draw_usable_distinct, so the costliest member
// loses every pick while another is usable) and takes the lowest
//     cost = E x (active + U)      U = max(1, in-flight of the pool / members)
// ties go to fewer active, then to the earlier draw.  While the pool holds at
// most one request per member, U = 1 and this is Finagle's E x (active + 1).
// Under heavier load U is the mean in-flight per member: E was measured at
// about that load, so it is the in-flight above it that predicts a wait.
// Finagle's "+1" instead lets load alone outweigh any latency gap: with 32
// requests over three 1 ms peers (~11 each) and one 10 ms peer, the idle slow
// peer costs less (10 < 1 x 12) and always holds a request, a visible p99
// (make bench).  With U, a peer k times slower than the others is used only
// while their in-flight exceeds (k - 1) x U, so a peer more than about
// 1 + n/(n-1) times slower (2.3 for n = 4) gets nothing from load alone; the
// decaying estimate still retries it, and the others' estimates rise (peak)
// if the load really slows them, which shifts load back.
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
// Every method keeps the per-peer estimate (record_latency_sample, called by
// each release: fastest and the suspect rule read it too); only peak_ewma
// keeps the pool-wide mean (its released hook) and the in-flight total.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "algo/methods.h"
#include "algo/weighted_draw.h"
#include "bits.h"

namespace lbk {
namespace {

// The most of the old estimate one sample keeps (the 63/64 cap above).
constexpr double EWMA_MAX_KEEP = 1.0 - 1.0 / 64;

}  // namespace

void record_latency_sample(const lbk_pool *pool, PeerSlot &s,
                           uint64_t latency_us, uint64_t now) {
  double sample = static_cast<double>(latency_us);
  uint32_t expected = 0;
  // A concurrent update of the same peer wins; this sample is dropped
  // rather than waiting on the hot path.
  if (!s.ewma_lock.compare_exchange_strong(expected, 1,
                                           std::memory_order_acquire))
    return;
  double next = sample;
  if (s.has_ewma.load(std::memory_order_relaxed)) {
    double old = bits_to_double(s.ewma_bits.load(std::memory_order_relaxed));
    uint64_t then = s.ewma_time_us.load(std::memory_order_relaxed);
    double dt = now > then ? static_cast<double>(now - then) : 0.0;
    double w = std::min(EWMA_MAX_KEEP,
                        std::exp(-dt / static_cast<double>(pool->params.ewma_decay_us)));
    next = sample > old ? sample : old * w + sample * (1.0 - w);
  }
  s.ewma_bits.store(double_to_bits(next), std::memory_order_relaxed);
  s.ewma_time_us.store(now, std::memory_order_relaxed);
  s.has_ewma.store(1, std::memory_order_release);
  s.ewma_lock.store(0, std::memory_order_release);
}

double observed_latency_us(PickContext &ctx, const PeerSlot &s,
                           uint32_t active) {
  if (!s.has_ewma.load(std::memory_order_acquire)) return -1.0;
  double latency = load_double(s.ewma_bits);
  if (active != 0) return latency;
  uint64_t then = s.ewma_time_us.load(std::memory_order_relaxed);
  uint64_t now = ctx.now();
  if (now <= then) return latency;
  return latency * std::exp(-static_cast<double>(now - then) /
                            static_cast<double>(ctx.params().ewma_decay_us));
}

namespace {

uint32_t pick(PickContext &ctx, const Tier &tier) {
  double default_cost = load_double(ctx.pool()->header->latency_mean_bits);
  double in_flight = static_cast<double>(
      ctx.pool()->header->total_active.load(std::memory_order_relaxed));
  double load_unit = std::max(1.0, in_flight / static_cast<double>(tier.ids.size()));
  return pick_cheapest_of_draws(
      ctx, tier, [&](uint32_t id, uint32_t active) {
        // a suspect peer (requests in flight, no progress) loses to any
        // other draw
        if (ctx.suspect(id)) return std::numeric_limits<double>::max();
        double latency = observed_latency_us(ctx, ctx.slot(id), active);
        if (latency < 0) latency = default_cost;
        return latency * (static_cast<double>(active) + load_unit);
      });
}

// The pool-wide mean latency that costs peers without history: a plain
// EWMA with weight 1/16 per sample of a successful release; racing writers
// may lose a sample, which only slows it down.
void released(lbk_pool *pool, uint32_t, const lbk_outcome &o, uint64_t) {
  if (o.result != LBK_OUTCOME_OK || o.latency_us == 0) return;
  double sample = static_cast<double>(o.latency_us);
  std::atomic<uint64_t> &mean = pool->header->latency_mean_bits;
  double m = bits_to_double(mean.load(std::memory_order_relaxed));
  m = m == 0.0 ? sample : m + (sample - m) / 16.0;
  mean.store(double_to_bits(m), std::memory_order_relaxed);
}

}  // namespace

extern const AlgoOps peak_ewma_ops = {.name = "peak_ewma", .reads_in_flight = true,
                                      .reads_suspect = true,
                                      .build = build_alias_state, .pick = pick,
                                      .released = released};

}  // namespace lbk
