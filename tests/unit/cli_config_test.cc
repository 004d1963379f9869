// Unit tests of lbctl's INI loader (cli/config.cc): values, defaults and
// file:line errors.
#include <algorithm>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config.h"

namespace {

std::string write_temp(const std::string &text) {
  char name[] = "/tmp/lbctl_config_test_XXXXXX";
  const int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  FILE *f = fdopen(fd, "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  return name;
}

struct Loaded {
  bool ok;
  lbctl::Config config;
  std::vector<lbctl::ConfigError> errors;
};

Loaded load(const std::string &text) {
  const std::string path = write_temp(text);
  Loaded l;
  l.ok = lbctl::load_config(path, l.config, l.errors);
  std::remove(path.c_str());
  return l;
}

TEST(LbctlDuration, Units) {
  uint32_t ms = 0;
  ASSERT_TRUE(lbctl::parse_duration_ms("250ms", ms));
  EXPECT_EQ(ms, 250u);
  ASSERT_TRUE(lbctl::parse_duration_ms("2s", ms));
  EXPECT_EQ(ms, 2000u);
  ASSERT_TRUE(lbctl::parse_duration_ms("3m", ms));
  EXPECT_EQ(ms, 180000u);
  ASSERT_TRUE(lbctl::parse_duration_ms("1h", ms));
  EXPECT_EQ(ms, 3600000u);
  ASSERT_TRUE(lbctl::parse_duration_ms("1d", ms));
  EXPECT_EQ(ms, 86400000u);
  ASSERT_TRUE(lbctl::parse_duration_ms("2500us", ms));
  EXPECT_EQ(ms, 2u);
  for (const char *bad : {"", "s", "1.5s", "-1", "2 s", "2x", "99999999999h", "250", "5"})
    EXPECT_FALSE(lbctl::parse_duration_ms(bad, ms)) << bad;
  // Imported HAProxy/nginx settings keep their servers' rule: bare = ms.
  ASSERT_TRUE(lbctl::parse_duration_ms("250", ms, lbctl::BareNumber::kMilliseconds));
  EXPECT_EQ(ms, 250u);
}

TEST(LbctlDuration, BareNumberAsksForAUnit) {
  EXPECT_EQ(lbctl::duration_problem("5"), "'5' has no unit: 5s or 5ms?");
  EXPECT_EQ(lbctl::duration_problem("5x"), "bad duration '5x' (use e.g. 500ms, 2s, 1m)");
  Loaded l = load("[pool p]\ninterval = 5\nserver = http://127.0.0.1:1/\n");
  ASSERT_FALSE(l.ok);
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_NE(l.errors[0].text().find(":2: interval: '5' has no unit: 5s or 5ms?"), std::string::npos)
      << l.errors[0].text();
}

TEST(LbctlSecrets, UserinfoBecomesBasicAuthAndIsMasked) {
  Loaded l = load(
      "[pool p]\nheader = X-Api-Key: poolkey1\n"
      "server = https://alice:s3cr%40t@rpc.example.org/v3/pathkey99 name=a header=\"X-Api-Key: serverkey2\"\n"
      "server = http://127.0.0.1:8545/?apikey=querykey3\n");
  ASSERT_TRUE(l.ok) << (l.errors.empty() ? "" : l.errors[0].text());
  const lbctl::ServerConfig &a = l.config.pools[0].servers[0];
  EXPECT_EQ(a.url, "https://rpc.example.org/v3/pathkey99");
  EXPECT_EQ(a.shown_url, "https://alice:***@rpc.example.org/***");
  ASSERT_EQ(a.headers.size(), 2u);
  EXPECT_EQ(a.headers[0], "Authorization: Basic YWxpY2U6czNjckB0");  // alice:s3cr@t
  EXPECT_EQ(a.headers[1], "X-Api-Key: serverkey2");
  for (const char *secret : {"s3cr%40t", "serverkey2", "v3/pathkey99"})
    EXPECT_NE(std::find(a.secrets.begin(), a.secrets.end(), secret), a.secrets.end()) << secret;
  const lbctl::ServerConfig &b = l.config.pools[0].servers[1];
  EXPECT_EQ(b.shown_url, "http://127.0.0.1:8545/?apikey=***");
  EXPECT_EQ(b.name, b.shown_url);
  EXPECT_EQ(lbctl::mask_header("x-api-key: k", lbctl::kDefaultSecretHeaders), "x-api-key: ***");
  EXPECT_EQ(lbctl::mask_header("Accept: k", lbctl::kDefaultSecretHeaders), "Accept: k");
  EXPECT_EQ(lbctl::merge_headers({"A: 1", "B: 2"}, {"b: 3", "C: 4"}),
            (std::vector<std::string>{"A: 1", "b: 3", "C: 4"}));
}

TEST(LbctlConfig, UrlsAreCheckedAsProbeReadsThem) {
  Loaded l = load("[pool p]\nserver = http://127.0.0.1:99999/\nserver = http://h:1/ header=oops\n");
  ASSERT_FALSE(l.ok);
  ASSERT_GE(l.errors.size(), 2u);
  EXPECT_NE(l.errors[0].text().find(":2: server: bad URL"), std::string::npos) << l.errors[0].text();
  EXPECT_NE(l.errors[1].text().find(":3: server: header="), std::string::npos) << l.errors[1].text();
}

TEST(LbctlConfig, ChainKeys) {
  Loaded l = load("[pool p]\nchain = solana\nchain_id = 0x1\nserver = http://127.0.0.1:1/\n"
                  "[pool q]\nchain = dogecoin\nserver = http://127.0.0.1:1/\n");
  ASSERT_FALSE(l.ok);
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_NE(l.errors[0].text().find(":6: chain: unknown chain 'dogecoin'"), std::string::npos)
      << l.errors[0].text();
  lbctl::CheckConfig c = l.config.pools[0].check;
  std::string why;
  ASSERT_TRUE(lbctl::resolve_chain_defaults(c, why));
  EXPECT_EQ(c.kind, "jsonrpc");
  EXPECT_EQ(c.jsonrpc_method, "getSlot");
  EXPECT_EQ(c.max_lag, 150);
  lbctl::CheckConfig plain;  // an http pool takes no lag
  ASSERT_TRUE(lbctl::resolve_chain_defaults(plain, why));
  EXPECT_EQ(plain.max_lag, 0);
  plain.kind = "jsonrpc";
  plain.max_lag = -1;
  ASSERT_TRUE(lbctl::resolve_chain_defaults(plain, why));
  EXPECT_EQ(plain.max_lag, 5);
  EXPECT_EQ(plain.jsonrpc_method, "eth_blockNumber");
}

TEST(LbctlConfig, FullPool) {
  Loaded l = load(
      "[lbctl]\ntimeout = 1s\nconcurrency = 50\nstate_file = /tmp/s.json\n"
      "[pool eth]\nmethod = leastconn\ncheck = jsonrpc\ninterval = 3s\nrise = 3\nfall = 4\n"
      "jsonrpc_field = number\nmax_lag = 5\nheader = X-Api: k\ntls_verify = off\n"
      "server = https://a.example/rpc weight=2 name=a\nserver = http://127.0.0.1:8545/ backup\n"
      "server = http://10.0.0.9:8545/ disabled name=held\n");
  ASSERT_TRUE(l.ok) << (l.errors.empty() ? "" : l.errors[0].text());
  EXPECT_EQ(l.config.global.timeout_ms, 1000u);
  EXPECT_EQ(l.config.global.concurrency, 50u);
  EXPECT_EQ(l.config.global.state_file, "/tmp/s.json");
  ASSERT_EQ(l.config.pools.size(), 1u);
  const lbctl::PoolConfig &p = l.config.pools[0];
  EXPECT_EQ(p.name, "eth");
  EXPECT_EQ(p.line, 5);
  EXPECT_EQ(p.check.kind, "jsonrpc");
  EXPECT_EQ(p.check.interval_ms, 3000u);
  EXPECT_EQ(p.check.timeout_ms, 1000u);  // inherited from [lbctl]
  EXPECT_EQ(p.check.rise, 3u);
  EXPECT_EQ(p.check.fall, 4u);
  EXPECT_TRUE(p.check.has_jsonrpc_field);
  EXPECT_EQ(p.check.jsonrpc_field, "number");
  EXPECT_EQ(p.check.max_lag, 5);
  EXPECT_EQ(p.check.headers, "X-Api: k");
  EXPECT_FALSE(p.check.tls_verify);
  ASSERT_EQ(p.servers.size(), 3u);
  EXPECT_EQ(p.servers[0].name, "a");
  EXPECT_EQ(p.servers[0].weight, 2u);
  EXPECT_EQ(p.servers[0].line, 15);
  EXPECT_EQ(p.servers[1].name, "http://127.0.0.1:8545/");
  EXPECT_TRUE(p.servers[1].backup);
  EXPECT_FALSE(p.servers[1].disabled);
  EXPECT_TRUE(p.servers[2].disabled);
  EXPECT_EQ(p.servers[2].name, "held");
}

TEST(LbctlConfig, Defaults) {
  Loaded l = load("[pool p]\nserver = http://h/\n");
  ASSERT_TRUE(l.ok);
  const lbctl::CheckConfig &c = l.config.pools[0].check;
  EXPECT_EQ(c.kind, "");
  EXPECT_EQ(c.timeout_ms, 2000u);
  EXPECT_EQ(c.interval_ms, 5000u);
  EXPECT_EQ(c.rise, 2u);
  EXPECT_EQ(c.fall, 3u);
  EXPECT_TRUE(c.tls_verify);
  EXPECT_EQ(c.expect_status, "200-399");
  EXPECT_EQ(l.config.global.listen, "127.0.0.1:5555");
}

TEST(LbctlConfig, EveryErrorWithLine) {
  Loaded l = load("key = outside\n[pool p]\nrise = 0\nserver = http://h/ weight=x\nnonsense\n[x]\n");
  EXPECT_FALSE(l.ok);
  std::vector<int> lines;
  for (const auto &e : l.errors) lines.push_back(e.line);
  EXPECT_EQ(lines, (std::vector<int>{1, 3, 4, 5, 6}));
  EXPECT_EQ(l.errors[1].key, "rise");
  EXPECT_NE(l.errors[1].text().find(":3: rise: "), std::string::npos);
}

TEST(LbctlConfig, LongLineIsAnErrorNotATruncation) {
  Loaded l = load("[pool p]\nserver = http://h/" + std::string(400, 'a') + "\n");
  EXPECT_FALSE(l.ok);
  bool reported = false;
  for (const auto &e : l.errors)
    reported |= e.line == 2 && e.message.find("longer than") != std::string::npos;
  EXPECT_TRUE(reported);
}

TEST(LbctlConfig, UrlValidation) {
  std::string why;
  EXPECT_TRUE(lbctl::valid_server_url("http://h", why));
  EXPECT_TRUE(lbctl::valid_server_url("https://[::1]:8443/x", why));
  EXPECT_TRUE(lbctl::valid_server_url("tcp://[::1]:5", why));
  EXPECT_FALSE(lbctl::valid_server_url("tcp://[::1]", why));
  EXPECT_FALSE(lbctl::valid_server_url("h:80", why));
  EXPECT_FALSE(lbctl::valid_server_url("http:///x", why));
  EXPECT_FALSE(lbctl::valid_server_url("gopher://h/", why));
}

}  // namespace

namespace {

TEST(LbctlIniQuote, PlainValuesStayPlain) {
  EXPECT_EQ(lbctl::ini_quote("GET /health"), "GET /health");
  EXPECT_EQ(lbctl::ini_quote(""), "");
}

TEST(LbctlIniQuote, WhatALineCannotCarryIsEscapedAndReadBack) {
  for (const std::string &value : {std::string("ok\n[pool evil]"), std::string("a ; b # c"),
                                  std::string(" edge\t"), std::string("\"quoted\""),
                                  std::string("back\\slash\r\x01")}) {
    const std::string quoted = lbctl::ini_quote(value);
    EXPECT_EQ(quoted.find('\n'), std::string::npos) << quoted;
    EXPECT_EQ(quoted.find(';'), std::string::npos) << quoted;
    std::string back, why;
    ASSERT_TRUE(lbctl::ini_unquote(quoted, back, why)) << why;
    EXPECT_EQ(back, value);
    const Loaded l = load("[pool p]\nexpect_body = " + quoted + "\nserver = http://127.0.0.1:9/\n");
    ASSERT_TRUE(l.ok);
    ASSERT_EQ(l.config.pools.size(), 1u);
    EXPECT_EQ(l.config.pools[0].check.expect_body, value);
  }
}

TEST(LbctlIniQuote, BadEscapesNameTheLine) {
  const Loaded l = load("[pool p]\nserver = http://127.0.0.1:9/\nbody = \"a\\qb\"\n");
  ASSERT_FALSE(l.ok);
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_EQ(l.errors[0].line, 3);
  EXPECT_NE(l.errors[0].message.find("unknown escape \\q"), std::string::npos)
      << l.errors[0].message;
  std::string out, why;
  EXPECT_FALSE(lbctl::ini_unquote("\"a\\x4\"", out, why));
  EXPECT_FALSE(lbctl::ini_unquote("\"a\\\"", out, why));
}

}  // namespace
