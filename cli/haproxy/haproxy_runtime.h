// cli/haproxy/haproxy_runtime.h - a client of HAProxy's runtime API (the "stats
// socket"), over a unix socket or TCP, and the parser of `show servers state`.
//
// Each command uses its own connection in HAProxy's non-interactive mode:
// send one line, read until HAProxy closes.  Blocking, with a deadline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lbctl {

struct RuntimeEndpoint {
  bool is_unix = true;
  std::string path;  // unix socket
  std::string host;  // TCP (numeric or a name)
  std::string port;
  std::string text() const;  // as given
};

// "PATH" (anything with a '/' or without ':') is a unix socket; otherwise
// "HOST:PORT" or "[V6]:PORT".  False with @p error on a malformed address.
bool parse_runtime_endpoint(const std::string &text, RuntimeEndpoint &out, std::string &error);

// Sends @p command (a newline is appended) and reads the whole answer.
// False with @p error ("connect ...: Connection refused", "timed out")
// on I/O failure; HAProxy's own error answers are returned as text.
bool runtime_command(const RuntimeEndpoint &ep, const std::string &command,
                     std::string &answer, std::string &error, uint32_t timeout_ms = 5000);

// One server line of `show servers state` (format version 1).
struct ServerRuntimeState {
  std::string backend, name, addr;
  int port = 0;
  int op_state = 0;      // 0 stopped, 1 starting, 2 running, 3 stopping
  unsigned admin = 0;    // SRV_ADMF_* mask (below)
  int uweight = 0;       // current weight
  int iweight = 0;       // initial (configured) weight
};

// Bits of srv_admin_state (HAProxy management guide).
constexpr unsigned kAdminForcedMaint = 0x01;
constexpr unsigned kAdminForcedDrain = 0x08;

// Parses the answer of `show servers state [BACKEND]`; columns are found by
// name from the '#' header line.  False with @p error on another answer
// (for example "Can't find backend.").
bool parse_servers_state(const std::string &answer, std::vector<ServerRuntimeState> &out,
                         std::string &error);

}  // namespace lbctl
