// cli/sync/sync_target.h - a balancer `lbctl sync` keeps in step with a pool:
// HAProxy through its runtime API (haproxy_target.cc) or anything that
// speaks the NGINX Plus API's upstream endpoints (nginx_target.cc).
//
// Each round a target reads the balancer's servers, compares them with the
// desired set and sends only the differences:
//   - a discovered server the balancer lacks is added (weight, backup), in
//     the state its verdict says (a server without a verdict yet is added
//     held out: HAProxy maint, nginx down);
//   - a server present on both sides gets its state and weight from the
//     verdict (as `lbctl haproxy-sync` does);
//   - a server lbctl owns that is no longer desired is drained, then deleted
//     once it has no active connection or after drain_timeout.  lbctl owns
//     the servers it added (HAProxy: named "lbk-ADDR-PORT"; nginx: route
//     "lbctl", or at the address of a discovered server), or every server
//     with own_all = yes.  Others are left alone.
// Every change is one line on stdout: "sync NAME: what (why)".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "discovery.h"
#include "haproxy/haproxy_verdict.h"
#include "state_file.h"

namespace lbctl {

// Prefix of the HAProxy server names lbctl gives the servers it adds.
constexpr const char kOwnedServerPrefix[] = "lbk-";

struct DesiredServer {
  const NodeState *node = nullptr;  // its probe state
  bool discovered = false;          // from DNS (else a `server =` line)
  std::string address;              // numeric host
  int port = 0;
  uint32_t weight = 1;              // base weight: SRV weight or the INI weight
  bool backup = false;
  HaproxyVerdict verdict;
  std::string host_port() const { return host_port_text(address, port); }
};

struct SyncSettings {
  bool dry_run = false;
  unsigned min_change_pct = 5;
  uint32_t timeout_ms = 5000;
  std::string source;  // the pool's discover spec, for log lines
};

class SyncTarget {
 public:
  virtual ~SyncTarget() = default;
  // One round; returns an exit code (kExitOk, kExitRuntime).  Prints each
  // change (sent, or planned with --dry-run) on stdout, problems on stderr.
  virtual int sync(const std::vector<DesiredServer> &desired, const SyncSettings &settings) = 0;
  // Runtime-API commands or HTTP requests sent so far (benchmarks).
  virtual uint64_t requests() const = 0;
};

// False with @p error when the target's address is malformed (usage error).
std::unique_ptr<SyncTarget> make_haproxy_target(const SyncConfig &config, std::string &error);
std::unique_ptr<SyncTarget> make_nginx_target(const SyncConfig &config, std::string &error);

// One change line on stdout ("sync NAME: TEXT"), flushed.
void log_change(const SyncConfig &config, const std::string &text);

}  // namespace lbctl
