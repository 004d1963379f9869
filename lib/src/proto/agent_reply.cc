// agent_reply.cc - see agent_reply.h.
#include "proto/agent_reply.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "proto/text_util.h"

namespace lbk {
namespace proto {
namespace {

struct StateWord {
  const char *word;
  int state;
  int severity;  // which state wins when a reply names several
};

constexpr StateWord kStateWords[] = {
    {"up", LBK_AGENT_UP, 1},           {"ready", LBK_AGENT_READY, 1},
    {"drain", LBK_AGENT_DRAIN, 2},     {"maint", LBK_AGENT_MAINT, 3},
    {"down", LBK_AGENT_DOWN, 4},       {"fail", LBK_AGENT_FAIL, 4},
    {"stopped", LBK_AGENT_STOPPED, 4},
};

int severity_of(int state) {
  for (const StateWord &w : kStateWords) {
    if (w.state == state) return w.severity;
  }
  return 0;
}

bool is_separator(char c) { return c == ' ' || c == '\t' || c == ','; }

// Decimal digits only, at most @p max; false otherwise.
bool parse_bounded(const std::string &digits, long max, long *out) {
  if (digits.empty() || digits.size() > 10) return false;
  long v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

}  // namespace

const char *agent_state_word(int state) {
  for (const StateWord &w : kStateWords) {
    if (w.state == state) return w.word;
  }
  return nullptr;
}

int parse_agent_reply(lbk_agent_reply *out, const char *line, size_t len,
                      std::string *error) {
  *out = lbk_agent_reply{LBK_AGENT_REPLY_VERSION, LBK_AGENT_NONE, -1, -1, {0}};
  // The reply ends at the first CR or LF (HAProxy reads up to either).
  size_t end = 0;
  while (end < len && line[end] != '\r' && line[end] != '\n') end++;
  const std::string text(line, end);

  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_separator(text[i])) i++;
    if (i == text.size()) break;
    if (text[i] == '#') {
      std::string comment = trim_blanks(text.substr(i + 1));
      // Shown in logs and on terminals: no control characters (ESC, ...).
      for (char &c : comment)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
      lbk_utf8_copy(out->comment, sizeof out->comment, comment.data(), comment.size());
      break;
    }
    size_t j = i;
    while (j < text.size() && !is_separator(text[j])) j++;
    const std::string word = text.substr(i, j - i);
    const std::string lword = ascii_lower(word);
    i = j;

    bool known = false;
    for (const StateWord &w : kStateWords) {
      if (lword == w.word) {
        if (w.severity >= severity_of(out->state)) out->state = w.state;
        known = true;
        break;
      }
    }
    if (known) continue;
    long value = 0;
    if (lword.size() > 1 && lword.back() == '%') {
      if (!parse_bounded(lword.substr(0, lword.size() - 1), 100, &value)) {
        *error = "agent reply: weight " + quoted_excerpt(word, 40) +
                 " is not a percentage 0%..100%";
        return LBK_EPARSE;
      }
      out->weight_pct = static_cast<int>(value);
      continue;
    }
    if (lword.compare(0, 8, "maxconn:") == 0) {
      if (!parse_bounded(lword.substr(8), INT_MAX, &value)) {
        *error = "agent reply: " + quoted_excerpt(word, 40) +
                 " is not maxconn:N with N a non-negative integer";
        return LBK_EPARSE;
      }
      out->maxconn = static_cast<int>(value);
      continue;
    }
    *error = "agent reply: unknown word " + quoted_excerpt(word, 40) +
             " (HAProxy 2.6 knows up, down, fail, stopped, ready, drain, maint, N%, "
             "maxconn:N and #text)";
    return LBK_EPARSE;
  }
  return LBK_OK;
}

int format_agent_reply(std::string *out, const lbk_agent_reply &reply,
                       std::string *error) {
  std::string s;
  if (reply.state != LBK_AGENT_NONE) {
    const char *word = agent_state_word(reply.state);
    if (word == nullptr) {
      *error = "lbk_agent_format: state " + std::to_string(reply.state) +
               " is not an lbk_agent_state";
      return LBK_EINVAL;
    }
    s += word;
  }
  if (reply.weight_pct != -1) {
    if (reply.weight_pct < 0 || reply.weight_pct > 100) {
      *error = "lbk_agent_format: weight_pct " + std::to_string(reply.weight_pct) +
               " is not -1 or 0..100";
      return LBK_ERANGE;
    }
    if (!s.empty()) s += ' ';
    s += std::to_string(reply.weight_pct) + "%";
  }
  if (reply.maxconn != -1) {
    if (reply.maxconn < 0) {
      *error = "lbk_agent_format: maxconn " + std::to_string(reply.maxconn) +
               " is not -1 or >= 0";
      return LBK_ERANGE;
    }
    if (!s.empty()) s += ' ';
    s += "maxconn:" + std::to_string(reply.maxconn);
  }
  // The comment ends the line: control characters would end it early.
  const size_t clen = strnlen(reply.comment, sizeof reply.comment);
  if (clen > 0) {
    if (!s.empty()) s += ' ';
    s += '#';
    for (size_t k = 0; k < clen; k++) {
      const unsigned char c = static_cast<unsigned char>(reply.comment[k]);
      s += c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c);
    }
  }
  s += '\n';
  *out = std::move(s);
  return LBK_OK;
}

}  // namespace proto
}  // namespace lbk
