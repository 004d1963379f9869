// cli/import/import_ini.h - writes a Config as lbctl INI (the cli/config.h format).
//
// The output loads with load_config(): every pool gets its method, check
// kind and timing written explicitly (lbctl's own defaults differ from
// HAProxy's and nginx's), and a comment naming the section it came from.
#pragma once

#include <ostream>
#include <string>

#include "config.h"

namespace lbctl {

// @p origin is a one-line description for the header comment
// ("haproxy.cfg (HAProxy)").
void write_ini(std::ostream &out, const Config &config, const std::string &origin);

// A duration as the shortest exact text: "2s", "1500ms", "1m".
std::string format_duration_ms(uint32_t ms);

}  // namespace lbctl
