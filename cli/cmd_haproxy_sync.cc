// cli/cmd_haproxy_sync.cc - `lbctl haproxy-sync`: push lbkit's verdicts into a
// running HAProxy through its runtime API.
//
//   lbctl haproxy-sync -c FILE --socket PATH|HOST:PORT --backend NAME
//                      [--pool NAME] [--state FILE] [--dry-run]
//                      [--interval DURATION] [--min-change PCT]
//
// Each round: probe the pool's nodes (or read the canary's --state file),
// read `show servers state BACKEND`, and send only what differs:
//   node up     -> `set server B/S state ready` if it is in drain or maint,
//                  `set server B/S weight N%` when the weight differs by at
//                  least --min-change percentage points of the initial weight
//   node lagging-> `set server B/S state drain`
//   node down   -> `set server B/S state maint` (the runtime API forces
//                  administrative states only; sync sets ready on recovery)
// (mapping and weights: haproxy_verdict.h).  HAProxy servers are matched to
// the pool's servers by name, else by address and port.  Without --interval
// it runs once and judges each node by that one probe; with it, it keeps
// probing with rise/fall and syncs every interval until SIGINT/SIGTERM.
// --dry-run prints the commands and sends none.  A second run against an
// unchanged pool sends nothing.
// Output: every command on stdout ("set server ..."); a summary on stderr.
// Exit codes: 0 done, 2 usage or config error (unknown pool), 4 runtime
// failure (runtime API unreachable, unknown backend, a command refused).
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "commands.h"
#include "config.h"
#include "haproxy/haproxy_commands.h"
#include "haproxy/haproxy_runtime.h"
#include "haproxy/haproxy_verdict.h"
#include "probe_round.h"
#include "probe_session.h"
#include "state_file.h"

namespace lbctl {
namespace {

struct SyncOptions {
  std::string config_path, socket, backend, pool, state_path, interval;
  bool dry_run = false;
  unsigned min_change_pct = 5;
  std::string timeout = "5s";
};

volatile std::sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

class Syncer {
 public:
  explicit Syncer(const SyncOptions &opts) : opts_(opts) {}

  // Loads the configuration and prepares probing; false = usage error.
  bool init() {
    std::vector<ConfigError> errors;
    if (!load_config(opts_.config_path, config_, errors)) {
      for (const ConfigError &e : errors) std::fprintf(stderr, "%s\n", e.text().c_str());
      return false;
    }
    pool_name_ = opts_.pool;
    if (pool_name_.empty()) {
      for (const PoolConfig &p : config_.pools)
        if (p.name == opts_.backend) pool_name_ = p.name;
      if (pool_name_.empty() && config_.pools.size() == 1) pool_name_ = config_.pools[0].name;
    }
    bool found = false;
    for (const PoolConfig &p : config_.pools) found = found || p.name == pool_name_;
    if (!found) {
      std::fprintf(stderr,
                   "lbctl haproxy-sync: %s: no pool '%s' (name it with --pool; the default is "
                   "the pool named like the backend, or the only pool)\n",
                   opts_.config_path.c_str(),
                   pool_name_.empty() ? opts_.backend.c_str() : pool_name_.c_str());
      return false;
    }
    std::string error;
    if (!parse_runtime_endpoint(opts_.socket, endpoint_, error)) {
      std::fprintf(stderr, "lbctl haproxy-sync: --socket: %s\n", error.c_str());
      return false;
    }
    if (!parse_duration_ms(opts_.timeout, timeout_ms_) || timeout_ms_ == 0) {
      std::fprintf(stderr, "lbctl haproxy-sync: --timeout: %s\n",
                   duration_problem(opts_.timeout).c_str());
      return false;
    }
    if (opts_.state_path.empty() && !session_.init(config_, error)) {
      std::fprintf(stderr, "lbctl haproxy-sync: %s\n", error.c_str());
      return false;
    }
    return true;
  }

