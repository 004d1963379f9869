// cli/import/import_ini.cc - writes a Config as lbctl INI.
#include "import_ini.h"

namespace lbctl {

std::string format_duration_ms(uint32_t ms) {
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

namespace {

// Values start at column 0 of their line: inih treats an indented line as
// the continuation of the previous value.
void key(std::ostream &out, const char *name, const std::string &value) {
  out << name << " = " << ini_quote(value) << "\n";
}

}  // namespace

void write_ini(std::ostream &out, const Config &config, const std::string &origin) {
  out << "; lbctl configuration imported from " << origin << " by `lbctl import`.\n"
      << "; Check it with: lbctl check-config -c FILE\n";
  for (const PoolConfig &p : config.pools) {
    const CheckConfig &c = p.check;
    out << "\n[pool " << p.name << "]\n";
    if (!p.file.empty()) out << "; from " << p.file << ":" << p.line << "\n";
    key(out, "method", p.method);
    if (!c.kind.empty()) key(out, "check", c.kind);
    if (!c.method.empty()) key(out, "check_method", c.method);
    if (!c.path.empty()) key(out, "path", c.path);
    size_t start = 0;
    while (start < c.headers.size()) {
      size_t end = c.headers.find('\n', start);
      if (end == std::string::npos) end = c.headers.size();
      key(out, "header", c.headers.substr(start, end - start));
      start = end + 1;
    }
    if (!c.body.empty()) key(out, "body", c.body);
    if (c.expect_status != "200-399") key(out, "expect_status", c.expect_status);
    if (!c.expect_body.empty()) key(out, "expect_body", c.expect_body);
    key(out, "interval", format_duration_ms(c.interval_ms));
    if (c.fastinter_ms) key(out, "fastinter", format_duration_ms(c.fastinter_ms));
    if (c.downinter_ms) key(out, "downinter", format_duration_ms(c.downinter_ms));
    key(out, "timeout", format_duration_ms(c.timeout_ms));
    key(out, "rise", std::to_string(c.rise));
    key(out, "fall", std::to_string(c.fall));
    if (!c.tls_verify) key(out, "tls_verify", "off");
    if (!c.ca_file.empty()) key(out, "ca_file", c.ca_file);
    if (!c.sni.empty()) key(out, "sni", c.sni);
    for (const ServerConfig &s : p.servers) {
      std::string line = s.url;
      if (s.weight != 1) line += " weight=" + std::to_string(s.weight);
      if (!s.name.empty() && s.name != s.url) line += " name=" + s.name;
      if (s.backup) line += " backup";
      if (s.disabled) line += " disabled";
      key(out, "server", line);
    }
  }
}

}  // namespace lbctl
