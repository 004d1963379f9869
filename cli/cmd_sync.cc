// cli/cmd_sync.cc - `lbctl sync`: discovery in, balancers out.
//
//   lbctl sync -c FILE [--sync NAME]... [--once] [--dry-run]
//              [--interval DURATION] [--min-change PCT] [--timeout DURATION]
//
// Runs every [sync NAME] section of the configuration (or those named with
// --sync).  Each round: resolve the pools' `discover =` names that are due
// (discovery.h: at the TTL, bounded), probe every server of the synced
// pools (configured and discovered) with the pool's check, and bring each
// target (sync_target.h) to that set, sending only differences.  Without
// --once it repeats every --interval (default: the shortest interval of the
// synced pools) until SIGINT/SIGTERM, judging servers by rise/fall; with
// --once it does one round and judges each server by that one probe.
//
// Safety: a DNS failure, a timeout, an empty or malformed answer, or fewer
// servers than min_servers never change a target: the last good set stays
// and a warning on stderr says why.  Before a first good answer, the
// pool's targets are left untouched.
//
// Output: each change as one line on stdout ("sync NAME: ..."), warnings on
// stderr; with --once, the number of requests sent to each target (reads
// and changes) on stderr.  Exit codes: 0 done (or stopped by a signal), 2 usage or config
// error, 4 runtime failure in the last round (DNS without a good answer, a
// target unreachable, a command refused).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>

#include "commands.h"
#include "config.h"
#include "discovery.h"
#include "haproxy/haproxy_verdict.h"
#include "probe_round.h"
#include "probe_session.h"
#include "sync/sync_target.h"

namespace lbctl {
namespace {

struct SyncCommandOptions {
  std::string config_path, interval, timeout = "5s";
  std::vector<std::string> only;
  bool once = false, dry_run = false;
  unsigned min_change_pct = 5;
};

volatile std::sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

using Clock = std::chrono::steady_clock;

// A discovered server as a probed node: its URL from the pool's check kind.
ServerConfig discovered_node(const PoolConfig &pool, const DiscoveredServer &s) {
  ServerConfig server;
  const std::string scheme = pool.check.kind == "tcp"     ? "tcp"
                             : pool.check.kind == "https" ? "https"
                                                          : "http";
  server.url = scheme + "://" + s.host_port() + (scheme == "tcp" ? "" : "/");
  server.name = s.host_port();
  server.weight = s.weight;
  server.backup = s.backup;
  server.line = pool.discover.line;
  return server;
}

class Syncer {
 public:
  explicit Syncer(const SyncCommandOptions &opts) : opts_(opts) {}

  // Loads the configuration and builds the targets; an exit code.
  int init(uint32_t &interval_ms) {
    std::vector<ConfigError> errors;
    if (!load_config(opts_.config_path, config_, errors)) {
      for (const ConfigError &e : errors) std::fprintf(stderr, "%s\n", e.text().c_str());
      return kExitUsage;
    }
    if (!parse_duration_ms(opts_.timeout, timeout_ms_) || timeout_ms_ == 0) {
      std::fprintf(stderr, "lbctl sync: --timeout: bad duration '%s'\n", opts_.timeout.c_str());
      return kExitUsage;
    }
    for (const std::string &name : opts_.only) {
      bool found = false;
      for (const SyncConfig &y : config_.syncs) found = found || y.name == name;
      if (!found) {
        std::fprintf(stderr, "lbctl sync: %s: no [sync %s]\n", opts_.config_path.c_str(),
                     name.c_str());
        return kExitUsage;
      }
    }
    for (const SyncConfig &y : config_.syncs) {
      if (!opts_.only.empty() &&
          std::find(opts_.only.begin(), opts_.only.end(), y.name) == opts_.only.end())
        continue;
      std::string error;
      std::unique_ptr<SyncTarget> target =
          y.haproxy.empty() ? make_nginx_target(y, error) : make_haproxy_target(y, error);
      if (!target) {
        std::fprintf(stderr, "%s\n", error.c_str());
        return kExitUsage;
      }
      targets_.push_back({y, std::move(target)});
      if (!pools_.count(y.pool)) {
        for (const PoolConfig &p : config_.pools)
          if (p.name == y.pool) pools_[y.pool].config = p;
      }
    }
    if (targets_.empty()) {
      std::fprintf(stderr, "lbctl sync: %s: no [sync NAME] section (see lbctl.ini(5))\n",
                   opts_.config_path.c_str());
      return kExitUsage;
    }
    if (interval_ms == 0) {
      for (const auto &p : pools_)
        if (interval_ms == 0 || p.second.config.check.interval_ms < interval_ms)
          interval_ms = p.second.config.check.interval_ms;
    }
    return kExitOk;
  }

