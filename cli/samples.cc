// cli/samples.cc - nearest-rank percentiles of Samples (samples.h).
#include "samples.h"

#include <algorithm>
#include <cmath>

namespace lbctl {

namespace {

// Nearest-rank percentile (p in 0..100) of @p sorted (ascending, not empty):
// the smallest value with at least p% of the values <= it.
double nearest_rank(const std::vector<double> &sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

}  // namespace

double Samples::percentile(double p) const {
  if (values.empty()) return -1;
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  return nearest_rank(sorted, p);
}

SampleSummary Samples::summary() const {
  SampleSummary s;
  if (values.empty()) return s;
  std::vector<double> copy;
  if (values.size() > 1) {
    copy = values;
    std::sort(copy.begin(), copy.end());
  }
  const std::vector<double> &sorted = values.size() > 1 ? copy : values;
  s.min = sorted.front();
  s.p50 = nearest_rank(sorted, 50);
  s.p95 = nearest_rank(sorted, 95);
  s.max = sorted.back();
  return s;
}

}  // namespace lbctl
