// cli/import/import_haproxy.cc - haproxy.cfg -> lbctl Config, reporting what is not carried.
//
// Semantics honoured (HAProxy 2.6 configuration manual, facts only):
//  - a `defaults` section applies to every proxy after it, until the next one;
//  - default balance is roundrobin; default mode is tcp;
//  - `check` enables health checks on a server (no `check`, no checks);
//    without `option httpchk` the check is a TCP connect;
//  - inter defaults to 2s, rise to 2, fall to 3; fastinter and downinter
//    default to inter; without `timeout check` a check times out after inter;
//  - `balance random` draws 2 servers (random(2)), which is lbkit's p2c;
//  - `hash-type consistent` is lbkit's default (ketama) hashing.
#include "import_haproxy.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>

#include "lbkit.h"

namespace lbctl {
namespace {

// Reads the escape sequence at line[i] (a backslash) and advances @p i past
// it: \n, \r, \t and \xNN are control characters, \X is X (HAProxy 2.6).
char unescape(const std::string &line, size_t &i) {
  const char next = line[i + 1];
  i += 1;
  if (next == 'n') return '\n';
  if (next == 'r') return '\r';
  if (next == 't') return '\t';
  if (next == 'x' && i + 2 < line.size() && std::isxdigit(static_cast<unsigned char>(line[i + 1])) &&
      std::isxdigit(static_cast<unsigned char>(line[i + 2]))) {
    const char hex[3] = {line[i + 1], line[i + 2], 0};
    i += 2;
    return static_cast<char>(std::strtol(hex, nullptr, 16));
  }
  return next;
}

// Splits a configuration line into words as HAProxy does: blanks separate,
// "double" (weak) and 'single' (strong) quotes group, a backslash escapes,
// and an unquoted '#' starts a comment.
std::vector<std::string> split_words(const std::string &line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quote) {
      if (ch == quote) quote = 0;
      else if (ch == '\\' && quote == '"' && i + 1 < line.size()) cur += unescape(line, i);
      else cur += ch;
      continue;
    }
    if (ch == '#' && !in_word) break;
    if (ch == ' ' || ch == '\t') {
      if (in_word) words.push_back(cur);
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (ch == '"' || ch == '\'') quote = ch;
    else if (ch == '\\' && i + 1 < line.size()) cur += unescape(line, i);
    else cur += ch;
  }
  if (in_word) words.push_back(cur);
  return words;
}

std::string join(const std::vector<std::string> &w, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to && i < w.size(); ++i) s += (s.empty() ? "" : " ") + w[i];
  return s;
}

const std::set<std::string> &section_keywords() {
  static const std::set<std::string> k = {
      "global", "defaults", "frontend", "backend", "listen", "resolvers", "peers",
      "userlist", "mailers", "program", "cache", "http-errors", "ring", "log-forward"};
  return k;
}

// Server parameters that HAProxy parses with one argument; needed to skip
// the argument of a parameter that is reported, not converted.
const std::set<std::string> &server_params_with_value() {
  static const std::set<std::string> k = {
      "weight", "inter", "fastinter", "downinter", "rise", "fall", "port", "addr",
      "maxconn", "maxqueue", "minconn", "slowstart", "cookie", "id", "sni", "ca-file",
      "crl-file", "crt", "verify", "verifyhost", "agent-port", "agent-inter",
      "agent-send", "agent-addr", "on-error", "on-marked-down", "on-marked-up",
      "error-limit", "observe", "redir", "resolvers", "resolve-prefer", "resolve-net",
      "resolve-opts", "init-addr", "source", "track", "namespace", "pool-max-conn",
      "pool-purge-delay", "pool-low-conn", "proto", "alpn", "npn", "ciphers",
      "ciphersuites", "check-sni", "check-alpn", "check-proto", "socks4",
      "proxy-v2-options", "max-reuse", "tcp-ut", "log-proto", "curves", "sigalgs",
      "ssl-min-ver", "ssl-max-ver", "set-proxy-v2-tlv-fmt", "usesrc", "ws",
      "client-sigalgs", "shard", "log-bufsize", "guid"};
  return k;
}

// Check timing and TLS settings of one `server` or `default-server` line.
struct ServerParams {
  std::optional<uint32_t> weight, inter, fastinter, downinter, rise, fall;
  bool check = false, backup = false, ssl = false, disabled = false;
  std::optional<bool> verify;  // verify none|required
  std::string sni, ca_file;
};

