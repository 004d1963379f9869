// cli/output.cc - formats, colour, tables and Prometheus helpers.
#include "output.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "lbkit.h"

namespace lbctl {

bool parse_format(const std::string &name, Format &out) {
  if (name.empty()) out = default_format();
  else if (name == "table") out = Format::kTable;
  else if (name == "json") out = Format::kJson;
  else if (name == "prometheus" || name == "prom") out = Format::kPrometheus;
  else return false;
  return true;
}

bool is_terminal(FILE *stream) { return ::isatty(::fileno(stream)) == 1; }

Format default_format() { return is_terminal(stdout) ? Format::kTable : Format::kJson; }

bool color_enabled(FILE *stream) {
  const char *no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  const char *term = std::getenv("TERM");
  if (term && std::strcmp(term, "dumb") == 0) return false;
  return is_terminal(stream);
}

std::string paint(const std::string &text, Color color, bool enabled) {
  if (!enabled || color == Color::kNone) return text;
  const char *code = "";
  switch (color) {
    case Color::kGreen: code = "\033[32m"; break;
    case Color::kYellow: code = "\033[33m"; break;
    case Color::kRed: code = "\033[31m"; break;
    case Color::kDim: code = "\033[2m"; break;
    case Color::kBold: code = "\033[1m"; break;
    case Color::kNone: break;
  }
  return std::string(code) + text + "\033[0m";
}

Table::Table(std::vector<std::string> headers, std::vector<bool> right_align)
    : headers_(std::move(headers)), right_(std::move(right_align)) {
  right_.resize(headers_.size(), false);
}

void Table::add_row(std::vector<std::string> cells, std::vector<Color> colors) {
  cells.resize(headers_.size());
  colors.resize(headers_.size(), Color::kNone);
  rows_.push_back(std::move(cells));
  colors_.push_back(std::move(colors));
}

std::string Table::render(bool color) const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) {
    width[c] = headers_[c].size();
    for (const auto &row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string> &cells, const std::vector<Color> *colors,
                  bool header) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      const size_t pad = width[c] - cells[c].size();
      const bool last = c + 1 == cells.size();
      std::string cell = paint(cells[c], header ? Color::kBold : (*colors)[c], color);
      if (right_[c]) out += std::string(pad, ' ') + cell;
      else out += cell + (last ? "" : std::string(pad, ' '));
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers_, nullptr, true);
  for (size_t r = 0; r < rows_.size(); ++r) out += line(rows_[r], &colors_[r], false);
  return out;
}

std::string format_ms(double ms, int decimals) {
  if (ms < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, ms);
  return buf;
}

std::string valid_utf8(const std::string &text) {
  if (lbk_utf8_valid(text.data(), text.size())) return text;
  std::string out(text.size() * 3 + 1, '\0');  // U+FFFD is 3 bytes
  out.resize(lbk_utf8_copy(&out[0], out.size(), text.data(), text.size()));
  return out;
}

std::string log_escape(const std::string &text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t len = c >= 0x80 ? lbk_utf8_char_len(text.data() + i, text.size() - i) : 0;
    if (len > 1 || (c >= 0x20 && c < 0x7f && c != '\\')) {
      const size_t n = len > 1 ? len : 1;
      out.append(text, i, n);
      i += n;
      continue;
    }
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
    ++i;
  }
  return out;
}

std::string prom_label(const std::string &text) {
  const std::string value = valid_utf8(text);
  std::string out;
  for (char ch : value) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '"') out += "\\\"";
    else if (ch == '\n') out += "\\n";
    else out += ch;
  }
  return out;
}

std::string rfc3339_utc(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return buf;
}

void json_append_string(std::string &out, const std::string &text) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  const size_t n = text.size();
  size_t plain_from = 0;  // start of the run of bytes copied as they are
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    const size_t len = c >= 0x80 ? lbk_utf8_char_len(text.data() + i, n - i) : 0;
    if (len > 1) {
      i += len;
      continue;
    }
    out.append(text, plain_from, i - plain_from);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c >= 0x80) {
          out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not UTF-8
        } else {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        }
    }
    plain_from = ++i;
  }
  out.append(text, plain_from, n - plain_from);
  out += '"';
}

void json_append_double(std::string &out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  if (value == 0) {
    out += std::signbit(value) ? "-0.0" : "0.0";
    return;
  }
  // Shortest round-trip digits in scientific form: [-]d[.ddd]e(+|-)XX.
  char sci[32];
  const auto res = std::to_chars(sci, sci + sizeof sci - 1, value, std::chars_format::scientific);
  *res.ptr = '\0';
  const char *p = sci;
  if (*p == '-') out += '-', ++p;
  char digits[24];
  int n = 0;
  for (; p < res.ptr && *p != 'e'; ++p)
    if (*p != '.') digits[n++] = *p;
  const int exponent = std::atoi(p + 1);  // value = 0.d1d2... x 10^(exponent + 1)
  const int point = exponent + 1;         // digits before the decimal point
  if (point > n && point <= 15) {         // 12300 -> "12300.0"
    out.append(digits, static_cast<size_t>(n));
    out.append(static_cast<size_t>(point - n), '0');
    out += ".0";
  } else if (point > 0 && point <= 15) {  // 1.25, 12.0
    out.append(digits, static_cast<size_t>(point));
    out += '.';
    if (point == n) out += '0';
    else out.append(digits + point, static_cast<size_t>(n - point));
  } else if (point > -4 && point <= 0) {  // 0.00125
    out += "0.";
    out.append(static_cast<size_t>(-point), '0');
    out.append(digits, static_cast<size_t>(n));
  } else {  // 1.25e-05, 1e+16: at least two exponent digits
    out += digits[0];
    if (n > 1) {
      out += '.';
      out.append(digits + 1, static_cast<size_t>(n - 1));
    }
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp;
  }
}

void json_append_int(std::string &out, long long value) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, res.ptr);
}

Progress::Progress() : enabled_(is_terminal(stderr)) {}

Progress::~Progress() { finish(); }

void Progress::update(const std::string &text, double elapsed_s) {
  if (!enabled_ || elapsed_s < 1.0) return;
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void Progress::finish() {
  if (shown_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }
}

}  // namespace lbctl
