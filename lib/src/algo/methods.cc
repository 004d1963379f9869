// methods.cc - the registry of balancing methods: ids, names and aliases
// (nginx and HAProxy spellings), ops tables.
#include "algo/methods.h"

#include <cstring>

namespace lbk {

// The registry: one line per method, its ops table (algo/NAME.cc), its
// canonical name, its aliases (space-separated) and whether its ops depend
// on the pool's hash_kind (then the line names the ketama default).  A
// method's id is its line's index, stored in placed blocks: append only.
#define LBK_METHOD_REGISTRY(X)                                                 \
  X(round_robin_ops, "round_robin", "roundrobin rr static-rr", false)          \
  X(least_conn_ops, "least_conn", "leastconn", false)                          \
  X(random_ops, "random", "", false)                                           \
  X(p2c_ops, "p2c", "random2", false)                                          \
  X(peak_ewma_ops, "peak_ewma", "ewma", false)                                 \
  X(fastest_ops, "fastest", "", false)                                         \
  X(first_ops, "first", "", false)                                             \
  X(ketama_ops, "hash", "consistent", true)                                    \
  X(maglev_ops, "maglev", "", false)                                           \
  X(ketama_ops, "source", "", true)

#define LBK_DECLARE_OPS(ops, name, aliases, by_hash_kind) extern const AlgoOps ops;
LBK_METHOD_REGISTRY(LBK_DECLARE_OPS)
#undef LBK_DECLARE_OPS
// The hash family: the variants a hash_kind selects.
extern const AlgoOps maglev_ops;
extern const AlgoOps modulo_hash_ops;

namespace {

struct Method {
  const char *name;
  const char *aliases;
  const AlgoOps *ops;
  bool by_hash_kind;
};

#define LBK_METHOD_ROW(ops, name, aliases, by_hash_kind) {name, aliases, &ops, by_hash_kind},
const Method methods[] = {LBK_METHOD_REGISTRY(LBK_METHOD_ROW)};
#undef LBK_METHOD_ROW

constexpr uint32_t method_count = sizeof methods / sizeof methods[0];

// Is @p name one of the space-separated words of @p list?
bool in_word_list(const char *list, const char *name) {
  const size_t len = std::strlen(name);
  for (const char *p = list; *p != '\0';) {
    const char *end = std::strchr(p, ' ');
    const size_t n = end ? static_cast<size_t>(end - p) : std::strlen(p);
    if (n == len && std::strncmp(p, name, len) == 0) return true;
    p += n;
    if (*p == ' ') ++p;
  }
  return false;
}

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
  if (name == nullptr || name[0] == '\0') return -1;
  for (uint32_t m = 0; m < method_count; ++m)
    if (std::strcmp(methods[m].name, name) == 0 ||
        in_word_list(methods[m].aliases, name))
      return static_cast<int>(m);
  if (method_draws_from_name(name) != 0) return method_from_name("p2c");
  return -1;
}

const char *method_canonical_name(uint32_t method) {
  return method < method_count ? methods[method].name : "unknown";
}

const AlgoOps *method_ops(uint32_t method, int hash_kind) {
  if (method >= method_count) return nullptr;
  if (methods[method].by_hash_kind) {
    if (hash_kind == LBK_HASH_MAGLEV) return &maglev_ops;
    if (hash_kind == LBK_HASH_MODULO) return &modulo_hash_ops;
  }
  return methods[method].ops;
}

}  // namespace lbk
