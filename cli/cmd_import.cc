// cli/cmd_import.cc - `lbctl import FILE`: haproxy.cfg or nginx.conf -> lbctl INI.
//
//   lbctl import [--from haproxy|nginx] [--strict] FILE
//
// Writes the INI on stdout; lists every keyword it could not carry over on
// stderr as "FILE:LINE: KEYWORD: why" (nothing is dropped silently).  The
// output is loaded back with load_config() before it is printed, so what
// is printed is a valid lbctl configuration.
// Exit codes: 0 converted (notes may have been printed); 2 usage error,
// unreadable or unparsable input, nothing to import, or --strict and some
// keyword was not carried; 4 the produced INI failed to load (a bug).
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "config.h"
#include "import/import_common.h"
#include "import/import_haproxy.h"
#include "import/import_ini.h"
#include "import/import_nginx.h"

namespace lbctl {
namespace {

struct ImportOptions {
  std::string file;
  std::string from;  // "" = detect
  bool strict = false;
};

// Loads @p ini through load_config() via a private temporary file; errors
// are returned as text.
bool ini_loads(const std::string &ini, std::string &errors) {
  const char *tmpdir = std::getenv("TMPDIR");
  std::string path = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/lbctl-import-XXXXXX";
  std::vector<char> name(path.begin(), path.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) {
    errors = "cannot create a temporary file to verify the output";
    return false;
  }
  const ssize_t wrote = ::write(fd, ini.data(), ini.size());
  ::close(fd);
  Config config;
  std::vector<ConfigError> found;
  const bool ok = wrote == static_cast<ssize_t>(ini.size()) &&
                  load_config(name.data(), config, found);
  ::unlink(name.data());
  for (const ConfigError &e : found) errors += e.text() + "\n";
  return ok;
}

int run_import(const ImportOptions &opts) {
  std::ifstream in(opts.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "lbctl import: %s: cannot open\n", opts.file.c_str());
    return kExitUsage;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  ImportFormat format = ImportFormat::kUnknown;
  if (opts.from == "haproxy") format = ImportFormat::kHaproxy;
  else if (opts.from == "nginx") format = ImportFormat::kNginx;
  else format = detect_import_format(text);
  if (format == ImportFormat::kUnknown) {
    std::fprintf(stderr,
                 "lbctl import: %s: neither an haproxy.cfg nor an nginx.conf "
                 "(say which with --from haproxy|nginx)\n",
                 opts.file.c_str());
    return kExitUsage;
  }
  const bool haproxy = format == ImportFormat::kHaproxy;
  const ImportResult result = haproxy ? import_haproxy(opts.file, text)
                                      : import_nginx(opts.file, text);
  for (const ImportNote &n : result.notes) std::fprintf(stderr, "%s\n", n.text().c_str());
  if (!result.fatal.empty()) {
    const std::string where =
        opts.file + (result.fatal_line > 0 ? ":" + std::to_string(result.fatal_line) : "");
    std::fprintf(stderr, "lbctl import: %s: %s\n", where.c_str(), result.fatal.c_str());
    return kExitUsage;
  }
  std::ostringstream ini;
  write_ini(ini, result.config, opts.file + (haproxy ? " (HAProxy)" : " (nginx)"));
  std::string errors;
  if (!ini_loads(ini.str(), errors)) {
    std::fprintf(stderr, "lbctl import: internal error: the converted configuration does not "
                         "load:\n%s", errors.c_str());
    return kExitRuntime;
  }
  std::fwrite(ini.str().data(), 1, ini.str().size(), stdout);
  std::fflush(stdout);
  if (!result.notes.empty())
    std::fprintf(stderr, "lbctl import: %zu pool(s) converted; %zu item(s) not carried over "
                         "(listed above)\n",
                 result.config.pools.size(), result.notes.size());
  if (opts.strict && !result.notes.empty()) return kExitUsage;
  return kExitOk;
}

}  // namespace

void register_import(CLI::App &app, int &exit_code) {
  auto opts = std::make_shared<ImportOptions>();
  CLI::App *cmd = app.add_subcommand(
      "import", "Convert an haproxy.cfg or nginx.conf into lbctl INI (stdout); what cannot be "
                "carried over is listed on stderr as FILE:LINE");
  cmd->add_option("FILE", opts->file, "haproxy.cfg or nginx.conf to convert")->required();
  cmd->add_option("--from", opts->from, "input format (default: detected from the content)")
      ->check(CLI::IsMember({"haproxy", "nginx"}));
  cmd->add_flag("--strict", opts->strict,
                "exit 2 when any keyword could not be carried over");
  cmd->footer("Exit codes: 0 converted, 2 usage/input error (or --strict with notes), "
              "4 internal error.");
  cmd->callback([opts, &exit_code]() { exit_code = run_import(*opts); });
}

}  // namespace lbctl
