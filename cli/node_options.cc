// cli/node_options.cc - node URLs / -c FILE and check overrides.
#include "node_options.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <unordered_set>

#include "lbkit.h"

namespace lbctl {

const char kCommandLinePool[] = "cli";

void add_node_options(CLI::App *cmd, NodeOptions &o) {
  cmd->add_option("nodes", o.urls, "Node URLs: http://HOST[:PORT]/PATH, https://..., tcp://HOST:PORT");
  cmd->add_option("-c,--config", o.config_path, "Read the nodes from this INI file (lbctl.ini(5))");
  cmd->add_option("--pool", o.pool, "With -c: only this pool");
  cmd->add_option("--check", o.check, "Check kind: tcp, http, https or jsonrpc (default: by URL scheme)")
      ->check(CLI::IsMember({"tcp", "http", "https", "jsonrpc"}));
  cmd->add_option("--timeout", o.timeout, "Per-probe timeout, DNS included (e.g. 500ms, 2s; default 2s)");
  cmd->add_option("--check-path", o.path, "HTTP path of the check (default: the URL's path)");
  cmd->add_option("--expect-status", o.expect_status, "Healthy HTTP statuses (default 200-399)");
  cmd->add_option("--jsonrpc-method", o.jsonrpc_method,
                  "JSON-RPC method of the check (default eth_blockNumber); implies --check jsonrpc");
  cmd->add_option("--max-lag", o.max_lag,
                  "JSON-RPC: unhealthy when the head lags the best by more (default: the chain's; 0 = off)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--chain", o.chain,
                  std::string("Chain profile of JSON-RPC checks: ") + lbk_chain_profile_names() +
                      " (default ethereum); implies --check jsonrpc");
  cmd->add_option("--chain-id", o.chain_id,
                  "JSON-RPC: nodes reporting another chain id are unhealthy; implies --check jsonrpc");
  cmd->add_option("--cacert", o.ca_file, "Trust these CA certificates (PEM) instead of the system store")
      ->check(CLI::ExistingFile);
  cmd->add_flag("-k,--insecure", o.insecure, "Do not verify TLS certificates (verification is on by default)");
  cmd->add_option("--concurrency", o.concurrency, "Probes in flight at once (default 1000)")
      ->check(CLI::Range(1u, 1000000u));
}

bool resolve_config(const NodeOptions &o, Config &out) {
  if (!o.config_path.empty() && !o.urls.empty()) {
    std::fprintf(stderr, "lbctl: give node URLs or -c FILE, not both\n");
    return false;
  }
  if (!o.config_path.empty()) {
    std::vector<ConfigError> errors;
    if (!load_config(o.config_path, out, errors)) {
      for (const ConfigError &e : errors) std::fprintf(stderr, "%s\n", e.text().c_str());
      return false;
    }
    if (!o.pool.empty()) {
      std::vector<PoolConfig> kept;
      for (PoolConfig &p : out.pools)
        if (p.name == o.pool) kept.push_back(std::move(p));
      if (kept.empty()) {
        std::fprintf(stderr, "%s: no pool named '%s'\n", o.config_path.c_str(), o.pool.c_str());
        return false;
      }
      out.pools = std::move(kept);
    }
  } else {
    if (o.urls.empty()) {
      std::fprintf(stderr, "lbctl: no nodes: give node URLs or -c FILE (see --help)\n");
      return false;
    }
    PoolConfig pool;
    pool.name = kCommandLinePool;
    pool.file = "command line";
    bool ok = true;
    std::unordered_set<std::string> seen;
    for (size_t i = 0; i < o.urls.size(); ++i) {
      ServerConfig s;
      s.line = static_cast<int>(i + 1);
      std::string why;
      if (!finish_server(s, o.urls[i], false, pool.check.secret_headers, why)) {
        NodeUrl shown;
        std::string ignored;
        split_node_url(o.urls[i], true, shown, ignored);
        std::fprintf(stderr, "lbctl: node %zu: bad URL '%s': %s\n", i + 1, shown.shown.c_str(), why.c_str());
        ok = false;
        continue;
      }
      if (!seen.insert(s.url).second) {
        std::fprintf(stderr, "lbctl: node %zu: '%s' given twice\n", i + 1, s.shown_url.c_str());
        ok = false;
      }
      pool.servers.push_back(s);
    }
    if (!ok) return false;
    out.pools.push_back(std::move(pool));
  }
  for (PoolConfig &p : out.pools) {
    CheckConfig &c = p.check;
    if (!o.jsonrpc_method.empty()) {
      c.jsonrpc_method = o.jsonrpc_method;
      c.kind = "jsonrpc";
    }
    if (!o.check.empty()) c.kind = o.check;
    if (c.kind.empty()) c.kind = o.default_check;
    if (!o.chain.empty()) c.chain = o.chain;
    if (!o.chain_id.empty()) c.chain_id = o.chain_id;
    if (!o.ca_file.empty()) c.ca_file = o.ca_file;
    if (!o.timeout.empty() && !parse_duration_ms(o.timeout, c.timeout_ms)) {
      std::fprintf(stderr, "lbctl: --timeout: %s\n", duration_problem(o.timeout).c_str());
      return false;
    }
    if (c.timeout_ms == 0) {
      std::fprintf(stderr, "lbctl: --timeout must be above 0\n");
      return false;
    }
    if (!o.path.empty()) c.path = o.path;
    if (!o.expect_status.empty()) c.expect_status = o.expect_status;
    if (o.max_lag >= 0) c.max_lag = o.max_lag;
    std::string why;
    if (!resolve_chain_defaults(c, why)) {
      std::fprintf(stderr, "lbctl: pool '%s': %s\n", p.name.c_str(), why.c_str());
      return false;
    }
    if (o.insecure) c.tls_verify = false;
    if (p.servers.empty()) {
      std::fprintf(stderr, "lbctl: pool '%s' has no nodes\n", p.name.c_str());
      return false;
    }
  }
  if (o.concurrency) out.global.concurrency = o.concurrency;
  return true;
}

}  // namespace lbctl
