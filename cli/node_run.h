// cli/node_run.h - what a probe session (probe_session.h) knows of one
// node: its configuration and compiled checks, the latest result and
// verdict, rise/fall health, JSON-RPC lag and identity, timing samples and
// counters.  ProbeSession::snapshot() turns it into the state file's
// NodeState (state_file.h).
#pragma once

#include <cstdint>
#include <string>

#include "config.h"
#include "lbkit.h"
#include "lbkit/probe.h"
#include "samples.h"

namespace lbctl {

struct NodeRun {
  size_t pool_index = 0;
  ServerConfig server;
  uint32_t peer_id = LBK_PEER_NONE;
  const lbk_check *check = nullptr;  // shared by the pool's nodes with this path
  std::string headers;               // pool and server header lines, '\n'-joined
  const lbk_check *version_check = nullptr;  // JSON-RPC: the profile's version call, or null
  const lbk_check *chain_id_check = nullptr; // JSON-RPC: the profile's chain-id call, or null
  std::string chain_id;              // as the node last reported it, "" = unknown
  bool has_result = false;
  lbk::probe::Result last;           // the latest round's result
  std::string outcome = "unknown";   // last round: pass, timeout, ..., lag
  std::string error;                 // last round's failure text, "" if passed
  bool healthy = true;               // rise/fall health (up or unknown)
  int64_t lag = 0;
  std::string version;               // JSON-RPC client version, "" = unknown
  Samples dns, connect, tls, first_byte, total;
  uint64_t checks = 0, failed = 0, consecutive_failures = 0;
  int64_t last_check_unix_ms = 0, last_change_unix_ms = 0;
};

}  // namespace lbctl
