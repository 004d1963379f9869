// agent.cc - lbk_agent_parse / lbk_agent_format (HAProxy 2.6 agent replies).
#include <string>

#include "api.h"
#include "error_internal.h"
#include "health/check_internal.h"
#include "proto/agent_reply.h"

extern "C" {

LBK_EXTERN int lbk_agent_parse(lbk_agent_reply *out, const char *line, size_t len) try {
  lbk::clear_error();
  if (out == nullptr || (line == nullptr && len != 0)) {
    return lbk::set_error(LBK_EINVAL, "lbk_agent_parse: NULL argument");
  }
  std::string error;
  const int rc = lbk::proto::parse_agent_reply(out, line != nullptr ? line : "", len, &error);
  if (rc != LBK_OK) return lbk::set_error(rc, "%s", error.c_str());
  return LBK_OK;
} LBK_API_CATCH

LBK_EXTERN int lbk_agent_format(char *buf, size_t *inout_len,
                                const lbk_agent_reply *reply) try {
  lbk::clear_error();
  if (inout_len == nullptr || reply == nullptr || (buf == nullptr && *inout_len != 0)) {
    return lbk::set_error(LBK_EINVAL, "lbk_agent_format: NULL argument");
  }
  std::string text, error;
  const int rc = lbk::proto::format_agent_reply(&text, *reply, &error);
  if (rc != LBK_OK) return lbk::set_error(rc, "%s", error.c_str());
  return lbk::health::copy_to_buffer(buf, inout_len, text, "lbk_agent_format");
} LBK_API_CATCH

}  // extern "C"
