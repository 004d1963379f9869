// cli/listen_address.h - the ADDR:PORT of lbctl's listeners (agent,
// metrics) and the text of a bound address.
#pragma once

#include <sys/socket.h>

#include <string>

namespace lbctl {

// "127.0.0.1:5555", "[::1]:0" (numeric only; port 0 = any free port).
bool parse_listen_address(const std::string &text, sockaddr_storage &ss, socklen_t &len);

// "ip:port" or "[ip]:port".
std::string sockaddr_text(const sockaddr *sa);

}  // namespace lbctl
