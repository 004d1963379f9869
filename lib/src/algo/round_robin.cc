// round_robin.cc - smooth weighted round robin (nginx), also static-rr.
//
// nginx's algorithm, per pick: every peer's current weight grows by its
// weight, the largest current weight wins (first peer on ties) and loses the
// total weight.  Weights {5,1,1} give a a b a c a a.  nginx scans every peer
// per pick (O(n)); here the sequence of one whole period is precomputed when
// the topology changes and a pick is one atomic counter increment and one
// array read, O(1):
//
//  - weights are first divided by their gcd, which does not change the
//    sequence; with equal weights the period is simply the members in id
//    order;
//  - otherwise the exact nginx sequence is simulated over the period W
//    (sum of reduced weights) when W <= SCHEDULE_MAX and W x (number of
//    distinct weights) <= SIMULATION_BUDGET.  Peers of equal weight are
//    grouped: within a group the winner is the member chosen fewest times
//    (lowest position on ties), since at step t a member's current weight
//    is t*w - W*(times chosen); the groups' winners are then compared.
//  - beyond those bounds the schedule is stride scheduling (earliest
//    virtual finish time (chosen+1)/w first) over weights scaled down so
//    the period fits SCHEDULE_MAX: the same proportions (up to the scaling)
//    and a similarly smooth order, but not nginx's exact order.
//
// The schedule holds only the peers administratively in service (admin
// state up, no agent drain/maint, weight > 0): like nginx, which never adds
// a `down` peer's weight, a down peer does not change the others' order;
// weights {5,1,1} with c down give nginx's {5,1} sequence a a a b a a.
//
// The shared counter lives in the pool block, so every process that uses
// the pool walks one sequence.  A peer unusable at pick time (health down,
// max_fails window, ejected, full, tried) is skipped by taking the next
// counter value (at most SKIP_PROBES times), so the usable peers keep
// their proportions; after that a linear scan of the tier finds any usable
// peer: O(n) only when most peers are unusable.
//
// Remaining differences from nginx, the price of O(1) picks:
//  - nginx also leaves a peer skipped at pick time out of that pick's
//    weight sum, so its order over the remaining peers is the smooth
//    sequence of their weights; here such a peer's turns are skipped in
//    the full schedule (same proportions, a different order while it is
//    out).  With equal weights both give plain rotation over the others.
//  - nginx lowers a failed peer's effective weight by weight/max_fails and
//    raises it again by 1 per pick; here a failure only counts toward
//    max_fails (and outlier ejection).
//  - after a rebuild the sequence resumes at the shared counter modulo the
//    new period, not at the start of the new sequence.
//
// On change: add, remove, weight changes and a peer entering or leaving
// admin service rebuild the schedule (in each process, at its next pick).
#include <algorithm>
#include <map>
#include <numeric>
#include <queue>
#include <vector>

#include "algo/methods.h"
#include "algo/round_robin.h"

