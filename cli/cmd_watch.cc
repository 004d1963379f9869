// cli/cmd_watch.cc - `lbctl watch`: the canary.  Probes each node at its
// pool's interval, fastinter while its health changes, downinter while it
// is down (--interval: one interval for all) on one libevent loop, keeps
// rise/fall health, and writes the pool state file atomically after every
// round (state_file.h) for rank, forward, agent and haproxy-sync to read.
// A round probes the nodes that are due; one due while a round runs waits
// for it to end.  SIGINT/SIGTERM stop it cleanly
// (in-flight probes are cancelled; the last complete state stays on disk).
//
// Every line it logs on stderr starts with an RFC 3339 UTC timestamp; -v
// adds one summary line per round.  --metrics-listen serves the nodes'
// state and last probes as Prometheus metrics (metrics.h).
//
// Exit codes: 0 stopped by a signal (or, with --once, all healthy), 1/3 with
// --once when some/none are healthy, 2 usage or config error, 4 the state
// file cannot be written (--once, or the first round) or the metrics address
// cannot be bound.
#include <CLI/CLI.hpp>
#include <event2/event.h>

#include <chrono>
#include <cstdarg>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "metrics.h"
#include "node_options.h"
#include "output.h"
#include "probe_round.h"
#include "probe_session.h"

