// Unit tests of lbctl's HAProxy interoperability pieces that need no
// process: the runtime API parsers, the verdict/weight mapping and agent
// reply lines, and the haproxy.cfg / nginx.conf readers' edge cases.
#include <gtest/gtest.h>

#include "haproxy/haproxy_runtime.h"
#include "haproxy/haproxy_verdict.h"
#include "import/import_common.h"
#include "import/import_haproxy.h"
#include "import/import_nginx.h"
#include "lbkit.h"

namespace lbctl {
namespace {

TEST(RuntimeEndpoint, UnixPathsAndTcpAddresses) {
  RuntimeEndpoint ep;
  std::string error;
  ASSERT_TRUE(parse_runtime_endpoint("/run/haproxy/admin.sock", ep, error));
  EXPECT_TRUE(ep.is_unix);
  ASSERT_TRUE(parse_runtime_endpoint("admin.sock", ep, error));
  EXPECT_TRUE(ep.is_unix);
  ASSERT_TRUE(parse_runtime_endpoint("127.0.0.1:9999", ep, error));
  EXPECT_FALSE(ep.is_unix);
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.port, "9999");
  ASSERT_TRUE(parse_runtime_endpoint("[::1]:9999", ep, error));
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.text(), "[::1]:9999");
  EXPECT_FALSE(parse_runtime_endpoint("127.0.0.1:http", ep, error));
  EXPECT_FALSE(parse_runtime_endpoint("", ep, error));
}

TEST(ServersState, ParsesColumnsByName) {
  const std::string answer =
      "1\n"
      "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
      "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
      "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
      "srv_fqdn srv_port srvrecord\n"
      "2 api 1 a 127.0.0.1 2 0 53 100 12 1 0 2 0 22 0 0 - 8545 -\n"
      "2 api 2 b 127.0.0.1 0 9 100 100 1 1 0 2 0 22 0 0 - 8546 -\n\n";
  std::vector<ServerRuntimeState> servers;
  std::string error;
  ASSERT_TRUE(parse_servers_state(answer, servers, error)) << error;
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].name, "a");
  EXPECT_EQ(servers[0].uweight, 53);
  EXPECT_EQ(servers[0].iweight, 100);
  EXPECT_EQ(servers[0].port, 8545);
  EXPECT_EQ(servers[1].op_state, 0);
  EXPECT_EQ(servers[1].admin, kAdminForcedMaint | kAdminForcedDrain);
  EXPECT_FALSE(parse_servers_state("Can't find backend.\n", servers, error));
  EXPECT_NE(error.find("Can't find backend"), std::string::npos);
}

NodeState node(const std::string &name, double last_ms, const std::string &health = "up",
               const std::string &outcome = "pass", int64_t lag = 0) {
  NodeState n;
  n.name = name;
  n.url = "http://127.0.0.1:1/";
  n.health = health;
  n.healthy = health == "up";
  n.outcome = outcome;
  n.last_ms = n.p50_ms = last_ms;
  n.lag = lag;
  n.checks = 1;
  return n;
}

TEST(Verdict, WeightFollowsScoreWithLatencyFloor) {
  PoolState pool;
  pool.nodes = {node("fast", 1.0), node("jitter", 12.0), node("slow", 200.0),
                node("lag1", 1.0, "up", "pass", 1)};
  EXPECT_EQ(haproxy_verdict(pool.nodes[0], pool, false).weight_pct, 100);
  // Under the 20 ms floor: as good as the best.
  EXPECT_EQ(haproxy_verdict(pool.nodes[1], pool, false).weight_pct, 100);
  // 50 + 50 * 20/200 = 55.
  EXPECT_EQ(haproxy_verdict(pool.nodes[2], pool, false).weight_pct, 55);
  // One block of lag halves the weight.
  EXPECT_EQ(haproxy_verdict(pool.nodes[3], pool, false).weight_pct, 50);
}

