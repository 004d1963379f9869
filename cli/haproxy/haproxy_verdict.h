// cli/haproxy/haproxy_verdict.h - what lbkit tells HAProxy about one node, shared by
// `lbctl agent` (agent-check replies) and `lbctl haproxy-sync` (runtime API).
//
// Mapping from a node's state (state_file.h, from lbctl's own probes or the
// canary's state file) to HAProxy:
//   disabled (configuration) -> kMaint (HAProxy's own `disabled` servers
//                              start in maintenance, too)
//   never checked yet       -> kUnknown: say nothing that changes HAProxy
//   down, last outcome lag  -> kDrain  (JSON-RPC head behind by > max_lag:
//                              alive but stale; no new traffic)
//   down, any other outcome -> kDown
//   up                      -> kUp, weight = round(score), at least 1%
// where score is lbctl's ranking score formula (score.h) applied to the
// latest probe's latency (so weights follow a node that slows down now, not
// its long-run median): 100 for the fastest
// in-sync node, 100 * 2^-lag * (0.5 + 0.5 * best_latency / latency)
// otherwise, so a node k times slower than the best gets 50 + 50/k percent
// and each block of lag halves the weight.  Latencies under 20 ms count as
// 20 ms here, so jitter between nearby nodes (a loaded host, a LAN) moves no
// weight: a node 200 ms slower than a 1 ms best gets 50 + 50 * 20/200 = 55%.
#pragma once

#include <string>

#include "state_file.h"

namespace lbctl {

struct HaproxyVerdict {
  enum Kind { kUnknown, kUp, kDrain, kDown, kMaint };
  Kind kind = kUnknown;
  int weight_pct = -1;  // kUp only: 1..100
  std::string reason;   // one line of text for the '#' comment / logs
};

// @p last_probe_only judges by the latest probe alone (one-shot sync, where
// rise/fall has no history); otherwise by the node's rise/fall health.
HaproxyVerdict haproxy_verdict(const NodeState &node, const PoolState &pool,
                               bool last_probe_only);

// The agent-check reply line (ending in "\n") for a verdict, only in words
// HAProxy 2.6 understands (liblbkit's lbk_agent_format):
//   kUp      "ready up 73% #lbkit: ..."   (ready undoes an earlier drain/maint)
//   kDrain   "drain #lbkit: ..."
//   kDown    "down #lbkit: ..."
//   kMaint   "maint #lbkit: ..."
//   kUnknown "#lbkit: ..."   (a comment alone: HAProxy 2.6 reports "No status
//                             change" and keeps the server as it was)
std::string agent_reply_line(const HaproxyVerdict &verdict);

// A comment-only reply (unknown server, no verdict yet): changes nothing.
std::string agent_comment_line(const std::string &text);

// What one agent-send line asks: "POOL/SERVER" or "SERVER" (blanks and a
// CR at either end are not part of it).  SERVER is a node's name or its
// URL's host:port.
struct AgentRequest {
  std::string name;    // the line trimmed; empty: nothing was asked
  std::string pool;    // empty: any pool
  std::string server;
};
AgentRequest parse_agent_request(const std::string &line);

// The node @p request names in @p state, with its pool in *@p pool:
// nullptr unless exactly one node matches (*@p matches says how many).
const NodeState *find_agent_node(const State &state, const AgentRequest &request,
                                 const PoolState **pool, int *matches);

}  // namespace lbctl