  // One round; returns an exit code.
  int round(bool last_probe_only) {
    State state;
    std::string error;
    if (!opts_.state_path.empty()) {
      if (!read_state_file(opts_.state_path, state, error)) {
        std::fprintf(stderr, "lbctl haproxy-sync: %s\n", error.c_str());
        return kExitRuntime;
      }
      last_probe_only = false;  // the canary applied rise/fall already
    } else {
      const bool identity = session_.identity_due();  // chain id and version too
      session_.absorb(run_round(session_.targets(identity), session_.probe_options(), ""), identity);
      state = session_.snapshot(0);
    }
    const PoolState *pool = state.find_pool(pool_name_);
    if (!pool) {
      std::fprintf(stderr, "lbctl haproxy-sync: no pool '%s' in %s\n", pool_name_.c_str(),
                   opts_.state_path.empty() ? "the probe results" : opts_.state_path.c_str());
      return kExitRuntime;
    }
    std::string answer;
    std::vector<ServerRuntimeState> servers;
    if (!runtime_command(endpoint_, "show servers state " + opts_.backend, answer, error,
                         timeout_ms_) ||
        !parse_servers_state(answer, servers, error)) {
      std::fprintf(stderr, "lbctl haproxy-sync: backend '%s': %s\n", opts_.backend.c_str(),
                   error.c_str());
      return kExitRuntime;
    }
    int sent = 0, failed = 0;
    for (const NodeState &node : pool->nodes) {
      const ServerRuntimeState *s = match_server(node, servers);
      if (!s) {
        std::fprintf(stderr, "lbctl haproxy-sync: pool '%s' server '%s' (%s): no such server in "
                             "backend '%s'; skipped\n",
                     pool->name.c_str(), node.name.c_str(), node.url.c_str(),
                     opts_.backend.c_str());
        continue;
      }
      const HaproxyVerdict v = haproxy_verdict(node, *pool, last_probe_only);
      for (const std::string &cmd : commands_for(opts_.backend, *s, v, opts_.min_change_pct)) {
        std::printf("%s\n", cmd.c_str());
        std::fflush(stdout);
        if (opts_.dry_run) continue;
        if (!runtime_command(endpoint_, cmd, answer, error, timeout_ms_)) {
          std::fprintf(stderr, "lbctl haproxy-sync: %s: %s\n", cmd.c_str(), error.c_str());
          ++failed;
          continue;
        }
        // HAProxy answers an accepted command with an empty line.
        if (answer.find_first_not_of(" \r\n") != std::string::npos) {
          std::fprintf(stderr, "lbctl haproxy-sync: %s: refused: %s", cmd.c_str(), answer.c_str());
          ++failed;
          continue;
        }
        ++sent;
      }
      if (v.kind != HaproxyVerdict::kUp && v.kind != HaproxyVerdict::kUnknown)
        std::fprintf(stderr, "lbctl haproxy-sync: %s/%s: %s: %s\n", opts_.backend.c_str(),
                     s->name.c_str(), v.kind == HaproxyVerdict::kDrain   ? "drain"
                     : v.kind == HaproxyVerdict::kMaint ? "maint"
                                                        : "down",
                     v.reason.c_str());
    }
    if (opts_.dry_run)
      std::fprintf(stderr, "lbctl haproxy-sync: dry run: nothing sent\n");
    else
      std::fprintf(stderr, "lbctl haproxy-sync: backend '%s': %d change(s) sent%s\n",
                   opts_.backend.c_str(), sent, failed ? ", some refused" : "");
    return failed ? kExitRuntime : kExitOk;
  }

 private:
  SyncOptions opts_;
  Config config_;
  std::string pool_name_;
  RuntimeEndpoint endpoint_;
  uint32_t timeout_ms_ = 5000;
  ProbeSession session_;
};

int run_sync(const SyncOptions &opts) {
  uint32_t interval_ms = 0;
  if (!opts.interval.empty() && (!parse_duration_ms(opts.interval, interval_ms) ||
                                 interval_ms == 0)) {
    std::fprintf(stderr, "lbctl haproxy-sync: --interval: %s\n",
                 duration_problem(opts.interval).c_str());
    return kExitUsage;
  }
  Syncer syncer(opts);
  if (!syncer.init()) return kExitUsage;
  if (interval_ms == 0) return syncer.round(true);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  int code = kExitOk;
  while (!g_stop) {
    const auto start = std::chrono::steady_clock::now();
    code = syncer.round(false);
    // Sleep in short slices so a signal ends the loop promptly.
    const auto next = start + std::chrono::milliseconds(interval_ms);
    while (!g_stop && std::chrono::steady_clock::now() < next)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return code;
}

}  // namespace

void register_haproxy_sync(CLI::App &app, int &exit_code) {
  auto opts = std::make_shared<SyncOptions>();
  CLI::App *cmd = app.add_subcommand(
      "haproxy-sync",
      "Push lbkit's weights and states to HAProxy's runtime API, sending only differences");
  cmd->add_option("-c,--config", opts->config_path, "lbctl INI configuration")->required();
  cmd->add_option("--socket", opts->socket,
                  "HAProxy runtime API: unix socket PATH or HOST:PORT (stats socket, level admin)")
      ->required();
  cmd->add_option("--backend", opts->backend, "HAProxy backend to update")->required();
  cmd->add_option("--pool", opts->pool,
                  "pool of the configuration (default: the pool named like the backend, or "
                  "the only pool)");
  cmd->add_option("--state", opts->state_path,
                  "read node states from the canary's state file (lbctl watch) instead of "
                  "probing");
  cmd->add_flag("--dry-run", opts->dry_run, "print the commands, send none");
  cmd->add_option("--interval", opts->interval,
                  "keep syncing every DURATION (e.g. 5s) until SIGINT/SIGTERM; default: once");
  cmd->add_option("--min-change", opts->min_change_pct,
                  "smallest weight change sent, in percentage points of the initial weight "
                  "(default 5)")
      ->check(CLI::Range(0, 100));
  cmd->add_option("--timeout", opts->timeout, "runtime API timeout per command (default 5s)");
  cmd->footer("Exit codes: 0 done, 2 usage/config error, 4 runtime API failure or a refused "
              "command.");
  cmd->callback([opts, &exit_code]() { exit_code = run_sync(*opts); });
}

}  // namespace lbctl
