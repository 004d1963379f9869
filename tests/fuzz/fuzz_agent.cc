// libFuzzer target: HAProxy agent-check replies.  Whatever parses must
// format back to a line that parses to the same reply.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "lbkit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lbk_agent_reply reply = LBK_AGENT_REPLY_INIT;
  if (lbk_agent_parse(&reply, reinterpret_cast<const char *>(data), size) != 0) return 0;
  if (!lbk_utf8_valid(reply.comment, strlen(reply.comment))) __builtin_trap();
  char line[512];
  size_t len = sizeof line;
  if (lbk_agent_format(line, &len, &reply) != 0) __builtin_trap();
  lbk_agent_reply again = LBK_AGENT_REPLY_INIT;
  if (lbk_agent_parse(&again, line, len) != 0) __builtin_trap();
  // The comment may lose trailing blanks or control characters; the words
  // must survive exactly.
  if (again.state != reply.state || again.weight_pct != reply.weight_pct ||
      again.maxconn != reply.maxconn) {
    __builtin_trap();
  }
  return 0;
}