  // One round; an exit code.
  int round(bool once) {
    int code = kExitOk;
    bool changed = !session_;
    for (auto &entry : pools_) {
      PoolRun &p = entry.second;
      const DiscoveryConfig &d = p.config.discover;
      if (d.spec.empty() || Clock::now() < p.next_resolve) continue;
      DiscoveryResult r = discover_servers(d, timeout_ms_);
      if (r.ok && r.servers.size() < d.min_servers) {
        r.ok = false;
        r.error = d.spec + ": " + std::to_string(r.servers.size()) + " server(s), fewer than "
                  "min_servers = " + std::to_string(d.min_servers);
      }
      if (!r.ok) {
        // Said when it starts or changes, then once a minute while it lasts.
        const auto now = Clock::now();
        if (r.error != p.last_warning || now - p.warned_at >= std::chrono::minutes(1)) {
          std::fprintf(stderr, "lbctl sync: pool '%s': DNS %s; %s\n", entry.first.c_str(),
                       r.error.c_str(),
                       p.resolved ? ("keeping the last good set (" +
                                     std::to_string(p.servers.size()) + " servers)").c_str()
                                  : "its targets are left unchanged until a good answer");
          p.last_warning = r.error;
          p.warned_at = now;
        }
        code = kExitRuntime;
        p.next_resolve = Clock::now();  // again next round
        continue;
      }
      p.next_resolve = Clock::now() + std::chrono::milliseconds(r.ttl_ms);
      if (!p.last_warning.empty())
        std::fprintf(stderr, "lbctl sync: pool '%s': DNS answers again\n", entry.first.c_str());
      p.last_warning.clear();
      if (!p.resolved || r.servers != p.servers) {
        std::fprintf(stderr, "lbctl sync: pool '%s': %s: %zu server(s)\n", entry.first.c_str(),
                     d.spec.c_str(), r.servers.size());
        p.servers = r.servers;
        changed = true;
      }
      p.resolved = true;
    }
    if (changed && !rebuild_session()) return kExitUsage;
    session_->absorb(run_round(session_->targets(false), session_->probe_options(), ""), false);
    const State state = session_->snapshot(0);
    SyncSettings settings;
    settings.dry_run = opts_.dry_run;
    settings.min_change_pct = opts_.min_change_pct;
    settings.timeout_ms = timeout_ms_;
    for (auto &t : targets_) {
      const PoolRun &p = pools_[t.config.pool];
      if (!p.config.discover.spec.empty() && !p.resolved) continue;  // nothing known yet
      const PoolState *pool = state.find_pool(t.config.pool);
      if (!pool) continue;
      std::vector<DesiredServer> desired;
      const size_t configured = p.config.servers.size();
      for (size_t i = 0; i < pool->nodes.size(); ++i) {
        DesiredServer s;
        s.node = &pool->nodes[i];
        s.discovered = i >= configured;
        if (s.discovered) {
          const DiscoveredServer &found = p.servers[i - configured];
          s.address = found.address;
          s.port = found.port;
        }
        s.weight = pool->nodes[i].weight;
        s.backup = pool->nodes[i].backup;
        s.verdict = haproxy_verdict(pool->nodes[i], *pool, once);
        desired.push_back(s);
      }
      settings.source = p.config.discover.spec;
      const int rc = t.target->sync(desired, settings);
      if (rc != kExitOk) code = rc;
    }
    return code;
  }

