// lbkit/probe.h - libevent + OpenSSL driver of liblbkit's health checks.
//
// Internal C++ API used by lbctl (not installed; nginx never loads it).
// One Prober runs many probes at once on one libevent loop and thread:
// asynchronous DNS (evdns), IPv4 and IPv6, TLS with SNI and certificate
// verification against the system store (on unless a Target turns it off),
// per-probe timeout and byte limits.  Verdicts come from liblbkit's
// lbk_check_reply, so lbctl and the nginx module judge replies identically.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lbkit.h"

struct event_base;

namespace lbk {
namespace probe {

// What to probe and how.
struct Target {
  std::string url;                 // http://h[:p]/path, https://..., tcp://h:p
  const lbk_check *check = nullptr; // judge; nullptr: tcp/http default by scheme
  std::string sni;                 // TLS server name; "" = the URL's host
  bool tls_verify = true;          // verify the peer's certificate chain+name
  std::string ca_file;             // "" = the system trust store
  uint32_t timeout_ms = 2000;      // whole probe, DNS included (the check's
                                   // own timeout_ms is not used here)
  int family = 0;                  // AF_UNSPEC, AF_INET or AF_INET6
};

// Per-phase durations in milliseconds (each phase on its own, not
// cumulative); a phase not reached or not applicable is -1 (dns for a
// literal IP, tls for plain HTTP, first_byte for a tcp check).
//   dns         probe start -> addresses resolved
//   connect     resolved (or start) -> TCP connected, earlier refused
//               addresses included
//   tls         connected -> handshake done
//   first_byte  request written -> first reply byte
//   total       probe start (leaving the queue) -> verdict; equals
//               verdict.duration_us / 1000
struct Timings {
  double dns_ms = -1, connect_ms = -1, tls_ms = -1, first_byte_ms = -1,
         total_ms = -1;
};

struct Result {
  lbk_check_result verdict{};  // outcome, status, value, reason
  Timings timings;
  std::string address;         // "ip:port" ("[ip]:port") last tried; "" if none
  // After a completed TLS handshake: the earliest notAfter of the
  // certificates the server sent (Unix seconds; blackbox_exporter's
  // probe_ssl_earliest_cert_expiry) and the protocol ("TLSv1.3").  0 and ""
  // without TLS.
  int64_t tls_earliest_expiry_unix = 0;
  std::string tls_version;
};

struct Options {
  unsigned max_concurrency = 1000;   // probes in flight at once; the rest queue
  uint32_t max_response_bytes = 1u << 20;  // per probe; more is FAIL_LIMIT
  // DNS server "ip[:port]" to ask instead of /etc/resolv.conf (and then
  // /etc/hosts is not read); "" = the system's configuration.
  std::string dns_nameserver;
  // Plain (non-TLS) probes end their connection with a TCP reset once the
  // verdict is in, as HAProxy's health checks do: nothing more is wanted
  // from it, and neither side keeps it in TIME_WAIT (probing thousands of
  // nodes every few seconds would leave tens of thousands).  false: an
  // orderly close (FIN).
  bool reset_on_close = true;
};

class Prober {
 public:
  using Callback = std::function<void(const Result &)>;
  // Runs on the caller's event loop; the base must outlive the Prober.
  // If SIGPIPE still has its default action it is set to SIG_IGN (a peer
  // that resets must not kill the process).
  Prober(event_base *base, Options opts = {});
  // Cancels what is in flight without calling callbacks.  If DNS lookups
  // were pending it runs the loop a few times without blocking, so that
  // libevent can free the cancelled lookups.
  ~Prober();
  Prober(const Prober &) = delete;
  Prober &operator=(const Prober &) = delete;

  // Starts (or queues) a probe; @p done is called exactly once, from the loop
  // (never from inside start()).  The request and the judge come from
  // Target::check; without one, the URL's scheme picks a tcp, http or https
  // check of the URL's path (status 200-399).  With a check, its own path
  // is used.  TLS is used for https URLs and for checks of kind
  // LBK_CHECK_HTTPS.  Do not destroy the Prober from inside a callback.
  //
  // Verdicts: refused/unreachable/reset before any reply byte ->
  // FAIL_CONNECT; resolver failure -> FAIL_DNS; handshake or certificate
  // failure -> FAIL_TLS ("certificate verify failed: <OpenSSL reason>");
  // nothing complete within timeout_ms -> FAIL_TIMEOUT (the reason names
  // the phase); reset after some reply bytes -> FAIL_PROTOCOL; more than
  // max_response_bytes -> FAIL_LIMIT; otherwise lbk_check_reply's verdict.
  void start(const Target &target, Callback done);
  // Probes started whose callback has not run yet (queued ones included).
  size_t in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A target URL taken apart: scheme://host[:port][/path][?query].
// Schemes: http (port 80), https (443; TLS), tcp (port required).
struct Url {
  std::string scheme;       // "http", "https" or "tcp"
  std::string host;         // without brackets for IPv6 literals
  uint16_t port = 0;
  std::string path = "/";   // path and query, as given
  bool tls = false;         // scheme https
  bool host_is_ip = false;  // literal IPv4/IPv6 address: no DNS, no SNI
  std::string host_header() const;  // "host" or "host:port", [v6] bracketed
};

// Parses @p url into @p out; false with a reason in @p error
// ("unknown scheme 'ftp'", "port 70000 out of range", ...).
bool parse_url(Url *out, const std::string &url, std::string *error);

// Raises the soft RLIMIT_NOFILE to the hard limit (each probe in flight
// holds one descriptor); returns the resulting soft limit.
uint64_t raise_open_files_limit();

// Blocking convenience: probes every target concurrently on a private loop
// and returns the results in target order.
std::vector<Result> probe_all(const std::vector<Target> &targets,
                              const Options &opts = {});

}  // namespace probe
}  // namespace lbk
