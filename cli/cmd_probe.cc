// cli/cmd_probe.cc - `lbctl probe`: probe every node concurrently and print
// verdicts, HTTP status, phase timings and the JSON-RPC summary.
//
// JSON output (schema "lbctl-probe/1", stable; members only ever added):
//   {"schema": "lbctl-probe/1", "rounds": N, "total": T, "healthy": H,
//    "nodes": [{"pool", "name", "url", "address" (resolved ip:port or ""),
//               "healthy" (bool), "verdict" ("healthy"|"unhealthy"),
//               "outcome" (pass|connect|timeout|tls|dns|protocol|status|body|
//                          jsonrpc|lag|chain|version|limit),
//               "chain_id" (string as the node reports it, or null),
//               "error" (string or null), "http_status" (int or null),
//               "dns_ms", "connect_ms", "tls_ms", "first_byte_ms", "total_ms"
//                 (last round; number or null when the phase was not reached),
//               "jsonrpc": {"head" (int or null), "lag" (int),
//                           "version" (string or null)} or null,
//               "checks", "checks_failed" (ints),
//               "stats": {"<phase>_ms": {"count", "min", "p50", "p95", "max"}}
//                 over the rounds that passed (values null when count is 0)}]}
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "commands.h"
#include "node_options.h"
#include "output.h"
#include "metrics.h"
#include "probe_session.h"

