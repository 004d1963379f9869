// cli/import_common.cc - helpers shared by the haproxy.cfg and nginx.conf readers.
#include "import_common.h"

#include <cctype>
#include <regex>
#include <sstream>

namespace lbctl {

std::string ImportNote::text() const {
  std::string t = file;
  if (line > 0) t += ":" + std::to_string(line);
  t += ": " + keyword + ": " + message;
  return t;
}

ImportFormat detect_import_format(const std::string &text) {
  // Count lines that only one of the two formats would have.
  static const std::regex haproxy_section(
      R"(^(global|defaults|frontend|backend|listen|resolvers|peers|userlist)(\s|$))");
  static const std::regex nginx_block(R"(\b(upstream|http|server|location|events)\s+[^;{]*\{)");
  static const std::regex nginx_directive(R"(;\s*(#.*)?$)");
  int haproxy = 0, nginx = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (std::regex_search(line, haproxy_section)) haproxy += 3;
    if (std::regex_search(line, nginx_block)) nginx += 3;
    else if (std::regex_search(line, nginx_directive)) nginx += 1;
  }
  if (haproxy == 0 && nginx == 0) return ImportFormat::kUnknown;
  return haproxy >= nginx ? ImportFormat::kHaproxy : ImportFormat::kNginx;
}

bool parse_foreign_duration_ms(const std::string &text, uint32_t &out_ms) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
    if (n > UINT32_MAX) return false;
    ++i;
  }
  if (i == 0) return false;
  const std::string unit = text.substr(i);
  uint64_t ms;
  if (unit.empty() || unit == "ms") ms = n;
  else if (unit == "us") ms = n / 1000;
  else if (unit == "s") ms = n * 1000;
  else if (unit == "m") ms = n * 60 * 1000;
  else if (unit == "h") ms = n * 3600 * 1000;
  else if (unit == "d") ms = n * 86400 * 1000;
  else return false;
  if (ms > UINT32_MAX) return false;
  out_ms = static_cast<uint32_t>(ms);
  return true;
}

std::string url_host(const std::string &host) {
  if (host.find(':') != std::string::npos && host.front() != '[') return "[" + host + "]";
  return host;
}

}  // namespace lbctl
