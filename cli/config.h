// cli/config.h - lbctl's INI configuration (read with inih).
//
// Format (documented in man/lbctl.ini.5):
//
//   [lbctl]                      ; global settings, all optional
//   timeout = 2s                 ; per probe
//   concurrency = 1000
//   state_file = /var/lib/lbctl/state.json
//   listen = 127.0.0.1:5555      ; lbctl agent
//
//   [pool eth]                   ; one section per pool
//   method = peak_ewma           ; any liblbkit method name or alias
//   check = jsonrpc              ; tcp | http | https | jsonrpc
//   interval = 5s                ; also fastinter, downinter, timeout
//   rise = 2                     ; also fall
//   chain = ethereum             ; ethereum | bitcoin | steem | hive | solana
//   chain_id = 1                 ; nodes reporting another chain are unhealthy
//   jsonrpc_method = eth_blockNumber   ; default: the chain's head method
//   jsonrpc_field =              ; "" = result itself
//   max_lag = 5                  ; default: the chain's; 0 = off
//   header = X-Api-Key: KEY      ; checks and forward
//   server = https://rpc.example.org/ weight=2 name=ex header="X-Api-Key: K2"
//   server = http://127.0.0.1:8545/ backup
//   server = http://10.0.0.9:8545/ disabled   ; held out (maintenance)
//
// Durations: a number with a unit (duration.h: 500ms, 2s, 1m); a bare
// number is an error.  Line numbers are tracked by reading through
// ini_parse_stream() with a counting reader, so errors say file:line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "duration.h"
#include "failover.h"
#include "secrets.h"

