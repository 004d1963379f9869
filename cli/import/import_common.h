// cli/import/import_common.h - what `lbctl import` produces from a foreign config.
//
// The readers (import_haproxy.h, import_nginx.h) turn an haproxy.cfg or an
// nginx.conf into lbctl's Config (cli/config.h) plus one ImportNote for
// every keyword, parameter or section they could not carry over, so that
// nothing is dropped silently.  import_ini.h writes the Config as lbctl INI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace lbctl {

// One thing that was not carried over (or carried only approximately).
struct ImportNote {
  std::string file;
  int line = 0;
  std::string keyword;  // the directive or parameter, e.g. "balance uri"
  std::string message;  // why, and what was written instead (if anything)
  std::string text() const;  // "file:line: keyword: message"
};

struct ImportResult {
  Config config;
  std::vector<ImportNote> notes;   // sorted by line by the readers
  std::string fatal;               // non-empty: the input could not be read
  int fatal_line = 0;              // where, when one line is to blame

  void note(const std::string &file, int line, const std::string &keyword,
            const std::string &message) {
    notes.push_back({file, line, keyword, message});
  }
  // An error that stops the import (the first one is kept).
  void reject(int line, const std::string &message) {
    if (!fatal.empty()) return;
    fatal = message;
    fatal_line = line;
  }
};

// What both readers do last: the notes in line order, and @p nothing_found
// as the fatal error when no pool came out of a readable input.
void finish_import(ImportResult &result, const char *nothing_found);

// Which reader to use.
enum class ImportFormat { kUnknown, kHaproxy, kNginx };

// Guesses the format from the text: HAProxy section keywords at the start
// of lines (global, defaults, frontend, backend, listen) against nginx's
// `upstream NAME {` blocks and `;`-terminated directives.
ImportFormat detect_import_format(const std::string &text);

// Durations of both servers: duration.h's parser, a bare number being
// milliseconds there.  False on bad input or overflow.
inline bool parse_foreign_duration_ms(const std::string &text, uint32_t &out_ms) {
  return parse_duration_ms(text, out_ms, BareNumber::kMilliseconds);
}

// Brackets an IPv6 literal for use in a URL ("::1" -> "[::1]").
std::string url_host(const std::string &host);

}  // namespace lbctl
