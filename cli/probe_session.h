// cli/probe_session.h - probing rounds over every node of a Config, with
// health kept in liblbkit pools (rise/fall, JSON-RPC lag against the best
// healthy head via lbk_pool_report_check) and per-node timing samples.
//
// Used by probe, rank, forward (fresh probe), watch, agent, haproxy-sync and
// sync.  One round probes every node once, concurrently, through
// lbk::probe::Prober.  What the session knows of each node is a NodeRun
// (node_run.h); rounds run on an event loop through probe_round.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config.h"
#include "lbkit.h"
#include "lbkit/probe.h"
#include "node_options.h"
#include "node_run.h"
#include "state_file.h"

namespace lbctl {

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


}  // namespace lbctl
