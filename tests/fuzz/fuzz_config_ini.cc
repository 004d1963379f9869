// libFuzzer target: lbctl's INI configuration reader (load_config, through
// inih) on arbitrary bytes, and the INI writer of `lbctl import` on what it
// read: a configuration that loads is written, read back, and must give the
// same pools, servers and check texts.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "config.h"
#include "import/import_ini.h"

namespace {

// A file in the fuzzer's temporary directory, rewritten for each input.
std::string write_temp(const std::string &text) {
  static std::string path;
  if (path.empty()) {
    const char *tmp = std::getenv("TMPDIR");
    path = std::string(tmp && *tmp ? tmp : "/tmp") + "/fuzz_config_ini." +
           std::to_string(::getpid()) + ".ini";
  }
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return path;
}

bool load(const std::string &text, lbctl::Config &config, std::vector<lbctl::ConfigError> &errors) {
  return lbctl::load_config(write_temp(text), config, errors);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  lbctl::Config config;
  std::vector<lbctl::ConfigError> errors;
  if (!load(text, config, errors)) {
    for (const lbctl::ConfigError &e : errors)
      if (e.text().empty()) __builtin_trap();
    return 0;
  }
  std::ostringstream ini;
  lbctl::write_ini(ini, config, "fuzz");
  lbctl::Config again;
  errors.clear();
  if (!load(ini.str(), again, errors)) {
    // The only loss allowed: a written line longer than the reader takes.
    for (const lbctl::ConfigError &e : errors)
      if (e.message.find("line longer than") == std::string::npos) __builtin_trap();
    return 0;
  }
  if (again.pools.size() != config.pools.size()) __builtin_trap();
  for (size_t i = 0; i < config.pools.size(); ++i) {
    const lbctl::PoolConfig &a = config.pools[i], &b = again.pools[i];
    if (a.name != b.name || a.method != b.method || a.servers.size() != b.servers.size() ||
        a.check.body != b.check.body || a.check.expect_body != b.check.expect_body ||
        a.check.headers != b.check.headers || a.check.path != b.check.path)
      __builtin_trap();
    for (size_t k = 0; k < a.servers.size(); ++k)
      if (a.servers[k].url != b.servers[k].url || a.servers[k].name != b.servers[k].name)
        __builtin_trap();
  }
  return 0;
}
