// HAProxy 2.6 agent-check replies: lbk_agent_parse / lbk_agent_format and
// the agent kind of lbk_check_reply.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "lbkit.h"

namespace {

lbk_agent_reply parse_ok(const std::string &line) {
  lbk_agent_reply r = LBK_AGENT_REPLY_INIT;
  EXPECT_EQ(0, lbk_agent_parse(&r, line.data(), line.size())) << line << ": "
                                                             << lbk_error_last();
  return r;
}

TEST(Agent, StateWords) {
  const struct {
    const char *line;
    int state;
  } cases[] = {
      {"up\n", LBK_AGENT_UP},       {"down\r\n", LBK_AGENT_DOWN},
      {"drain", LBK_AGENT_DRAIN},   {"ready\n", LBK_AGENT_READY},
      {"maint\n", LBK_AGENT_MAINT}, {"stopped\n", LBK_AGENT_STOPPED},
      {"fail\n", LBK_AGENT_FAIL},   {"UP\n", LBK_AGENT_UP},
      {"\n", LBK_AGENT_NONE},       {"75%\n", LBK_AGENT_NONE},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(c.state, parse_ok(c.line).state);
  }
}

TEST(Agent, WeightsMaxconnAndSeparators) {
  lbk_agent_reply r = parse_ok("up 75%\n");
  EXPECT_EQ(LBK_AGENT_UP, r.state);
  EXPECT_EQ(75, r.weight_pct);
  EXPECT_EQ(-1, r.maxconn);
  r = parse_ok("maxconn:30,\t50%,ready\r\n");
  EXPECT_EQ(LBK_AGENT_READY, r.state);
  EXPECT_EQ(50, r.weight_pct);
  EXPECT_EQ(30, r.maxconn);
  r = parse_ok("0%\n");
  EXPECT_EQ(0, r.weight_pct);
  r = parse_ok("100%\n");
  EXPECT_EQ(100, r.weight_pct);
}

TEST(Agent, CommentOnlyAsItsOwnWord) {
  lbk_agent_reply r = parse_ok("down #disk full, call ops\n");
  EXPECT_EQ(LBK_AGENT_DOWN, r.state);
  EXPECT_STREQ("disk full, call ops", r.comment);
  r = parse_ok("stopped,#maintenance window");
  EXPECT_EQ(LBK_AGENT_STOPPED, r.state);
  EXPECT_STREQ("maintenance window", r.comment);
  // '#' inside a word does not start a comment: the word is unknown.
  lbk_agent_reply bad = LBK_AGENT_REPLY_INIT;
  const std::string line = "down#reason\n";
  EXPECT_EQ(LBK_EPARSE, lbk_agent_parse(&bad, line.data(), line.size()));
  EXPECT_NE(nullptr, std::strstr(lbk_error_last(), "down#reason"));
}

TEST(Agent, OnlyTheFirstLineCounts) {
  lbk_agent_reply r = parse_ok("up\nbogus words here\n");
  EXPECT_EQ(LBK_AGENT_UP, r.state);
  r = parse_ok("drain\rdown\n");
  EXPECT_EQ(LBK_AGENT_DRAIN, r.state);
}

TEST(Agent, MostSevereStateWins) {
  EXPECT_EQ(LBK_AGENT_DRAIN, parse_ok("up drain\n").state);
  EXPECT_EQ(LBK_AGENT_DOWN, parse_ok("drain down\n").state);
  EXPECT_EQ(LBK_AGENT_MAINT, parse_ok("maint ready\n").state);
  EXPECT_EQ(LBK_AGENT_FAIL, parse_ok("down fail\n").state);
}

TEST(Agent, RejectsWhat26DoesNotKnow) {
  const char *bad[] = {"weight:10\n", "upp\n", "101%\n", "%\n", "-5%\n", "maxconn:\n",
                       "maxconn:-1\n", "maxconn:x\n", "7\n"};
  for (const char *line : bad) {
    SCOPED_TRACE(line);
    lbk_agent_reply r = LBK_AGENT_REPLY_INIT;
    EXPECT_EQ(LBK_EPARSE, lbk_agent_parse(&r, line, std::strlen(line)));
    EXPECT_STRNE("", lbk_error_last());
  }
}

TEST(Agent, FormatRoundTrips) {
  lbk_agent_reply r = LBK_AGENT_REPLY_INIT;
  r.state = LBK_AGENT_UP;
  r.weight_pct = 75;
  std::snprintf(r.comment, sizeof r.comment, "load 0.4");
  char buf[64];
  size_t len = sizeof buf;
  ASSERT_EQ(0, lbk_agent_format(buf, &len, &r));
  EXPECT_EQ("up 75% #load 0.4\n", std::string(buf, len));
  const lbk_agent_reply back = parse_ok(std::string(buf, len));
  EXPECT_EQ(LBK_AGENT_UP, back.state);
  EXPECT_EQ(75, back.weight_pct);
  EXPECT_STREQ("load 0.4", back.comment);

  r = LBK_AGENT_REPLY_INIT;
  r.state = LBK_AGENT_DRAIN;
  r.maxconn = 12;
  std::snprintf(r.comment, sizeof r.comment, "a\nb");
  len = sizeof buf;
  ASSERT_EQ(0, lbk_agent_format(buf, &len, &r));
  EXPECT_EQ("drain maxconn:12 #a b\n", std::string(buf, len));  // no second line
}

TEST(Agent, FormatBufferAndRangeErrors) {
  lbk_agent_reply r = LBK_AGENT_REPLY_INIT;
  r.state = LBK_AGENT_STOPPED;
  size_t len = 0;
  EXPECT_EQ(LBK_ERANGE, lbk_agent_format(nullptr, &len, &r));
  EXPECT_EQ(8u, len);  // "stopped\n"
  char buf[8];
  ASSERT_EQ(0, lbk_agent_format(buf, &len, &r));
  EXPECT_EQ("stopped\n", std::string(buf, len));
  r.weight_pct = 150;
  len = sizeof buf;
  EXPECT_EQ(LBK_ERANGE, lbk_agent_format(buf, &len, &r));
  r.weight_pct = -1;
  r.state = 42;
  EXPECT_EQ(LBK_EINVAL, lbk_agent_format(buf, &len, &r));
}

// The agent kind of a check: feed a reply, get a verdict with the words.
struct AgentCheck : ::testing::Test {
  void SetUp() override {
    lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
    o.kind = LBK_CHECK_AGENT;
    o.max_header_bytes = 64;
    ASSERT_EQ(0, lbk_check_create(&check, &o));
    ASSERT_EQ(0, lbk_check_reply_create(&reply, check));
  }
  void TearDown() override {
    lbk_check_reply_free(reply);
    lbk_check_free(check);
  }
  lbk_check_result feed_all(const std::string &bytes, bool close) {
    for (char c : bytes) lbk_check_reply_feed(reply, &c, 1);
    if (close) lbk_check_reply_eof(reply);
    lbk_check_result r;
    EXPECT_EQ(0, lbk_check_reply_result(&r, reply));
    return r;
  }
  lbk_check *check = nullptr;
  lbk_check_reply *reply = nullptr;
};

TEST_F(AgentCheck, UpWithWeight) {
  const lbk_check_result r = feed_all("up 60% maxconn:5\n", false);
  EXPECT_EQ(LBK_CHECK_PASS, r.outcome);
  EXPECT_EQ(LBK_AGENT_UP, r.agent_state);
  EXPECT_EQ(60, r.agent_weight_pct);
  EXPECT_EQ(5, r.agent_maxconn);
  EXPECT_STREQ("reply \"up 60% maxconn:5\"", r.reason);
}

TEST_F(AgentCheck, DownAndMaintFail) {
  lbk_check_result r = feed_all("down #bye\n", false);
  EXPECT_EQ(LBK_CHECK_FAIL_AGENT, r.outcome);
  EXPECT_EQ(LBK_AGENT_DOWN, r.agent_state);
  lbk_check_reply_reset(reply);
  r = feed_all("maint", true);  // last line without newline, then close
  EXPECT_EQ(LBK_CHECK_FAIL_AGENT, r.outcome);
  lbk_check_reply_reset(reply);
  r = feed_all("drain\n", false);
  EXPECT_EQ(LBK_CHECK_PASS, r.outcome);
  EXPECT_EQ(LBK_AGENT_DRAIN, r.agent_state);
  EXPECT_EQ(-1, r.agent_weight_pct);
}

TEST_F(AgentCheck, GarbageEmptyAndTooLong) {
  lbk_check_result r = feed_all("hello world\n", false);
  EXPECT_EQ(LBK_CHECK_FAIL_PROTOCOL, r.outcome);
  lbk_check_reply_reset(reply);
  r = feed_all("", true);
  EXPECT_EQ(LBK_CHECK_FAIL_PROTOCOL, r.outcome);
  lbk_check_reply_reset(reply);
  r = feed_all(std::string(100, ' ') + "up\n", false);
  EXPECT_EQ(LBK_CHECK_FAIL_LIMIT, r.outcome);
}

}  // namespace

namespace {

TEST(Agent, CommentIsPrintableUtf8) {
  // Control characters become blanks; a character cut by the buffer is
  // dropped whole, invalid bytes become U+FFFD.
  lbk_agent_reply r = LBK_AGENT_REPLY_INIT;
  const std::string line = "up #\x1b[2Jfull\xff " + std::string(300, 'a') + "\n";
  ASSERT_EQ(0, lbk_agent_parse(&r, line.data(), line.size()));
  EXPECT_EQ(std::string(r.comment).rfind(" [2Jfull\xEF\xBF\xBD aaa", 0), 0u) << r.comment;
  std::string pairs = "up #a";
  for (int i = 0; i < 150; i++) pairs += "\xC3\xA9";
  pairs += "\n";
  ASSERT_EQ(0, lbk_agent_parse(&r, pairs.data(), pairs.size()));
  EXPECT_EQ(1, lbk_utf8_valid(r.comment, std::strlen(r.comment)));
  EXPECT_EQ(std::strlen(r.comment) % 2, 1u);  // "a" and whole two-byte characters
}

}  // namespace
