// cli/probe_round.h - running probe rounds on a libevent loop: all targets
// of a round through one Prober (RoundRunner, or run_round() blocking on a
// loop of its own), and which nodes a round probes when each node has its
// own interval (RoundSchedule).  The targets and the results are a
// ProbeSession's (probe_session.h).
#pragma once

#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lbkit/probe.h"

struct event_base;

namespace lbctl {

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

}  // namespace lbctl
