// libFuzzer target: what `lbctl agent` makes of a request line: the name it
// reads (trimmed, split into pool and server), the node it finds in a state
// holding look-alike names (non-ASCII, a slash, URL host:port), the log
// text of a name it does not know (escaped: no control byte, valid UTF-8)
// and the reply line (one line, valid UTF-8, parses as an agent reply).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "haproxy/haproxy_verdict.h"
#include "lbkit.h"
#include "output.h"

namespace {

lbctl::State make_state() {
  lbctl::State st;
  const char *const pools[] = {"api", "b\xc3\xa9ta", ""};
  const char *const names[] = {"a", "n\xc3\xb8" "de", "127.0.0.1:8545", "x/y"};
  for (const char *p : pools) {
    lbctl::PoolState pool;
    pool.name = p;
    for (const char *n : names) {
      lbctl::NodeState node;
      node.name = n;
      node.url = std::string("http://127.0.0.1:") + std::to_string(8545 + pool.nodes.size()) + "/";
      pool.nodes.push_back(node);
    }
    st.pools.push_back(pool);
  }
  return st;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const lbctl::State state = make_state();
  const std::string line(reinterpret_cast<const char *>(data), size);
  const lbctl::AgentRequest asked = lbctl::parse_agent_request(line);
  // the name is the line without blanks and CRs at its ends, inside it
  if (asked.name.size() > line.size() || line.find(asked.name) == std::string::npos)
    __builtin_trap();
  auto is_one_of = [](char c, const char *set) { return c != '\0' && std::strchr(set, c); };
  if (!asked.name.empty() &&
      (is_one_of(asked.name.back(), " \t\r") || is_one_of(asked.name.front(), " \t")))
    __builtin_trap();
  if (asked.pool.size() + asked.server.size() > asked.name.size()) __builtin_trap();
  const lbctl::PoolState *pool = nullptr;
  int matches = -1;
  const lbctl::NodeState *node = lbctl::find_agent_node(state, asked, &pool, &matches);
  if (matches < 0 || (node != nullptr) != (matches == 1) || (node && !pool)) __builtin_trap();
  if (node && !asked.pool.empty() && pool->name != asked.pool) __builtin_trap();

  const std::string logged = lbctl::log_escape(asked.name);
  if (!lbk_utf8_valid(logged.data(), logged.size())) __builtin_trap();
  for (unsigned char c : logged)
    if (c < 0x20 || c == 0x7f) __builtin_trap();
  const std::string reply = lbctl::agent_comment_line("unknown server '" + logged + "'");
  if (reply.empty() || reply.back() != '\n' || reply.find('\n') != reply.size() - 1 ||
      reply.find('\r') != std::string::npos)
    __builtin_trap();
  if (!lbk_utf8_valid(reply.data(), reply.size() - 1)) __builtin_trap();
  lbk_agent_reply parsed = LBK_AGENT_REPLY_INIT;
  if (lbk_agent_parse(&parsed, reply.data(), reply.size()) != 0) __builtin_trap();
  return 0;
}
