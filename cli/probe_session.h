// cli/probe_session.h - probing rounds over every node of a Config, with
// health kept in liblbkit pools (rise/fall, JSON-RPC lag against the best
// healthy head via lbk_pool_report_check) and per-node timing samples.
//
// Used by probe, rank, forward (fresh probe) and watch.  One round probes
// every node once, concurrently, through lbk::probe::Prober.
#pragma once

#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "node_options.h"
#include "lbkit.h"
#include "lbkit/probe.h"
#include "state_file.h"

struct event_base;

namespace lbctl {

// min, p50, p95 and max of some samples (ms); -1 each when there are none.
struct SampleSummary {
  double min = -1, p50 = -1, p95 = -1, max = -1;
};

// Samples of one quantity over rounds (milliseconds), for min/p50/p95/max.
// Keeps the latest kMaxSamples values (a ring; order does not matter to
// percentiles), so long-running callers (watch, agent) use bounded memory.
struct Samples {
  static constexpr size_t kMaxSamples = 1024;
  std::vector<double> values;
  size_t next = 0;  // ring position once full
  void add(double v) {
    if (v < 0) return;
    if (values.size() < kMaxSamples) {
      values.push_back(v);
    } else {
      values[next] = v;
      next = (next + 1) % kMaxSamples;
    }
  }
  // Nearest-rank percentile (p in 0..100) of the samples; -1 when empty.
  double percentile(double p) const;
  double min() const { return percentile(0); }
  double max() const { return percentile(100); }
  // All four from one sorted copy (none for a single sample), where
  // percentile() sorts on each call.
  SampleSummary summary() const;
};

struct NodeRun {
  size_t pool_index = 0;
  ServerConfig server;
  uint32_t peer_id = LBK_PEER_NONE;
  const lbk_check *check = nullptr;  // shared by the pool's nodes with this path
  std::string headers;               // pool and server header lines, '\n'-joined
  const lbk_check *version_check = nullptr;  // JSON-RPC: the profile's version call, or null
  const lbk_check *chain_id_check = nullptr; // JSON-RPC: the profile's chain-id call, or null
  std::string chain_id;              // as the node last reported it, "" = unknown
  bool has_result = false;
  lbk::probe::Result last;           // the latest round's result
  std::string outcome = "unknown";   // last round: pass, timeout, ..., lag
  std::string error;                 // last round's failure text, "" if passed
  bool healthy = true;               // rise/fall health (up or unknown)
  int64_t lag = 0;
  std::string version;               // JSON-RPC client version, "" = unknown
  Samples dns, connect, tls, first_byte, total;
  uint64_t checks = 0, failed = 0, consecutive_failures = 0;
  int64_t last_check_unix_ms = 0, last_change_unix_ms = 0;
};

class ProbeSession {
 public:
  ProbeSession() = default;
  ~ProbeSession();
  ProbeSession(const ProbeSession &) = delete;
  ProbeSession &operator=(const ProbeSession &) = delete;

  // Compiles the checks and creates one pool per configured pool.
  bool init(const Config &config, std::string &error);
  // After init(): nodes that @p old also has (same pool name and URL) take
  // its health (rise/fall counters, lag, results, samples), so a session
  // rebuilt for a changed server set (lbctl sync) keeps its history.
  void keep_state_of(const ProbeSession &old);

  // The targets of one round, in nodes() order.  With @p with_versions
  // (an identity round: the first, then one in kIdentityEvery), JSON-RPC
  // nodes get a version target and a chain-id target each, appended after
  // all the health targets: the other rounds cost one request per node.
  std::vector<lbk::probe::Target> targets(bool with_versions) const;
  // Feeds one round's results (as many as targets(with_versions) gave).
  void absorb(const std::vector<lbk::probe::Result> &results, bool with_versions);
  // The same for a round of some nodes only (@p node_due[i]: node i is in
  // it).  Disabled servers (ServerConfig::disabled) are in no round.
  std::vector<lbk::probe::Target> targets(bool with_versions,
                                          const std::vector<bool> &node_due) const;
  void absorb(const std::vector<lbk::probe::Result> &results, bool with_versions,
              const std::vector<bool> &node_due);
  // Milliseconds until node @p i's next check, by its health as the pool
  // judges it: its pool's interval while steady, fastinter while changing
  // (and before the first verdict), downinter while down.
  uint32_t next_check_ms(size_t i) const;

