// cli/secrets.cc - see secrets.h.
#include "secrets.h"

#include <algorithm>
#include <cctype>

#include "text_list.h"

namespace lbctl {

const char kDefaultSecretHeaders[] =
    "authorization, proxy-authorization, x-api-key, api-key, apikey, x-auth-token, "
    "x-access-token, x-token, cookie";

namespace {

std::string header_name(const std::string &line) {
  return ascii_lower(trim_blanks(line.substr(0, line.find(':'))));
}

bool percent_decode(const std::string &in, std::string &out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
      return false;
    out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return true;
}

std::string base64(const std::string &in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// "a=1&b=2" -> "a=***&b=***", adding "1" and "2" to @p hidden; an item
// without '=' is masked whole.
std::string mask_query(const std::string &query, std::vector<std::string> &hidden) {
  std::string out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string::npos) amp = query.size();
    const std::string item = query.substr(start, amp - start);
    const size_t eq = item.find('=');
    if (start > 0) out += '&';
    if (eq == std::string::npos) {
      if (!item.empty()) hidden.push_back(item);
      out += item.empty() ? item : "***";
    } else {
      if (eq + 1 < item.size()) hidden.push_back(item.substr(eq + 1));
      out += item.substr(0, eq) + "=***";
    }
    start = amp + 1;
  }
  return out;
}

}  // namespace

bool split_node_url(const std::string &raw, bool named, NodeUrl &out, std::string &why) {
  out = NodeUrl{};
  const size_t sep = raw.find("://");
  if (sep == std::string::npos) {
    out.url = out.shown = raw;
    return true;
  }
  const size_t auth_start = sep + 3;
  const size_t auth_end = std::min(raw.find_first_of("/?#", auth_start), raw.size());
  std::string authority = raw.substr(auth_start, auth_end - auth_start);
  std::string shown_authority = authority;
  const size_t at = authority.rfind('@');
  if (at != std::string::npos) {
    const std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    std::string user, password;
    if (!percent_decode(userinfo.substr(0, colon), user) ||
        (colon != std::string::npos && !percent_decode(userinfo.substr(colon + 1), password))) {
      why = "bad percent escape in the user:password part";
      return false;
    }
    const std::string token = base64(user + ":" + password);
    out.basic_auth = "Authorization: Basic " + token;
    out.hidden.push_back(token);
    if (colon != std::string::npos) out.hidden.push_back(userinfo.substr(colon + 1));
    shown_authority = userinfo.substr(0, colon) + ":***@" + authority;
  }
  const std::string scheme = raw.substr(0, sep + 3);
  const std::string rest = raw.substr(auth_end);  // path, query, fragment
  out.url = scheme + authority + rest;
  std::string path = rest, query;
  const size_t q = rest.find('?');
  if (q != std::string::npos) {
    path = rest.substr(0, q);
    query = rest.substr(q + 1);
    const size_t hash = query.find('#');
    if (hash != std::string::npos) query.erase(hash);
  }
  if (named && path.size() > 1) {
    out.hidden.push_back(path.substr(1));
    path = "/***";
  }
  out.shown = scheme + shown_authority + path +
              (q == std::string::npos ? "" : "?" + mask_query(query, out.hidden));
  return true;
}

std::string mask_header(const std::string &line, const std::string &secret_headers) {
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return line;
  const std::string name = header_name(line);
  for (const std::string &secret : comma_list(secret_headers))
    if (secret == name) return line.substr(0, colon) + ": ***";
  return line;
}

std::vector<std::string> merge_headers(const std::vector<std::string> &base,
                                       const std::vector<std::string> &overrides) {
  std::vector<std::string> out = base;
  for (const std::string &o : overrides) {
    const std::string name = header_name(o);
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const std::string &b) { return header_name(b) == name; });
    if (it != out.end()) *it = o;
    else out.push_back(o);
  }
  return out;
}

std::string scrub(std::string text, const std::vector<std::string> &secrets) {
  for (const std::string &s : secrets) {
    if (s.size() < 4) continue;  // too short to be a credential; masking would garble text
    for (size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + 3))
      text.replace(at, s.size(), "***");
  }
  return text;
}

}  // namespace lbctl
