// cli/import/import_nginx.h - reads an nginx.conf into lbctl's Config.
//
// Converted: `upstream NAME { ... }` blocks: the method directives
// (least_conn, ip_hash, random [two], hash, least_time) and `server`
// lines with weight=, backup (other parameters are reported), plus the
// check directives of the nginx_upstream_check_module (check interval= rise=
// fall= timeout= type=, check_http_send, check_http_expect_alive).  A
// `proxy_pass https://NAME` makes that upstream's servers https.  Every
// other block and directive is reported as an ImportNote.
#pragma once

#include <string>

#include "import_common.h"

namespace lbctl {

ImportResult import_nginx(const std::string &file, const std::string &text);

}  // namespace lbctl