  const std::vector<NodeRun> &nodes() const { return nodes_; }
  const Config &config() const { return config_; }
  uint64_t rounds() const { return rounds_; }
  // Rounds between identity rounds (chain id and client version asked).
  static constexpr uint64_t kIdentityEvery = 60;
  // Whether the next round is an identity round.
  bool identity_due() const { return rounds_ % kIdentityEvery == 0; }
  // Node states grouped per pool (in config order, nodes in config order).
  State snapshot(uint32_t interval_ms) const;
  lbk::probe::Options probe_options() const;

 private:
  struct PoolRun {
    lbk_pool *pool = nullptr;
    // One compiled check per distinct request path and header set (a check
    // renders both; nodes of a pool differ by URL and server headers), and
    // for JSON-RPC pools one version and one chain-id check per such key.
    std::map<std::string, lbk_check *> checks_by_path;
    std::map<std::string, lbk_check *> version_checks_by_path;
    std::map<std::string, lbk_check *> chain_id_checks_by_path;
    std::string disagreement;  // the last chain-id disagreement reported
  };
  // Node @p i is probed in a round of @p node_due: due and not disabled
  // (a disabled server is never probed).
  // Says on stderr when the nodes of a pool report different chain ids
  // (once per change).
  void report_chain_disagreement();
  bool probed(size_t i, const std::vector<bool> &node_due) const {
    return node_due[i] && !nodes_[i].server.disabled;
  }

  Config config_;
  std::vector<PoolRun> pools_;
  std::vector<NodeRun> nodes_;
  uint64_t rounds_ = 0;
};

// Runs targets on @p base through a Prober and calls @p done with the
// results in target order once all have finished.
class RoundRunner {
 public:
  RoundRunner(event_base *base, const lbk::probe::Options &opts);
  ~RoundRunner();
  void start(const std::vector<lbk::probe::Target> &targets,
             std::function<void(std::vector<lbk::probe::Result>)> done);
  size_t remaining() const { return remaining_; }
  size_t total() const { return results_.size(); }

 private:
  std::unique_ptr<lbk::probe::Prober> prober_;
  std::vector<lbk::probe::Result> results_;
  size_t remaining_ = 0;
  uint64_t generation_ = 0;  // ignores callbacks of an abandoned round
  std::function<void(std::vector<lbk::probe::Result>)> done_;
};

// When the canary (watch) and the agent probe which nodes: a round probes
// the nodes that are due; a node is due again its next-check interval
// (HAProxy's inter, fastinter or downinter) after its round started, at
// once if the round took longer.
class RoundSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RoundSchedule(size_t nodes);
  // Starts a round at @p now: the nodes due (within a millisecond).
  const std::vector<bool> &begin(Clock::time_point now);
  // Ends the round begun last; @p interval_ms(i) is the interval of node i
  // of the round from its start.  Returns the time until the next is due.
  timeval finish(Clock::time_point now, const std::function<uint32_t(size_t)> &interval_ms);
  // The shortest interval in use: the state is rewritten at least this
  // often (0 before the first round ends).
  uint32_t period_ms() const;

 private:
  std::vector<uint32_t> interval_ms_;
  std::vector<Clock::time_point> due_at_;
  std::vector<bool> in_round_;
  Clock::time_point started_;
};

// Blocking: one round on a private loop; shows a progress line on stderr
// (terminal only) once the whole run, begun at @p run_started (default:
// now), is longer than a second.
std::vector<lbk::probe::Result> run_round(const std::vector<lbk::probe::Target> &targets,
                                          const lbk::probe::Options &opts,
                                          const std::string &progress_label,
                                          std::chrono::steady_clock::time_point run_started = {});

// Probes the nodes @p rounds times (@p interval_ms apart; the first round
// also asks JSON-RPC nodes their client version) and returns the session's
// snapshot.  Used by probe-like commands that need fresh state.
void probe_rounds(ProbeSession &session, unsigned rounds, uint32_t interval_ms);

// The state rank and forward work from: read from @p state_path when it is
// not empty (keeping only --pool when given), else a fresh probe of the
// nodes in @p opts (@p rounds rounds).  Prints what is wrong on stderr and
// returns kExitUsage (bad options/config) or kExitRuntime (unreadable
// state); kExitOk on success.
int gather_state(const NodeOptions &opts, const std::string &state_path, unsigned rounds,
                 uint32_t interval_ms, State &out);

// Exit code for @p healthy of @p total nodes: 0 all, 1 some, 3 none (or no nodes).
int health_exit_code(size_t healthy, size_t total);
// The same over the nodes of @p state that are not disabled.
int state_exit_code(const State &state);

}  // namespace lbctl
