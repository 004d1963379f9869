// cli/output.h - how lbctl prints: format choice, TTY and colour detection,
// aligned tables, Prometheus text and number formatting.
//
// Rules (docs/ARCHITECTURE.md "CLI output is an interface"): results on
// stdout, diagnostics on stderr; the default format is a table when stdout
// is a terminal and JSON otherwise; colour only on a terminal and never when
// NO_COLOR is set to a non-empty value or TERM is "dumb".
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace lbctl {

enum class Format { kTable, kJson, kPrometheus };

// "table" | "json" | "prometheus" ("" = default_format()); false if unknown.
bool parse_format(const std::string &name, Format &out);
Format default_format();
bool is_terminal(FILE *stream);
bool color_enabled(FILE *stream);

enum class Color { kNone, kGreen, kYellow, kRed, kDim, kBold };
// Wraps @p text in the ANSI colour when @p enabled.
std::string paint(const std::string &text, Color color, bool enabled);

// A table whose columns are padded to their widest cell (measured without
// colour codes).  Numbers are right-aligned when the column says so.
class Table {
 public:
  explicit Table(std::vector<std::string> headers, std::vector<bool> right_align = {});
  void add_row(std::vector<std::string> cells, std::vector<Color> colors = {});
  std::string render(bool color) const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::vector<Color>> colors_;
};

// "12.3" with @p decimals, or "-" for a negative (absent) value.
std::string format_ms(double ms, int decimals = 1);
// A Prometheus label value with \, " and newline escaped, valid UTF-8.
std::string prom_label(const std::string &value);
// @p text as valid UTF-8: each byte that is not part of a character becomes
// U+FFFD (lbk_utf8_copy()).
std::string valid_utf8(const std::string &text);
// @p text for a log line: valid UTF-8 and printable ASCII kept; control
// bytes (ESC, CR, LF, ...), DEL, backslash and invalid bytes as \xNN.
std::string log_escape(const std::string &text);
// RFC 3339 UTC with milliseconds: "2026-12-02T05:50:00.123Z".
std::string rfc3339_utc(int64_t unix_ms);

// JSON text appended to @p out without building a document tree (for
// output of thousands of nodes), in the compact form nlohmann::json's
// dump() gives: strings with ", \ and control characters escaped, UTF-8
// kept as is (a byte that is not valid UTF-8 becomes U+FFFD, where dump()
// would throw); doubles in their shortest round-trip digits, fixed
// notation for exponents -5..15 ("2.0", "0.0001"), else "1e-05"/"1e+16";
// not finite -> null.
void json_append_string(std::string &out, const std::string &text);
void json_append_double(std::string &out, double value);
void json_append_int(std::string &out, long long value);

// A one-line progress indicator on stderr ("\r...", cleared by finish()).
class Progress {
 public:
  // Active only when stderr is a terminal.
  Progress();
  ~Progress();
  // Shows @p text once the operation has run longer than one second.
  void update(const std::string &text, double elapsed_s);
  void finish();

 private:
  bool enabled_;
  bool shown_ = false;
};

}  // namespace lbctl
