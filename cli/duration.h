// cli/duration.h - the one duration parser of lbctl: its flags, its INI
// file, and the HAProxy and nginx configurations it imports.
#pragma once

#include <cstdint>
#include <string>

namespace lbctl {

// What a number without a unit means.  lbctl's own flags and INI keys
// refuse it (is "--timeout 5" seconds, as curl reads it, or milliseconds?);
// imported HAProxy and nginx_upstream_check_module settings are milliseconds,
// as those servers read them.
enum class BareNumber { kRefused, kMilliseconds };

// Parses NUMBER UNIT with no space, UNIT one of us, ms, s, m, h, d, into
// milliseconds (us rounds down).  False on bad input, on a bare number when
// @p bare is kRefused, and when the result does not fit in 32 bits.
bool parse_duration_ms(const std::string &text, uint32_t &out_ms,
                       BareNumber bare = BareNumber::kRefused);

// Why @p text is not an lbctl duration, for an error message:
// "'5' has no unit: 5s or 5ms?" or "bad duration '5x' (use e.g. 500ms, 2s, 1m)".
std::string duration_problem(const std::string &text);

}  // namespace lbctl
