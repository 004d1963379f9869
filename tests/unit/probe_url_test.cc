// lbk::probe::parse_url: schemes, default ports, IPv6 literals, errors.
#include <gtest/gtest.h>

#include "lbkit/probe.h"

namespace {

using lbk::probe::parse_url;
using lbk::probe::Url;

TEST(ProbeUrl, ParsesTheAcceptedForms) {
  struct Case {
    const char *url, *scheme, *host;
    int port;
    const char *path;
    bool tls, ip;
    const char *host_header;
  } cases[] = {
      {"http://example.com", "http", "example.com", 80, "/", false, false, "example.com"},
      {"https://example.com/v2/key?x=1", "https", "example.com", 443, "/v2/key?x=1", true, false,
       "example.com"},
      {"HTTPS://node:8545/", "https", "node", 8545, "/", true, false, "node:8545"},
      {"http://127.0.0.1:8080/health", "http", "127.0.0.1", 8080, "/health", false, true,
       "127.0.0.1:8080"},
      {"http://[::1]:9000", "http", "::1", 9000, "/", false, true, "[::1]:9000"},
      {"https://[2001:db8::1]/", "https", "2001:db8::1", 443, "/", true, true, "[2001:db8::1]"},
      {"tcp://10.0.0.1:6379", "tcp", "10.0.0.1", 6379, "/", false, true, "10.0.0.1:6379"},
      {"http://h?q=1", "http", "h", 80, "/?q=1", false, false, "h"},
  };
  for (const auto &c : cases) {
    Url u;
    std::string error;
    ASSERT_TRUE(parse_url(&u, c.url, &error)) << c.url << ": " << error;
    EXPECT_EQ(u.scheme, c.scheme) << c.url;
    EXPECT_EQ(u.host, c.host) << c.url;
    EXPECT_EQ(u.port, c.port) << c.url;
    EXPECT_EQ(u.path, c.path) << c.url;
    EXPECT_EQ(u.tls, c.tls) << c.url;
    EXPECT_EQ(u.host_is_ip, c.ip) << c.url;
    EXPECT_EQ(u.host_header(), c.host_header) << c.url;
  }
}

TEST(ProbeUrl, RejectsWithAReason) {
  struct Case {
    const char *url, *reason;
  } cases[] = {
      {"example.com", "missing scheme"},
      {"ftp://example.com", "unknown scheme 'ftp'"},
      {"tcp://example.com", "needs a port"},
      {"http://:80/", "missing host"},
      {"http://h:0/", "not in 1..65535"},
      {"http://h:70000/", "not in 1..65535"},
      {"http://h:8x/", "not in 1..65535"},
      {"http://[::1/", "unterminated"},
      {"http://[nope]:80/", "not an IPv6 address"},
      {"http://user@h/", "user information"},
  };
  for (const auto &c : cases) {
    Url u;
    std::string error;
    EXPECT_FALSE(parse_url(&u, c.url, &error)) << c.url;
    EXPECT_NE(error.find(c.reason), std::string::npos) << c.url << ": " << error;
  }
}

}  // namespace
