// cli/discovery.h - DNS service discovery for `lbctl sync`: a pool's
// servers from SRV records (dns-srv:NAME) or A/AAAA records (dns:NAME:PORT),
// through c-ares (loaded on first use, like libevent: only `lbctl sync`
// needs it).
//
// One resolve asks every question at once and waits at most the timeout.
// It succeeds only when every answer is complete and well formed; otherwise
// it fails as a whole (nothing half applied):
//   - a timeout, SERVFAIL, REFUSED, or no answer at all (NXDOMAIN, NODATA);
//   - an SRV record with port 0, target "." (RFC 2782: "service not
//     available") or a target that has no A/AAAA record;
//   - a reply c-ares cannot parse.
// SRV mapping: each target address and the record's port is a server; the
// record's weight (0..65535) becomes the server weight, clamped to 1..256
// (HAProxy's range); records whose priority is above the lowest priority
// in the answer become backup servers.  A/AAAA servers have weight 1.
// Re-resolution: at the smallest TTL of the records used, bounded to
// kMinTtlMs..kMaxTtlMs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace lbctl {

constexpr uint32_t kDiscoveryMinTtlMs = 1000;     // TTL 0 still re-resolves each second
constexpr uint32_t kDiscoveryMaxTtlMs = 300000;   // long TTLs: at least every 5 minutes

// "10.0.0.7:8080", "[fd00::7]:8080" for a numeric address and a port.
std::string host_port_text(const std::string &address, int port);

struct DiscoveredServer {
  std::string address;  // numeric: "10.0.0.7", "fd00::7"
  int port = 0;
  uint32_t weight = 1;
  bool backup = false;
  std::string target;   // the SRV target (or the A/AAAA name) it came from

  std::string host_port() const { return host_port_text(address, port); }
  bool operator==(const DiscoveredServer &o) const {
    return address == o.address && port == o.port && weight == o.weight && backup == o.backup;
  }
};

struct DiscoveryResult {
  bool ok = false;
  std::string error;                     // why not ok (one line)
  std::vector<DiscoveredServer> servers; // sorted by address then port; unique
  uint32_t ttl_ms = kDiscoveryMinTtlMs;  // when to resolve again (bounded)
};

// c-ares's version ("1.18.1"), loading the library; false with the reason
// in @p error when it cannot be loaded (lbctl version).
bool cares_version(std::string &version, std::string &error);

// Resolves @p d once (blocking, at most @p timeout_ms).
DiscoveryResult discover_servers(const DiscoveryConfig &d, uint32_t timeout_ms);

// The smallest TTL of the answer records of a DNS reply; false when the
// reply is malformed.  Reads names through c-ares; exposed for the fuzz target.
bool dns_answer_min_ttl(const unsigned char *reply, int length, uint32_t &ttl_s);

}  // namespace lbctl