  // One line per target on stderr: the requests sent to it so far.
  void report_requests() const {
    for (const auto &t : targets_)
      std::fprintf(stderr, "lbctl sync: %s: %llu request(s) to the %s\n", t.config.name.c_str(),
                   static_cast<unsigned long long>(t.target->requests()),
                   t.config.haproxy.empty() ? "nginx API" : "runtime API");
  }

 private:
  struct PoolRun {
    PoolConfig config;
    bool resolved = false;
    std::vector<DiscoveredServer> servers;  // the last good answer
    Clock::time_point next_resolve{};
    std::string last_warning;               // the DNS problem said last, "" = none
    Clock::time_point warned_at{};
  };
  struct Target {
    SyncConfig config;
    std::unique_ptr<SyncTarget> target;
  };

  // The probing session over the synced pools: configured servers first,
  // then the discovered ones; servers it had before keep their health.
  bool rebuild_session() {
    Config probe_config;
    probe_config.global = config_.global;
    for (const auto &entry : pools_) {
      PoolConfig pool = entry.second.config;
      for (const DiscoveredServer &s : entry.second.servers)
        pool.servers.push_back(discovered_node(pool, s));
      probe_config.pools.push_back(pool);
    }
    std::unique_ptr<ProbeSession> fresh(new ProbeSession);
    std::string error;
    if (!fresh->init(probe_config, error)) {
      std::fprintf(stderr, "lbctl sync: %s\n", error.c_str());
      return false;
    }
    if (session_) fresh->keep_state_of(*session_);
    session_ = std::move(fresh);
    return true;
  }

  SyncCommandOptions opts_;
  Config config_;
  uint32_t timeout_ms_ = 5000;
  std::map<std::string, PoolRun> pools_;
  std::vector<Target> targets_;
  std::unique_ptr<ProbeSession> session_;
};

int run_sync_command(const SyncCommandOptions &opts) {
  uint32_t interval_ms = 0;
  if (!opts.interval.empty() &&
      (!parse_duration_ms(opts.interval, interval_ms) || interval_ms == 0)) {
    std::fprintf(stderr, "lbctl sync: --interval: bad duration '%s'\n", opts.interval.c_str());
    return kExitUsage;
  }
  Syncer syncer(opts);
  const int init = syncer.init(interval_ms);
  if (init != kExitOk) return init;
  if (opts.once) {
    const int code = syncer.round(true);
    syncer.report_requests();
    if (opts.dry_run) std::fprintf(stderr, "lbctl sync: dry run: nothing sent\n");
    return code;
  }
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  while (!g_stop) {
    const auto start = Clock::now();
    syncer.round(false);
    const auto next = start + std::chrono::milliseconds(interval_ms);
    while (!g_stop && Clock::now() < next)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "lbctl sync: stopped\n");
  return kExitOk;
}

}  // namespace

void register_sync(CLI::App &app, int &exit_code) {
  auto opts = std::make_shared<SyncCommandOptions>();
  CLI::App *cmd = app.add_subcommand(
      "sync", "Keep HAProxy backends and NGINX Plus-API upstreams equal to the pools "
              "(DNS discovery, lbkit's checks): add, drain, delete, weigh; only differences");
  cmd->add_option("-c,--config", opts->config_path, "lbctl INI configuration with [sync NAME]")
      ->required();
  cmd->add_option("--sync", opts->only, "run only this [sync NAME] (repeatable)");
  cmd->add_flag("--once", opts->once, "one round, each server judged by one probe");
  cmd->add_flag("--dry-run", opts->dry_run, "print the changes, send none");
  cmd->add_option("--interval", opts->interval,
                  "round interval (default: the shortest interval of the synced pools)");
  cmd->add_option("--min-change", opts->min_change_pct,
                  "smallest weight change sent, in percentage points (default 5)")
      ->check(CLI::Range(0, 100));
  cmd->add_option("--timeout", opts->timeout,
                  "per DNS resolve and per runtime-API command or HTTP request (default 5s)");
  cmd->footer("Exit codes: 0 done, 2 usage/config error, 4 DNS without a good answer, a "
              "target unreachable or a change refused.");
  cmd->callback([opts, &exit_code]() { exit_code = run_sync_command(*opts); });
}

}  // namespace lbctl
