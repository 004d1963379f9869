// cli/failover.h - what `lbctl forward` knows of JSON-RPC: which calls are
// reads (safe to send twice), and which replies say the node failed rather
// than the request (try the next node).
#pragma once

#include <string>
#include <vector>

#include "lbkit.h"

namespace lbctl {

// The default of failover_errors: JSON-RPC error codes and message texts
// (case-insensitive substrings) that mean the node failed: rate limits,
// internal errors, missing blocks or state.
extern const char kDefaultFailoverErrors[];

// The methods of a JSON-RPC request body (one call or a batch); false when
// the body is not JSON-RPC (not JSON, or no call has a string "method").
bool jsonrpc_methods(const std::string &body, std::vector<std::string> &methods);

// The first of @p methods that writes by @p profile's list, or "" when
// every call is a read.
std::string first_write_method(const std::vector<std::string> &methods,
                               const lbk_chain_profile *profile);

// How a complete reply is judged.
struct ReplyJudgement {
  bool node_failed = false;  // try the next node: HTTP 429, 5xx, a listed error
  bool is_error = false;     // HTTP >= 400 or a JSON-RPC error (for --fail)
  std::string why;           // "HTTP 503", "jsonrpc error -32005: limit exceeded"
};

// Judges a reply of HTTP status @p status and body @p body against the
// comma-separated @p failover_errors.  Application errors (execution
// reverted, invalid params or request, parse errors: codes 3, -32600,
// -32602, -32700) never fail over, whatever the list says.
ReplyJudgement judge_reply(long status, const std::string &body, const std::string &failover_errors);

}  // namespace lbctl
