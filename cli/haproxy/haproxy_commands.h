// cli/haproxy/haproxy_commands.h - runtime API commands that bring one HAProxy
// server to lbkit's verdict; shared by `lbctl haproxy-sync` and `lbctl sync`.
#pragma once

#include <string>
#include <vector>

#include "haproxy_runtime.h"
#include "haproxy_verdict.h"
#include "state_file.h"

namespace lbctl {

// "http://h:p/x" -> host "h", port "p" (the scheme's default when absent).
void url_host_port(const std::string &url, std::string &host, int &port);

// "h:p" of a URL as host_port_text() writes it ("[v6]:p" for IPv6).
std::string url_host_port_text(const std::string &url);

// The server of @p servers that is @p node: by name, else by address and port.
const ServerRuntimeState *match_server(const NodeState &node,
                                       const std::vector<ServerRuntimeState> &servers);

// The commands that bring @p s to @p v (empty when it is there already):
//   up    -> "state ready" when in drain or maint; the weight when it moved
//            by at least @p min_change_pct points of the base weight
//   drain -> "state drain";  down, maint -> "state maint".
// The weight is @p base_weight * v.weight_pct / 100 (at least 1); the base
// is the configured weight (sent as "N%") unless @p base_weight > 0 differs
// from it (a discovered server whose SRV weight changed: sent as "N").
std::vector<std::string> commands_for(const std::string &backend, const ServerRuntimeState &s,
                                      const HaproxyVerdict &v, unsigned min_change_pct,
                                      int base_weight = 0);

}  // namespace lbctl
