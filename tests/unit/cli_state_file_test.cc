// Unit tests of the canary state file (cli/state_file.h): round trip,
// validation, atomic replacement.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <string>

#include "state_file.h"

namespace {

lbctl::State sample() {
  lbctl::State s;
  s.generated_unix_ms = 1700000000123;
  s.interval_ms = 2500;
  s.round = 9;
  lbctl::PoolState p;
  p.name = "eth";
  p.method = "peak_ewma";
  lbctl::NodeState n;
  n.name = "a";
  n.url = "http://127.0.0.1:1/";
  n.weight = 3;
  n.health = "down";
  n.healthy = false;
  n.outcome = "status";
  n.reason = "status 500";
  n.http_status = 500;
  n.has_head = true;
  n.head = 12345;
  n.lag = 2;
  n.version = "geth/1";
  n.last_ms = 1.5;
  n.p50_ms = 1.25;
  n.p95_ms = 4;
  n.checks = 10;
  n.checks_failed = 4;
  n.consecutive_failures = 2;
  n.score = 0;
  p.nodes.push_back(n);
  n.name = "b";
  n.has_head = false;
  n.disabled = true;
  p.nodes.push_back(n);
  s.pools.push_back(p);
  return s;
}

TEST(LbctlStateFile, RoundTrip) {
  const lbctl::State in = sample();
  lbctl::State out;
  std::string error;
  ASSERT_TRUE(lbctl::state_from_json(lbctl::state_to_json(in), out, error)) << error;
  EXPECT_EQ(out.generated_unix_ms, in.generated_unix_ms);
  EXPECT_EQ(out.interval_ms, 2500u);
  EXPECT_EQ(out.round, 9u);
  ASSERT_NE(out.find_pool("eth"), nullptr);
  EXPECT_EQ(out.find_pool("nope"), nullptr);
  const auto &a = out.pools[0].nodes[0];
  EXPECT_EQ(a.weight, 3u);
  EXPECT_EQ(a.health, "down");
  EXPECT_FALSE(a.healthy);
  EXPECT_EQ(a.reason, "status 500");
  EXPECT_TRUE(a.has_head);
  EXPECT_EQ(a.head, 12345);
  EXPECT_EQ(a.lag, 2);
  EXPECT_DOUBLE_EQ(a.p50_ms, 1.25);
  EXPECT_EQ(a.checks_failed, 4u);
  EXPECT_FALSE(out.pools[0].nodes[1].has_head);
  EXPECT_FALSE(a.disabled);
  EXPECT_TRUE(out.pools[0].nodes[1].disabled);
}

TEST(LbctlStateFile, RejectsBadDocuments) {
  lbctl::State out;
  std::string error;
  EXPECT_FALSE(lbctl::state_from_json("{", out, error));
  EXPECT_FALSE(lbctl::state_from_json("[]", out, error));
  EXPECT_FALSE(lbctl::state_from_json(R"({"format":"other","version":1})", out, error));
  EXPECT_FALSE(lbctl::state_from_json(R"({"format":"lbctl-state","version":2})", out, error));
  EXPECT_NE(error.find("version 2"), std::string::npos);
  EXPECT_FALSE(lbctl::state_from_json(
      R"({"format":"lbctl-state","version":1,"generated_unix_ms":1,"pools":[{"name":"p","nodes":[{"name":"a"}]}]})",
      out, error));
  EXPECT_NE(error.find("pools[0].nodes[0]"), std::string::npos) << error;
  EXPECT_NE(error.find("url"), std::string::npos) << error;
  // Unknown members are ignored (the format only grows).
  EXPECT_TRUE(lbctl::state_from_json(
      R"({"format":"lbctl-state","version":1,"generated_unix_ms":1,"future":true,"pools":[]})", out,
      error)) << error;
}

TEST(LbctlStateFile, AtomicWriteLeavesNoTemporary) {
  char dir[] = "/tmp/lbctl_state_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/state.json";
  std::string error;
  lbctl::State s = sample();
  for (int i = 0; i < 20; ++i) {
    s.round = i;
    ASSERT_TRUE(lbctl::write_state_file(path, s, error)) << error;
  }
  lbctl::State back;
  ASSERT_TRUE(lbctl::read_state_file(path, back, error)) << error;
  EXPECT_EQ(back.round, 19u);
  int entries = 0;
  DIR *d = opendir(dir);
  while (dirent *e = readdir(d))
    if (e->d_name[0] != '.') ++entries;
  closedir(d);
  EXPECT_EQ(entries, 1);
  EXPECT_FALSE(lbctl::write_state_file(std::string(dir) + "/missing/state.json", s, error));
  EXPECT_NE(error.find("missing"), std::string::npos);
  EXPECT_FALSE(lbctl::read_state_file(std::string(dir) + "/absent.json", back, error));
  EXPECT_NE(error.find("absent.json"), std::string::npos);
  std::remove(path.c_str());
  rmdir(dir);
}

}  // namespace
