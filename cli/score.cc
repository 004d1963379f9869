// cli/score.cc - the ranking formula documented in score.h.
#include "score.h"

#include <algorithm>
#include <cmath>

namespace lbctl {

ScoreParts compute_score(bool healthy, int64_t lag, double latency_ms, double best_latency_ms) {
  ScoreParts p;
  p.healthy = healthy;
  p.lag = lag < 0 ? 0 : lag;
  p.latency_ms = latency_ms;
  p.best_latency_ms = best_latency_ms;
  p.lag_factor = std::ldexp(1.0, -static_cast<int>(std::min<int64_t>(p.lag, 30)));
  double ratio = 1.0;
  if (latency_ms > 0 && best_latency_ms > 0) ratio = std::min(1.0, best_latency_ms / latency_ms);
  p.latency_factor = 0.5 + 0.5 * ratio;
  p.score = healthy ? 100.0 * p.lag_factor * p.latency_factor : 0.0;
  return p;
}

double ranking_latency_ms(const NodeState &node) {
  if (node.p50_ms >= 0) return node.p50_ms;
  return node.last_ms;
}

namespace {

int64_t clamped_lag(int64_t lag) { return lag < 0 ? 0 : lag; }

// The lowest latency among healthy nodes with the same lag as @p lag.
double best_latency(const std::vector<NodeState> &nodes, int64_t lag) {
  double best = -1;
  for (const NodeState &n : nodes) {
    const double l = ranking_latency_ms(n);
    if (n.healthy && clamped_lag(n.lag) == clamped_lag(lag) && l >= 0 && (best < 0 || l < best))
      best = l;
  }
  return best;
}

}  // namespace

ScoreParts score_parts(const NodeState &node, const std::vector<NodeState> &nodes) {
  return compute_score(node.healthy, node.lag, ranking_latency_ms(node),
                       best_latency(nodes, node.lag));
}

void rank_nodes(std::vector<NodeState> &nodes) {
  for (NodeState &n : nodes) n.score = score_parts(n, nodes).score;
  std::stable_sort(nodes.begin(), nodes.end(), [](const NodeState &a, const NodeState &b) {
    if (a.healthy != b.healthy) return a.healthy;
    if (a.backup != b.backup) return !a.backup;
    if (a.score != b.score) return a.score > b.score;
    return a.name < b.name;
  });
}

}  // namespace lbctl
