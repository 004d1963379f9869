// cli/import/import_nginx.cc - nginx.conf -> lbctl Config, reporting what is not carried.
//
// Semantics honoured (nginx 1.22 documentation, facts only): an upstream
// balances round robin unless a method directive says otherwise; a server
// without a port uses 80; weight defaults to 1; `random two` picks the less
// loaded of two random servers (lbkit's p2c); upstreams in a `stream` block
// carry TCP.  nginx OSS has no active checks, so unless the check directives
// of nginx_upstream_check_module are present the pool gets a TCP check.
#include "import_nginx.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <sstream>

#include "lbkit.h"

namespace lbctl {
namespace {

struct Directive {
  std::string name;
  std::vector<std::string> args;
  int line = 0;
  bool block = false;
  std::vector<Directive> children;
};

// Tokens of nginx's grammar: words (quotes group, backslash escapes), and
// the punctuation { } ; ; '#' starts a comment up to the end of the line.
struct Token {
  std::string text;
  int line;
  bool punct;
};

std::vector<Token> tokenize(const std::string &text) {
  std::vector<Token> out;
  int line = 1;
  size_t i = 0;
  while (i < text.size()) {
    const char ch = text[i];
    if (ch == '\n') { ++line; ++i; continue; }
    if (std::isspace(static_cast<unsigned char>(ch))) { ++i; continue; }
    if (ch == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (ch == '{' || ch == '}' || ch == ';') {
      out.push_back({std::string(1, ch), line, true});
      ++i;
      continue;
    }
    Token t{"", line, false};
    if (ch == '"' || ch == '\'') {
      const char quote = ch;
      ++i;
      while (i < text.size() && text[i] != quote) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          // As nginx: \t, \r, \n are control characters, \X is X.
          const char next = text[i + 1];
          t.text += next == 't' ? '\t' : next == 'r' ? '\r' : next == 'n' ? '\n' : next;
          i += 2;
          continue;
        }
        if (text[i] == '\n') ++line;
        t.text += text[i++];
      }
      ++i;
    } else {
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])) &&
             text[i] != '{' && text[i] != '}' && text[i] != ';') {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        t.text += text[i++];
      }
    }
    out.push_back(t);
  }
  return out;
}

// Blocks nested deeper than this are refused: the tree is built, walked and
// freed recursively.  nginx's own contexts nest a handful of levels.
constexpr int kMaxBlockDepth = 64;

// Builds the directive tree; @p error gets the first syntax error.  @p depth
// is the number of blocks around @p out.
bool parse_block(const std::vector<Token> &tokens, size_t &pos, std::vector<Directive> &out,
                 int depth, std::string &error) {
  const bool nested = depth > 0;
  Directive cur;
  bool have = false;
  while (pos < tokens.size()) {
    const Token &t = tokens[pos++];
    if (!t.punct) {
      if (!have) {
        cur = Directive();
        cur.name = t.text;
        cur.line = t.line;
        have = true;
      } else {
        cur.args.push_back(t.text);
      }
      continue;
    }
    if (t.text == ";") {
      if (!have) continue;
      out.push_back(std::move(cur));
      have = false;
    } else if (t.text == "{") {
      if (!have) {
        error = "line " + std::to_string(t.line) + ": '{' without a directive";
        return false;
      }
      if (depth >= kMaxBlockDepth) {
        error = "line " + std::to_string(t.line) + ": blocks nested deeper than " +
                std::to_string(kMaxBlockDepth) + " levels";
        return false;
      }
      cur.block = true;
      if (!parse_block(tokens, pos, cur.children, depth + 1, error)) return false;
      out.push_back(std::move(cur));
      have = false;
    } else {  // "}"
      if (have) {
        error = "line " + std::to_string(cur.line) + ": directive '" + cur.name +
                "' is not terminated by ';'";
        return false;
      }
      if (!nested) {
        error = "line " + std::to_string(t.line) + ": unexpected '}'";
        return false;
      }
      return true;
    }
  }
  if (have) {
    error = "line " + std::to_string(cur.line) + ": directive '" + cur.name +
            "' is not terminated by ';'";
    return false;
  }
  if (nested) {
    error = "unexpected end of file: a '{' is not closed";
    return false;
  }
  return true;
}

