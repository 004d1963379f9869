// cli/import/import_haproxy.h - reads an haproxy.cfg into lbctl's Config.
//
// Converted: `backend` and `listen` sections (with what the `defaults`
// section before them sets): balance, hash-type, mode, server and
// default-server lines (weight, backup, check, inter, fastinter, downinter,
// rise, fall, ssl, verify, sni, ca-file), option httpchk, http-check send,
// http-check expect status|string, timeout check.  Every other keyword,
// server parameter or section is reported as an ImportNote.
#pragma once

#include <string>

#include "import_common.h"

namespace lbctl {

// @p file names the input in notes and pool origins; @p text is its content.
ImportResult import_haproxy(const std::string &file, const std::string &text);

}  // namespace lbctl