namespace lbk {
namespace {

constexpr uint64_t SCHEDULE_MAX = uint64_t{1} << 20;
constexpr uint64_t SIMULATION_BUDGET = uint64_t{1} << 26;
constexpr size_t SKIP_PROBES = 16;

struct Schedule : AlgoState {
  std::vector<uint32_t> positions;  // positions into Tier::ids
};

// Exact nginx sequence for reduced weights @p w with period @p total.
std::vector<uint32_t> simulate_nginx(const std::vector<uint64_t> &w,
                                     uint64_t total) {
  // Group positions by weight; each group is a min-heap of
  // (times chosen, position).
  using Entry = std::pair<uint64_t, uint32_t>;
  using MinHeap =
      std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>>;
  std::map<uint64_t, MinHeap> by_weight;
  for (uint32_t pos = 0; pos < w.size(); ++pos) by_weight[w[pos]].push({0, pos});
  std::vector<std::pair<uint64_t, MinHeap *>> groups;
  for (auto &g : by_weight) groups.push_back({g.first, &g.second});

  std::vector<uint32_t> seq;
  seq.reserve(total);
  for (uint64_t t = 1; t <= total; ++t) {
    MinHeap *best = nullptr;
    __int128 best_value = 0;
    uint32_t best_pos = 0;
    for (auto &g : groups) {
      const Entry &top = g.second->top();
      __int128 value = static_cast<__int128>(t) * g.first -
                       static_cast<__int128>(total) * top.first;
      if (best == nullptr || value > best_value ||
          (value == best_value && top.second < best_pos)) {
        best = g.second;
        best_value = value;
        best_pos = top.second;
      }
    }
    Entry chosen = best->top();
    best->pop();
    best->push({chosen.first + 1, chosen.second});
    seq.push_back(chosen.second);
  }
  return seq;
}

// Stride scheduling: earliest virtual finish time (chosen + 1) / w first.
std::vector<uint32_t> stride_schedule(const std::vector<uint64_t> &w,
                                      uint64_t total) {
  struct Entry {
    double finish;
    uint32_t pos;
    bool operator>(const Entry &o) const {
      return finish != o.finish ? finish > o.finish : pos > o.pos;
    }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  std::vector<uint64_t> chosen(w.size(), 0);
  for (uint32_t pos = 0; pos < w.size(); ++pos)
    heap.push({1.0 / static_cast<double>(w[pos]), pos});
  std::vector<uint32_t> seq;
  seq.reserve(total);
  for (uint64_t t = 0; t < total; ++t) {
    Entry e = heap.top();
    heap.pop();
    seq.push_back(e.pos);
    uint64_t c = ++chosen[e.pos];
    if (c < w[e.pos])
      heap.push({static_cast<double>(c + 1) / static_cast<double>(w[e.pos]),
                 e.pos});
  }
  return seq;
}

// Schedule (positions into @p weights) for weights in id order.
std::vector<uint32_t> schedule_for(const std::vector<uint32_t> &weights) {
  size_t n = weights.size();
  uint64_t g = 0;
  for (uint32_t w : weights) g = std::gcd<uint64_t>(g, w);
  std::vector<uint64_t> reduced(n);
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    reduced[i] = weights[i] / g;
    total += reduced[i];
  }
  if (total == n) {
    std::vector<uint32_t> rotation(n);
    std::iota(rotation.begin(), rotation.end(), 0u);
    return rotation;
  }
  std::vector<uint64_t> distinct(reduced);
  std::sort(distinct.begin(), distinct.end());
  uint64_t groups =
      std::unique(distinct.begin(), distinct.end()) - distinct.begin();
  if (total <= SCHEDULE_MAX && total * groups <= SIMULATION_BUDGET)
    return simulate_nginx(reduced, total);
  if (total > SCHEDULE_MAX) {
    uint64_t scaled_total = 0;
    for (uint64_t &w : reduced) {
      w = std::max<uint64_t>(1, w * SCHEDULE_MAX / total);
      scaled_total += w;
    }
    total = scaled_total;
  }
  return stride_schedule(reduced, total);
}

}  // namespace

std::unique_ptr<AlgoState> round_robin_build(const Tier &tier,
                                             const PoolParams &) {
  auto sched = std::make_unique<Schedule>();
  // Members in service, by their tier position (ascending id order).
  std::vector<uint32_t> members, weights;
  for (uint32_t pos = 0; pos < tier.ids.size(); ++pos) {
    if (!tier.in_service[pos]) continue;
    members.push_back(pos);
    weights.push_back(tier.weights[pos]);
  }
  if (members.empty()) return sched;
  sched->positions = schedule_for(weights);
  for (uint32_t &p : sched->positions) p = members[p];
  return sched;
}

uint32_t round_robin_pick(PickContext &ctx, const Tier &tier,
                          const AlgoState &schedule) {
  const auto &positions = static_cast<const Schedule &>(schedule).positions;
  size_t len = positions.size();
  // No member in service when the schedule was built: a state change may
  // not have reached this process's cache yet.
  if (len == 0) return scan_tier(ctx, tier, 0);
  std::atomic<uint64_t> &counter = ctx.pool()->header->rr_counter;
  size_t at = 0;
  // An unusable entry consumes its turn: the next probe takes the next
  // counter value, so the usable peers keep their relative proportions.
  for (size_t probe = 0; probe < SKIP_PROBES; ++probe) {
    at = static_cast<size_t>(counter.fetch_add(1, std::memory_order_relaxed) %
                             len);
    uint32_t id = tier.ids[positions[at]];
    if (ctx.usable(id)) return id;
  }
  return scan_tier(ctx, tier, positions[at]);
}

namespace {

uint32_t pick(PickContext &ctx, const Tier &tier) {
  return round_robin_pick(ctx, tier, *tier.state);
}

}  // namespace

extern const AlgoOps round_robin_ops = {.name = "round_robin", .build_reads_admin_state = true,
                                        .build = round_robin_build, .pick = pick};

}  // namespace lbk
