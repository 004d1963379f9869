// Incremental HTTP/1.x response reader: every reply is also fed split at
// every byte boundary and one byte at a time, and must give the same
// verdict as when fed whole.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/http_response.h"

namespace {

using lbk::proto::HttpResponseParser;
using State = HttpResponseParser::State;

struct Outcome {
  State state;
  int status;
  std::string body;
  std::string error;
};

constexpr HttpResponseParser::Limits kLimits{1024, 4096};

// Feeds @p parts in order, then eof() when @p close is set.
Outcome run(const std::vector<std::string> &parts, bool close,
            HttpResponseParser::Limits limits = kLimits) {
  HttpResponseParser p(limits);
  State s = State::kNeedMore;
  for (const std::string &part : parts) s = p.feed(part.data(), part.size());
  if (close) s = p.eof();
  return {s, p.status(), p.body(), p.error()};
}

// The same outcome whatever the split: whole, at every single boundary,
// and byte by byte.
Outcome run_every_split(const std::string &reply, bool close,
                        HttpResponseParser::Limits limits = kLimits) {
  const Outcome whole = run({reply}, close, limits);
  for (size_t i = 0; i <= reply.size(); i++) {
    const Outcome split = run({reply.substr(0, i), reply.substr(i)}, close, limits);
    EXPECT_EQ(whole.state, split.state) << "split at " << i;
    EXPECT_EQ(whole.status, split.status) << "split at " << i;
    EXPECT_EQ(whole.body, split.body) << "split at " << i;
  }
  std::vector<std::string> bytes;
  for (char c : reply) bytes.emplace_back(1, c);
  const Outcome single = run(bytes, close, limits);
  EXPECT_EQ(whole.state, single.state) << "byte by byte";
  EXPECT_EQ(whole.body, single.body) << "byte by byte";
  return whole;
}

// Complete replies of every framing: {what, reply, closed by peer, status, body}.
struct CompleteCase {
  const char *what;
  std::string reply;
  bool close;
  int status;
  std::string body;
};

TEST(HttpParser, CompleteRepliesOfEveryFraming) {
  const CompleteCase cases[] = {
      {"content-length",
       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
       false, 200, "hello"},
      {"chunked with extension and trailer",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n",
       false, 200, "hello, world"},
      {"chunked overrides content-length",
       "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
       "3\r\nabc\r\n0\r\n\r\n",
       false, 200, "abc"},
      {"close-delimited", "HTTP/1.0 503 Service Unavailable\r\nServer: x\r\n\r\nbusy now",
       true, 503, "busy now"},
      {"bare LF, no reason phrase", "HTTP/1.1 204\nX-A: b\n\n", false, 204, ""},
      {"interim 1xx skipped",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
       "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnah",
       false, 404, "nah"},
      {"repeated identical content-length",
       "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok", false,
       200, "ok"},
  };
  for (const CompleteCase &c : cases) {
    SCOPED_TRACE(c.what);
    const Outcome o = run_every_split(c.reply, c.close);
    EXPECT_EQ(State::kComplete, o.state) << o.error;
    EXPECT_EQ(c.status, o.status);
    EXPECT_EQ(c.body, o.body);
  }
}

TEST(HttpParser, CloseDelimitedNeedsTheClose) {
  EXPECT_EQ(State::kNeedMore, run({"HTTP/1.0 200 OK\r\n\r\nbody"}, false).state);
}

TEST(HttpParser, EndlessInterimResponsesAreAnError) {
  std::string reply;
  for (int i = 0; i < 8; i++) reply += "HTTP/1.1 102 Processing\r\n\r\n";
  EXPECT_EQ(State::kComplete, run({reply + "HTTP/1.1 204 No Content\r\n\r\n"}, false).state);
  const Outcome o = run({reply + "HTTP/1.1 102 Processing\r\n\r\n"}, false);
  EXPECT_EQ(State::kError, o.state);
  EXPECT_NE(std::string::npos, o.error.find("interim"));
}

TEST(HttpParser, BytesAfterTheReplyAreIgnored) {
  const Outcome o = run({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"}, false);
  EXPECT_EQ(State::kComplete, o.state);
  EXPECT_EQ("ok", o.body);
}

TEST(HttpParser, NoBodyFor304AndHead) {
  EXPECT_EQ(State::kComplete,
            run({"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"}, false).state);
  HttpResponseParser p(kLimits);
  p.set_head_request(true);
  const std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
  EXPECT_EQ(State::kComplete, p.feed(r.data(), r.size()));
}

TEST(HttpParser, TruncatedRepliesAreErrors) {
  EXPECT_EQ(State::kError, run_every_split("", true).state);
  EXPECT_EQ(State::kError, run_every_split("HTTP/1.1 200 OK\r\nContent-Le", true).state);
  const Outcome short_body =
      run_every_split("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true);
  EXPECT_EQ(State::kError, short_body.state);
  EXPECT_NE(std::string::npos, short_body.error.find("3 of 10"));
  EXPECT_EQ(State::kError,
            run_every_split("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                            true)
                .state);
}

TEST(HttpParser, GarbageIsAnError) {
  const char *bad[] = {
      "garbage\r\n\r\n",
      "HTTP/2 200\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 200OK\r\n\r\n",
      "HTTP/1.1 999 Nope\r\n\r\n",
      "HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abcdef0\r\n",
  };
  for (const char *reply : bad) {
    SCOPED_TRACE(reply);
    const Outcome o = run_every_split(reply, true);
    EXPECT_EQ(State::kError, o.state);
    EXPECT_FALSE(o.error.empty());
  }
}

TEST(HttpParser, HugeHeadersHitTheLimit) {
  const std::string huge =
      "HTTP/1.1 200 OK\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
  const Outcome o = run_every_split(huge, true);
  EXPECT_EQ(State::kLimit, o.state);
  EXPECT_NE(std::string::npos, o.error.find("1024"));
  // Many small headers count together.
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 200; i++) many += "X-H" + std::to_string(i) + ": v\r\n";
  many += "\r\n";
  EXPECT_EQ(State::kLimit, run_every_split(many, true).state);
  // Exactly at the limit is fine: the whole head is 1024 bytes here.
  std::string exact = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ";
  exact += std::string(1024 - exact.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(1024u, exact.size());
  EXPECT_EQ(State::kComplete, run_every_split(exact, false).state);
  EXPECT_EQ(State::kLimit, run_every_split(exact.substr(0, 40) + "p" + exact.substr(40), false)
                               .state);
}

TEST(HttpParser, BodyLimits) {
  // A Content-Length above the limit fails before any body byte arrives.
  EXPECT_EQ(State::kLimit,
            run({"HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n"}, false).state);
  EXPECT_EQ(State::kComplete,
            run({"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'b')},
                false)
                .state);
  const std::string close_big = "HTTP/1.1 200 OK\r\n\r\n" + std::string(5000, 'b');
  EXPECT_EQ(State::kLimit, run_every_split(close_big, true).state);
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; i++) chunked += "3e8\r\n" + std::string(1000, 'c') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(State::kLimit, run_every_split(chunked, false).state);
}

TEST(HttpParser, BodiesNotKeptAreNotLimited) {
  HttpResponseParser p(kLimits);
  p.set_keep_body(false);
  const std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'b');
  EXPECT_EQ(State::kComplete, p.feed(r.data(), r.size()));
  EXPECT_EQ("", p.body());
  EXPECT_EQ(5000u, p.body_bytes());
}

TEST(HttpParser, ResetReadsAnotherReply) {
  HttpResponseParser p(kLimits);
  const std::string a = "HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nx";
  EXPECT_EQ(State::kComplete, p.feed(a.data(), a.size()));
  EXPECT_EQ(500, p.status());
  p.reset();
  EXPECT_EQ(0, p.status());
  const std::string b = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nyz";
  EXPECT_EQ(State::kComplete, p.feed(b.data(), b.size()));
  EXPECT_EQ(200, p.status());
  EXPECT_EQ("yz", p.body());
}

}  // namespace
