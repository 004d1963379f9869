// cli/score.h - how lbctl ranks nodes (rank, forward, agent weights).
//
// Order: health first, then lag, then latency.  Nodes are sorted by
//   1. healthy before unhealthy;
//   2. primary before backup (a backup is used only when no primary is);
//   3. score, highest first (below), which orders by lag and then latency;
//   4. name, for a stable order.
//
// The score of a healthy node is
//
//   score = 100 * 2^-min(lag, 30) * (0.5 + 0.5 * best_latency / latency)
//
// where lag >= 0 is how many blocks the node's head is behind the best
// healthy head (0 without a JSON-RPC value), latency is the node's p50 probe
// time in ms (the last one when there is a single sample), and best_latency
// the lowest latency among healthy nodes with the same lag (so the fastest
// node of each lag scores exactly 100 * 2^-lag).  A node with lag L scores in
// (100 * 2^-(L+1), 100 * 2^-L], so one block of lag always costs more than any
// latency difference; within one lag the fastest node scores 100 * 2^-L and a
// node k times slower scores 100 * 2^-L * (0.5 + 0.5/k).  An unhealthy node
// scores 0.  Scores are in [0, 100]; the HAProxy agent uses them as weight
// percentages.
#pragma once

#include <cstdint>
#include <vector>

#include "state_file.h"

namespace lbctl {

struct ScoreParts {
  bool healthy = false;
  int64_t lag = 0;             // clamped to >= 0
  double latency_ms = -1;      // -1 = unknown (treated as best_latency)
  double best_latency_ms = -1;
  double lag_factor = 0;       // 2^-min(lag, 30)
  double latency_factor = 0;   // 0.5 + 0.5 * best / latency, in (0.5, 1]
  double score = 0;
};

ScoreParts compute_score(bool healthy, int64_t lag, double latency_ms, double best_latency_ms);

// The latency a node is ranked by: p50, else the last sample, else -1.
double ranking_latency_ms(const NodeState &node);

// Fills every node's score and sorts @p nodes best first (order above).
void rank_nodes(std::vector<NodeState> &nodes);

// The parts for @p node among @p nodes (the best latency is taken over the
// healthy nodes of the list with the node's lag).
ScoreParts score_parts(const NodeState &node, const std::vector<NodeState> &nodes);

}  // namespace lbctl
