// cli/annotate.h - `lbctl forward --annotate`: "__server__" and "__version__"
// added to a JSON object reply.
#pragma once

#include <string>

namespace lbctl {

// Replies nesting arrays and objects deeper than this are not annotated:
// parsing is iterative, but building, printing and freeing a JSON value
// recurse over its nesting.
constexpr int kMaxAnnotateDepth = 256;

enum class Annotated { kYes, kNotAnObject, kTooDeep };

// @p body with "__server__" = @p server_url and "__version__" = @p version
// (parsed as JSON when it is JSON, a string otherwise) added, when @p body is
// a JSON object; otherwise @p body unchanged and @p why says why.  Strings in
// the reply are valid UTF-8 (the parser checks), the version is made so.
std::string annotate_reply(const std::string &body, const std::string &server_url,
                           const std::string &version, Annotated &result, std::string &why);

}  // namespace lbctl
