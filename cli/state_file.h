// cli/state_file.h - the canary's state file (written by `lbctl watch`,
// read by `lbctl rank/forward/agent --state FILE` and haproxy-sync).
//
// Format: one JSON object, UTF-8, written atomically (a temporary file in the
// same directory, fsync, rename, fsync of the directory), so a reader sees
// either the previous or the next complete file, never a partial one.
//
//   {
//     "format": "lbctl-state",          // constant
//     "version": 1,                     // bumped only on incompatible change
//     "generated_unix_ms": 1700000000000,
//     "interval_ms": 5000,              // the canary's probe interval
//     "round": 42,                      // probe rounds done since start
//     "pools": [ {
//       "name": "eth", "method": "peak_ewma",
//       "nodes": [ {
//         "name": "a", "url": "http://127.0.0.1:8545/",
//         "weight": 1, "backup": false,
//         "disabled": false,            // held out by the configuration: never
//                                       // probed (health "unknown"), never used
//         "health": "up",               // up | down | unknown (rise/fall state)
//         "healthy": true,              // the last probe passed
//         "outcome": "pass",            // pass | connect | timeout | tls | dns |
//                                       // protocol | status | body | jsonrpc |
//                                       // lag | chain | version | limit | agent
//         "reason": "",                 // human text of the last failure
//         "http_status": 200,           // 0 = none
//         "head": 1234,                 // jsonrpc numeric field, or null
//         "lag": 0,                     // best healthy head minus ours (>= 0)
//         "version": "geth/1.13",       // jsonrpc version field, "" = none
//         "chain_id": "0x1",            // as the node reports it, "" = unknown
//         "latency_ms": {"last": 1.2, "p50": 1.1, "p95": 2.0},  // -1 = none
//         "checks": 10, "checks_failed": 0,
//         "consecutive_failures": 0,
//         "last_check_unix_ms": 1700000000000,
//         "last_change_unix_ms": 1699999990000,  // last health change, 0 = never
//         "score": 97.5                 // see score.h; 0 = unusable
//       } ]
//     } ]
//   }
//
// Readers must ignore members they do not know (the format only grows).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lbctl {

struct NodeState {
  std::string name;
  std::string url;
  uint32_t weight = 1;
  bool backup = false;
  bool disabled = false;
  std::string health = "unknown";
  bool healthy = false;
  std::string outcome;
  std::string reason;
  int http_status = 0;
  bool has_head = false;
  int64_t head = 0;
  int64_t lag = 0;
  std::string version;
  std::string chain_id;
  double last_ms = -1, p50_ms = -1, p95_ms = -1;
  uint64_t checks = 0, checks_failed = 0, consecutive_failures = 0;
  int64_t last_check_unix_ms = 0;
  int64_t last_change_unix_ms = 0;
  double score = 0;
};

struct PoolState {
  std::string name;
  std::string method;
  std::vector<NodeState> nodes;
};

struct State {
  int version = 1;
  int64_t generated_unix_ms = 0;
  uint32_t interval_ms = 0;
  uint64_t round = 0;
  std::vector<PoolState> pools;

  // The pool named @p name, or nullptr.
  const PoolState *find_pool(const std::string &name) const;
};

// Serialises / parses the format above.  Parsing fails (with a message
// naming the member) on a missing or mistyped required member.
std::string state_to_json(const State &state);
bool state_from_json(const std::string &text, State &out, std::string &error);

// Atomic write: a temporary file "<path>.tmp.<16 random hex digits>" in the
// same directory, created with O_EXCL | O_NOFOLLOW and mode 0600 (URLs may
// carry credentials), fsync, rename over @p path, fsync the directory.
// False with @p error on failure (the old file is then untouched).
bool write_state_file(const std::string &path, const State &state, std::string &error);

// The largest state file read (a state of thousands of nodes is a few MB).
constexpr uint64_t kMaxStateFileBytes = 64ull << 20;

// Reads and parses @p path; @p error names the file.  Refuses what is not
// a regular file (without blocking on a FIFO) or is larger than
// kMaxStateFileBytes.
bool read_state_file(const std::string &path, State &out, std::string &error);

// Wall-clock milliseconds since the Unix epoch.
int64_t unix_now_ms();

}  // namespace lbctl
