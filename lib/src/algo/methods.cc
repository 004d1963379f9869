// methods.cc - method names and aliases (nginx and HAProxy spellings).
#include "algo/methods.h"

#include <cstring>

namespace lbk {
namespace {

struct MethodName {
  const char *name;
  MethodId method;
};

// Canonical names first; each canonical name is its method's first entry.
const MethodName method_names[] = {
    {"round_robin", METHOD_ROUND_ROBIN}, {"roundrobin", METHOD_ROUND_ROBIN},
    {"rr", METHOD_ROUND_ROBIN},          {"static-rr", METHOD_ROUND_ROBIN},
    {"least_conn", METHOD_LEAST_CONN},   {"leastconn", METHOD_LEAST_CONN},
    {"random", METHOD_RANDOM},           {"p2c", METHOD_P2C},
    {"random2", METHOD_P2C},             {"peak_ewma", METHOD_PEAK_EWMA},
    {"ewma", METHOD_PEAK_EWMA},          {"fastest", METHOD_FASTEST},
    {"first", METHOD_FIRST},             {"hash", METHOD_HASH},
    {"consistent", METHOD_HASH},         {"maglev", METHOD_MAGLEV},
    {"source", METHOD_SOURCE},
};

}  // namespace

uint32_t method_draws_from_name(const char *name) {
  // HAProxy's "random(N)": N weighted draws, the least loaded wins.
  if (name == nullptr || std::strncmp(name, "random(", 7) != 0) return 0;
  uint32_t n = 0;
  const char *p = name + 7;
  for (; *p >= '0' && *p <= '9' && n <= 64; ++p) n = n * 10 + uint32_t(*p - '0');
  if (p == name + 7 || p[0] != ')' || p[1] != '\0' || n < 1 || n > 64) return 0;
  return n;
}

int method_from_name(const char *name) {
  if (name == nullptr) return -1;
  for (const MethodName &m : method_names)
    if (std::strcmp(m.name, name) == 0) return static_cast<int>(m.method);
  if (method_draws_from_name(name) != 0) return METHOD_P2C;
  return -1;
}

const char *method_canonical_name(uint32_t method) {
  for (const MethodName &m : method_names)
    if (m.method == method) return m.name;
  return "unknown";
}

const AlgoOps *method_ops(uint32_t method, int hash_kind) {
  switch (method) {
    case METHOD_ROUND_ROBIN: return &round_robin_ops;
    case METHOD_LEAST_CONN: return &least_conn_ops;
    case METHOD_RANDOM: return &random_ops;
    case METHOD_P2C: return &p2c_ops;
    case METHOD_PEAK_EWMA: return &peak_ewma_ops;
    case METHOD_FASTEST: return &fastest_ops;
    case METHOD_FIRST: return &first_ops;
    case METHOD_MAGLEV: return &maglev_ops;
    case METHOD_HASH:
    case METHOD_SOURCE:
      if (hash_kind == LBK_HASH_MAGLEV) return &maglev_ops;
      if (hash_kind == LBK_HASH_MODULO) return &modulo_hash_ops;
      return &ketama_ops;
    default: return nullptr;
  }
}

}  // namespace lbk