namespace lbctl {

namespace {

struct WatchArgs {
  NodeOptions nodes;
  std::string state_path;
  std::string interval;
  std::string metrics_listen;
  bool once = false;
  bool quiet = false;
  bool verbose = false;
};

struct Watch {
  const WatchArgs *args = nullptr;
  ProbeSession session;
  event_base *base = nullptr;
  std::unique_ptr<RoundRunner> runner;
  event *timer = nullptr;
  std::unique_ptr<RoundSchedule> schedule;
  uint32_t forced_ms = 0;                   // --interval, else 0
  std::vector<bool> in_round;               // nodes of the running round
  std::string state_path;
  std::map<std::string, std::string> last_health;  // url -> up/down
  State state;                              // of the last round (for /metrics)
  MetricsServer metrics;
  std::chrono::steady_clock::time_point round_started;
  int exit_code = kExitOk;
  bool stopping = false;
};

// One line on stderr: "<RFC 3339 time> lbctl watch: <text>".
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_line(const char *fmt, ...) {
  std::string line = rfc3339_utc(unix_now_ms()) + " lbctl watch: ";
  char text[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  line += text;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void start_round(Watch &w);

void on_timer(evutil_socket_t, short, void *arg) { start_round(*static_cast<Watch *>(arg)); }

void on_signal(evutil_socket_t sig, short, void *arg) {
  auto &w = *static_cast<Watch *>(arg);
  if (!w.args->quiet) log_line("%s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  w.stopping = true;
  w.exit_code = kExitOk;
  event_base_loopbreak(w.base);
}

void finish_round(Watch &w, std::vector<lbk::probe::Result> results) {
  const bool with_versions = w.session.identity_due();
  w.session.absorb(results, with_versions, w.in_round);
  const timeval next_round = w.schedule->finish(std::chrono::steady_clock::now(), [&w](size_t i) {
    return w.forced_ms ? w.forced_ms : w.session.next_check_ms(i);
  });
  w.state = w.session.snapshot(w.schedule->period_ms());
  const State &state = w.state;
  size_t up = 0, down = 0, other = 0, changed = 0, probed = 0;
  for (bool due : w.in_round) probed += due ? 1 : 0;
  for (const PoolState &p : state.pools)
    for (const NodeState &n : p.nodes) {
      const std::string health = n.disabled ? "disabled" : n.health;
      (health == "up" ? up : health == "down" ? down : other)++;
      auto &prev = w.last_health[p.name + "\n" + n.url];
      if (prev != health) ++changed;
      if (!w.args->quiet && prev != health)
        log_line("pool %s node %s: %s%s%s", p.name.c_str(), n.name.c_str(),
                 prev.empty() ? "" : (prev + " -> ").c_str(), health.c_str(),
                 n.reason.empty() ? "" : (" (" + n.reason + ")").c_str());
      prev = health;
    }
  if (w.args->verbose && !w.args->quiet) {
    const double took_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w.round_started).count();
    log_line("round %llu: probed %zu in %.1f ms; %zu up, %zu down, %zu other; %zu changed; next in %ld ms",
             static_cast<unsigned long long>(state.round), probed, took_ms, up, down, other, changed,
             static_cast<long>(next_round.tv_sec * 1000 + next_round.tv_usec / 1000));
  }
  std::string error;
  const bool first = state.round == 1;
  if (!write_state_file(w.state_path, state, error)) {
    log_line("%s", error.c_str());
    if (w.args->once || first) {
      w.exit_code = kExitRuntime;
      event_base_loopbreak(w.base);
      return;
    }
  }
  if (w.args->once) {
    w.exit_code = state_exit_code(state);
    event_base_loopbreak(w.base);
    return;
  }
  evtimer_add(w.timer, &next_round);
}

void start_round(Watch &w) {
  if (w.stopping) return;
  w.round_started = std::chrono::steady_clock::now();
  w.in_round = w.schedule->begin(w.round_started);
  const bool with_versions = w.session.identity_due();
  w.runner->start(w.session.targets(with_versions, w.in_round),
                  [&w](std::vector<lbk::probe::Result> r) { finish_round(w, std::move(r)); });
}

int watch(const WatchArgs &args) {
  Config config;
  if (!resolve_config(args.nodes, config)) return kExitUsage;
  Watch w;
  w.args = &args;
  w.state_path = args.state_path.empty() ? config.global.state_file : args.state_path;
  if (w.state_path.empty()) {
    std::fprintf(stderr, "lbctl watch: no state file: give --state FILE (or state_file in [lbctl])\n");
    return kExitUsage;
  }
  if (!args.interval.empty()) {
    if (!parse_duration_ms(args.interval, w.forced_ms) || w.forced_ms == 0) {
      std::fprintf(stderr, "lbctl watch: --interval: %s\n", duration_problem(args.interval).c_str());
      return kExitUsage;
    }
  } else if (args.nodes.config_path.empty()) {
    w.forced_ms = 5000;  // nodes from the command line
  }
  std::string error;
  if (!w.session.init(config, error)) {
    std::fprintf(stderr, "lbctl watch: %s\n", error.c_str());
    return kExitUsage;
  }
  w.base = event_base_new();
  if (!w.base) {
    std::fprintf(stderr, "lbctl watch: cannot create an event loop\n");
    return kExitRuntime;
  }
  w.runner.reset(new RoundRunner(w.base, w.session.probe_options()));
  w.schedule.reset(new RoundSchedule(w.session.nodes().size()));
  w.timer = evtimer_new(w.base, on_timer, &w);
  event *sigint = evsignal_new(w.base, SIGINT, on_signal, &w);
  event *sigterm = evsignal_new(w.base, SIGTERM, on_signal, &w);
  event_add(sigint, nullptr);
  event_add(sigterm, nullptr);
  if (!args.metrics_listen.empty()) {
    if (!w.metrics.start(w.base, args.metrics_listen,
                         [&w]() { return render_metrics(w.state, &w.session, "watch", unix_now_ms()); },
                         error)) {
      std::fprintf(stderr, "lbctl watch: %s\n", error.c_str());
      w.exit_code = kExitRuntime;
    } else {
      std::printf("metrics listening %s\n", w.metrics.bound().c_str());
      std::fflush(stdout);
    }
  }
  if (w.exit_code == kExitOk && !args.quiet && !args.once) {
    const std::string when =
        w.forced_ms ? "every " + std::to_string(w.forced_ms) + " ms" : "at their pools' intervals";
    log_line("%zu node%s %s, state in %s", w.session.nodes().size(), w.session.nodes().size() == 1 ? "" : "s",
             when.c_str(), w.state_path.c_str());
  }
  if (w.exit_code == kExitOk) {
    start_round(w);
    event_base_dispatch(w.base);
  }
  w.runner.reset();  // cancels probes in flight
  w.metrics.stop();
  event_free(sigint);
  event_free(sigterm);
  event_free(w.timer);
  event_base_free(w.base);
  return w.exit_code;
}

}  // namespace

void register_watch(CLI::App &app, int &exit_code) {
  CLI::App *cmd = app.add_subcommand(
      "watch", "The canary: probe every interval and keep the pool state in a JSON state file");
  auto args = std::make_shared<WatchArgs>();
  add_node_options(cmd, args->nodes);
  cmd->add_option("--state", args->state_path, "State file to write (default: state_file of [lbctl])");
  cmd->add_option("-i,--interval", args->interval,
                  "Probe every node at this interval (default: its pool's interval, fastinter and "
                  "downinter; 5s for nodes given as URLs)");
  cmd->add_flag("--once", args->once, "One round, write the state, exit with the health exit code");
  cmd->add_flag("-q,--quiet", args->quiet, "Do not log health changes on stderr");
  cmd->add_flag("-v,--verbose", args->verbose, "Log one summary line per round on stderr");
  cmd->add_option("--metrics-listen", args->metrics_listen,
                  "Serve Prometheus metrics on http://ADDR:PORT/metrics (PORT alone: 127.0.0.1)");
  cmd->footer(
      "The state file is replaced atomically (temp file + fsync + rename) after every round.\n"
      "Exit codes: 0 stopped by SIGINT/SIGTERM (--once: all healthy), 1 some unhealthy (--once),\n"
      "2 usage or config error, 3 none healthy (--once), 4 state file not writable or metrics\n"
      "address not bindable.");
  cmd->callback([args, &exit_code]() { exit_code = watch(*args); });
}

}  // namespace lbctl