// The HTTP check of a proxy (option httpchk, http-check send/expect).
struct CheckSpec {
  bool http = false;
  std::string method, path, headers, body, expect_status, expect_body;
  std::optional<uint32_t> timeout_ms;  // timeout check
  int expect_status_line = 0, expect_body_line = 0;
};

struct ProxySettings {
  std::string method = "round_robin";  // HAProxy's default balance
  bool hash_method = false;            // balance source/hash: hash-type applies
  int hash_type_line = 0;              // where a hash-type was given
  std::string mode = "tcp";
  ServerParams default_server;
  CheckSpec check;
};

struct PendingServer {
  std::string name, host, port;
  ServerParams params;
  int line = 0;
};

class HaproxyReader {
 public:
  HaproxyReader(const std::string &file, ImportResult &result) : file_(file), result_(result) {}

  void read(const std::string &text) {
    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const std::vector<std::string> w = split_words(line);
      if (w.empty()) continue;
      if (section_keywords().count(w[0])) {
        start_section(w, number);
        continue;
      }
      switch (kind_) {
        case Section::kNone:
          note(number, w[0], "keyword outside any section; ignored");
          break;
        case Section::kSkipped:
          ++skipped_lines_;
          break;
        case Section::kDefaults:
        case Section::kBackend:
        case Section::kListen:
          proxy_keyword(w, number);
          break;
      }
    }
    end_section();
  }

 private:
  enum class Section { kNone, kSkipped, kDefaults, kBackend, kListen };

  void note(int line, const std::string &keyword, const std::string &message) {
    result_.note(file_, line, keyword, message);
  }
  void reject(int line, const std::string &message) { result_.reject(line, message); }

  void start_section(const std::vector<std::string> &w, int line) {
    end_section();
    section_line_ = line;
    section_name_ = w.size() > 1 ? w[1] : "";
    const std::string &k = w[0];
    if (k == "defaults") {
      kind_ = Section::kDefaults;
      defaults_ = ProxySettings();
      current_ = &defaults_;
      if (w.size() > 2) note(line, "defaults " + join(w, 1, w.size()),
                             "named defaults and 'from' are not followed; the section's "
                             "settings apply to the proxies after it");
    } else if (k == "backend" || k == "listen") {
      kind_ = k == "backend" ? Section::kBackend : Section::kListen;
      proxy_ = defaults_;
      current_ = &proxy_;
      servers_.clear();
      if (section_name_.empty()) note(line, k, "section without a name; skipped");
      if (w.size() > 2 && k == "backend")
        note(line, k + " " + join(w, 2, w.size()),
             "'from' is not followed; the last unnamed defaults section applies");
      if (w.size() > 2 && k == "listen")
        note(line, "listen " + join(w, 2, w.size()),
             "bind address not carried: lbctl has no frontends");
    } else {
      kind_ = Section::kSkipped;
      skipped_keyword_ = k + (section_name_.empty() ? "" : " " + section_name_);
      skipped_lines_ = 0;
    }
  }

  void end_section() {
    if (kind_ == Section::kSkipped) {
      note(section_line_, skipped_keyword_,
           "section not converted (lbctl imports backend and listen sections): " +
               std::to_string(skipped_lines_) + " line(s) not carried");
    } else if ((kind_ == Section::kBackend || kind_ == Section::kListen) &&
               !section_name_.empty()) {
      finish_proxy();
    }
    kind_ = Section::kNone;
  }

  // Keywords of defaults, backend and listen sections.
  void proxy_keyword(const std::vector<std::string> &w, int line) {
    const std::string &k = w[0];
    ProxySettings &p = *current_;
    if (k == "balance") {
      balance(w, line, p);
    } else if (k == "hash-type") {
      hash_type(w, line, p);
    } else if (k == "mode") {
      if (w.size() > 1 && (w[1] == "http" || w[1] == "tcp")) p.mode = w[1];
      else note(line, join(w, 0, w.size()), "unknown mode; kept " + p.mode);
    } else if (k == "default-server") {
      server_params(w, 1, line, p.default_server, "default-server");
    } else if (k == "server") {
      server(w, line);
    } else if (k == "option" && w.size() > 1 && w[1] == "httpchk") {
      option_httpchk(w, line, p.check);
    } else if ((k == "option" && w.size() > 1 && w[1] == "tcp-check") ||
               (k == "no" && w.size() > 2 && w[1] == "option" && w[2] == "httpchk")) {
      p.check.http = false;  // back to a connect check
    } else if (k == "http-check" && w.size() > 1 && w[1] == "send") {
      http_check_send(w, line, p.check);
    } else if (k == "http-check" && w.size() > 1 && w[1] == "expect") {
      http_check_expect(w, line, p.check);
    } else if ((k == "http-check" || k == "tcp-check") && w.size() == 2 && w[1] == "connect") {
      // A plain connect step is what lbctl's check does anyway.
    } else if (k == "timeout" && w.size() > 2 && w[1] == "check") {
      uint32_t ms = 0;
      if (parse_foreign_duration_ms(w[2], ms) && ms > 0) p.check.timeout_ms = ms;
      else note(line, "timeout check", "bad duration '" + w[2] + "'; not carried");
    } else if (k == "server-template") {
      note(line, k, "server templates are not expanded: lbctl needs each server's address");
    } else if (k == "bind" && kind_ == Section::kListen) {
      note(line, join(w, 0, w.size()), "not carried: lbctl has no frontends");
    } else {
      const size_t shown = (k == "option" || k == "no" || k == "timeout" || k == "http-check" ||
                            k == "tcp-check") ? 2 : 1;
      note(line, join(w, 0, std::min(shown, w.size())), "not carried: lbctl has no equivalent");
    }
  }

  void balance(const std::vector<std::string> &w, int line, ProxySettings &p) {
    if (w.size() < 2) {
      note(line, "balance", "missing algorithm; kept " + p.method);
      return;
    }
    std::string algo = w[1], arg;
    const size_t paren = algo.find('(');
    if (paren != std::string::npos) {
      arg = algo.substr(paren + 1, algo.find(')') == std::string::npos
                                       ? std::string::npos : algo.find(')') - paren - 1);
      algo = algo.substr(0, paren);
    }
    const std::string shown = join(w, 0, w.size());
    if (w.size() > 2) note(line, shown, "arguments after the algorithm are not carried");
    p.hash_method = false;
    if (algo == "roundrobin" || algo == "static-rr") {
      // static-rr differs only when weights change at run time.
      p.method = "round_robin";
    } else if (algo == "leastconn") {
      p.method = "least_conn";
    } else if (algo == "first") {
      p.method = "first";
    } else if (algo == "source") {
      p.method = "source";
      p.hash_method = true;
    } else if (algo == "random") {
      // random(N) draws N servers and keeps the least loaded; N defaults to 2.
      unsigned long draws = 2;
      if (!arg.empty()) draws = std::strtoul(arg.c_str(), nullptr, 10);
      if (draws <= 1) {
        p.method = "random";
      } else {
        p.method = "p2c";
        if (draws > 2)
          note(line, shown, "lbctl.ini has no draws setting: written as p2c (2 draws)");
      }
    } else {
      note(line, shown, "balancing on request content (uri, url_param, hdr, rdp-cookie, hash) "
                        "is not available in lbctl; kept method " + p.method);
      return;
    }
    const char *canonical = lbk_method_canonical(p.method.c_str());
    if (canonical) p.method = canonical;
  }

  void hash_type(const std::vector<std::string> &w, int line, ProxySettings &p) {
    const std::string shown = join(w, 0, w.size());
    if (w.size() < 2) {
      note(line, shown, "missing method");
      return;
    }
    if (w[1] != "consistent") {
      note(line, shown, "lbctl hashes consistently (ketama, crc32); " + w[1] +
                            " hashing is not available");
      return;
    }
    if (w.size() > 2 && !(w.size() == 3 && w[2] == "crc32"))
      note(line, shown, "hash function and modifiers are not carried (lbctl uses crc32)");
    // consistent is liblbkit's default hash kind: nothing to write.
    p.hash_type_line = line;
  }

  // Parses server parameters from word @p from on; reports those not carried.
  void server_params(const std::vector<std::string> &w, size_t from, int line,
                     ServerParams &out, const std::string &where) {
    for (size_t i = from; i < w.size(); ++i) {
      const std::string &k = w[i];
      const bool has_value = i + 1 < w.size();
      const std::string value = has_value ? w[i + 1] : "";
      auto duration = [&](std::optional<uint32_t> &slot) {
        uint32_t ms = 0;
        if (has_value && parse_foreign_duration_ms(value, ms) && ms > 0) slot = ms;
        else note(line, where + " " + k, "bad duration '" + value + "'; not carried");
        ++i;
      };
      auto count = [&](std::optional<uint32_t> &slot, uint32_t min, uint32_t max) {
        char *end = nullptr;
        const unsigned long n = std::strtoul(value.c_str(), &end, 10);
        if (has_value && !value.empty() && *end == 0 && n >= min && n <= max)
          slot = static_cast<uint32_t>(n);
        else
          note(line, where + " " + k + " " + value, "out of range; not carried");
        ++i;
      };
      if (k == "check") out.check = true;
      else if (k == "no-check") out.check = false;
      else if (k == "backup") out.backup = true;
      else if (k == "no-backup") out.backup = false;
      else if (k == "ssl") out.ssl = true;
      else if (k == "no-ssl") out.ssl = false;
      else if (k == "inter") duration(out.inter);
      else if (k == "fastinter") duration(out.fastinter);
      else if (k == "downinter") duration(out.downinter);
      else if (k == "rise") count(out.rise, 1, 1000);
      else if (k == "fall") count(out.fall, 1, 1000);
      else if (k == "weight") count(out.weight, 0, 256);
      else if (k == "disabled") {
        out.disabled = true;
      } else if (k == "enabled") {
        out.disabled = false;
      } else if (k == "verify" && (value == "none" || value == "required")) {
        out.verify = value == "required";
        ++i;
      } else if (k == "sni" && value.rfind("str(", 0) == 0 && value.back() == ')') {
        out.sni = value.substr(4, value.size() - 5);
        ++i;
      } else if (k == "ca-file" && has_value) {
        out.ca_file = value;
        ++i;
      } else if (server_params_with_value().count(k) && has_value) {
        note(line, where + " " + k + " " + value, "not carried: lbctl has no equivalent");
        ++i;
      } else {
        note(line, where + " " + k, "not carried: lbctl has no equivalent");
      }
    }
  }

  void server(const std::vector<std::string> &w, int line) {
    if (kind_ == Section::kDefaults || w.size() < 3) {
      note(line, "server", w.size() < 3 ? "needs a name and an address; skipped"
                                        : "server in a defaults section; skipped");
      return;
    }
    PendingServer s;
    s.name = w[1];
    s.line = line;
    std::string addr = w[2];
    for (const char *prefix : {"ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"})
      if (addr.rfind(prefix, 0) == 0) addr = addr.substr(std::string(prefix).size());
    if (addr.empty()) {
      reject(line, "server " + s.name + " '" + w[2] + "': the address has no host");
      return;
    }
    if (addr.find('@') != std::string::npos || addr.front() == '/') {
      note(line, "server " + s.name + " " + w[2],
           "only TCP addresses can be imported (no unix sockets or namespaces); skipped");
      return;
    }
    // host:port, [v6]:port, or an IPv6 literal whose last ':' part is the port.
    if (addr.front() == '[') {
      const size_t close = addr.find(']');
      s.host = addr.substr(1, close == std::string::npos ? std::string::npos : close - 1);
      if (close != std::string::npos && close + 1 < addr.size() && addr[close + 1] == ':')
        s.port = addr.substr(close + 2);
    } else {
      const size_t colon = addr.rfind(':');
      const bool v6 = std::count(addr.begin(), addr.end(), ':') > 1;
      if (colon == std::string::npos) {
        s.host = addr;
      } else {
        s.host = addr.substr(0, colon);
        s.port = addr.substr(colon + 1);
        if (v6 && s.port.find_first_not_of("0123456789") != std::string::npos) {
          s.host = addr;
          s.port.clear();
        }
      }
    }
    if (s.host.empty()) {
      reject(line, "server " + s.name + " '" + w[2] + "': the address has no host");
      return;
    }
    if (!s.port.empty() && s.port.find_first_not_of("0123456789") != std::string::npos) {
      note(line, "server " + s.name + " " + w[2],
           "port ranges and offsets (+N, -N, a-b) cannot be imported; skipped");
      return;
    }
    s.params = current_->default_server;
    server_params(w, 3, line, s.params, "server " + s.name);
    if (s.port.empty()) {
      if (current_->mode == "tcp") {
        note(line, "server " + s.name + " " + w[2],
             "no port: HAProxy uses the client's destination port, lbctl needs one; skipped");
        return;
      }
      note(line, "server " + s.name + " " + w[2],
           "no port: HAProxy uses the client's destination port; written with the scheme's "
           "default port");
    }
    if (!s.params.check)
      note(line, "server " + s.name,
           "no 'check': HAProxy does not health-check this server, lbctl always does");
    servers_.push_back(s);
  }

  void option_httpchk(const std::vector<std::string> &w, int line, CheckSpec &c) {
    c.http = true;
    // option httpchk [<method>] [<uri>] [<version>]; a single argument is the uri.
    if (w.size() == 3) {
      c.path = w[2];
    } else if (w.size() >= 4) {
      c.method = w[2];
      c.path = w[3];
    }
    if (w.size() >= 5) {
      // The version may carry header lines: "HTTP/1.1\r\nHost:\ www".
      std::string version = w[4];
      const size_t eol = version.find_first_of("\r\n");
      if (eol != std::string::npos) {
        std::istringstream rest(version.substr(eol));
        for (std::string header; std::getline(rest, header);) {
          if (!header.empty() && header.back() == '\r') header.pop_back();
          const size_t start = header.find_first_not_of("\r ");
          if (start == std::string::npos) continue;
          header = header.substr(start);
          if (header.find(':') != std::string::npos)
            c.headers += (c.headers.empty() ? "" : "\n") + header;
          else
            note(line, "option httpchk", "not a header line: '" + header + "'; not carried");
        }
        version = version.substr(0, eol);
      }
      if (version != "HTTP/1.1" && version != "HTTP/1.0")
        note(line, "option httpchk ... " + version, "lbctl checks speak HTTP/1.1");
    }
    if (w.size() > 5) note(line, "option httpchk", "extra arguments not carried");
  }

  void http_check_send(const std::vector<std::string> &w, int line, CheckSpec &c) {
    for (size_t i = 2; i < w.size(); ++i) {
      const std::string &k = w[i];
      const bool has = i + 1 < w.size();
      if (k == "meth" && has) c.method = w[++i];
      else if (k == "uri" && has) c.path = w[++i];
      else if (k == "ver" && has) {
        const std::string v = w[++i];
        if (v != "HTTP/1.1" && v != "HTTP/1.0")
          note(line, "http-check send ver " + v, "lbctl checks speak HTTP/1.1");
      } else if (k == "hdr" && i + 2 < w.size()) {
        c.headers += (c.headers.empty() ? "" : "\n") + w[i + 1] + ": " + w[i + 2];
        i += 2;
      } else if (k == "body" && has) {
        c.body = w[++i];
      } else {
        const std::string shown = has ? k + " " + w[i + 1] : k;
        note(line, "http-check send " + shown,
             "not carried (log-format and comment arguments have no lbctl equivalent)");
        if (has) ++i;
      }
    }
  }

  void http_check_expect(const std::vector<std::string> &w, int line, CheckSpec &c) {
    const std::string shown = join(w, 0, w.size());
    size_t i = 2;
    while (i < w.size() && (w[i] == "min-recv" || w[i] == "comment" || w[i] == "ok-status" ||
                            w[i] == "error-status" || w[i] == "tout-status" ||
                            w[i] == "on-success" || w[i] == "on-error" ||
                            w[i] == "status-code")) {
      note(line, "http-check expect " + w[i], "not carried: lbctl has no equivalent");
      i += 2;
    }
    if (i + 1 >= w.size() || (i + 2 != w.size())) {
      note(line, shown, "only 'http-check expect status CODES' and 'string TEXT' are carried");
      return;
    }
    const std::string &match = w[i], &pattern = w[i + 1];
    if (match == "status") {
      if (c.expect_status_line)
        note(line, shown, "lbctl keeps one status rule; this one replaces line " +
                              std::to_string(c.expect_status_line));
      c.expect_status = pattern;
      c.expect_status_line = line;
    } else if (match == "string") {
      if (c.expect_body_line)
        note(line, shown, "lbctl keeps one body rule; this one replaces line " +
                              std::to_string(c.expect_body_line));
      c.expect_body = pattern;
      c.expect_body_line = line;
    } else {
      note(line, shown, "only 'status' and 'string' expectations are carried (no negation, "
                        "regex, header or log-format rules)");
    }
  }

  void finish_proxy() {
    PoolConfig pool;
    pool.name = section_name_;
    pool.file = file_;
    pool.line = section_line_;
    pool.method = proxy_.method;
    if (proxy_.hash_type_line && !proxy_.hash_method)
      note(proxy_.hash_type_line, "hash-type",
           "has no effect: the backend's balance is not hash-based (" + pool.method + ")");
    const CheckSpec &spec = proxy_.check;
    // Pool-wide check timing: from the first checked server (lbctl has one
    // check setting per pool); servers that differ are reported.
    const PendingServer *model = nullptr;
    for (const PendingServer &s : servers_)
      if (s.params.check && !model) model = &s;
    const ServerParams &tp = model ? model->params : proxy_.default_server;
    CheckConfig &c = pool.check;
    c.interval_ms = tp.inter.value_or(2000);
    c.fastinter_ms = tp.fastinter.value_or(0);
    c.downinter_ms = tp.downinter.value_or(0);
    c.rise = tp.rise.value_or(2);
    c.fall = tp.fall.value_or(3);
    c.timeout_ms = spec.timeout_ms.value_or(c.interval_ms);
    const bool tls = model ? model->params.ssl : (!servers_.empty() && servers_[0].params.ssl);
    if (spec.http) {
      c.kind = tls ? "https" : "http";
      c.method = spec.method;
      c.path = spec.path;
      c.headers = spec.headers;
      c.body = spec.body;
      if (!spec.expect_status.empty()) c.expect_status = spec.expect_status;
      c.expect_body = spec.expect_body;
    } else {
      c.kind = "tcp";
    }
    if (tp.verify) c.tls_verify = *tp.verify;
    else if (tls)
      note(section_line_, "backend " + pool.name,
           "HAProxy verifies server certificates only with 'verify required'; lbctl verifies "
           "by default (tls_verify = on)");
    c.sni = tp.sni;
    c.ca_file = tp.ca_file;
    for (const PendingServer &s : servers_) {
      if (model && &s != model) {
        const ServerParams &a = s.params, &b = model->params;
        if (a.inter != b.inter || a.fastinter != b.fastinter || a.downinter != b.downinter ||
            a.rise != b.rise || a.fall != b.fall || a.ssl != b.ssl)
          note(s.line, "server " + s.name,
               "check timing or TLS differs from server " + model->name +
                   "'s; lbctl uses one check setting per pool (" + model->name + "'s)");
      }
      ServerConfig out;
      const std::string scheme = proxy_.mode == "http" ? (s.params.ssl ? "https" : "http")
                                                       : "tcp";
      out.url = scheme + "://" + url_host(s.host) + (s.port.empty() ? "" : ":" + s.port) +
                (scheme == "tcp" ? "" : "/");
      out.name = s.name;
      out.backup = s.params.backup;
      out.disabled = s.params.disabled;
      out.line = s.line;
      uint32_t weight = s.params.weight.value_or(1);
      if (weight == 0) {
        note(s.line, "server " + s.name + " weight 0",
             "weight 0 (no load-balanced traffic) cannot be expressed; written as weight=1");
        weight = 1;
      }
      out.weight = weight;
      pool.servers.push_back(out);
    }
    if (pool.servers.empty()) {
      note(section_line_, "backend " + pool.name,
           "no server could be imported; the pool is not written");
      return;
    }
    result_.config.pools.push_back(pool);
  }

  std::string file_;
  ImportResult &result_;
  Section kind_ = Section::kNone;
  int section_line_ = 0;
  std::string section_name_, skipped_keyword_;
  int skipped_lines_ = 0;
  ProxySettings defaults_, proxy_;
  ProxySettings *current_ = &defaults_;
  std::vector<PendingServer> servers_;
};

}  // namespace

ImportResult import_haproxy(const std::string &file, const std::string &text) {
  ImportResult result;
  HaproxyReader reader(file, result);
  reader.read(text);
  finish_import(result, "no backend or listen section with servers found");
  return result;
}

}  // namespace lbctl
