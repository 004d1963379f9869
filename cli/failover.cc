// cli/failover.cc - see failover.h.
#include "failover.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "text_list.h"

namespace lbctl {

const char kDefaultFailoverErrors[] =
    "-32005, -32603, -32029, -32098, -32099, limit exceeded, rate limit, too many requests, "
    "capacity exceeded, header not found, missing trie node, unknown block, block not found, "
    "state not available, state histories haven't been fully indexed, pruned, timeout, "
    "timed out, busy, try again, service unavailable, internal error";

namespace {

using json = nlohmann::json;

bool is_code(const std::string &item) {
  if (item.empty()) return false;
  const size_t start = item[0] == '-' ? 1 : 0;
  return start < item.size() &&
         std::all_of(item.begin() + static_cast<long>(start), item.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; });
}

// One error member against the list; @p why gets its text.
bool listed(const json &error, const std::string &list, std::string &why) {
  long long code = 0;
  std::string message;
  if (error.is_object()) {
    const auto c = error.find("code");
    if (c != error.end() && c->is_number_integer()) code = c->get<long long>();
    const auto m = error.find("message");
    if (m != error.end() && m->is_string()) message = m->get<std::string>();
  } else if (error.is_string()) {
    message = error.get<std::string>();
  }
  why = "jsonrpc error " + std::to_string(code) + ": " + message.substr(0, 200);
  const std::string text = ascii_lower(message);
  if (code == 3 || code == -32600 || code == -32602 || code == -32700 ||
      text.find("execution reverted") != std::string::npos)
    return false;
  for (const std::string &item : comma_list(list)) {
    if (is_code(item) ? std::to_string(code) == item : text.find(item) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

bool jsonrpc_methods(const std::string &body, std::vector<std::string> &methods) {
  methods.clear();
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return false;
  auto take = [&methods](const json &call) {
    if (!call.is_object()) return false;
    const auto m = call.find("method");
    if (m == call.end() || !m->is_string()) return false;
    methods.push_back(m->get<std::string>());
    return true;
  };
  if (j.is_array()) {
    if (j.empty()) return false;
    for (const json &call : j)
      if (!take(call)) return false;
    return true;
  }
  return take(j);
}

std::string first_write_method(const std::vector<std::string> &methods,
                               const lbk_chain_profile *profile) {
  for (const std::string &m : methods)
    if (lbk_chain_profile_is_write(profile, m.c_str())) return m;
  return "";
}

ReplyJudgement judge_reply(long status, const std::string &body, const std::string &failover_errors) {
  ReplyJudgement r;
  if (status == 429 || status >= 500) {
    r.node_failed = r.is_error = true;
    r.why = "HTTP " + std::to_string(status);
    return r;
  }
  if (status >= 400) {
    r.is_error = true;
    r.why = "HTTP " + std::to_string(status);
    return r;
  }
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || (body[first] != '{' && body[first] != '[')) return r;
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return r;
  auto judge_one = [&](const json &reply) {
    if (!reply.is_object()) return;
    const auto e = reply.find("error");
    if (e == reply.end() || e->is_null()) return;
    std::string why;
    const bool failed = listed(*e, failover_errors, why);
    if (!r.is_error || (failed && !r.node_failed)) r.why = why;
    r.is_error = true;
    r.node_failed |= failed;
  };
  if (j.is_array()) {
    for (const json &reply : j) judge_one(reply);
  } else {
    judge_one(j);
  }
  return r;
}

}  // namespace lbctl
