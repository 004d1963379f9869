// agent_reply.h - HAProxy 2.6 agent-check reply words: parse and format.
//
// A reply is one ASCII line, cut at the first '\r' or '\n'; words are
// separated by spaces, tabs or commas, in any order (HAProxy 2.6
// configuration, "agent-check"):
//   up | down | fail | stopped        operational state
//   ready | drain | maint             administrative state
//   N%                                weight, percent of the configured one
//   maxconn:N                         connection limit (0 = unlimited)
//   #text                             a description; it runs to the end of
//                                     the line, and only a word that starts
//                                     with '#' begins it ("down#x" is an
//                                     unknown word, "down #x" is down + text)
// Words are case-insensitive.  2.6 does not know "weight:N" (3.1+), so it is
// rejected here and never produced.
#pragma once

#include <cstddef>
#include <string>

#include "lbkit.h"

namespace lbk {
namespace proto {

// Parses @p line into @p out (initialised here).  lbk_agent_reply has one
// state field: when a reply names several states, the most severe wins
// (down/fail/stopped > maint > drain > up/ready), the later on a tie; so
// "up drain" is drain and "drain down" is down.
// Returns LBK_OK, or LBK_EPARSE with a message naming the word in *error.
int parse_agent_reply(lbk_agent_reply *out, const char *line, size_t len,
                      std::string *error);

// Formats @p reply as "up 75% maxconn:10 #text\n" (absent parts left out).
// Returns LBK_OK, or LBK_EINVAL / LBK_ERANGE with a message in *error.
int format_agent_reply(std::string *out, const lbk_agent_reply &reply,
                       std::string *error);

// "up", "drain", ... for an lbk_agent_state; nullptr for NONE or unknown.
const char *agent_state_word(int state);

}  // namespace proto
}  // namespace lbk
