// libFuzzer target: what `lbctl agent` makes of a requested name it does not
// know: the log text (escaped: no control byte, valid UTF-8) and the reply
// line (one line, valid UTF-8, parses as an agent reply).  The name lookup
// itself is the agent's (cli/cmd_agent.cc).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "haproxy/haproxy_verdict.h"
#include "lbkit.h"
#include "output.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string name(reinterpret_cast<const char *>(data), size);
  const std::string logged = lbctl::log_escape(name);
  if (!lbk_utf8_valid(logged.data(), logged.size())) __builtin_trap();
  for (unsigned char c : logged)
    if (c < 0x20 || c == 0x7f) __builtin_trap();
  const std::string line = lbctl::agent_comment_line("unknown server '" + logged + "'");
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1 ||
      line.find('\r') != std::string::npos)
    __builtin_trap();
  if (!lbk_utf8_valid(line.data(), line.size() - 1)) __builtin_trap();
  lbk_agent_reply reply = LBK_AGENT_REPLY_INIT;
  if (lbk_agent_parse(&reply, line.data(), line.size()) != 0) __builtin_trap();
  return 0;
}
