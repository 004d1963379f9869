// fastest.cc - the healthy peer with the lowest recent probe latency (a
// "fastest responder" policy), with a tie band.
//
// Members are ranked by their last passing active-check latency
// (lbk_pool_report_check); members with no probe latency yet come after
// every measured one, in id order.  Without any probe latency in the tier
// (no active checks), members are ranked by the latency observed from
// released requests (observed_latency_us: peak-EWMA, decayed while idle so
// that a member left out is tried again), re-ranked every
// RERANK_INTERVAL_US; a member not yet observed ranks first, so that every
// member is measured.  The band is the leading members whose
// latency is at most best x (100 + fastest_band_pct) / 100 (default 10 %);
// band members share load in turn (shared round-robin counter), so peers
// that are practically as fast are not hammered one at a time.  If no band
// member is usable, the first usable member in rank order is taken.  With
// no latency at all, every member is in the band (plain round robin).
//
// The ranking is per process and refreshed at a pick when a probe latency,
// health or the topology changed, at most once every RERANK_INTERVAL_US of
// clock time, so a pick is O(1) while a band member is usable.  A refresh
// rewrites the ranking in place; a concurrent pick may read a mix of two
// rankings, which only ever yields a member of the tier.
//
// On change: add, remove and weight changes rebuild the member list and
// rank at once; latency and health changes re-rank (rate limited).
#include <algorithm>
#include <mutex>

#include "algo/methods.h"

namespace lbk {
namespace {

constexpr uint64_t RERANK_INTERVAL_US = 20000;
constexpr size_t BAND_PROBES = 16;

struct Ranking : AlgoState {
  explicit Ranking(size_t n) : order(n) {}
  mutable std::vector<std::atomic<uint32_t>> order;  // tier positions
  mutable std::atomic<uint32_t> band{0};
  mutable std::atomic<uint64_t> probe_epoch{UINT64_MAX};
  mutable std::atomic<uint64_t> health_epoch{UINT64_MAX};
  mutable std::atomic<uint64_t> ranked_at_us{0};
  mutable std::atomic<bool> by_observed{false};  // no probe latency: re-rank by time
  mutable std::mutex rerank_mutex;
};

// Ranks by probe latency; returns false (and ranks by observed latency)
// when no member has a probe latency.
bool rerank(PickContext &ctx, const Tier &tier, const Ranking &r) {
  size_t n = tier.ids.size();
  std::vector<std::pair<uint64_t, uint32_t>> keyed(n);  // (latency, pos)
  bool probed = false;
  for (uint32_t pos = 0; pos < n; ++pos) {
    uint64_t lat = ctx.slot(tier.ids[pos]).probe_latency_us.load(
        std::memory_order_relaxed);
    probed |= lat != 0;
    keyed[pos] = {lat == 0 ? UINT64_MAX : lat, pos};
  }
  if (!probed) {
    for (uint32_t pos = 0; pos < n; ++pos) {
      const PeerSlot &s = ctx.slot(tier.ids[pos]);
      double lat = observed_latency_us(
          ctx, s, s.active.load(std::memory_order_relaxed));
      // not observed yet: 0, first; a sample rounds up to at least 1 us
      keyed[pos] = {lat < 0 ? 0 : std::max<uint64_t>(1, static_cast<uint64_t>(lat)),
                    pos};
    }
  }
  std::sort(keyed.begin(), keyed.end());
  // Health-down members go last (usable() skips them anyway), so the band
  // starts at the fastest member that is not down.
  auto not_down = [&](const std::pair<uint64_t, uint32_t> &k) {
    return ctx.slot(tier.ids[k.second]).health.load(
               std::memory_order_relaxed) != LBK_HEALTH_DOWN;
  };
  size_t healthy = static_cast<size_t>(
      std::stable_partition(keyed.begin(), keyed.end(), not_down) -
      keyed.begin());
  size_t band = healthy == 0 ? n : 1;
  if (healthy > 0) {
    uint64_t best = keyed[0].first;
    if (best == UINT64_MAX) {
      band = healthy;  // nothing measured: all share
    } else {
      unsigned __int128 limit = static_cast<unsigned __int128>(best) *
                                (100 + ctx.params().fastest_band_pct);
      while (band < healthy && keyed[band].first != UINT64_MAX &&
             static_cast<unsigned __int128>(keyed[band].first) * 100 <= limit)
        ++band;
    }
  }
  for (size_t i = 0; i < n; ++i)
    r.order[i].store(keyed[i].second, std::memory_order_relaxed);
  r.band.store(static_cast<uint32_t>(band), std::memory_order_release);
  return probed;
}

std::unique_ptr<AlgoState> build(const Tier &tier, const PoolParams &) {
  auto r = std::make_unique<Ranking>(tier.ids.size());
  for (uint32_t pos = 0; pos < tier.ids.size(); ++pos) r->order[pos].store(pos);
  r->band.store(static_cast<uint32_t>(tier.ids.size()));
  return r;
}

void refresh(PickContext &ctx, const Tier &tier, const Ranking &r) {
  const PoolHeader &h = *ctx.pool()->header;
  uint64_t probe = h.probe_epoch.load(std::memory_order_acquire);
  uint64_t health = h.health_epoch.load(std::memory_order_acquire);
  bool never = r.probe_epoch.load(std::memory_order_relaxed) == UINT64_MAX;
  if (!never && probe == r.probe_epoch.load(std::memory_order_relaxed) &&
      health == r.health_epoch.load(std::memory_order_relaxed) &&
      !r.by_observed.load(std::memory_order_relaxed))
    return;
  uint64_t now = ctx.now();
  if (!never && now - r.ranked_at_us.load(std::memory_order_relaxed) <
                    RERANK_INTERVAL_US)
    return;
  std::unique_lock<std::mutex> lock(r.rerank_mutex, std::try_to_lock);
  if (!lock.owns_lock()) return;
  r.by_observed.store(!rerank(ctx, tier, r), std::memory_order_relaxed);
  r.probe_epoch.store(probe, std::memory_order_relaxed);
  r.health_epoch.store(health, std::memory_order_relaxed);
  r.ranked_at_us.store(now, std::memory_order_relaxed);
}

uint32_t pick(PickContext &ctx, const Tier &tier) {
  const Ranking &r = *static_cast<const Ranking *>(tier.state.get());
  refresh(ctx, tier, r);
  size_t n = tier.ids.size();
  size_t band = std::min<size_t>(std::max<uint32_t>(r.band.load(std::memory_order_acquire), 1), n);
  std::atomic<uint64_t> &counter = ctx.pool()->header->rr_counter;
  for (size_t probe = 0; probe < std::min(band, BAND_PROBES); ++probe) {
    size_t at = static_cast<size_t>(counter.fetch_add(1, std::memory_order_relaxed) % band);
    uint32_t id = tier.ids[r.order[at].load(std::memory_order_relaxed)];
    if (ctx.usable(id) && !ctx.suspect(id)) return id;
  }
  // the first usable member by rank that is not suspect, else any
  for (size_t at = 0; at < n; ++at) {
    uint32_t id = tier.ids[r.order[at].load(std::memory_order_relaxed)];
    if (ctx.usable(id) && !ctx.suspect(id)) return id;
  }
  for (size_t at = 0; at < n; ++at) {
    uint32_t id = tier.ids[r.order[at].load(std::memory_order_relaxed)];
    if (ctx.usable(id)) return id;
  }
  return LBK_PEER_NONE;
}

}  // namespace

extern const AlgoOps fastest_ops = {.name = "fastest", .reads_suspect = true,
                                   .build = build, .pick = pick};

}  // namespace lbk
