// cli/cmd_check_config.cc - `lbctl check-config -c FILE`: validate a config.
//
// Prints every error as "file:line: key: message" on stderr and exits 2; on
// success prints a one-line summary on stdout and exits 0.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "config.h"

namespace lbctl {

void register_check_config(CLI::App &app, int &exit_code) {
  CLI::App *cmd = app.add_subcommand(
      "check-config", "Validate an INI config; every error names file:line and the key");
  auto path = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("-c,--config", *path, "Config file (INI, see lbctl.ini(5))")->required();
  cmd->add_flag("-q,--quiet", *quiet, "Print nothing when the file is valid");
  cmd->callback([&exit_code, path, quiet]() {
    Config config;
    std::vector<ConfigError> errors;
    if (!load_config(*path, config, errors)) {
      for (const ConfigError &e : errors) std::fprintf(stderr, "%s\n", e.text().c_str());
      std::fprintf(stderr, "%s: %zu error%s\n", path->c_str(), errors.size(),
                   errors.size() == 1 ? "" : "s");
      exit_code = kExitUsage;
      return;
    }
    size_t servers = 0;
    for (const PoolConfig &p : config.pools) servers += p.servers.size();
    if (!*quiet)
      std::printf("%s: OK (%zu pool%s, %zu server%s)\n", path->c_str(), config.pools.size(),
                  config.pools.size() == 1 ? "" : "s", servers, servers == 1 ? "" : "s");
    exit_code = kExitOk;
  });
}

}  // namespace lbctl
