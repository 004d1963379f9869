// cli/main.cc - lbctl's entry point: builds the CLI11 app from every
// subcommand's register_*() (commands.h) and maps parse errors to exit code 2.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <exception>

#include "commands.h"
#include "lbkit.h"

int main(int argc, char **argv) {
  CLI::App app{"lbctl - probe, rank and forward requests to API nodes (lbkit)", "lbctl"};
  app.set_version_flag("--version", std::string("lbctl ") + lbk_version());
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 all healthy / success, 1 some unhealthy, 2 usage or config error,\n"
      "3 none healthy, 4 runtime failure.  `lbctl SUBCOMMAND --help` for details.");

  int exit_code = lbctl::kExitOk;
  // Every subcommand by name.  Building a subcommand's options costs time
  // at every start (CLI11 checks each new option against the others), so
  // when argv[1] names one, only that one is built; `lbctl --help` and an
  // unknown name build them all.
  using Register = void (*)(CLI::App &, int &);
  static const struct {
    const char *name;
    Register add;
  } kSubcommands[] = {
#define LBCTL_SUBCOMMAND(name, id) {name, lbctl::register_##id},
#include "subcommands.inc"
#undef LBCTL_SUBCOMMAND
  };
  bool built_one = false;
  if (argc > 1 && argv[1][0] != '-') {
    for (const auto &sub : kSubcommands) {
      if (std::strcmp(argv[1], sub.name) == 0) {
        sub.add(app, exit_code);
        built_one = true;
      }
    }
  }
  if (!built_one) {
    for (const auto &sub : kSubcommands) sub.add(app, exit_code);
  }

  // CLI11 reports a mistyped subcommand only as "a subcommand is required";
  // name it instead.
  if (argc > 1 && argv[1][0] != '-' && !built_one) {
    bool known = false;
    for (const CLI::App *sub : app.get_subcommands([](CLI::App *) { return true; }))
      known |= sub->check_name(argv[1]);
    if (!known) {
      std::fprintf(stderr, "lbctl: unknown subcommand '%s' (see lbctl --help)\n", argv[1]);
      return lbctl::kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e) == 0 ? lbctl::kExitOk : lbctl::kExitUsage;
  } catch (const CLI::CallForAllHelp &e) {
    return app.exit(e) == 0 ? lbctl::kExitOk : lbctl::kExitUsage;
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e) == 0 ? lbctl::kExitOk : lbctl::kExitUsage;
  } catch (const CLI::ParseError &e) {
    app.exit(e);  // prints the message and the usage hint on stderr
    return lbctl::kExitUsage;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "lbctl: error: %s\n", e.what());
    return lbctl::kExitRuntime;
  }
  return exit_code;
}
