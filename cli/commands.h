// cli/commands.h - every lbctl subcommand registers itself on the CLI11 app.
//
// The subcommands are the list LBCTL_SUBCOMMANDS in cli/CMakeLists.txt,
// which compiles cmd_NAME.cc for each and generates subcommands.inc: one
// LBCTL_SUBCOMMAND("name", NAME) line per subcommand, in --help order (a
// dash in the name is an underscore in NAME).  Each cmd_NAME.cc defines
// register_NAME(), which adds its subcommand to @p app and installs a
// callback that sets @p exit_code (exit_codes.h).
#pragma once

#include "exit_codes.h"

namespace CLI {
class App;
}

namespace lbctl {

#define LBCTL_SUBCOMMAND(name, id) void register_##id(CLI::App &app, int &exit_code);
#include "subcommands.inc"
#undef LBCTL_SUBCOMMAND

}  // namespace lbctl
