// cli/annotate.cc - see annotate.h.
#include "annotate.h"

#include <nlohmann/json.hpp>

#include "lbkit.h"

namespace lbctl {

using nlohmann::json;

std::string annotate_reply(const std::string &body, const std::string &server_url,
                           const std::string &version, Annotated &result, std::string &why) {
  bool too_deep = false;
  // The callback sees the depth of each value as the (iterative) parser
  // reaches it; anything deeper than the limit is dropped before it is built.
  const json::parser_callback_t limit = [&too_deep](int depth, json::parse_event_t event,
                                                    json &) {
    if (depth > kMaxAnnotateDepth &&
        (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start)) {
      too_deep = true;
      return false;
    }
    return !too_deep;
  };
  json j = json::parse(body, limit, false);
  if (too_deep) {
    why = "the reply nests JSON deeper than " + std::to_string(kMaxAnnotateDepth) + " levels";
    result = Annotated::kTooDeep;
    return body;
  }
  if (j.is_discarded() || !j.is_object()) {
    why = "the reply is not a JSON object";
    result = Annotated::kNotAnObject;
    return body;
  }
  j["__server__"] = server_url;
  json v = json::parse(version, limit, false);
  if (v.is_discarded() || too_deep) {
    std::string text(version.size() * 3 + 1, '\0');
    text.resize(lbk_utf8_copy(&text[0], text.size(), version.data(), version.size()));
    v = text;
  }
  j["__version__"] = std::move(v);
  result = Annotated::kYes;
  // Invalid UTF-8 cannot be in j (parsed or made valid above); replace is
  // the last guard, so that a reply is never lost to a throw.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace lbctl
