// cli/import/import_common.cc - helpers shared by the haproxy.cfg and nginx.conf readers.
#include "import_common.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace lbctl {

std::string ImportNote::text() const {
  std::string t = file;
  if (line > 0) t += ":" + std::to_string(line);
  t += ": " + keyword + ": " + message;
  return t;
}

ImportFormat detect_import_format(const std::string &text) {
  // Count lines that only one of the two formats would have: HAProxy section
  // keywords at the start of a line; nginx blocks ("NAME ... {") of the
  // usual contexts and ';'-terminated directives.
  static const char *const haproxy_sections[] = {"global", "defaults", "frontend", "backend",
                                                 "listen", "resolvers", "peers", "userlist"};
  static const char *const nginx_blocks[] = {"upstream", "http", "server", "location", "events",
                                             "stream"};
  int haproxy = 0, nginx = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (first.empty() || first[0] == '#') continue;
    const bool at_start = !std::isspace(static_cast<unsigned char>(line[0]));
    for (const char *k : haproxy_sections)
      if (at_start && first == k) haproxy += 3;
    const size_t brace = line.find('{');
    bool block = false;
    for (const char *k : nginx_blocks)
      if (first == k && brace != std::string::npos && line.find(';') == std::string::npos)
        block = true;
    const size_t last = line.find_last_not_of(" \t");
    if (block) nginx += 3;
    else if (last != std::string::npos && line[last] == ';') nginx += 1;
  }
  if (haproxy == 0 && nginx == 0) return ImportFormat::kUnknown;
  return haproxy >= nginx ? ImportFormat::kHaproxy : ImportFormat::kNginx;
}

void finish_import(ImportResult &result, const char *nothing_found) {
  std::stable_sort(result.notes.begin(), result.notes.end(),
                   [](const ImportNote &a, const ImportNote &b) { return a.line < b.line; });
  if (result.config.pools.empty() && result.fatal.empty()) result.fatal = nothing_found;
}

std::string url_host(const std::string &host) {
  if (host.find(':') != std::string::npos && host.front() != '[') return "[" + host + "]";
  return host;
}

}  // namespace lbctl
