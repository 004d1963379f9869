// cli/main.cc - lbctl's entry point: builds the CLI11 app from every
// subcommand's register_*() and maps parse errors to exit code 2.
#include <CLI/CLI.hpp>

#include <cstdio>
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
  lbctl::register_probe(app, exit_code);
  lbctl::register_rank(app, exit_code);
  lbctl::register_forward(app, exit_code);
  lbctl::register_watch(app, exit_code);
  lbctl::register_check_config(app, exit_code);
  lbctl::register_version(app, exit_code);
  // The HAProxy subcommands (issue 6) live in their own files; CMake defines
  // these only when the file is in the tree.
#ifdef LBCTL_HAVE_AGENT
  lbctl::register_agent(app, exit_code);
#endif
#ifdef LBCTL_HAVE_HAPROXY_SYNC
  lbctl::register_haproxy_sync(app, exit_code);
#endif
#ifdef LBCTL_HAVE_IMPORT
  lbctl::register_import(app, exit_code);
#endif

  // CLI11 reports a mistyped subcommand only as "a subcommand is required";
  // name it instead.
  if (argc > 1 && argv[1][0] != '-') {
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
