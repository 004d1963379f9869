// Target URL parsing for the prober (scheme://host[:port][/path]).
#include <arpa/inet.h>

#include <cctype>
#include <cstdlib>

#include "lbkit/probe.h"

namespace lbk {
namespace probe {

std::string Url::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  return default_port ? h : h + ":" + std::to_string(port);
}

bool parse_url(Url *out, const std::string &url, std::string *error) {
  Url u;
  size_t sep = url.find("://");
  if (sep == std::string::npos) {
    *error = "missing scheme (http://, https:// or tcp://)";
    return false;
  }
  u.scheme = url.substr(0, sep);
  for (auto &ch : u.scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (u.scheme == "http") {
    u.port = 80;
  } else if (u.scheme == "https") {
    u.port = 443;
    u.tls = true;
  } else if (u.scheme != "tcp") {
    *error = "unknown scheme '" + u.scheme + "' (http, https or tcp)";
    return false;
  }
  std::string rest = url.substr(sep + 3);
  size_t path_at = rest.find_first_of("/?");
  std::string authority = rest.substr(0, path_at);
  if (path_at != std::string::npos) {
    u.path = rest.substr(path_at);
    if (u.path[0] == '?') u.path = "/" + u.path;
  }
  if (authority.find('@') != std::string::npos) {
    *error = "user information in URLs is not supported";
    return false;
  }
  std::string port_text;
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {
    size_t close_br = authority.find(']');
    if (close_br == std::string::npos) {
      *error = "unterminated '[' in IPv6 address";
      return false;
    }
    u.host = authority.substr(1, close_br - 1);
    std::string after = authority.substr(close_br + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        *error = "unexpected '" + after + "' after IPv6 address";
        return false;
      }
      port_text = after.substr(1);
      has_port = true;
    }
    in6_addr a6;
    if (inet_pton(AF_INET6, u.host.c_str(), &a6) != 1) {
      *error = "'" + u.host + "' is not an IPv6 address";
      return false;
    }
    u.host_is_ip = true;
  } else {
    size_t colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    in_addr a4;
    u.host_is_ip = inet_pton(AF_INET, u.host.c_str(), &a4) == 1;
  }
  if (u.host.empty()) {
    *error = "missing host";
    return false;
  }
  if (has_port) {
    char *end = nullptr;
    long p = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end || p < 1 || p > 65535) {
      *error = "port '" + port_text + "' is not in 1..65535";
      return false;
    }
    u.port = static_cast<uint16_t>(p);
  } else if (u.scheme == "tcp") {
    *error = "tcp:// needs a port";
    return false;
  }
  *out = u;
  return true;
}

}  // namespace probe
}  // namespace lbk
