// cli/samples.h - timing samples of one quantity over probe rounds and
// their percentiles (probe's summary, watch's and the agent's state).
#pragma once

#include <cstddef>
#include <vector>

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

}  // namespace lbctl
