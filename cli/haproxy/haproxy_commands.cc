// cli/haproxy/haproxy_commands.cc - runtime API commands for one server (see
// haproxy_commands.h).
#include "haproxy_commands.h"

#include <cstdlib>

#include "discovery.h"

namespace lbctl {

// "http://h:p/x" -> host "h", port "p" (the scheme's default when absent).
void url_host_port(const std::string &url, std::string &host, int &port) {
  const size_t sep = url.find("://");
  const std::string scheme = sep == std::string::npos ? "" : url.substr(0, sep);
  std::string rest = sep == std::string::npos ? url : url.substr(sep + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  port = scheme == "https" ? 443 : 80;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    host = rest.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < rest.size() && rest[close + 1] == ':')
      port = std::atoi(rest.c_str() + close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    host = rest.substr(0, colon);
    if (colon != std::string::npos) port = std::atoi(rest.c_str() + colon + 1);
  }
}

std::string url_host_port_text(const std::string &url) {
  std::string host;
  int port = 0;
  url_host_port(url, host, port);
  return host_port_text(host, port);
}

const ServerRuntimeState *match_server(const NodeState &node,
                                       const std::vector<ServerRuntimeState> &servers) {
  for (const ServerRuntimeState &s : servers)
    if (s.name == node.name) return &s;
  std::string host;
  int port = 0;
  url_host_port(node.url, host, port);
  for (const ServerRuntimeState &s : servers)
    if (s.addr == host && s.port == port) return &s;
  return nullptr;
}

// The commands that bring @p s to @p v (empty when it is there already).
std::vector<std::string> commands_for(const std::string &backend, const ServerRuntimeState &s,
                                      const HaproxyVerdict &v, unsigned min_change_pct,
                                      int base_weight) {
  std::vector<std::string> cmds;
  const std::string target = "set server " + backend + "/" + s.name;
  const bool maint = s.admin & kAdminForcedMaint, drain = s.admin & kAdminForcedDrain;
  switch (v.kind) {
    case HaproxyVerdict::kUnknown:
      break;
    case HaproxyVerdict::kDrain:
      if (!drain || maint) cmds.push_back(target + " state drain");
      break;
    case HaproxyVerdict::kDown:
    case HaproxyVerdict::kMaint:
      if (!maint) cmds.push_back(target + " state maint");
      break;
    case HaproxyVerdict::kUp: {
      if (maint || drain) cmds.push_back(target + " state ready");
      const int base = base_weight > 0 ? base_weight : s.iweight;
      if (base <= 0) break;  // weight 0 in haproxy.cfg: left alone
      // HAProxy sets weight = iweight * pct / 100 (integer); keep it >= 1.
      int pct = v.weight_pct;
      while (pct < 100 && base * pct / 100 < 1) ++pct;
      const int want = base * pct / 100;
      const int diff = std::abs(want - s.uweight);
      if (want != s.uweight &&
          (s.uweight == 0 || diff * 100 >= static_cast<int>(min_change_pct) * base))
        cmds.push_back(target + " weight " +
                       (base == s.iweight ? std::to_string(pct) + "%" : std::to_string(want)));
      break;
    }
  }
  return cmds;
}

}  // namespace lbctl
