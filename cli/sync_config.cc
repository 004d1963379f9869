// cli/sync_config.cc - the configuration of `lbctl sync`: [sync NAME]
// sections and a pool's discovery keys (format in man/lbctl.ini.5).
//
//   [pool api]
//   discover = dns-srv:_api._tcp.svc.example   ; or dns:api.svc.example:8080
//   resolver = 127.0.0.1:5353                  ; default: /etc/resolv.conf
//   min_servers = 1                            ; smaller answers are not applied
//
//   [sync edge]
//   pool = api
//   haproxy = /run/haproxy/admin.sock          ; or nginx_api = URL
//   backend = be_api                           ; or upstream = NAME
//   own_all = no
//   drain_timeout = 60s
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <string>

#include "config.h"
#include "duration.h"

namespace lbctl {
namespace {

bool parse_port(const std::string &text, int &port) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  port = std::atoi(text.c_str());
  return port > 0 && port <= 65535;
}

// A DNS name as written in a zone: letters, digits, '-', '_', '.', at most
// 253 bytes, labels of 1..63 bytes.
bool valid_dns_name(const std::string &name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == '.') {
      if (label == 0 && i + 1 != name.size()) return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(c) && c != '-' && c != '_') return false;
    if (++label > 63) return false;
  }
  return true;
}

}  // namespace

bool set_discovery_key(DiscoveryConfig &d, const std::string &key, const std::string &value,
                       bool &known, std::string &why) {
  known = true;
  if (key == "discover") {
    d.spec = value;
    if (value.rfind("dns-srv:", 0) == 0) {
      d.srv = true;
      d.dns_name = value.substr(8);
      if (!valid_dns_name(d.dns_name)) {
        why = "expected dns-srv:NAME (e.g. dns-srv:_api._tcp.svc.example), got '" + value + "'";
        return false;
      }
      return true;
    }
    if (value.rfind("dns:", 0) == 0) {
      d.srv = false;
      const std::string rest = value.substr(4);
      const size_t colon = rest.rfind(':');
      d.dns_name = colon == std::string::npos ? "" : rest.substr(0, colon);
      if (colon == std::string::npos || !valid_dns_name(d.dns_name) ||
          !parse_port(rest.substr(colon + 1), d.port)) {
        why = "expected dns:NAME:PORT (A/AAAA records, e.g. dns:api.svc.example:8080), got '" +
              value + "'";
        return false;
      }
      return true;
    }
    why = "expected dns-srv:NAME or dns:NAME:PORT, got '" + value + "'";
    return false;
  }
  if (key == "resolver") {
    std::string host = value;
    int port = 53;
    if (!value.empty() && value.front() == '[') {
      const size_t close = value.find(']');
      host = close == std::string::npos ? "" : value.substr(1, close - 1);
      if (close != std::string::npos && close + 1 < value.size() &&
          (value[close + 1] != ':' || !parse_port(value.substr(close + 2), port)))
        host.clear();
    } else if (std::count(value.begin(), value.end(), ':') == 1) {
      host = value.substr(0, value.find(':'));
      if (!parse_port(value.substr(value.find(':') + 1), port)) host.clear();
    }
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF.:") != std::string::npos) {
      why = "expected a numeric address with an optional port (127.0.0.1:5353, [::1]:53), "
            "got '" + value + "'";
      return false;
    }
    d.resolver = value;
    return true;
  }
  if (key == "min_servers") {
    if (value.empty() || value.size() > 6 ||
        value.find_first_not_of("0123456789") != std::string::npos) {
      why = "expected a whole number from 0 to 999999, got '" + value + "'";
      return false;
    }
    d.min_servers = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    return true;
  }
  known = false;
  return false;
}

bool set_sync_key(SyncConfig &y, const std::string &key, const std::string &value,
                  std::string &why) {
  if (key == "pool") y.pool = value;
  else if (key == "haproxy") y.haproxy = value;
  else if (key == "backend") y.backend = value;
  else if (key == "nginx_api") y.nginx_api = value;
  else if (key == "upstream") y.upstream = value;
  else if (key == "own_all") {
    if (!parse_bool(value, y.own_all)) {
      why = "expected yes or no, got '" + value + "'";
      return false;
    }
  } else if (key == "drain_timeout") {
    if (!parse_duration_ms(value, y.drain_timeout_ms)) {
      why = duration_problem(value);
      return false;
    }
  } else {
    why = "unknown key in [sync " + y.name +
          "] (known: pool, haproxy, backend, nginx_api, upstream, own_all, drain_timeout)";
    return false;
  }
  return true;
}

std::vector<SyncProblem> validate_syncs(const Config &config) {
  std::vector<SyncProblem> out;
  std::map<std::string, int> names;
  for (const SyncConfig &y : config.syncs) {
    if (y.name.empty()) out.push_back({y.line, "", "[sync] needs a name: [sync NAME]"});
    else if (names.count(y.name))
      out.push_back({y.line, "", "sync '" + y.name + "' already defined at line " +
                                     std::to_string(names[y.name])});
    else
      names[y.name] = y.line;
    const std::string section = "[sync " + y.name + "]";
    if (y.pool.empty()) {
      out.push_back({y.line, "pool", section + " needs pool = NAME"});
    } else {
      bool found = false;
      for (const PoolConfig &p : config.pools) found = found || p.name == y.pool;
      if (!found) out.push_back({y.line, "pool", "no [pool " + y.pool + "] for " + section});
    }
    const bool haproxy = !y.haproxy.empty(), nginx = !y.nginx_api.empty();
    if (haproxy == nginx)
      out.push_back({y.line, "", section + " needs exactly one target: haproxy = SOCKET or "
                                           "nginx_api = URL"});
    if (haproxy && y.backend.empty())
      out.push_back({y.line, "backend", section + ": haproxy = needs backend = NAME"});
    if (nginx && y.upstream.empty())
      out.push_back({y.line, "upstream", section + ": nginx_api = needs upstream = NAME"});
    if (nginx && y.nginx_api.rfind("http://", 0) != 0 && y.nginx_api.rfind("https://", 0) != 0)
      out.push_back({y.line, "nginx_api", section + ": expected an http:// or https:// URL, got '" +
                                              y.nginx_api + "'"});
    if (!haproxy && !y.backend.empty())
      out.push_back({y.line, "backend", section + ": backend = is for haproxy = targets"});
    if (!nginx && !y.upstream.empty())
      out.push_back({y.line, "upstream", section + ": upstream = is for nginx_api = targets"});
  }
  return out;
}

}  // namespace lbctl
