// cli/haproxy/haproxy_verdict.cc - node state -> HAProxy verdict and agent reply.
#include "haproxy_verdict.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "haproxy_commands.h"
#include "lbkit.h"
#include "score.h"

namespace lbctl {
namespace {

constexpr double kLatencyFloorMs = 20.0;

// The latest probe's latency (weights follow the node now, not its
// history), else the ranking latency.
double recent_latency_ms(const NodeState &n) {
  return n.last_ms >= 0 ? n.last_ms : ranking_latency_ms(n);
}

bool node_up(const NodeState &n, bool last_probe_only) {
  return last_probe_only ? n.outcome == "pass" : n.health != "down";
}

// Replaces characters that would end the line early.
std::string one_line(std::string text) {
  for (char &c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

}  // namespace

HaproxyVerdict haproxy_verdict(const NodeState &node, const PoolState &pool,
                               bool last_probe_only) {
  HaproxyVerdict v;
  if (node.disabled) {
    v.kind = HaproxyVerdict::kMaint;
    v.reason = node.name + " is disabled in the configuration";
    return v;
  }
  if (node.checks == 0 || node.health == "unknown") {
    v.reason = "no verdict yet for " + node.name;
    return v;
  }
  if (!node_up(node, last_probe_only)) {
    v.kind = node.outcome == "lag" ? HaproxyVerdict::kDrain : HaproxyVerdict::kDown;
    v.reason = node.reason.empty() ? node.outcome : node.reason;
    return v;
  }
  // The best latency among the nodes that are up by the same rule.
  double best = -1;
  for (const NodeState &n : pool.nodes) {
    const double l = recent_latency_ms(n);
    if (n.checks > 0 && node_up(n, last_probe_only) && l >= 0 && (best < 0 || l < best)) best = l;
  }
  const double latency = recent_latency_ms(node);
  // Latency differences below kLatencyFloorMs are noise to a balancer (and
  // would make weights churn on a LAN): both sides count as at least that.
  auto floored = [](double ms) { return ms < 0 ? ms : std::max(ms, kLatencyFloorMs); };
  const ScoreParts parts = compute_score(true, node.lag, floored(latency), floored(best));
  v.kind = HaproxyVerdict::kUp;
  v.weight_pct = static_cast<int>(std::lround(parts.score));
  if (v.weight_pct < 1) v.weight_pct = 1;
  if (v.weight_pct > 100) v.weight_pct = 100;
  char text[160];
  std::snprintf(text, sizeof text, "score %.1f: latency %.1f ms, best %.1f ms, lag %lld",
                parts.score, latency, best, static_cast<long long>(node.lag));
  v.reason = text;
  return v;
}

std::string agent_reply_line(const HaproxyVerdict &verdict) {
  lbk_agent_reply reply = LBK_AGENT_REPLY_INIT;
  switch (verdict.kind) {
    case HaproxyVerdict::kUp: reply.state = LBK_AGENT_UP; break;
    case HaproxyVerdict::kDrain: reply.state = LBK_AGENT_DRAIN; break;
    case HaproxyVerdict::kDown: reply.state = LBK_AGENT_DOWN; break;
    case HaproxyVerdict::kMaint: reply.state = LBK_AGENT_MAINT; break;
    case HaproxyVerdict::kUnknown: reply.state = LBK_AGENT_NONE; break;
  }
  if (verdict.kind == HaproxyVerdict::kUp) reply.weight_pct = verdict.weight_pct;
  const std::string comment = one_line("lbkit: " + verdict.reason);
  lbk_utf8_copy(reply.comment, sizeof reply.comment, comment.data(), comment.size());
  char buf[LBK_REASON_MAX + 64];
  size_t len = sizeof buf;
  if (lbk_agent_format(buf, &len, &reply) != 0) return "#lbkit: cannot format the reply\n";
  std::string line(buf, len);
  // "ready" puts the administrative state back to READY, undoing a drain or
  // maint this agent said before; lbk_agent_reply carries one state word.
  if (verdict.kind == HaproxyVerdict::kUp) line = "ready " + line;
  return line;
}

std::string agent_comment_line(const std::string &text) {
  HaproxyVerdict v;
  v.reason = text;
  return agent_reply_line(v);
}

AgentRequest parse_agent_request(const std::string &line) {
  AgentRequest r;
  const size_t end = line.find_last_not_of(" \t\r");
  if (end == std::string::npos) return r;
  const size_t start = line.find_first_not_of(" \t");  // <= end
  r.name = line.substr(start, end + 1 - start);
  const size_t slash = r.name.find('/');
  if (slash != std::string::npos) r.pool = r.name.substr(0, slash);
  r.server = slash == std::string::npos ? r.name : r.name.substr(slash + 1);
  return r;
}

const NodeState *find_agent_node(const State &state, const AgentRequest &request,
                                 const PoolState **pool, int *matches) {
  const NodeState *found = nullptr;
  *matches = 0;
  *pool = nullptr;
  for (const PoolState &p : state.pools) {
    if (!request.pool.empty() && p.name != request.pool) continue;
    for (const NodeState &n : p.nodes)
      if (n.name == request.server || url_host_port_text(n.url) == request.server) {
        *pool = &p;
        found = &n;
        ++*matches;
      }
  }
  return *matches == 1 ? found : nullptr;
}

}  // namespace lbctl