TEST(Verdict, DownLagUnknownAndLastProbeOnly) {
  PoolState pool;
  pool.nodes = {node("dead", -1, "down", "status"), node("stale", -1, "down", "lag", 9),
                node("flaky", 3.0, "up", "timeout")};
  pool.nodes[0].reason = "status 500";
  EXPECT_EQ(haproxy_verdict(pool.nodes[0], pool, false).kind, HaproxyVerdict::kDown);
  EXPECT_EQ(haproxy_verdict(pool.nodes[1], pool, false).kind, HaproxyVerdict::kDrain);
  // rise/fall says up; the last probe alone says down.
  EXPECT_EQ(haproxy_verdict(pool.nodes[2], pool, false).kind, HaproxyVerdict::kUp);
  EXPECT_EQ(haproxy_verdict(pool.nodes[2], pool, true).kind, HaproxyVerdict::kDown);
  NodeState fresh = node("new", -1, "unknown");
  fresh.checks = 0;
  EXPECT_EQ(haproxy_verdict(fresh, pool, false).kind, HaproxyVerdict::kUnknown);
  // Disabled in the configuration: maintenance, never probed.
  NodeState held = fresh;
  held.disabled = true;
  const HaproxyVerdict v = haproxy_verdict(held, pool, false);
  EXPECT_EQ(v.kind, HaproxyVerdict::kMaint);
  EXPECT_EQ(agent_reply_line(v), "maint #lbkit: new is disabled in the configuration\n");
  EXPECT_EQ(haproxy_verdict(held, pool, true).kind, HaproxyVerdict::kMaint);
}

TEST(AgentReply, OnlyWordsHaproxy26Knows) {
  HaproxyVerdict up;
  up.kind = HaproxyVerdict::kUp;
  up.weight_pct = 55;
  up.reason = "slow\nnode";
  const std::string line = agent_reply_line(up);
  EXPECT_EQ(line.rfind("ready up 55% #lbkit: slow node", 0), 0u) << line;
  EXPECT_EQ(line.find("weight:"), std::string::npos);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  lbk_agent_reply parsed = LBK_AGENT_REPLY_INIT;
  ASSERT_EQ(lbk_agent_parse(&parsed, line.data(), line.size()), 0) << lbk_error_last();
  EXPECT_EQ(parsed.weight_pct, 55);
  HaproxyVerdict down;
  down.kind = HaproxyVerdict::kDown;
  down.reason = "status 500";
  EXPECT_EQ(agent_reply_line(down), "down #lbkit: status 500\n");
  HaproxyVerdict drain;
  drain.kind = HaproxyVerdict::kDrain;
  drain.reason = "lag";
  EXPECT_EQ(agent_reply_line(drain), "drain #lbkit: lag\n");
  EXPECT_EQ(agent_comment_line("unknown server 'x'"), "#lbkit: unknown server 'x'\n");
}

TEST(AgentRequest, TrimsSplitsAndFindsOneNode) {
  AgentRequest r = parse_agent_request(" \tapi/a \r");
  EXPECT_EQ(r.name, "api/a");
  EXPECT_EQ(r.pool, "api");
  EXPECT_EQ(r.server, "a");
  EXPECT_EQ(parse_agent_request(" \r").name, "");
  EXPECT_EQ(parse_agent_request("\r\r").name, "");
  r = parse_agent_request("127.0.0.1:9");
  EXPECT_EQ(r.pool, "");
  EXPECT_EQ(r.server, "127.0.0.1:9");
  State st;
  for (const char *pool_name : {"api", "rpc"}) {
    PoolState p;
    p.name = pool_name;
    NodeState n;
    n.name = "a";
    n.url = std::string("http://127.0.0.1:") + (p.name == "api" ? "9" : "10") + "/";
    p.nodes.push_back(n);
    st.pools.push_back(p);
  }
  const PoolState *pool = nullptr;
  int matches = 0;
  EXPECT_EQ(find_agent_node(st, parse_agent_request("a"), &pool, &matches), nullptr);
  EXPECT_EQ(matches, 2);  // ambiguous without the pool
  const NodeState *n = find_agent_node(st, parse_agent_request("rpc/a"), &pool, &matches);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(pool->name, "rpc");
  n = find_agent_node(st, parse_agent_request("127.0.0.1:9"), &pool, &matches);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(pool->name, "api");
  EXPECT_EQ(find_agent_node(st, parse_agent_request("web/a"), &pool, &matches), nullptr);
  EXPECT_EQ(matches, 0);
}

