// cli/text_list.h - small text helpers of the lists lbctl's INI keys take
// (secret_headers, failover_errors): "a, B ,c" items.
#pragma once

#include <string>
#include <vector>

namespace lbctl {

// ASCII lower case.
std::string ascii_lower(std::string s);

// @p s without leading and trailing spaces and tabs.
std::string trim_blanks(const std::string &s);

// The items of a comma-separated list, trimmed and lower-cased; empty
// items are dropped.
std::vector<std::string> comma_list(const std::string &list);

}  // namespace lbctl
