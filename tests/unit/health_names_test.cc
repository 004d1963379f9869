// The names of check kinds and outcomes (lib/src/health/names.cc): the words
// configurations, status pages, logs and lbctl use for them.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "lbkit.h"

namespace {

TEST(HealthNames, EveryCheckKindHasItsConfigurationName) {
  const struct {
    int kind;
    const char *name;
  } kinds[] = {{LBK_CHECK_TCP, "tcp"},
               {LBK_CHECK_HTTP, "http"},
               {LBK_CHECK_HTTPS, "https"},
               {LBK_CHECK_JSONRPC, "jsonrpc"},
               {LBK_CHECK_AGENT, "agent"}};
  for (const auto &k : kinds) {
    EXPECT_STREQ(k.name, lbk_check_kind_name(k.kind));
    EXPECT_EQ(k.kind, lbk_check_kind_from_name(k.name, std::strlen(k.name)));
  }
  EXPECT_STREQ("unknown", lbk_check_kind_name(0));
  EXPECT_STREQ("unknown", lbk_check_kind_name(LBK_CHECK_AGENT + 1));
}

TEST(HealthNames, KindFromNameIsExactAndNeedsNoNul) {
  const std::string line = "jsonrpc,tcp";
  EXPECT_EQ(LBK_CHECK_JSONRPC, lbk_check_kind_from_name(line.data(), 7));
  EXPECT_EQ(LBK_CHECK_TCP, lbk_check_kind_from_name(line.data() + 8, 3));
  EXPECT_EQ(0, lbk_check_kind_from_name(line.data(), 4));  // "json"
  EXPECT_EQ(0, lbk_check_kind_from_name("HTTP", 4));
  EXPECT_EQ(0, lbk_check_kind_from_name("unknown", 7));
  EXPECT_EQ(0, lbk_check_kind_from_name("", 0));
  EXPECT_EQ(0, lbk_check_kind_from_name(nullptr, 0));
}

TEST(HealthNames, EveryOutcomeHasItsShortName) {
  const char *names[] = {"pass",    "connect", "timeout", "tls",   "dns",
                         "protocol", "status", "body",    "jsonrpc", "lag",
                         "version", "limit",   "agent"};
  ASSERT_EQ(sizeof names / sizeof names[0], static_cast<size_t>(LBK_CHECK_FAIL_AGENT) + 1);
  for (int outcome = LBK_CHECK_PASS; outcome <= LBK_CHECK_FAIL_AGENT; ++outcome)
    EXPECT_STREQ(names[outcome], lbk_check_outcome_name(outcome)) << outcome;
  EXPECT_STREQ("lag", lbk_check_outcome_name(LBK_CHECK_FAIL_LAG));
  EXPECT_STREQ("unknown", lbk_check_outcome_name(-1));
  EXPECT_STREQ("unknown", lbk_check_outcome_name(LBK_CHECK_FAIL_AGENT + 1));
}

}  // namespace
