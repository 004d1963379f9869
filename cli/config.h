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
//   jsonrpc_method = eth_blockNumber
//   jsonrpc_field =              ; "" = result itself
//   max_lag = 5
//   server = https://rpc.example.org/ weight=2 name=ex
//   server = http://127.0.0.1:8545/ backup
//   server = http://10.0.0.9:8545/ disabled   ; held out (maintenance)
//
// Durations: a number with ms, s, m or h; a bare number is milliseconds
// (as in HAProxy).  Line numbers are tracked by reading through
// ini_parse_stream() with a counting reader, so errors say file:line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lbctl {

struct ServerConfig {
  std::string url;
  std::string name;       // default: the URL
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
  std::string body;
  std::string expect_status = "200-399";
  std::string expect_body;
  std::string jsonrpc_method = "eth_blockNumber";
  std::string jsonrpc_params = "[]";
  std::string jsonrpc_field;        // path into result; "" = result itself
  bool has_jsonrpc_field = false;   // set when the key (or check=jsonrpc) says so
  int64_t max_lag = 0;
  std::string version_field;
  std::string min_version;
  uint32_t interval_ms = 5000, fastinter_ms = 0, downinter_ms = 0;
  uint32_t timeout_ms = 2000;
  uint32_t rise = 2, fall = 3;
  bool tls_verify = true;
  std::string ca_file, sni;
};

struct PoolConfig {
  std::string name;
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

struct Config {
  GlobalConfig global;
  std::vector<PoolConfig> pools;
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

// Checks a node URL: scheme http, https or tcp, a host, and a port for
// tcp://; false with the reason in @p why.
bool valid_server_url(const std::string &url, std::string &why);

// Parses "2s", "500ms", "1m", "250" (ms); false on bad input.
bool parse_duration_ms(const std::string &text, uint32_t &out_ms);

// A value as written to an INI line: unchanged when inih reads it back as
// it is, else in double quotes with \\, \", \n, \r, \t and \xNN escapes
// (control bytes, ';' and '#', leading or trailing blanks, a leading quote).
std::string ini_quote(const std::string &value);
// The reverse, applied to every value read: a value in double quotes is
// unescaped; false (with @p why) on a bad escape.  Others are unchanged.
bool ini_unquote(const std::string &value, std::string &out, std::string &why);

}  // namespace lbctl
