// cli/config.cc - reads lbctl's INI file (see config.h for the format).
//
// inih does the tokenising; a line-feeding reader counts lines so every
// error names file:line.  inih reports a malformed line only by number (the
// first one), so the reader also checks each line's shape itself and records
// every malformed line.
#include "config.h"

#include <ini.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "lbkit.h"
#include "lbkit/probe.h"
#include "secrets.h"

namespace lbctl {

std::string ConfigError::text() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

bool parse_bool(const std::string &v, bool &out) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), ::tolower);
  if (l == "1" || l == "yes" || l == "true" || l == "on") { out = true; return true; }
  if (l == "0" || l == "no" || l == "false" || l == "off") { out = false; return true; }
  return false;
}

namespace {

std::string trim(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool parse_uint(const std::string &v, uint64_t max, uint64_t &out) {
  if (v.empty() || v.size() > 19) return false;
  for (char c : v)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  out = std::strtoull(v.c_str(), nullptr, 10);
  return out <= max;
}

// Reading state shared by the reader and the handler.
struct ParseState {
  std::string file;
  std::vector<std::string> lines;
  size_t next_line = 0;  // index of the next line the reader hands out
  int current_line = 0;  // 1-based number of the line inih is parsing
  Config *config = nullptr;
  std::vector<ConfigError> *errors = nullptr;
  PoolConfig *pool = nullptr;   // the pool section being read
  SyncConfig *sync = nullptr;   // the [sync NAME] section being read
  bool in_global = false;
  bool in_unknown = false;
  std::string last_section;
  int last_header_line = 0;  // line of the most recent [section] header
  std::set<size_t> pools_with_timeout;  // indexes of pools that set timeout

  void error(const std::string &key, const std::string &message, int line = -1) {
    errors->push_back({file, line < 0 ? current_line : line, key, message});
  }
};

// The line's shape, as inih will read it; records malformed lines.
void check_line_shape(ParseState &st, const std::string &raw, int number) {
  const std::string line = trim(raw);
  if (line.empty() || line[0] == ';' || line[0] == '#') return;
  if (line[0] == '[') {
    st.last_header_line = number;
    if (line.find(']') == std::string::npos)
      st.error("", "section header without ']'", number);
    return;
  }
  if (line.find('=') == std::string::npos && line.find(':') == std::string::npos)
    st.error("", "expected 'key = value' or '[section]', got '" + line + "'", number);
  else if (line[0] == '=' || line[0] == ':')
    st.error("", "missing key before '" + line.substr(0, 1) + "'", number);
}

char *feed_line(char *buf, int size, void *stream) {
  auto &st = *static_cast<ParseState *>(stream);
  if (st.next_line >= st.lines.size()) return nullptr;
  std::string &line = st.lines[st.next_line++];
  st.current_line = static_cast<int>(st.next_line);
  check_line_shape(st, line, st.current_line);
  if (line.size() + 2 > static_cast<size_t>(size)) {
    st.error("", "line longer than " + std::to_string(size - 2) + " bytes");
    line = "; (line too long, skipped)";
  }
  std::memcpy(buf, line.data(), line.size());
  buf[line.size()] = '\n';
  buf[line.size() + 1] = '\0';
  return buf;
}

bool set_duration(ParseState &st, const std::string &key, const std::string &value,
                  uint32_t &out) {
  if (!parse_duration_ms(value, out)) {
    st.error(key, duration_problem(value));
    return false;
  }
  return true;
}

void set_count(ParseState &st, const std::string &key, const std::string &value,
               uint64_t min, uint64_t max, uint32_t &out) {
  uint64_t n = 0;
  if (!parse_uint(value, max, n) || n < min) {
    st.error(key, "expected a whole number from " + std::to_string(min) + " to " +
                      std::to_string(max) + ", got '" + value + "'");
    return;
  }
  out = static_cast<uint32_t>(n);
}

}  // namespace

bool valid_server_url(const std::string &url, std::string &why) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos) { why = "missing scheme (http://, https:// or tcp://)"; return false; }
  const std::string scheme = url.substr(0, sep);
  if (scheme != "http" && scheme != "https" && scheme != "tcp") {
    why = "unsupported scheme '" + scheme + "' (http, https or tcp)";
    return false;
  }
  std::string rest = url.substr(sep + 3);
  const std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) { why = "missing host"; return false; }
  const std::string host_port = authority.substr(authority.rfind('@') + 1);
  if (scheme == "tcp") {
    const size_t colon = host_port.rfind(':');
    const size_t bracket = host_port.rfind(']');
    if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
      why = "tcp:// needs a port";
      return false;
    }
  }
  // The rest as the prober will read it (userinfo is taken out first: it
  // becomes an Authorization header).
  lbk::probe::Url parsed;
  std::string error;
  if (!lbk::probe::parse_url(&parsed, scheme + "://" + host_port + rest.substr(authority.size()),
                             &error)) {
    why = error;
    return false;
  }
  return true;
}