namespace lbctl {

namespace {

struct ProbeArgs {
  NodeOptions nodes;
  unsigned count = 1;
  std::string interval = "1s";
  std::string format;
};

// The JSON document is written with output.h's json_append_* (no document
// tree: 10,000 nodes never exist as JSON values in memory), one node at a
// time.  Members are in name order, as nlohmann::json's dump() gave them.

void append_ms(std::string &out, double ms) {
  if (ms < 0) out += "null";
  else json_append_double(out, ms);
}

// A string member's value, null when empty.
void append_text_or_null(std::string &out, const std::string &text) {
  if (text.empty()) out += "null";
  else json_append_string(out, text);
}

void append_stats(std::string &out, const char *name, const Samples &s) {
  out += '"';
  out += name;
  out += "\":{\"count\":";
  json_append_int(out, static_cast<long long>(s.values.size()));
  const SampleSummary sum = s.summary();  // -1 (null) each when empty
  out += ",\"max\":";
  append_ms(out, sum.max);
  out += ",\"min\":";
  append_ms(out, sum.min);
  out += ",\"p50\":";
  append_ms(out, sum.p50);
  out += ",\"p95\":";
  append_ms(out, sum.p95);
  out += '}';
}

bool is_jsonrpc(const ProbeSession &session, const NodeRun &n) {
  return session.config().pools[n.pool_index].check.kind == "jsonrpc";
}

// The node's verdict as shown: rise/fall health and the lag judgement.
bool node_healthy(const NodeRun &n) { return n.healthy && n.outcome != "lag" && n.outcome != "chain"; }

void append_node(std::string &out, const ProbeSession &session, const NodeRun &n) {
  const lbk::probe::Timings &t = n.last.timings;
  const bool ok = node_healthy(n);
  out += "{\"address\":";
  json_append_string(out, n.last.address);
  out += ",\"chain_id\":";
  append_text_or_null(out, n.chain_id);
  out += ",\"checks\":";
  json_append_int(out, static_cast<long long>(n.checks));
  out += ",\"checks_failed\":";
  json_append_int(out, static_cast<long long>(n.failed));
  out += ",\"connect_ms\":";
  append_ms(out, t.connect_ms);
  out += ",\"dns_ms\":";
  append_ms(out, t.dns_ms);
  out += ",\"error\":";
  append_text_or_null(out, n.error);
  out += ",\"first_byte_ms\":";
  append_ms(out, t.first_byte_ms);
  out += ",\"healthy\":";
  out += ok ? "true" : "false";
  out += ",\"http_status\":";
  if (n.last.verdict.http_status) json_append_int(out, n.last.verdict.http_status);
  else out += "null";
  out += ",\"jsonrpc\":";
  if (is_jsonrpc(session, n)) {
    out += "{\"head\":";
    if (n.last.verdict.has_value) json_append_int(out, n.last.verdict.value);
    else out += "null";
    out += ",\"lag\":";
    json_append_int(out, n.lag);
    out += ",\"version\":";
    append_text_or_null(out, n.version);
    out += '}';
  } else {
    out += "null";
  }
  out += ",\"name\":";
  json_append_string(out, n.server.name);
  out += ",\"outcome\":";
  json_append_string(out, n.outcome);
  out += ",\"pool\":";
  json_append_string(out, session.config().pools[n.pool_index].name);
  out += ",\"stats\":{";
  append_stats(out, "connect_ms", n.connect);
  out += ',';
  append_stats(out, "dns_ms", n.dns);
  out += ',';
  append_stats(out, "first_byte_ms", n.first_byte);
  out += ',';
  append_stats(out, "tls_ms", n.tls);
  out += ',';
  append_stats(out, "total_ms", n.total);
  out += "},\"tls_ms\":";
  append_ms(out, t.tls_ms);
  out += ",\"total_ms\":";
  append_ms(out, t.total_ms);
  out += ",\"url\":";
  json_append_string(out, n.server.shown_url);
  out += ",\"verdict\":";
  out += ok ? "\"healthy\"" : "\"unhealthy\"";
  out += '}';
}

// Streams the document in pieces of about 64 KiB.
void write_json(const ProbeSession &session, FILE *out) {
  size_t healthy = 0;
  for (const NodeRun &n : session.nodes()) healthy += node_healthy(n);
  std::string text;
  text.reserve(80 * 1024);
  char head[256];
  std::snprintf(head, sizeof head,
                "{\n  \"schema\": \"lbctl-probe/1\",\n  \"rounds\": %llu,\n  \"total\": %zu,\n"
                "  \"healthy\": %zu,\n  \"nodes\": [",
                static_cast<unsigned long long>(session.rounds()), session.nodes().size(), healthy);
  text += head;
  bool first = true;
  for (const NodeRun &n : session.nodes()) {
    text += first ? "\n    " : ",\n    ";
    first = false;
    append_node(text, session, n);
    if (text.size() >= 64 * 1024) {
      std::fwrite(text.data(), 1, text.size(), out);
      text.clear();
    }
  }
  text += "\n  ]\n}\n";
  std::fwrite(text.data(), 1, text.size(), out);
}

std::string render_table(const ProbeSession &session, bool color) {
  const bool several = session.rounds() > 1;
  std::vector<std::string> headers = {"NODE", "VERDICT", "STATUS"};
  if (several) headers.insert(headers.end(), {"OK", "MIN", "P50", "P95", "MAX"});
  else headers.insert(headers.end(), {"DNS", "CONNECT", "TLS", "TTFB", "TOTAL"});
  headers.insert(headers.end(), {"HEAD", "LAG", "VERSION", "ERROR"});
  // Numbers right-aligned; node, verdict, version and error left-aligned.
  std::vector<bool> right(headers.size(), true);
  right[0] = right[1] = false;
  right[headers.size() - 1] = right[headers.size() - 2] = false;
  Table table(headers, right);
  for (const NodeRun &n : session.nodes()) {
    const bool ok = node_healthy(n);
    std::vector<std::string> row = {n.server.name, ok ? "healthy" : "unhealthy",
                                    n.last.verdict.http_status ? std::to_string(n.last.verdict.http_status) : "-"};
    if (several) {
      const SampleSummary total = n.total.summary();
      row.insert(row.end(), {std::to_string(n.checks - n.failed) + "/" + std::to_string(n.checks),
                             format_ms(total.min), format_ms(total.p50), format_ms(total.p95),
                             format_ms(total.max)});
    } else {
      const lbk::probe::Timings &t = n.last.timings;
      row.insert(row.end(), {format_ms(t.dns_ms), format_ms(t.connect_ms), format_ms(t.tls_ms),
                             format_ms(t.first_byte_ms), format_ms(t.total_ms)});
    }
    const bool rpc = is_jsonrpc(session, n);
    row.push_back(rpc && n.last.verdict.has_value ? std::to_string(n.last.verdict.value) : "-");
    row.push_back(rpc && n.last.verdict.has_value ? std::to_string(n.lag) : "-");
    row.push_back(n.version.empty() ? "-" : n.version);
    row.push_back(n.error);
    std::vector<Color> colors(row.size(), Color::kNone);
    colors[1] = ok ? Color::kGreen : Color::kRed;
    colors[row.size() - 1] = Color::kRed;
    if (rpc && n.lag > 0) colors[row.size() - 3] = Color::kYellow;
    table.add_row(row, colors);
  }
  return table.render(color);
}

// The same metrics as watch's and agent's /metrics (metrics.h).
std::string render_prometheus(const ProbeSession &session) {
  return render_metrics(session.snapshot(0), &session, "probe", unix_now_ms());
}

}  // namespace

void register_probe(CLI::App &app, int &exit_code) {
  CLI::App *cmd = app.add_subcommand(
      "probe", "Probe every node concurrently: verdict, status, phase timings, JSON-RPC head and lag");
  auto args = std::make_shared<ProbeArgs>();
  add_node_options(cmd, args->nodes);
  cmd->add_option("-n,--count", args->count, "Probe rounds (min/p50/p95/max with several)")
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("-i,--interval", args->interval, "Pause between rounds (default 1s)");
  cmd->add_option("-o,--format", args->format,
                  "table, json or prometheus (default: table on a terminal, else json)")
      ->check(CLI::IsMember({"table", "json", "prometheus"}));
  cmd->footer("Exit codes: 0 all healthy, 1 some unhealthy, 2 usage or config error, 3 none healthy.");
  cmd->callback([args, &exit_code]() {
    Format format;
    uint32_t interval_ms = 0;
    if (!parse_format(args->format, format)) {
      exit_code = kExitUsage;
      return;
    }
    if (!parse_duration_ms(args->interval, interval_ms)) {
      std::fprintf(stderr, "lbctl probe: --interval: %s\n", duration_problem(args->interval).c_str());
      exit_code = kExitUsage;
      return;
    }
    Config config;
    if (!resolve_config(args->nodes, config)) {
      exit_code = kExitUsage;
      return;
    }
    // Disabled servers are held out of service: not probed, not listed.
    // (With none left, the pool is empty: exit 3, none healthy.)
    std::string disabled;
    for (PoolConfig &pool : config.pools) {
      for (const ServerConfig &s : pool.servers)
        if (s.disabled) disabled += (disabled.empty() ? "" : ", ") + pool.name + "/" + s.name;
      pool.servers.erase(std::remove_if(pool.servers.begin(), pool.servers.end(),
                                        [](const ServerConfig &s) { return s.disabled; }),
                         pool.servers.end());
    }
    if (!disabled.empty()) std::fprintf(stderr, "lbctl probe: not probed (disabled): %s\n", disabled.c_str());
    ProbeSession session;
    std::string error;
    if (!session.init(config, error)) {
      std::fprintf(stderr, "lbctl probe: %s\n", error.c_str());
      exit_code = kExitUsage;
      return;
    }
    probe_rounds(session, args->count, interval_ms);
    if (format == Format::kJson) {
      write_json(session, stdout);
    } else {
      const std::string text = format == Format::kPrometheus
                                   ? render_prometheus(session)
                                   : render_table(session, color_enabled(stdout));
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    size_t healthy = 0;
    for (const NodeRun &n : session.nodes()) healthy += node_healthy(n);
    exit_code = health_exit_code(healthy, session.nodes().size());
  });
}

}  // namespace lbctl
