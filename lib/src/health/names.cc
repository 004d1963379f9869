// names.cc - lbk_check_kind_name / lbk_check_kind_from_name /
// lbk_check_outcome_name: the one table of the names users see for check
// kinds (configurations, status pages, event reasons) and check outcomes
// (status pages, logs, lbctl).  Front ends show these; none keeps a copy.
#include <cstring>

#include "lbkit.h"

namespace {

struct KindName {
  int kind;
  const char *name;
};

// Every enum lbk_check_kind, in its order.
constexpr KindName kKindNames[] = {
    {LBK_CHECK_TCP, "tcp"},         {LBK_CHECK_HTTP, "http"},
    {LBK_CHECK_HTTPS, "https"},     {LBK_CHECK_JSONRPC, "jsonrpc"},
    {LBK_CHECK_AGENT, "agent"},
};

// Indexed by enum lbk_check_outcome (LBK_CHECK_PASS = 0 onwards).
constexpr const char *kOutcomeNames[] = {
    "pass",     "connect", "timeout", "tls",     "dns",   "protocol", "status",
    "body",     "jsonrpc", "lag",     "version", "limit", "agent",
};

static_assert(sizeof kOutcomeNames / sizeof kOutcomeNames[0] == LBK_CHECK_FAIL_AGENT + 1,
              "every enum lbk_check_outcome has a name");

}  // namespace

extern "C" {

LBK_EXTERN const char *lbk_check_kind_name(int kind) {
  for (const KindName &k : kKindNames) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

LBK_EXTERN int lbk_check_kind_from_name(const char *name, size_t len) {
  if (name == nullptr) return 0;
  for (const KindName &k : kKindNames) {
    if (std::strlen(k.name) == len && std::memcmp(k.name, name, len) == 0) return k.kind;
  }
  return 0;
}

LBK_EXTERN const char *lbk_check_outcome_name(int outcome) {
  if (outcome < 0 || static_cast<size_t>(outcome) >= sizeof kOutcomeNames / sizeof kOutcomeNames[0])
    return "unknown";
  return kOutcomeNames[outcome];
}

}  // extern "C"