bool finish_server(ServerConfig &s, const std::string &raw, bool named,
                   const std::string &secret_headers, std::string &why) {
  if (!valid_server_url(raw, why)) return false;
  NodeUrl parts;
  if (!split_node_url(raw, named, parts, why)) return false;
  s.url = parts.url;
  s.shown_url = parts.shown;
  if (!named) s.name = parts.shown;
  if (!parts.basic_auth.empty()) s.headers = merge_headers({parts.basic_auth}, s.headers);
  s.secrets = parts.hidden;
  for (const std::string &h : s.headers)
    if (mask_header(h, secret_headers) != h) {
      std::string value = h.substr(h.find(':') + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      s.secrets.push_back(value);
    }
  return true;
}

std::vector<std::string> node_headers(const CheckConfig &check, const ServerConfig &server) {
  std::vector<std::string> pool;
  for (size_t at = 0; at < check.headers.size();) {
    size_t nl = check.headers.find('\n', at);
    if (nl == std::string::npos) nl = check.headers.size();
    pool.push_back(check.headers.substr(at, nl - at));
    at = nl + 1;
  }
  return merge_headers(pool, server.headers);
}

bool resolve_chain_defaults(CheckConfig &c, std::string &why) {
  const lbk_chain_profile *profile = lbk_chain_profile_find(c.chain.c_str());
  if (!profile) {
    why = "unknown chain '" + c.chain + "' (known: " + lbk_chain_profile_names() + ")";
    return false;
  }
  const bool jsonrpc = c.kind == "jsonrpc" || !c.chain.empty() || !c.chain_id.empty();
  if (!c.chain.empty() || !c.chain_id.empty()) c.kind = "jsonrpc";
  if (c.jsonrpc_method.empty()) {
    c.jsonrpc_method = profile->head_method;
    if (!c.has_jsonrpc_field) c.jsonrpc_field = profile->head_field;
    if (c.jsonrpc_params == "[]") c.jsonrpc_params = profile->head_params;
  }
  if (jsonrpc) c.has_jsonrpc_field = true;
  if (c.max_lag < 0) c.max_lag = jsonrpc ? profile->max_lag : 0;
  return true;
}

namespace {

// The words of a server line; a word may quote its value (header="A: b c"):
// the quotes are dropped, spaces inside them kept.
bool server_words(const std::string &value, std::vector<std::string> &out) {
  std::string word;
  bool quoted = false, in_word = false;
  for (char ch : value) {
    if (ch == '"') {
      quoted = !quoted;
      in_word = true;
    } else if (!quoted && std::isspace(static_cast<unsigned char>(ch))) {
      if (in_word) out.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += ch;
      in_word = true;
    }
  }
  if (in_word) out.push_back(word);
  return !quoted;
}

void parse_server(ParseState &st, const std::string &value) {
  std::vector<std::string> words;
  ServerConfig server;
  server.line = st.current_line;
  if (!server_words(value, words)) st.error("server", "unbalanced '\"'");
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string &word = words[i];
    if (word == "backup") {
      server.backup = true;
    } else if (word == "disabled") {
      server.disabled = true;
    } else if (word.rfind("weight=", 0) == 0) {
      uint64_t w = 0;
      if (!parse_uint(word.substr(7), LBK_WEIGHT_MAX, w) || w == 0)
        st.error("server", "weight must be 1.." + std::to_string(LBK_WEIGHT_MAX) +
                               ", got '" + word.substr(7) + "'");
      else
        server.weight = static_cast<uint32_t>(w);
    } else if (word.rfind("name=", 0) == 0) {
      server.name = word.substr(5);
      if (server.name.empty() || server.name.size() >= LBK_NAME_MAX)
        st.error("server", "name must be 1.." + std::to_string(LBK_NAME_MAX - 1) + " bytes");
    } else if (word.rfind("header=", 0) == 0) {
      const std::string h = word.substr(7);
      if (h.find(':') == std::string::npos || h.find(':') == 0)
        st.error("server", "header= expects \"Name: value\" (quoted when it has spaces)");
      else
        server.headers = merge_headers(server.headers, {h});
    } else {
      st.error("server", "unknown server parameter '" + word.substr(0, word.find('=') + 1) +
                             "' (known: weight=N, name=NAME, header=\"Name: value\", backup, "
                             "disabled)");
    }
  }
  if (words.empty()) {
    st.error("server", "missing URL");
    return;
  }
  server.url = words[0];
  st.pool->servers.push_back(server);
}

void set_global(ParseState &st, const std::string &key, const std::string &value) {
  GlobalConfig &g = st.config->global;
  if (key == "timeout") {
    set_duration(st, key, value, g.timeout_ms);
  } else if (key == "concurrency") {
    uint32_t n = g.concurrency;
    set_count(st, key, value, 1, 1000000, n);
    g.concurrency = n;
  } else if (key == "state_file") {
    g.state_file = value;
  } else if (key == "listen") {
    g.listen = value;
  } else {
    st.error(key, "unknown key in [lbctl] (known: timeout, concurrency, state_file, listen)");
  }
}

void set_pool_key(ParseState &st, const std::string &key, const std::string &value) {
  PoolConfig &p = *st.pool;
  CheckConfig &c = p.check;
  if (key == "server") {
    parse_server(st, value);
  } else if (key == "method") {
    const char *canonical = lbk_method_canonical(value.c_str());
    if (!canonical) st.error(key, "unknown balancing method '" + value + "'");
    else p.method = canonical;
  } else if (key == "check") {
    if (value != "tcp" && value != "http" && value != "https" && value != "jsonrpc")
      st.error(key, "expected tcp, http, https or jsonrpc, got '" + value + "'");
    else {
      c.kind = value;
      if (value == "jsonrpc") c.has_jsonrpc_field = true;
    }
  } else if (key == "check_method") {
    c.method = value;
  } else if (key == "path") {
    if (value.empty() || value[0] != '/') st.error(key, "must start with '/'");
    else c.path = value;
  } else if (key == "header") {
    if (value.find(':') == std::string::npos || value[0] == ':') st.error(key, "expected 'Name: value'");
    else c.headers += (c.headers.empty() ? "" : "\n") + value;
  } else if (key == "body") {
    c.body = value;
  } else if (key == "expect_status") {
    c.expect_status = value;
  } else if (key == "expect_body") {
    c.expect_body = value;
  } else if (key == "chain") {
    if (!lbk_chain_profile_find(value.c_str()) || value.empty())
      st.error(key, "unknown chain '" + value + "' (known: " + lbk_chain_profile_names() + ")");
    else
      c.chain = value;
  } else if (key == "chain_id") {
    if (value.empty() || value.size() > 128 || value.find_first_of(" \t\"") != std::string::npos)
      st.error(key, "expected a chain id such as 1, 0x1 or main, got '" + value + "'");
    else
      c.chain_id = value;
  } else if (key == "secret_headers") {
    c.secret_headers = value;
  } else if (key == "failover_errors") {
    c.failover_errors = value;
  } else if (key == "jsonrpc_method") {
    c.jsonrpc_method = value;
  } else if (key == "jsonrpc_params") {
    c.jsonrpc_params = value;
  } else if (key == "jsonrpc_field") {
    c.jsonrpc_field = value;
    c.has_jsonrpc_field = true;
  } else if (key == "max_lag") {
    uint64_t n = 0;
    if (!parse_uint(value, INT64_MAX, n)) st.error(key, "expected a whole number, got '" + value + "'");
    else c.max_lag = static_cast<int64_t>(n);
  } else if (key == "version_field") {
    c.version_field = value;
  } else if (key == "min_version") {
    c.min_version = value;
  } else if (key == "interval" || key == "inter") {
    set_duration(st, key, value, c.interval_ms);
  } else if (key == "fastinter") {
    set_duration(st, key, value, c.fastinter_ms);
  } else if (key == "downinter") {
    set_duration(st, key, value, c.downinter_ms);
  } else if (key == "timeout") {
    if (set_duration(st, key, value, c.timeout_ms))
      st.pools_with_timeout.insert(st.config->pools.size() - 1);
  } else if (key == "rise") {
    set_count(st, key, value, 1, 1000, c.rise);
  } else if (key == "fall") {
    set_count(st, key, value, 1, 1000, c.fall);
  } else if (key == "tls_verify") {
    if (!parse_bool(value, c.tls_verify)) st.error(key, "expected on or off, got '" + value + "'");
  } else if (key == "ca_file") {
    c.ca_file = value;
  } else if (key == "sni") {
    c.sni = value;
  } else {
    bool known = true;
    std::string why;
    if (!set_discovery_key(p.discover, key, value, known, why))
      st.error(key, known ? why : "unknown key in [pool " + p.name + "] (see lbctl.ini(5))");
    else if (key == "discover")
      p.discover.line = st.current_line;
  }
}

void enter_section(ParseState &st, const std::string &section) {
  st.last_section = section;
  st.pool = nullptr;
  st.sync = nullptr;
  st.in_global = false;
  st.in_unknown = false;
  if (section == "lbctl") {
    st.in_global = true;
    return;
  }
  if (section.rfind("pool", 0) == 0 &&
      (section.size() == 4 || std::isspace(static_cast<unsigned char>(section[4])))) {
    const std::string name = trim(section.substr(4));
    if (name.empty()) {
      st.error("", "[pool] needs a name: [pool NAME]", st.last_header_line);
      st.in_unknown = true;
      return;
    }
    for (const PoolConfig &p : st.config->pools)
      if (p.name == name)
        st.error("", "pool '" + name + "' already defined at line " + std::to_string(p.line),
                 st.last_header_line);
    PoolConfig pool;
    pool.name = name;
    pool.file = st.file;
    pool.line = st.last_header_line;
    st.config->pools.push_back(pool);
    st.pool = &st.config->pools.back();
    return;
  }
  if (section.rfind("sync", 0) == 0 &&
      (section.size() == 4 || std::isspace(static_cast<unsigned char>(section[4])))) {
    SyncConfig sync;
    sync.name = trim(section.substr(4));
    sync.file = st.file;
    sync.line = st.last_header_line;
    st.config->syncs.push_back(sync);
    st.sync = &st.config->syncs.back();
    return;
  }
  st.error("", "unknown section [" + section + "] (known: [lbctl], [pool NAME], [sync NAME])",
           st.last_header_line);
  st.in_unknown = true;
}

int on_key(void *user, const char *section, const char *name, const char *value) {
  auto &st = *static_cast<ParseState *>(user);
  const std::string sec = section ? section : "";
  if (sec != st.last_section || (!st.pool && !st.sync && !st.in_global && !st.in_unknown)) {
    if (sec.empty()) {
      st.error(name ? name : "", "key outside a section (put it under [lbctl] or [pool NAME])");
      return 1;
    }
    enter_section(st, sec);
  }
  const std::string key = name ? name : "";
  std::string val, why;
  if (!ini_unquote(value ? value : "", val, why)) {
    st.error(key, why);
    return 1;
  }
  if (st.in_global) set_global(st, key, val);
  else if (st.pool) set_pool_key(st, key, val);
  else if (st.sync) {
    std::string why;
    if (!set_sync_key(*st.sync, key, val, why)) st.error(key, why);
  }
  // keys of an unknown section were reported with the section
  return 1;
}

// Post-parse checks that need the whole file.
void validate(ParseState &st) {
  Config &cfg = *st.config;
  for (size_t i = 0; i < cfg.pools.size(); ++i) {
    PoolConfig &p = cfg.pools[i];
    if (!st.pools_with_timeout.count(i)) p.check.timeout_ms = cfg.global.timeout_ms;
    std::string why;
    for (auto it = p.servers.begin(); it != p.servers.end();) {
      const std::string raw = it->url;
      if (!finish_server(*it, raw, it->name != "", p.check.secret_headers, why)) {
        // The URL itself may carry a secret: say what is wrong, not the URL.
        NodeUrl shown;
        std::string ignored;
        split_node_url(raw, true, shown, ignored);
        st.error("server", "bad URL '" + shown.shown + "': " + why, it->line);
        it = p.servers.erase(it);
      } else {
        ++it;
      }
    }
    if (p.servers.empty() && p.discover.spec.empty())
      st.error("server", "pool '" + p.name + "' has no server (nor discover =)", p.line);
    std::map<std::string, int> names;
    for (const ServerConfig &s : p.servers) {
      auto it = names.find(s.name);
      if (it != names.end())
        st.error("server", "server name '" + s.name + "' already used at line " +
                               std::to_string(it->second), s.line);
      else
        names[s.name] = s.line;
    }
    if (p.check.kind == "tcp") {
      for (const ServerConfig &s : p.servers)
        if (s.url.rfind("tcp://", 0) != 0 && s.url.find("://") == std::string::npos)
          st.error("server", "bad URL for a tcp check", s.line);
    }
  }
  for (const SyncProblem &problem : validate_syncs(cfg))
    st.error(problem.key, problem.message, problem.line);
}

}  // namespace

