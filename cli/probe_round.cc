// cli/probe_round.cc - probe rounds on a libevent loop (probe_round.h).
#include "probe_round.h"

#include <event2/event.h>

#include <algorithm>
#include <stdexcept>

#include "output.h"

namespace lbctl {

RoundRunner::RoundRunner(event_base *base, const lbk::probe::Options &opts)
    : prober_(new lbk::probe::Prober(base, opts)) {}

RoundRunner::~RoundRunner() = default;

void RoundRunner::start(const std::vector<lbk::probe::Target> &targets,
                        std::function<void(std::vector<lbk::probe::Result>)> done) {
  const uint64_t generation = ++generation_;
  results_.assign(targets.size(), lbk::probe::Result{});
  remaining_ = targets.size();
  done_ = std::move(done);
  if (targets.empty()) {
    auto cb = std::move(done_);
    cb(std::move(results_));
    return;
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    prober_->start(targets[i], [this, i, generation](const lbk::probe::Result &r) {
      if (generation != generation_ || remaining_ == 0) return;
      results_[i] = r;
      if (--remaining_ == 0) {
        auto cb = std::move(done_);
        cb(std::move(results_));
      }
    });
  }
}

namespace {

struct BlockingRound {
  event_base *base = nullptr;
  RoundRunner *runner = nullptr;
  Progress *progress = nullptr;
  std::string label;
  std::chrono::steady_clock::time_point started;
};

void on_progress_tick(evutil_socket_t, short, void *arg) {
  auto *b = static_cast<BlockingRound *>(arg);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - b->started).count();
  const size_t total = b->runner->total();
  b->progress->update(b->label + ": " + std::to_string(total - b->runner->remaining()) + "/" +
                          std::to_string(total) + " done, " +
                          std::to_string(static_cast<int>(elapsed)) + " s",
                      elapsed);
}

}  // namespace

std::vector<lbk::probe::Result> run_round(const std::vector<lbk::probe::Target> &targets,
                                          const lbk::probe::Options &opts,
                                          const std::string &progress_label,
                                          std::chrono::steady_clock::time_point run_started) {
  event_base *base = event_base_new();
  if (!base) throw std::runtime_error("cannot create an event loop");
  std::vector<lbk::probe::Result> results;
  Progress progress;
  {
    RoundRunner runner(base, opts);
    if (run_started == std::chrono::steady_clock::time_point{})
      run_started = std::chrono::steady_clock::now();
    BlockingRound b{base, &runner, &progress, progress_label, run_started};
    event *tick = event_new(base, -1, EV_PERSIST, on_progress_tick, &b);
    const timeval every{0, 250000};
    event_add(tick, &every);
    bool finished = false;
    runner.start(targets, [&](std::vector<lbk::probe::Result> r) {
      results = std::move(r);
      finished = true;
      event_base_loopbreak(base);
    });
    if (!finished) event_base_dispatch(base);
    event_free(tick);
  }
  progress.finish();
  event_base_free(base);
  return results;
}

RoundSchedule::RoundSchedule(size_t nodes)
    : interval_ms_(nodes, 0), due_at_(nodes, Clock::time_point::min()), in_round_(nodes, false) {}

const std::vector<bool> &RoundSchedule::begin(Clock::time_point now) {
  started_ = now;
  for (size_t i = 0; i < due_at_.size(); ++i) in_round_[i] = due_at_[i] <= now + std::chrono::milliseconds(1);
  return in_round_;
}

timeval RoundSchedule::finish(Clock::time_point now, const std::function<uint32_t(size_t)> &interval_ms) {
  auto next = Clock::time_point::max();
  for (size_t i = 0; i < due_at_.size(); ++i) {
    if (in_round_[i]) {
      interval_ms_[i] = std::max<uint32_t>(1, interval_ms(i));
      due_at_[i] = started_ + std::chrono::milliseconds(interval_ms_[i]);
    }
    next = std::min(next, due_at_[i]);
  }
  const int64_t wait_us =
      next == Clock::time_point::max()
          ? 1000000
          : std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(next - now).count());
  return timeval{static_cast<time_t>(wait_us / 1000000), static_cast<suseconds_t>(wait_us % 1000000)};
}

uint32_t RoundSchedule::period_ms() const {
  uint32_t shortest = 0;
  for (uint32_t ms : interval_ms_)
    if (ms && (shortest == 0 || ms < shortest)) shortest = ms;
  return shortest;
}

}  // namespace lbctl