std::string shown(const Directive &d) {
  std::string s = d.name;
  for (const std::string &a : d.args) s += " " + a;
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

class NginxReader {
 public:
  NginxReader(const std::string &file, ImportResult &result) : file_(file), result_(result) {}

  void read(const std::vector<Directive> &top) {
    collect_https(top);
    for (const Directive &d : top) {
      if ((d.name == "http" || d.name == "stream") && d.block) {
        for (const Directive &c : d.children) context_directive(c, d.name == "stream");
      } else {
        // Also an upstream at the top: a file meant for `include` in http {}.
        context_directive(d, false);
      }
    }
  }

 private:
  void note(int line, const std::string &keyword, const std::string &message) {
    result_.note(file_, line, keyword, message);
  }
  void reject(int line, const std::string &message) { result_.reject(line, message); }

  // Upstreams reached by `proxy_pass https://NAME` get https URLs.
  void collect_https(const std::vector<Directive> &list) {
    for (const Directive &d : list) {
      if (d.name == "proxy_pass" && !d.args.empty() && d.args[0].rfind("https://", 0) == 0) {
        std::string name = d.args[0].substr(8);
        name = name.substr(0, name.find_first_of("/:$"));
        https_upstreams_[name] = true;
      }
      collect_https(d.children);
    }
  }

  void context_directive(const Directive &d, bool stream) {
    if (d.name == "upstream" && d.block) {
      upstream(d, stream);
    } else if (d.block) {
      note(d.line, shown(d) + " { }", "block not converted (lbctl imports upstream blocks)");
    } else {
      note(d.line, shown(d), "not carried (lbctl imports upstream blocks)");
    }
  }

  void upstream(const Directive &u, bool stream) {
    if (u.args.size() != 1) {
      note(u.line, shown(u), "upstream needs exactly one name; skipped");
      return;
    }
    PoolConfig pool;
    pool.name = u.args[0];
    pool.file = file_;
    pool.line = u.line;
    pool.method = "round_robin";
    CheckConfig &c = pool.check;
    c.kind = "tcp";
    bool has_check = false;
    const bool https = https_upstreams_.count(pool.name) > 0;
    const std::string scheme = stream ? "tcp" : (https ? "https" : "http");
    for (const Directive &d : u.children) {
      if (d.name == "server") {
        server(d, pool, scheme);
      } else if (d.name == "least_conn" && d.args.empty()) {
        pool.method = "least_conn";
      } else if (d.name == "ip_hash" && d.args.empty()) {
        pool.method = "source";
        note(d.line, "ip_hash", "written as method = source, which hashes the whole client "
                                "address (ip_hash uses the first three octets of IPv4)");
      } else if (d.name == "random") {
        if (d.args.empty()) {
          pool.method = "random";
        } else if (d.args[0] == "two") {
          pool.method = "p2c";
          if (d.args.size() > 1 && d.args[1] != "least_conn")
            note(d.line, shown(d), "p2c compares active requests; '" + d.args[1] +
                                       "' is not carried");
        } else {
          note(d.line, shown(d), "unknown random argument; kept " + pool.method);
        }
      } else if (d.name == "least_time") {
        pool.method = "peak_ewma";
        note(d.line, shown(d), "written as method = peak_ewma (latency-aware, from lbkit's "
                               "own measurements)");
      } else if (d.name == "hash") {
        note(d.line, shown(d), "lbctl has no request key to hash on; kept method " +
                                   pool.method);
      } else if (d.name == "check") {
        has_check = check(d, c);
      } else if (d.name == "check_http_send" && d.args.size() == 1) {
        check_http_send(d, c);
      } else if (d.name == "check_http_expect_alive") {
        check_expect_alive(d, c);
      } else {
        note(d.line, shown(d), "not carried: lbctl has no equivalent");
      }
    }
    const char *canonical = lbk_method_canonical(pool.method.c_str());
    if (canonical) pool.method = canonical;
    if (!has_check) {
      note(u.line, "upstream " + pool.name,
           "nginx has no active health checks here; lbctl checks each server with a TCP "
           "connect every " + std::to_string(c.interval_ms / 1000) + "s");
    } else if (c.kind == "http" && https) {
      c.kind = "https";
    }
    if (pool.servers.empty()) {
      note(u.line, "upstream " + pool.name, "no server could be imported; the pool is not written");
      return;
    }
    result_.config.pools.push_back(pool);
  }

  void server(const Directive &d, PoolConfig &pool, const std::string &scheme) {
    if (d.args.empty()) {
      note(d.line, "server", "missing address; skipped");
      return;
    }
    const std::string &addr = d.args[0];
    if (addr.empty()) {
      reject(d.line, "server '': the address has no host");
      return;
    }
    if (addr.rfind("unix:", 0) == 0) {
      note(d.line, shown(d), "unix sockets cannot be imported; skipped");
      return;
    }
    std::string host = addr, port;
    if (addr.front() == '[') {
      const size_t close = addr.find(']');
      host = addr.substr(1, close == std::string::npos ? std::string::npos : close - 1);
      if (close != std::string::npos && close + 1 < addr.size() && addr[close + 1] == ':')
        port = addr.substr(close + 2);
    } else if (std::count(addr.begin(), addr.end(), ':') == 1) {
      host = addr.substr(0, addr.find(':'));
      port = addr.substr(addr.find(':') + 1);
    }
    if (host.empty()) {
      reject(d.line, "server '" + addr + "': the address has no host");
      return;
    }
    if (port.empty()) {
      if (scheme == "tcp") {
        note(d.line, shown(d), "a stream server needs a port; skipped");
        return;
      }
      port = "80";
    }
    ServerConfig s;
    s.url = scheme + "://" + url_host(host) + ":" + port + (scheme == "tcp" ? "" : "/");
    s.name = addr;
    s.line = d.line;
    for (size_t i = 1; i < d.args.size(); ++i) {
      const std::string &p = d.args[i];
      if (p.rfind("weight=", 0) == 0) {
        char *end = nullptr;
        const unsigned long w = std::strtoul(p.c_str() + 7, &end, 10);
        if (*end == 0 && w >= 1 && w <= LBK_WEIGHT_MAX) s.weight = static_cast<uint32_t>(w);
        else note(d.line, "server " + addr + " " + p, "bad weight; written as weight=1");
      } else if (p == "backup") {
        s.backup = true;
      } else if (p == "down") {
        s.disabled = true;
      } else {
        note(d.line, "server " + addr + " " + p, "not carried: lbctl has no equivalent");
      }
    }
    pool.servers.push_back(s);
  }

  // nginx_upstream_check_module: check interval=ms rise=n fall=n timeout=ms type=tcp|http
  bool check(const Directive &d, CheckConfig &c) {
    for (const std::string &a : d.args) {
      const size_t eq = a.find('=');
      const std::string k = a.substr(0, eq), v = eq == std::string::npos ? "" : a.substr(eq + 1);
      uint32_t n = 0;
      const bool num = parse_foreign_duration_ms(v, n) && n > 0;
      if (k == "interval" && num) c.interval_ms = n;
      else if (k == "timeout" && num) c.timeout_ms = n;
      else if (k == "rise" && num && n <= 1000) c.rise = n;
      else if (k == "fall" && num && n <= 1000) c.fall = n;
      else if (k == "type" && (v == "tcp" || v == "http")) c.kind = v;
      else note(d.line, "check " + a, "not carried: lbctl has no equivalent");
    }
    return true;
  }

  // check_http_send "GET /path HTTP/1.0\r\nHost: x\r\n\r\n"
  void check_http_send(const Directive &d, CheckConfig &c) {
    std::istringstream lines(d.args[0]);
    std::string first, line;
    std::getline(lines, first);
    std::istringstream words(first);
    std::string method, path;
    words >> method >> path;
    if (method.empty() || path.empty() || path[0] != '/') {
      note(d.line, shown(d), "expected \"METHOD /path HTTP/1.x\"; not carried");
      return;
    }
    c.method = method;
    c.path = path;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) break;
      if (line.find(':') != std::string::npos)
        c.headers += (c.headers.empty() ? "" : "\n") + line;
    }
  }

  // check_http_expect_alive http_2xx http_3xx -> expect_status 200-399 list
  void check_expect_alive(const Directive &d, CheckConfig &c) {
    std::string list;
    for (const std::string &a : d.args) {
      if (a.size() == 8 && a.rfind("http_", 0) == 0 && a[5] >= '1' && a[5] <= '5' &&
          a.substr(6) == "xx") {
        list += (list.empty() ? "" : ",") + std::string(1, a[5]) + "00-" + a[5] + "99";
      } else {
        note(d.line, "check_http_expect_alive " + a, "not carried: expected http_Nxx");
      }
    }
    if (!list.empty()) c.expect_status = list;
  }

  std::string file_;
  ImportResult &result_;
  std::map<std::string, bool> https_upstreams_;
};

}  // namespace

ImportResult import_nginx(const std::string &file, const std::string &text) {
  ImportResult result;
  const std::vector<Token> tokens = tokenize(text);
  std::vector<Directive> top;
  size_t pos = 0;
  std::string error;
  if (!parse_block(tokens, pos, top, 0, error)) {
    result.fatal = "cannot parse nginx configuration: " + error;
    return result;
  }
  NginxReader reader(file, result);
  reader.read(top);
  finish_import(result, "no upstream block with servers found");
  return result;
}

}  // namespace lbctl
