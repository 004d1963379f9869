// cli/commands.h - every lbctl subcommand registers itself on the CLI11 app.
//
// Each cmd_<name>.cc defines one register_<name>() that adds a subcommand to
// @p app and installs a callback which sets @p exit_code.  Exit codes (all
// subcommands): 0 success / all healthy, 1 some unhealthy, 2 usage or config
// error, 3 none healthy (or nothing usable), 4 runtime failure (I/O, peer).
#pragma once

namespace CLI {
class App;
}

namespace lbctl {

enum ExitCode {
  kExitOk = 0,
  kExitSomeUnhealthy = 1,
  kExitUsage = 2,
  kExitNoneHealthy = 3,
  kExitRuntime = 4,
  kExitReplyError = 22,  // forward --fail: an HTTP or JSON-RPC error reply (as curl's --fail)
};

void register_probe(CLI::App &app, int &exit_code);
void register_rank(CLI::App &app, int &exit_code);
void register_forward(CLI::App &app, int &exit_code);
void register_watch(CLI::App &app, int &exit_code);
void register_check_config(CLI::App &app, int &exit_code);
void register_version(CLI::App &app, int &exit_code);
// HAProxy interoperability
void register_agent(CLI::App &app, int &exit_code);
void register_haproxy_sync(CLI::App &app, int &exit_code);
void register_import(CLI::App &app, int &exit_code);
void register_sync(CLI::App &app, int &exit_code);

}  // namespace lbctl
