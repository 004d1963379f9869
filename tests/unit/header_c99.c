/* Compiled by CTest test header_is_c99: the public header is strict C99. */
#include "lbkit.h"

int main(void) {
  lbk_pool_options po = LBK_POOL_OPTIONS_INIT;
  lbk_peer_config pc = LBK_PEER_CONFIG_INIT;
  lbk_check_options co = LBK_CHECK_OPTIONS_INIT;
  lbk_agent_reply ar = LBK_AGENT_REPLY_INIT;
  lbk_outcome oc = LBK_OUTCOME_INIT;
  (void)po; (void)pc; (void)co; (void)ar; (void)oc;
  return lbk_version_number() == LBK_VERSION_NUMBER ? 0 : 1;
}