bool load_config(const std::string &path, Config &out, std::vector<ConfigError> &errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back({path, 0, "", std::string("cannot open: ") + std::strerror(errno)});
    return false;
  }
  ParseState st;
  st.file = path;
  st.config = &out;
  st.errors = &errors;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    st.lines.push_back(line);
  }
  // Sections inih sees may be empty of keys; a [section] line alone must
  // still be validated, so section headers are also visited here.
  const size_t before = errors.size();
  ini_parse_stream(feed_line, &st, on_key, &st);
  // Empty sections (no keys) never reach the handler: register them now.
  for (size_t i = 0; i < st.lines.size(); ++i) {
    const std::string t = trim(st.lines[i]);
    if (t.size() < 2 || t[0] != '[' || t.find(']') == std::string::npos) continue;
    const std::string name = trim(t.substr(1, t.find(']') - 1));
    const int number = static_cast<int>(i + 1);
    bool seen = name == "lbctl";
    for (const PoolConfig &p : out.pools)
      if (p.line == number) seen = true;
    for (const SyncConfig &y : out.syncs)
      if (y.line == number) seen = true;
    if (!seen && name.rfind("pool", 0) == 0 && trim(name.substr(4)).size() &&
        std::isspace(static_cast<unsigned char>(name.size() > 4 ? name[4] : 'x'))) {
      PoolConfig pool;
      pool.name = trim(name.substr(4));
      pool.file = path;
      pool.line = number;
      out.pools.push_back(pool);
    } else if (!seen && name.rfind("sync", 0) == 0 &&
               (name.size() == 4 || std::isspace(static_cast<unsigned char>(name[4])))) {
      SyncConfig sync;  // a [sync] without keys: validate_syncs() says what is missing
      sync.name = trim(name.substr(4));
      sync.file = path;
      sync.line = number;
      out.syncs.push_back(sync);
    } else if (!seen) {
      bool reported = false;
      for (size_t e = before; e < errors.size(); ++e)
        if (errors[e].line == number) reported = true;
      if (!reported)
        errors.push_back({path, number, "",
                          name == "pool" ? "[pool] needs a name: [pool NAME]"
                                         : "unknown section [" + name +
                                               "] (known: [lbctl], [pool NAME], [sync NAME])"});
    }
  }
  std::stable_sort(out.pools.begin(), out.pools.end(),
                   [](const PoolConfig &a, const PoolConfig &b) { return a.line < b.line; });
  std::stable_sort(out.syncs.begin(), out.syncs.end(),
                   [](const SyncConfig &a, const SyncConfig &b) { return a.line < b.line; });
  validate(st);
  std::stable_sort(errors.begin() + static_cast<long>(before), errors.end(),
                   [](const ConfigError &a, const ConfigError &b) { return a.line < b.line; });
  return errors.size() == before;
}

