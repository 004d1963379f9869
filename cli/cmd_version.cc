// cli/cmd_version.cc - `lbctl version`: the versions lbctl was built with.
#include <CLI/CLI.hpp>
#include <event2/event.h>
#include <openssl/opensslv.h>

#include <cstdio>

#include "commands.h"
#include "curl_api.h"
#include "discovery.h"
#include "lbkit.h"
#include "lazy/lazy_library.h"

namespace lbctl {

void register_version(CLI::App &app, int &exit_code) {
  CLI::App *cmd = app.add_subcommand("version", "Print lbctl's version and its libraries'");
  cmd->callback([&exit_code]() {
    std::printf("lbctl %s\n", lbk_version());
    std::printf("liblbkit %s\n", lbk_version());
    std::string error;
    const CurlApi *curl = curl_api(&error);
    if (curl) std::printf("libcurl %s\n", curl->version_info(CURLVERSION_NOW)->version);
    else std::printf("libcurl not loaded (%s)\n", error.c_str());
    if (libevent_loadable(&error)) std::printf("libevent %s\n", event_get_version());
    else std::printf("libevent not loaded (%s)\n", error.c_str());
    std::string cares;
    if (cares_version(cares, error)) std::printf("c-ares %s\n", cares.c_str());
    else std::printf("c-ares not loaded (%s)\n", error.c_str());
    std::printf("%s\n", OPENSSL_VERSION_TEXT);
    exit_code = kExitOk;
  });
}

}  // namespace lbctl