namespace lbctl {

struct ServerConfig {
  std::string url;        // as probed and forwarded: without userinfo
  std::string shown_url;  // masked (secrets.h): what outputs say
  std::string name;       // default: shown_url
  std::vector<std::string> headers;  // header= lines, then Basic auth from
                                     // userinfo (unless header= gave one)
  std::vector<std::string> secrets;  // texts that must never be printed
  uint32_t weight = 1;
  bool backup = false;
  bool disabled = false;  // administratively out: never probed nor used;
                          // HAProxy is told "maint" (HAProxy's `disabled`,
                          // nginx's `down`)
  int line = 0;           // where it was defined
};

struct CheckConfig {
  std::string kind;       // "" = from the URL scheme (http/https), or
                          // tcp | http | https | jsonrpc
  std::string method;     // HTTP method; "" = GET (POST for jsonrpc)
  std::string path;       // "" = the URL's path
  std::string headers;    // "Name: value" lines separated by '\n'
  std::string secret_headers = kDefaultSecretHeaders;  // masked header names
  std::string failover_errors = kDefaultFailoverErrors;  // forward: try the next node
  std::string body;
  std::string expect_status = "200-399";
  std::string expect_body;
  std::string chain;                // profile name; "" = ethereum
  std::string chain_id;             // expected chain id ("1", "0x1"); "" = any
  std::string jsonrpc_method;       // "" = the chain profile's head method
  std::string jsonrpc_params = "[]";
  std::string jsonrpc_field;        // path into result; "" = result itself
  bool has_jsonrpc_field = false;   // set when the key (or check=jsonrpc) says so
  int64_t max_lag = -1;             // -1 = the chain profile's default
  std::string version_field;
  std::string min_version;
  uint32_t interval_ms = 5000, fastinter_ms = 0, downinter_ms = 0;
  uint32_t timeout_ms = 2000;
  uint32_t rise = 2, fall = 3;
  bool tls_verify = true;
  std::string ca_file, sni;
};

// Where a pool's servers come from besides its `server =` lines:
// DNS service discovery (cli/discovery.h).
struct DiscoveryConfig {
  std::string spec;        // as written: "dns-srv:NAME" or "dns:NAME:PORT"; "" = none
  bool srv = false;        // SRV records (else A/AAAA + port)
  std::string dns_name;
  int port = 0;            // dns: only
  std::string resolver;    // "HOST:PORT" or "HOST"; "" = /etc/resolv.conf
  uint32_t min_servers = 1;  // a smaller answer keeps the last good set
  int line = 0;
};

struct PoolConfig {
  std::string name;
  DiscoveryConfig discover;
  std::string method = "peak_ewma";
  CheckConfig check;
  std::vector<ServerConfig> servers;
  std::string file;
  int line = 0;
};

struct GlobalConfig {
  uint32_t timeout_ms = 2000;
  unsigned concurrency = 1000;
  std::string state_file;
  std::string listen = "127.0.0.1:5555";
};

// [sync NAME]: one balancer lbctl sync keeps equal to a pool (cmd_sync.cc).
struct SyncConfig {
  std::string name;
  std::string pool;
  std::string haproxy;     // runtime API: unix socket path or HOST:PORT
  std::string backend;
  std::string nginx_api;   // NGINX Plus-compatible API base URL
  std::string upstream;
  bool own_all = false;    // also remove servers lbctl did not add
  uint32_t drain_timeout_ms = 60000;  // removed servers: delete after this even if busy
  std::string file;
  int line = 0;
};

struct Config {
  GlobalConfig global;
  std::vector<PoolConfig> pools;
  std::vector<SyncConfig> syncs;
};

struct ConfigError {
  std::string file;
  int line = 0;           // 0 = the file as a whole
  std::string key;
  std::string message;
  std::string text() const;  // "file:line: key: message"
};

// Reads @p path; returns false with every error found (not only the first).
bool load_config(const std::string &path, Config &out,
                 std::vector<ConfigError> &errors);

// Checks a node URL as probe and forward will take it (userinfo apart):
// scheme http, https or tcp, a host, a port in range (required for tcp://);
// false with the reason in @p why.
bool valid_server_url(const std::string &url, std::string &why);

// Fills @p s's url, shown_url, default name, Basic auth header and secrets
// from @p raw (its URL as written) and @p named (a name= was given); false
// with @p why when the URL is not valid (valid_server_url).
bool finish_server(ServerConfig &s, const std::string &raw, bool named,
                   const std::string &secret_headers, std::string &why);

// The header lines a node's requests carry: the pool's, overridden and
// extended by its server's (secrets.h merge_headers).
std::vector<std::string> node_headers(const CheckConfig &check, const ServerConfig &server);

// Resolves the defaults a pool takes from its chain profile (jsonrpc_method,
// max_lag) once every key is read; false with @p why for an unknown chain.
bool resolve_chain_defaults(CheckConfig &c, std::string &why);

// A value as written to an INI line: unchanged when inih reads it back as
// it is, else in double quotes with \\, \", \n, \r, \t and \xNN escapes
// (control bytes, ';' and '#', leading or trailing blanks, a leading quote).
std::string ini_quote(const std::string &value);
// The reverse, applied to every value read: a value in double quotes is
// unescaped; false (with @p why) on a bad escape.  Others are unchanged.
bool ini_unquote(const std::string &value, std::string &out, std::string &why);

// [sync NAME] keys and the pool's discovery keys (sync_config.cc).  Each
// returns false with the reason in @p why; set_discovery_key() sets
// @p known = false for a key that is not a discovery key.
bool set_sync_key(SyncConfig &sync, const std::string &key, const std::string &value,
                  std::string &why);
bool set_discovery_key(DiscoveryConfig &discover, const std::string &key,
                       const std::string &value, bool &known, std::string &why);
// Whole-file checks of [sync] sections: (line, key, message) per problem.
struct SyncProblem {
  int line;
  std::string key, message;
};
std::vector<SyncProblem> validate_syncs(const Config &config);

// Parses yes/no, on/off, true/false, 1/0 (any case); false on other text.
bool parse_bool(const std::string &text, bool &out);


}  // namespace lbctl
