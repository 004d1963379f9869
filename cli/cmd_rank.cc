// cli/cmd_rank.cc - `lbctl rank`: nodes best first with the score and its
// parts (formula in score.h), from a fresh probe or the canary's state.
//
// JSON output (schema "lbctl-rank/1"):
//   {"schema": "lbctl-rank/1", "source": "probe"|"state",
//    "pools": [{"name", "method", "nodes": [{"rank" (1 = best), "name", "url",
//      "score", "healthy", "backup", "disabled", "lag", "latency_ms",
//      "best_latency_ms", "lag_factor", "latency_factor", "head" (int or
//      null), "version", "outcome", "reason"}]}]}
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "node_options.h"
#include "output.h"
#include "probe_session.h"
#include "score.h"

namespace lbctl {

namespace {

using nlohmann::json;

struct RankArgs {
  NodeOptions nodes;
  std::string state_path;
  unsigned count = 1;
  std::string interval = "200ms";
  std::string format;
};

json nullable_ms(double ms) { return ms < 0 ? json(nullptr) : json(ms); }

std::string render_json(const State &state, bool from_state) {
  json pools = json::array();
  for (const PoolState &p : state.pools) {
    std::vector<NodeState> ranked = p.nodes;
    rank_nodes(ranked);
    json nodes = json::array();
    for (size_t i = 0; i < ranked.size(); ++i) {
      const NodeState &n = ranked[i];
      const ScoreParts parts = score_parts(n, ranked);
      nodes.push_back({{"rank", i + 1},
                       {"name", n.name},
                       {"url", n.url},
                       {"score", parts.score},
                       {"healthy", n.healthy},
                       {"backup", n.backup},
                       {"disabled", n.disabled},
                       {"lag", parts.lag},
                       {"latency_ms", nullable_ms(parts.latency_ms)},
                       {"best_latency_ms", nullable_ms(parts.best_latency_ms)},
                       {"lag_factor", parts.lag_factor},
                       {"latency_factor", parts.latency_factor},
                       {"head", n.has_head ? json(n.head) : json(nullptr)},
                       {"version", n.version},
                       {"outcome", n.outcome},
                       {"reason", n.reason}});
    }
    pools.push_back({{"name", p.name}, {"method", p.method}, {"nodes", std::move(nodes)}});
  }
  json out = {{"schema", "lbctl-rank/1"},
              {"source", from_state ? "state" : "probe"},
              {"pools", std::move(pools)}};
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string render_table(const State &state, bool color) {
  std::string out;
  for (const PoolState &p : state.pools) {
    if (state.pools.size() > 1) out += paint("pool " + p.name, Color::kBold, color) + "\n";
    std::vector<NodeState> ranked = p.nodes;
    rank_nodes(ranked);
    Table table({"#", "NODE", "SCORE", "HEALTH", "LAG", "P50_MS", "LAG_F", "LATENCY_F", "REASON"},
                {true, false, true, false, true, true, true, true, false});
    for (size_t i = 0; i < ranked.size(); ++i) {
      const NodeState &n = ranked[i];
      const ScoreParts parts = score_parts(n, ranked);
      char score[32], lag_f[32], lat_f[32];
      std::snprintf(score, sizeof score, "%.1f", parts.score);
      std::snprintf(lag_f, sizeof lag_f, "%.3f", parts.lag_factor);
      std::snprintf(lat_f, sizeof lat_f, "%.3f", parts.latency_factor);
      std::string health = n.disabled ? "disabled" : n.healthy ? "up" : "down";
      if (n.backup) health += " (backup)";
      table.add_row({std::to_string(i + 1), n.name, score, health, std::to_string(parts.lag),
                     format_ms(parts.latency_ms, 2), lag_f, lat_f, n.reason},
                    {Color::kNone, Color::kNone, Color::kBold,
                     n.disabled ? Color::kYellow : n.healthy ? Color::kGreen : Color::kRed,
                     parts.lag > 0 ? Color::kYellow : Color::kNone, Color::kNone, Color::kNone,
                     Color::kNone, Color::kRed});
    }
    out += table.render(color);
  }
  return out;
}

}  // namespace

void register_rank(CLI::App &app, int &exit_code) {
  CLI::App *cmd = app.add_subcommand(
      "rank", "Rank nodes best first (health, then lag, then latency) with the score and its parts");
  auto args = std::make_shared<RankArgs>();
  add_node_options(cmd, args->nodes);
  cmd->add_option("--state", args->state_path, "Rank from the canary's state file instead of probing");
  cmd->add_option("-n,--count", args->count, "Probe rounds before ranking (default 1)")
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("-i,--interval", args->interval, "Pause between rounds (default 200ms)");
  cmd->add_option("-o,--format", args->format, "table or json (default: table on a terminal, else json)")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->footer(
      "Score of a healthy node: 100 * 2^-min(lag,30) * (0.5 + 0.5 * best_p50 / p50); 0 when\n"
      "unhealthy.  Order: healthy first, primaries before backups, then score, then name.\n"
      "Exit codes: 0 all healthy, 1 some unhealthy, 2 usage or config error, 3 none healthy,\n"
      "4 unreadable state file.");
  cmd->callback([args, &exit_code]() {
    Format format;
    uint32_t interval_ms = 0;
    parse_format(args->format, format);
    if (!parse_duration_ms(args->interval, interval_ms)) {
      std::fprintf(stderr, "lbctl rank: --interval: %s\n", duration_problem(args->interval).c_str());
      exit_code = kExitUsage;
      return;
    }
    State state;
    const int rc = gather_state(args->nodes, args->state_path, args->count, interval_ms, state);
    if (rc != kExitOk) {
      exit_code = rc;
      return;
    }
    const std::string text = format == Format::kJson ? render_json(state, !args->state_path.empty())
                                                     : render_table(state, color_enabled(stdout));
    std::fwrite(text.data(), 1, text.size(), stdout);
    exit_code = state_exit_code(state);
  });
}

}  // namespace lbctl
