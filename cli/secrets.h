// cli/secrets.h - credentials of a node (userinfo, API-key headers) and the
// masking that keeps them out of every output, log and state file.
//
// Masking rule (documented in lbctl.ini(5)):
//   - userinfo is taken out of the URL (it becomes an Authorization: Basic
//     header) and shown as "user:***@";
//   - every query value is shown as "***" ("?apikey=***");
//   - when the server has a name= of its own, a path other than "/" is shown
//     as "/***" (providers put keys in paths: /v3/KEY, /v2/KEY);
//   - headers named in secret_headers show their value as "***".
#pragma once

#include <string>
#include <vector>

namespace lbctl {

// The default of secret_headers (lower case, compared without case).
extern const char kDefaultSecretHeaders[];

// A node URL split into what is sent and what is shown.
struct NodeUrl {
  std::string url;       // the URL without userinfo: what probe and forward use
  std::string shown;     // the masked URL: what outputs and state files say
  std::string basic_auth;  // "Authorization: Basic ..." from userinfo, or ""
  std::vector<std::string> hidden;  // what shown hides: the password, its
                                    // Basic token, query values, the path
};

// Takes @p raw apart (userinfo percent-decoded into Basic auth); @p named:
// the server has a name= (its path is then masked).  False with @p why when
// the userinfo is malformed (bad percent escape).
bool split_node_url(const std::string &raw, bool named, NodeUrl &out, std::string &why);

// "Name: value" with the value replaced by "***" when Name is in the
// comma-separated @p secret_headers (case-insensitive); else unchanged.
std::string mask_header(const std::string &line, const std::string &secret_headers);

// @p base header lines overridden (by name, case-insensitive) and extended by
// @p overrides; the order of @p base is kept, new names are appended.
std::vector<std::string> merge_headers(const std::vector<std::string> &base,
                                       const std::vector<std::string> &overrides);

// Replaces every occurrence of each non-empty secret in @p text by "***":
// the last line of defence for text that came from elsewhere (libcurl's
// error messages quote URLs).
std::string scrub(std::string text, const std::vector<std::string> &secrets);

}  // namespace lbctl