std::string ini_quote(const std::string &value) {
  bool plain = value.empty() || (value.front() != ' ' && value.front() != '\t' &&
                                 value.front() != '"' && value.back() != ' ' &&
                                 value.back() != '\t');
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7f || c == ';' || c == '#') plain = false;
  if (plain) return value;
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f || c == ';' || c == '#') {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

bool ini_unquote(const std::string &value, std::string &out, std::string &why) {
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') {
    out = value;
    return true;
  }
  out.clear();
  for (size_t i = 1; i + 1 < value.size(); ++i) {
    const char c = value[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i + 2 >= value.size()) {
      why = "quoted value ends in a lone backslash";
      return false;
    }
    const char e = value[++i];
    switch (e) {
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'x': {
        const auto hex = [](char h) {
          return std::isxdigit(static_cast<unsigned char>(h))
                     ? (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10) : -1;
        };
        const int hi = i + 2 < value.size() ? hex(value[i + 1]) : -1;
        const int lo = i + 2 < value.size() ? hex(value[i + 2]) : -1;
        if (hi < 0 || lo < 0 || i + 3 > value.size() - 1) {
          why = "quoted value: \\x needs two hex digits";
          return false;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default:
        why = std::string("quoted value: unknown escape \\") + e +
              " (known: \\\\ \\\" \\n \\r \\t \\xNN)";
        return false;
    }
  }
  return true;
}

}  // namespace lbctl
