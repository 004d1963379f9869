// struct_init.cc - lbk_*_init(): each versioned struct a caller fills, set
// as its LBK_*_INIT macro sets it, for callers without a C preprocessor.
// A caller's struct of version v owns struct_size<T>(v) bytes (api.h); only
// those are written.
#include <cstring>

#include "api.h"
#include "health/check_internal.h"

namespace lbk {
namespace {

// Copies the first struct_size<T>(version) bytes of @p defaults (a struct
// of the current version) to @p out and stamps @p version.
template <class T>
int init_struct(T *out, unsigned version, unsigned current, const T &defaults,
                const char *what, const char *init_macro) {
  clear_error();
  if (out == nullptr) return set_error(LBK_EINVAL, "%s is NULL", what);
  if (int rc = check_version(version, current, what, init_macro)) return rc;
  std::memcpy(static_cast<void *>(out), &defaults, struct_size<T>(version));
  out->version = version;
  return 0;
}

}  // namespace
}  // namespace lbk

using lbk::init_struct;

extern "C" {

LBK_EXTERN int lbk_pool_options_init(lbk_pool_options *opts, unsigned int version) {
  return init_struct(opts, version, LBK_POOL_OPTIONS_VERSION,
                     lbk_pool_options LBK_POOL_OPTIONS_INIT, "pool options",
                     "LBK_POOL_OPTIONS_INIT");
}

LBK_EXTERN int lbk_peer_config_init(lbk_peer_config *peer, unsigned int version) {
  return init_struct(peer, version, LBK_PEER_CONFIG_VERSION,
                     lbk_peer_config LBK_PEER_CONFIG_INIT, "peer config",
                     "LBK_PEER_CONFIG_INIT");
}

LBK_EXTERN int lbk_outcome_init(lbk_outcome *outcome, unsigned int version) {
  return init_struct(outcome, version, LBK_OUTCOME_VERSION,
                     lbk_outcome LBK_OUTCOME_INIT, "outcome", "LBK_OUTCOME_INIT");
}

LBK_EXTERN int lbk_peer_info_init(lbk_peer_info *info, unsigned int version) {
  return init_struct(info, version, LBK_PEER_INFO_VERSION, lbk_peer_info{},
                     "peer info", "lbk_peer_info_init()");
}

LBK_EXTERN int lbk_check_options_init(lbk_check_options *opts, unsigned int version) {
  return init_struct(opts, version, LBK_CHECK_OPTIONS_VERSION,
                     lbk_check_options LBK_CHECK_OPTIONS_INIT, "check options",
                     "LBK_CHECK_OPTIONS_INIT");
}

LBK_EXTERN int lbk_check_result_init(lbk_check_result *result, unsigned int version) {
  lbk_check_result blank;
  lbk::health::blank_result(&blank);
  return init_struct(result, version, LBK_CHECK_RESULT_VERSION, blank,
                     "check result", "lbk_check_result_init()");
}

LBK_EXTERN int lbk_agent_reply_init(lbk_agent_reply *reply, unsigned int version) {
  return init_struct(reply, version, LBK_AGENT_REPLY_VERSION,
                     lbk_agent_reply LBK_AGENT_REPLY_INIT, "agent reply",
                     "LBK_AGENT_REPLY_INIT");
}

}  // extern "C"
