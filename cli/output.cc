// cli/output.cc - formats, colour, tables and Prometheus helpers.
#include "output.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

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

std::string prom_label(const std::string &value) {
  std::string out;
  for (char ch : value) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '"') out += "\\\"";
    else if (ch == '\n') out += "\\n";
    else out += ch;
  }
  return out;
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
