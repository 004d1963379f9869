// api_pick_bench.cc - ns per pick+release with peers added the way the nginx
// module's API adds them (into a pool with spare capacity, administratively
// down first, then put in service; ids freed by deletions reused), next to
// the same peers added at configuration time, measured in the same run.  A
// summary gives the ratio api / configured per method at 4 and 1000 peers.
// Goal: the ratio is 1 (an API-added peer costs a pick what a configured one
// does).  Not a test: nothing here fails.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "lbkit.h"

namespace {

const int PEER_COUNTS[] = {4, 1000};
const char *const METHODS[] = {"round_robin", "least_conn", "random", "p2c",
                               "peak_ewma", "first", "hash", "maglev"};
constexpr uint32_t SPARE = 64;  // the module's default extra capacity

std::string name_of(int i) {
  return "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256) +
         ":8080";
}

uint32_t add(lbk_pool *pool, const std::string &name, bool down) {
  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  pc.name = name.c_str();
  pc.weight = 1;
  pc.down = down ? 1 : 0;
  uint32_t id = LBK_PEER_NONE;
  if (lbk_pool_add(&id, pool, &pc) != 0)
    std::fprintf(stderr, "api_pick_bench: %s\n", lbk_error_last());
  return id;
}

// @api: the module's API path (spare room, down-then-up, churned ids).
lbk_pool *make_pool(const std::string &method, int peers, bool api) {
  lbk_pool_options o = LBK_POOL_OPTIONS_INIT;
  o.method = method.c_str();
  o.max_peers = static_cast<uint32_t>(peers) + (api ? SPARE : 0);
  o.seed = 7;
  lbk_pool *pool = nullptr;
  if (lbk_pool_create(&pool, &o) != 0) {
    std::fprintf(stderr, "api_pick_bench: %s\n", lbk_error_last());
    return nullptr;
  }
  if (!api) {
    for (int i = 0; i < peers; ++i) add(pool, name_of(i), false);
    return pool;
  }
  // half of the peers "configured", the rest added, a batch deleted and
  // added again so that ids are reused, as a scale-out/scale-in leaves them
  for (int i = 0; i < peers / 2; ++i) add(pool, name_of(i), false);
  std::vector<uint32_t> churn;
  for (int i = peers / 2; i < peers; ++i) {
    uint32_t id = add(pool, name_of(i), true);
    lbk_pool_set_state(pool, id, LBK_ADMIN_UP);
    if (i % 4 == 0) churn.push_back(id);
  }
  for (uint32_t id : churn) lbk_pool_remove(pool, id);
  for (size_t k = 0; k < churn.size(); ++k) {
    uint32_t id = add(pool, name_of(peers + static_cast<int>(k)), true);
    lbk_pool_set_state(pool, id, LBK_ADMIN_UP);
  }
  return pool;
}

std::map<std::string, double> g_ns;

void BM_PickRelease(benchmark::State &state, std::string method, int peers,
                    bool api) {
  lbk_pool *pool = make_pool(method, peers, api);
  bool keyed = method == "hash" || method == "maglev";
  std::vector<std::string> keys;
  for (int i = 0; i < 1024; ++i) keys.push_back("/k/" + std::to_string(i * 7919));
  size_t k = 0;
  lbk_outcome oc = LBK_OUTCOME_INIT;
  oc.latency_us = 1000;
  for (auto _ : state) {
    uint32_t id;
    const std::string &key = keys[k++ & 1023];
    if (lbk_pool_pick(&id, pool, keyed ? key.data() : nullptr,
                      keyed ? key.size() : 0, nullptr, 0) == 0)
      lbk_pool_release(pool, id, &oc);
  }
  lbk_pool_free(pool);
}

class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run> &runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run &r : runs)
      g_ns[r.benchmark_name()] = r.GetAdjustedCPUTime();
  }
};

}  // namespace

int main(int argc, char **argv) {
  for (const char *m : METHODS)
    for (int n : PEER_COUNTS)
      for (bool api : {false, true})
        benchmark::RegisterBenchmark(
            (std::string(api ? "api/" : "configured/") + m + "/" +
             std::to_string(n)).c_str(),
            BM_PickRelease, std::string(m), n, api);
  benchmark::Initialize(&argc, argv);
  Collector reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\n%-12s %6s %14s %10s %8s\n", "method", "peers",
              "configured ns", "api ns", "ratio");
  for (const char *m : METHODS)
    for (int n : PEER_COUNTS) {
      std::string suffix = std::string(m) + "/" + std::to_string(n);
      double c = g_ns["configured/" + suffix], a = g_ns["api/" + suffix];
      if (c > 0 && a > 0)
        std::printf("%-12s %6d %14.1f %10.1f %8.2f\n", m, n, c, a, a / c);
    }
  return 0;
}
