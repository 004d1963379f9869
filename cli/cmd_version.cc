// cli/cmd_version.cc - `lbctl version`: the versions lbctl was built with.
#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/opensslv.h>

#include <cstdio>

#include "commands.h"
#include "lbkit.h"

namespace lbctl {

void register_version(CLI::App &app, int &exit_code) {
  CLI::App *cmd = app.add_subcommand("version", "Print lbctl's version and its libraries'");
  cmd->callback([&exit_code]() {
    std::printf("lbctl %s\n", lbk_version());
    std::printf("liblbkit %s\n", lbk_version());
    std::printf("libcurl %s\n", curl_version_info(CURLVERSION_NOW)->version);
    std::printf("libevent %s\n", event_get_version());
    std::printf("%s\n", OPENSSL_VERSION_TEXT);
    exit_code = kExitOk;
  });
}

}  // namespace lbctl