TEST(ImportCommon, DurationsAndDetection) {
  uint32_t ms = 0;
  ASSERT_TRUE(parse_foreign_duration_ms("1500", ms));
  EXPECT_EQ(ms, 1500u);
  ASSERT_TRUE(parse_foreign_duration_ms("2s", ms));
  EXPECT_EQ(ms, 2000u);
  ASSERT_TRUE(parse_foreign_duration_ms("1m", ms));
  EXPECT_EQ(ms, 60000u);
  EXPECT_FALSE(parse_foreign_duration_ms("2 s", ms));
  EXPECT_FALSE(parse_foreign_duration_ms("99999999999", ms));
  EXPECT_EQ(detect_import_format("backend b\n  server a 1.2.3.4:80\n"), ImportFormat::kHaproxy);
  EXPECT_EQ(detect_import_format("upstream u {\n server 1.2.3.4;\n}\n"), ImportFormat::kNginx);
  EXPECT_EQ(detect_import_format("hello\n"), ImportFormat::kUnknown);
}

TEST(ImportHaproxy, AddressFormsAndEscapes) {
  const ImportResult r = import_haproxy(
      "t.cfg",
      "backend b\n"
      "  mode http\n"
      "  option httpchk GET /a\\ b HTTP/1.0\n"
      "  server v6 [::1]:8080 check\n"
      "  server pfx ipv6@::1:8081 check\n"
      "  server range 10.0.0.1:8000-8010 check\n"
      "  server q \"10.0.0.2:80\" check # a comment\n");
  ASSERT_EQ(r.config.pools.size(), 1u);
  const PoolConfig &p = r.config.pools[0];
  EXPECT_EQ(p.check.path, "/a b");
  ASSERT_EQ(p.servers.size(), 3u);
  EXPECT_EQ(p.servers[0].url, "http://[::1]:8080/");
  EXPECT_EQ(p.servers[1].url, "http://[::1]:8081/");
  EXPECT_EQ(p.servers[2].url, "http://10.0.0.2:80/");
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0].line, 6);
  EXPECT_NE(r.notes[0].message.find("port ranges"), std::string::npos);
}

TEST(ImportHaproxy, NothingToImportIsFatal) {
  const ImportResult r = import_haproxy("t.cfg", "frontend f\n  bind :80\n");
  EXPECT_FALSE(r.fatal.empty());
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0].line, 1);
}

TEST(ImportNginx, EscapesCommentsAndErrors) {
  const ImportResult r = import_nginx(
      "n.conf",
      "upstream u { # comment ; {\n"
      "  server 10.0.0.1:81 weight=2;\n"
      "  check type=http;\n"
      "  check_http_send \"HEAD /h HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\";\n"
      "}\n");
  ASSERT_TRUE(r.fatal.empty()) << r.fatal;
  ASSERT_EQ(r.config.pools.size(), 1u);
  const CheckConfig &c = r.config.pools[0].check;
  EXPECT_EQ(c.kind, "http");
  EXPECT_EQ(c.method, "HEAD");
  EXPECT_EQ(c.path, "/h");
  EXPECT_EQ(c.headers, "Host: x");
  EXPECT_EQ(r.config.pools[0].servers[0].weight, 2u);
  EXPECT_TRUE(r.notes.empty());
  const ImportResult bad = import_nginx("n.conf", "upstream u {\n  server a:1;\n");
  EXPECT_NE(bad.fatal.find("not closed"), std::string::npos);
}

}  // namespace
}  // namespace lbctl
