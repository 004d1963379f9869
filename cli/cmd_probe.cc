// cli/cmd_probe.cc - `lbctl probe`: probe every node concurrently and print
// verdicts, HTTP status, phase timings and the JSON-RPC summary.
//
// JSON output (schema "lbctl-probe/1", stable; members only ever added):
//   {"schema": "lbctl-probe/1", "rounds": N, "total": T, "healthy": H,
//    "nodes": [{"pool", "name", "url", "address" (resolved ip:port or ""),
//               "healthy" (bool), "verdict" ("healthy"|"unhealthy"),
//               "outcome" (pass|connect|timeout|tls|dns|protocol|status|body|
//                          jsonrpc|lag|version|limit),
//               "error" (string or null), "http_status" (int or null),
//               "dns_ms", "connect_ms", "tls_ms", "first_byte_ms", "total_ms"
//                 (last round; number or null when the phase was not reached),
//               "jsonrpc": {"head" (int or null), "lag" (int),
//                           "version" (string or null)} or null,
//               "checks", "checks_failed" (ints),
//               "stats": {"<phase>_ms": {"count", "min", "p50", "p95", "max"}}
//                 over the rounds that passed (values null when count is 0)}]}
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "node_options.h"
#include "output.h"
#include "probe_session.h"

namespace lbctl {

namespace {

using nlohmann::json;

struct ProbeArgs {
  NodeOptions nodes;
  unsigned count = 1;
  std::string interval = "1s";
  std::string format;
};

json ms_or_null(double ms) { return ms < 0 ? json(nullptr) : json(ms); }

json stats_json(const Samples &s) {
  return {{"count", s.values.size()}, {"min", ms_or_null(s.min())},
          {"p50", ms_or_null(s.percentile(50))}, {"p95", ms_or_null(s.percentile(95))},
          {"max", ms_or_null(s.max())}};
}

bool is_jsonrpc(const ProbeSession &session, const NodeRun &n) {
  return session.config().pools[n.pool_index].check.kind == "jsonrpc";
}

// The node's verdict as shown: rise/fall health and the lag judgement.
bool node_healthy(const NodeRun &n) { return n.healthy && n.outcome != "lag"; }

json node_json(const ProbeSession &session, const NodeRun &n) {
  const lbk::probe::Timings &t = n.last.timings;
  const bool ok = node_healthy(n);
  json j;
  j["pool"] = session.config().pools[n.pool_index].name;
  j["name"] = n.server.name;
  j["url"] = n.server.url;
  j["address"] = n.last.address;
  j["healthy"] = ok;
  j["verdict"] = ok ? "healthy" : "unhealthy";
  j["outcome"] = n.outcome;
  j["error"] = n.error.empty() ? json(nullptr) : json(n.error);
  j["http_status"] = n.last.verdict.http_status ? json(n.last.verdict.http_status) : json(nullptr);
  j["dns_ms"] = ms_or_null(t.dns_ms);
  j["connect_ms"] = ms_or_null(t.connect_ms);
  j["tls_ms"] = ms_or_null(t.tls_ms);
  j["first_byte_ms"] = ms_or_null(t.first_byte_ms);
  j["total_ms"] = ms_or_null(t.total_ms);
  if (is_jsonrpc(session, n))
    j["jsonrpc"] = {{"head", n.last.verdict.has_value ? json(n.last.verdict.value) : json(nullptr)},
                    {"lag", n.lag},
                    {"version", n.version.empty() ? json(nullptr) : json(n.version)}};
  else
    j["jsonrpc"] = nullptr;
  j["checks"] = n.checks;
  j["checks_failed"] = n.failed;
  j["stats"] = {{"dns_ms", stats_json(n.dns)},
                {"connect_ms", stats_json(n.connect)},
                {"tls_ms", stats_json(n.tls)},
                {"first_byte_ms", stats_json(n.first_byte)},
                {"total_ms", stats_json(n.total)}};
  return j;
}

// Streams the document node by node: 10,000 nodes never exist as one JSON
// tree in memory.
void write_json(const ProbeSession &session, FILE *out) {
  size_t healthy = 0;
  for (const NodeRun &n : session.nodes()) healthy += node_healthy(n);
  std::fprintf(out, "{\n  \"schema\": \"lbctl-probe/1\",\n  \"rounds\": %llu,\n  \"total\": %zu,\n"
               "  \"healthy\": %zu,\n  \"nodes\": [",
               static_cast<unsigned long long>(session.rounds()), session.nodes().size(), healthy);
  bool first = true;
  for (const NodeRun &n : session.nodes()) {
    const std::string text = node_json(session, n).dump();
    std::fprintf(out, "%s\n    %s", first ? "" : ",", text.c_str());
    first = false;
  }
  std::fprintf(out, "\n  ]\n}\n");
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
      row.insert(row.end(), {std::to_string(n.checks - n.failed) + "/" + std::to_string(n.checks),
                             format_ms(n.total.min()), format_ms(n.total.percentile(50)),
                             format_ms(n.total.percentile(95)), format_ms(n.total.max())});
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

std::string render_prometheus(const ProbeSession &session) {
  std::string out;
  auto family = [&out](const char *name, const char *help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
  };
  auto labels = [&session](const NodeRun &n) {
    return "pool=\"" + prom_label(session.config().pools[n.pool_index].name) + "\",node=\"" +
           prom_label(n.server.name) + "\",url=\"" + prom_label(n.server.url) + "\"";
  };
  auto number = [](double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return std::string(buf);
  };
  family("lbctl_probe_success", "1 if the node is healthy, else 0");
  for (const NodeRun &n : session.nodes())
    out += "lbctl_probe_success{" + labels(n) + "} " + (node_healthy(n) ? "1" : "0") + "\n";
  family("lbctl_probe_http_status_code", "HTTP status of the last probe (0 = none)");
  for (const NodeRun &n : session.nodes())
    out += "lbctl_probe_http_status_code{" + labels(n) + "} " +
           std::to_string(n.last.verdict.http_status) + "\n";
  family("lbctl_probe_duration_seconds", "Duration of each phase of the last probe");
  for (const NodeRun &n : session.nodes()) {
    const lbk::probe::Timings &t = n.last.timings;
    const std::pair<const char *, double> phases[] = {{"dns", t.dns_ms}, {"connect", t.connect_ms},
                                                      {"tls", t.tls_ms}, {"first_byte", t.first_byte_ms},
                                                      {"total", t.total_ms}};
    for (const auto &p : phases)
      if (p.second >= 0)
        out += "lbctl_probe_duration_seconds{" + labels(n) + ",phase=\"" + p.first + "\"} " +
               number(p.second / 1000.0) + "\n";
  }
  bool any_rpc = false;
  for (const NodeRun &n : session.nodes()) any_rpc |= is_jsonrpc(session, n) && n.last.verdict.has_value;
  if (any_rpc) {
    family("lbctl_probe_jsonrpc_head", "JSON-RPC head (numeric field) of the last probe");
    for (const NodeRun &n : session.nodes())
      if (is_jsonrpc(session, n) && n.last.verdict.has_value)
        out += "lbctl_probe_jsonrpc_head{" + labels(n) + "} " + std::to_string(n.last.verdict.value) + "\n";
    family("lbctl_probe_jsonrpc_lag", "Blocks behind the best healthy head");
    for (const NodeRun &n : session.nodes())
      if (is_jsonrpc(session, n) && n.last.verdict.has_value)
        out += "lbctl_probe_jsonrpc_lag{" + labels(n) + "} " + std::to_string(n.lag) + "\n";
  }
  return out;
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
      std::fprintf(stderr, "lbctl probe: --interval: bad duration '%s'\n", args->interval.c_str());
      exit_code = kExitUsage;
      return;
    }
    Config config;
    if (!resolve_config(args->nodes, config)) {
      exit_code = kExitUsage;
      return;
    }
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
