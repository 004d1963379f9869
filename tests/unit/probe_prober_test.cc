// The prober against lbk-testbackend on 127.0.0.1 / ::1: every fault ends in
// the right verdict within its timeout, TLS verification is reported as
// such, timings are consistent, many probes run at once.  The backend is
// one child process with one listener per behaviour, on ports it picks.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "lbkit.h"
#include "lbkit/probe.h"

#ifndef LBK_TESTBACKEND
#error "LBK_TESTBACKEND (path of lbk-testbackend) is defined by tests/support/CMakeLists.txt"
#endif

extern char **environ;

namespace {

using lbk::probe::Options;
using lbk::probe::Result;
using lbk::probe::Target;

// Runs a command to completion (bounded by the caller's command itself).
int run_command(const std::vector<std::string> &argv) {
  std::vector<char *> args;
  for (const auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// One lbk-testbackend process, stopped by its PID.
class Backend {
 public:
  // Starts the backend and waits (at most 20 s) for its "ready" line.
  void start(const std::vector<std::string> &options) {
    int out[2];
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::vector<std::string> argv{LBK_TESTBACKEND};
    argv.insert(argv.end(), options.begin(), options.end());
    std::vector<char *> args;
    for (auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    ASSERT_EQ(rc, 0) << "cannot start " << LBK_TESTBACKEND;
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (text.find("ready\n") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      ASSERT_GT(left, 0) << "lbk-testbackend not ready after 20 s; output: " << text;
      pollfd pfd{out[0], POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      ssize_t n = read(out[0], buf, sizeof buf);
      ASSERT_GT(n, 0) << "lbk-testbackend exited early; output: " << text;
      text.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    // "listening ADDR:PORT name=NAME ..." and "dns ADDR:PORT"
    size_t pos = 0;
    while (pos < text.size()) {
      size_t eol = text.find('\n', pos);
      std::string line = text.substr(pos, eol - pos);
      pos = eol + 1;
      if (line.rfind("listening ", 0) == 0) {
        size_t sp = line.find(' ', 10);
        std::string address = line.substr(10, sp - 10);
        size_t name_at = line.find("name=") + 5;
        std::string name = line.substr(name_at, line.find(' ', name_at) - name_at);
        addresses_[name] = address;
      } else if (line.rfind("dns ", 0) == 0) {
        dns_ = line.substr(4);
      }
    }
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status;
    for (int i = 0; i < 100; ++i) {  // 5 s at most, then SIGKILL
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      usleep(50 * 1000);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // "http://127.0.0.1:PORT" of listener @p name.
  std::string url(const std::string &name, const std::string &scheme = "http") const {
    auto it = addresses_.find(name);
    EXPECT_NE(it, addresses_.end()) << "no listener " << name;
    return it == addresses_.end() ? "" : scheme + "://" + it->second;
  }
  std::string port(const std::string &name) const {
    const std::string &a = addresses_.at(name);
    return a.substr(a.rfind(':') + 1);
  }
  const std::string &dns() const { return dns_; }

 private:
  pid_t pid_ = -1;
  std::map<std::string, std::string> addresses_;
  std::string dns_;
};

// Owns a compiled check.
struct Check {
  lbk_check *check = nullptr;
  explicit Check(const lbk_check_options &o) { EXPECT_EQ(lbk_check_create(&check, &o), 0) << lbk_error_last(); }
  ~Check() { lbk_check_free(check); }
};

class ProberTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lbk::probe::raise_open_files_limit();
    char dir_template[] = "/tmp/lbk-probe-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    cert_dir_ = dir_template;
    ASSERT_EQ(run_command({"/bin/sh", LBK_GEN_CERT, cert_dir_}), 0) << "gen-cert.sh failed";
    const std::string cert = cert_dir_ + "/cert.pem", key = cert_dir_ + "/key.pem";
    backend_ = new Backend;
    backend_->start({"--head-interval", "0",
                     "--listen", "127.0.0.1:0", "--name", "ok",
                     "--listen", "127.0.0.1:0", "--name", "slow", "--latency", "150ms",
                     "--listen", "127.0.0.1:0", "--name", "status500", "--status", "500",
                     "--listen", "127.0.0.1:0", "--name", "refuse", "--fault", "refuse",
                     "--listen", "127.0.0.1:0", "--name", "hang", "--fault", "hang",
                     "--listen", "127.0.0.1:0", "--name", "close", "--fault", "close",
                     "--listen", "127.0.0.1:0", "--name", "reset", "--fault", "reset",
                     "--listen", "127.0.0.1:0", "--name", "garbage", "--fault", "garbage",
                     "--listen", "127.0.0.1:0", "--name", "huge", "--fault", "huge-headers",
                     "--listen", "127.0.0.1:0", "--name", "trickle", "--fault", "trickle",
                     "--trickle-interval", "50ms",
                     "--listen", "127.0.0.1:0", "--name", "tls", "--tls-cert", cert, "--tls-key", key,
                     "--listen", "[::1]:0", "--name", "v6",
                     "--listen", "127.0.0.1:0", "--name", "rpc", "--head", "5000",
                     "--client-version", "node/2.3.4",
                     "--listen", "127.0.0.1:0", "--name", "rpclag", "--head", "5000", "--lag", "7",
                     "--listen", "127.0.0.1:0", "--name", "rpcerr",
                     "--rpc-error", "eth_blockNumber=-32000:header not found",
                     "--listen", "127.0.0.1:0", "--name", "control",
                     "--listen", "127.0.0.1:0", "--name", "agent", "--agent-reply", "up 75% maxconn:10",
                     "--listen", "127.0.0.1:0", "--name", "agentdown", "--agent-reply", "down #maintenance",
                     "--dns", "127.0.0.1:0", "--dns-record", "backend.test=127.0.0.1",
                     "--dns-record", "backend.test=::1"});
  }
  static void TearDownTestSuite() {
    if (backend_) backend_->stop();
    delete backend_;
    backend_ = nullptr;
    if (!cert_dir_.empty()) run_command({"/bin/rm", "-rf", cert_dir_});
  }

  static Target target(const std::string &url, uint32_t timeout_ms = 3000) {
    Target t;
    t.url = url;
    t.timeout_ms = timeout_ms;
    return t;
  }
  static Result probe_one(const Target &t, const Options &o = {}) {
    return lbk::probe::probe_all({t}, o).at(0);
  }
  static void expect_consistent_timings(const Result &r) {
    const auto &t = r.timings;
    EXPECT_GE(t.total_ms, 0);
    for (double phase : {t.dns_ms, t.connect_ms, t.tls_ms, t.first_byte_ms}) {
      EXPECT_GE(phase, -1.0);
      EXPECT_LE(phase, t.total_ms);
    }
    EXPECT_LE(std::max(0.0, t.dns_ms) + std::max(0.0, t.connect_ms) + std::max(0.0, t.tls_ms) +
                  std::max(0.0, t.first_byte_ms),
              t.total_ms + 0.001);
    EXPECT_EQ(r.verdict.duration_us, static_cast<uint64_t>(t.total_ms * 1000.0));
  }

  static Backend *backend_;
  static std::string cert_dir_;
};

Backend *ProberTest::backend_ = nullptr;
std::string ProberTest::cert_dir_;

#define EXPECT_OUTCOME(result, expected)                                          \
  EXPECT_EQ((result).verdict.outcome, (expected)) << "reason: " << (result).verdict.reason

TEST_F(ProberTest, HttpOkPassesWithTimings) {
  Result r = probe_one(target(backend_->url("ok") + "/health"));
  EXPECT_OUTCOME(r, LBK_CHECK_PASS);
  EXPECT_EQ(r.verdict.http_status, 200);
  EXPECT_EQ(r.address, "127.0.0.1:" + backend_->port("ok"));
  EXPECT_EQ(r.timings.dns_ms, -1) << "a literal address needs no DNS";
  EXPECT_EQ(r.timings.tls_ms, -1);
  EXPECT_GE(r.timings.connect_ms, 0);
  EXPECT_GE(r.timings.first_byte_ms, 0);
  expect_consistent_timings(r);
}

TEST_F(ProberTest, LatencyShowsInFirstByte) {
  Result r = probe_one(target(backend_->url("slow")));
  EXPECT_OUTCOME(r, LBK_CHECK_PASS);
  EXPECT_GE(r.timings.first_byte_ms, 150 * 0.95);
  EXPECT_GE(r.timings.total_ms, r.timings.first_byte_ms);
  expect_consistent_timings(r);
}

TEST_F(ProberTest, Status500FailsStatus) {
  Result r = probe_one(target(backend_->url("status500")));
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_STATUS);
  EXPECT_EQ(r.verdict.http_status, 500);
}

TEST_F(ProberTest, RefusedFailsConnect) {
  Result r = probe_one(target(backend_->url("refuse")));
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_CONNECT);
  EXPECT_NE(std::string(r.verdict.reason).find("refused"), std::string::npos) << r.verdict.reason;
  EXPECT_EQ(r.timings.first_byte_ms, -1);
  expect_consistent_timings(r);
}

TEST_F(ProberTest, NeverAnswerTimesOut) {
  Result r = probe_one(target(backend_->url("hang"), 300));
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_TIMEOUT);
  EXPECT_NE(std::string(r.verdict.reason).find("in reply"), std::string::npos) << r.verdict.reason;
  EXPECT_GE(r.timings.total_ms, 300);
  EXPECT_GE(r.timings.connect_ms, 0);
  EXPECT_EQ(r.timings.first_byte_ms, -1);
  expect_consistent_timings(r);
}

// A timeout never fires early, even when the probe starts in a callback
// that ran for a while after the loop last read its (coarse, cached) clock:
// 30 probes of 20 ms, each started 3 ms into a busy callback, each timed
// here on the precise monotonic clock.
TEST_F(ProberTest, TimeoutsNeverFireEarly) {
  event_base *base = event_base_new();
  ASSERT_NE(base, nullptr);
  {
    lbk::probe::Prober prober(base);
    struct Run {
      lbk::probe::Prober *prober;
      Target target;
      std::chrono::steady_clock::time_point started, ended;
      Result result;
      bool done = false;
    } run{&prober, target(backend_->url("hang"), 20), {}, {}, {}, false};
    auto start_late = [](evutil_socket_t, short, void *arg) {
      auto *r = static_cast<Run *>(arg);
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(3);
      while (std::chrono::steady_clock::now() < until) {
      }
      r->started = std::chrono::steady_clock::now();
      r->prober->start(r->target, [r](const Result &res) {
        r->ended = std::chrono::steady_clock::now();
        r->result = res;
        r->done = true;
      });
    };
    for (int i = 0; i < 30; ++i) {
      run.done = false;
      event *kick = evtimer_new(base, start_late, &run);
      timeval zero{0, 0};
      evtimer_add(kick, &zero);
      for (int spin = 0; spin < 1000 && !run.done; ++spin) event_base_loop(base, EVLOOP_ONCE);
      event_free(kick);
      ASSERT_TRUE(run.done);
      EXPECT_OUTCOME(run.result, LBK_CHECK_FAIL_TIMEOUT);
      auto waited_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           run.ended - run.started).count();
      EXPECT_GE(waited_us, 20000) << "attempt " << i;
      EXPECT_GE(run.result.timings.total_ms, 20.0) << "attempt " << i;
    }
  }
  event_base_free(base);
}

TEST_F(ProberTest, CloseWithoutReplyFailsProtocol) {
  Result r = probe_one(target(backend_->url("close")));
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_PROTOCOL);
}

TEST_F(ProberTest, ResetMidReplyFailsProtocol) {
  Result r = probe_one(target(backend_->url("reset")));
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_PROTOCOL);
  EXPECT_NE(std::string(r.verdict.reason).find("reset"), std::string::npos) << r.verdict.reason;
  EXPECT_GE(r.timings.first_byte_ms, 0);
}

TEST_F(ProberTest, GarbageFailsProtocol) {
  Result r = probe_one(target(backend_->url("garbage")));
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_PROTOCOL);
}

TEST_F(ProberTest, HugeHeadersHitTheHeaderLimit) {
  Result r = probe_one(target(backend_->url("huge")));  // 64 KiB of headers, limit 16 KiB
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_LIMIT);
}

TEST_F(ProberTest, ProberByteLimitStopsLongReplies) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.max_header_bytes = 1u << 20;  // the judge would accept them ...
  Check check(o);
  Target t = target(backend_->url("huge"));
  t.check = check.check;
  Options opts;
  opts.max_response_bytes = 8192;  // ... but the prober reads at most 8 KiB
  Result r = probe_one(t, opts);
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_LIMIT);
  EXPECT_NE(std::string(r.verdict.reason).find("8192"), std::string::npos) << r.verdict.reason;
}

TEST_F(ProberTest, SlowTrickleTimesOut) {
  Result r = probe_one(target(backend_->url("trickle"), 400));
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_TIMEOUT);
  EXPECT_GE(r.timings.first_byte_ms, 0) << "some bytes arrived";
  EXPECT_GE(r.timings.total_ms, 400 * 0.95);
}

TEST_F(ProberTest, TlsSelfSignedFailsVerification) {
  Result r = probe_one(target(backend_->url("tls", "https")));
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_TLS);
  std::string reason = r.verdict.reason;
  EXPECT_NE(reason.find("certificate verify failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("self-signed"), std::string::npos) << reason;
  EXPECT_EQ(r.timings.tls_ms, -1);
  expect_consistent_timings(r);
}

TEST_F(ProberTest, TlsVerifyOffPasses) {
  Target t = target(backend_->url("tls", "https"));
  t.tls_verify = false;
  Result r = probe_one(t);
  EXPECT_OUTCOME(r, LBK_CHECK_PASS);
  EXPECT_GE(r.timings.tls_ms, 0);
  EXPECT_GE(r.timings.first_byte_ms, 0);
  expect_consistent_timings(r);
}

TEST_F(ProberTest, TlsWithCaFilePassesForIpAndName) {
  Target by_ip = target(backend_->url("tls", "https"));
  by_ip.ca_file = cert_dir_ + "/cert.pem";
  Target by_name = by_ip;
  by_name.sni = "localhost";  // SNI and name check against DNS:localhost
  auto results = lbk::probe::probe_all({by_ip, by_name});
  EXPECT_OUTCOME(results[0], LBK_CHECK_PASS);
  EXPECT_OUTCOME(results[1], LBK_CHECK_PASS);
  EXPECT_GE(results[0].timings.tls_ms, 0);
}

TEST_F(ProberTest, TlsWrongNameFailsVerification) {
  Target t = target(backend_->url("tls", "https"));
  t.ca_file = cert_dir_ + "/cert.pem";
  t.sni = "other.example";
  Result r = probe_one(t);
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_TLS);
  EXPECT_NE(std::string(r.verdict.reason).find("certificate verify failed"), std::string::npos)
      << r.verdict.reason;
}

TEST_F(ProberTest, TlsMissingCaFileFailsTls) {
  Target t = target(backend_->url("tls", "https"));
  t.ca_file = cert_dir_ + "/does-not-exist.pem";
  Result r = probe_one(t);
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_TLS);
  EXPECT_NE(std::string(r.verdict.reason).find("does-not-exist.pem"), std::string::npos)
      << r.verdict.reason;
}

TEST_F(ProberTest, TlsToPlainListenerFailsTls) {
  Target t = target(backend_->url("ok", "https"));
  t.tls_verify = false;
  Result r = probe_one(t);
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_TLS);
}

TEST_F(ProberTest, Ipv6LoopbackWorks) {
  Result r = probe_one(target(backend_->url("v6")));
  EXPECT_OUTCOME(r, LBK_CHECK_PASS);
  EXPECT_EQ(r.address, "[::1]:" + backend_->port("v6"));
}

TEST_F(ProberTest, TcpCheckPassesOnConnect) {
  Result r = probe_one(target("tcp://127.0.0.1:" + backend_->port("hang")));
  EXPECT_OUTCOME(r, LBK_CHECK_PASS);
  EXPECT_EQ(r.timings.first_byte_ms, -1);
  Result refused = probe_one(target("tcp://127.0.0.1:" + backend_->port("refuse")));
  EXPECT_OUTCOME(refused, LBK_CHECK_FAIL_CONNECT);
}

TEST_F(ProberTest, AgentRepliesAreJudged) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_AGENT;
  o.agent_send = "hello\n";
  Check check(o);
  Target up = target("tcp://127.0.0.1:" + backend_->port("agent"));
  up.check = check.check;
  Target down = target("tcp://127.0.0.1:" + backend_->port("agentdown"));
  down.check = check.check;
  auto results = lbk::probe::probe_all({up, down});
  EXPECT_OUTCOME(results[0], LBK_CHECK_PASS);
  EXPECT_EQ(results[0].verdict.agent_state, LBK_AGENT_UP);
  EXPECT_EQ(results[0].verdict.agent_weight_pct, 75);
  EXPECT_EQ(results[0].verdict.agent_maxconn, 10);
  EXPECT_OUTCOME(results[1], LBK_CHECK_FAIL_AGENT);
  EXPECT_EQ(results[1].verdict.agent_state, LBK_AGENT_DOWN);
}

TEST_F(ProberTest, DnsNameResolvesPerFamily) {
  Options o;
  o.dns_nameserver = backend_->dns();
  Target v4 = target("http://backend.test:" + backend_->port("ok") + "/");
  v4.family = AF_INET;
  Target v6 = target("http://backend.test:" + backend_->port("v6") + "/");
  v6.family = AF_INET6;
  auto results = lbk::probe::probe_all({v4, v6}, o);
  EXPECT_OUTCOME(results[0], LBK_CHECK_PASS);
  EXPECT_EQ(results[0].address, "127.0.0.1:" + backend_->port("ok"));
  EXPECT_GE(results[0].timings.dns_ms, 0);
  expect_consistent_timings(results[0]);
  EXPECT_OUTCOME(results[1], LBK_CHECK_PASS);
  EXPECT_EQ(results[1].address, "[::1]:" + backend_->port("v6"));
}

// backend.test has an IPv4 and an IPv6 address; each listener has only one
// of them, so whichever order the answers come in, one of the two probes
// must fall back to the next address after a refusal.
TEST_F(ProberTest, RefusedAddressFallsBackToTheNext) {
  Options o;
  o.dns_nameserver = backend_->dns();
  auto results = lbk::probe::probe_all({target("http://backend.test:" + backend_->port("ok") + "/"),
                                        target("http://backend.test:" + backend_->port("v6") + "/")},
                                       o);
  EXPECT_OUTCOME(results[0], LBK_CHECK_PASS);
  EXPECT_EQ(results[0].address, "127.0.0.1:" + backend_->port("ok"));
  EXPECT_OUTCOME(results[1], LBK_CHECK_PASS);
  EXPECT_EQ(results[1].address, "[::1]:" + backend_->port("v6"));
}

TEST_F(ProberTest, UnknownNameFailsDns) {
  Options o;
  o.dns_nameserver = backend_->dns();
  Result r = probe_one(target("http://missing.test:" + backend_->port("ok") + "/"), o);
  EXPECT_OUTCOME(r, LBK_CHECK_FAIL_DNS);
  EXPECT_NE(std::string(r.verdict.reason).find("missing.test"), std::string::npos);
  EXPECT_GE(r.timings.dns_ms, 0);
  EXPECT_EQ(r.timings.connect_ms, -1);
}

TEST_F(ProberTest, InvalidUrlFailsWithoutCallingBackSynchronously) {
  event_base *base = event_base_new();
  ASSERT_NE(base, nullptr);
  {
    lbk::probe::Prober prober(base);
    bool called = false;
    Result got;
    prober.start(target("ftp://127.0.0.1/"), [&](const Result &r) {
      called = true;
      got = r;
    });
    EXPECT_FALSE(called);
    EXPECT_EQ(prober.in_flight(), 1u);
    for (int i = 0; i < 100 && !called; ++i) event_base_loop(base, EVLOOP_ONCE);
    EXPECT_TRUE(called);
    EXPECT_OUTCOME(got, LBK_CHECK_FAIL_CONNECT);
    EXPECT_NE(std::string(got.verdict.reason).find("unknown scheme"), std::string::npos);
    EXPECT_EQ(prober.in_flight(), 0u);
  }
  event_base_free(base);
}

TEST_F(ProberTest, DestroyingCancelsWithoutCallbacks) {
  event_base *base = event_base_new();
  ASSERT_NE(base, nullptr);
  int called = 0;
  // A UDP socket that never reads: a DNS server that never answers.
  int silent_dns = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(silent_dns, reinterpret_cast<sockaddr *>(&sin), sizeof sin), 0);
  socklen_t sin_len = sizeof sin;
  getsockname(silent_dns, reinterpret_cast<sockaddr *>(&sin), &sin_len);
  {
    Options o;
    o.dns_nameserver = "127.0.0.1:" + std::to_string(ntohs(sin.sin_port));
    lbk::probe::Prober prober(base, o);
    prober.start(target(backend_->url("hang"), 10000), [&](const Result &) { ++called; });
    Target in_tls = target(backend_->url("hang", "https"), 10000);  // handshake never answered
    in_tls.tls_verify = false;
    prober.start(in_tls, [&](const Result &) { ++called; });
    prober.start(target("http://pending.test:80/", 10000), [&](const Result &) { ++called; });
    timeval tv{0, 200 * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    EXPECT_EQ(prober.in_flight(), 3u);
  }
  EXPECT_EQ(called, 0);
  close(silent_dns);
  event_base_free(base);
}

TEST_F(ProberTest, JsonRpcHeadAndLagValues) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_JSONRPC;
  o.jsonrpc_field = "";
  Check check(o);
  std::vector<Target> targets;
  for (const char *name : {"rpc", "rpclag", "rpcerr"}) {
    targets.push_back(target(backend_->url(name)));
    targets.back().check = check.check;
  }
  auto results = lbk::probe::probe_all(targets);
  EXPECT_OUTCOME(results[0], LBK_CHECK_PASS);
  EXPECT_TRUE(results[0].verdict.has_value);
  EXPECT_EQ(results[0].verdict.value, 5000);
  EXPECT_OUTCOME(results[1], LBK_CHECK_PASS);
  EXPECT_EQ(results[1].verdict.value, 5000 - 7);
  EXPECT_OUTCOME(results[2], LBK_CHECK_FAIL_JSONRPC);
}

TEST_F(ProberTest, JsonRpcClientVersionComesThrough) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_JSONRPC;
  o.jsonrpc_method = "web3_clientVersion";
  o.version_field = "";
  o.min_version = "2.0";
  Check check(o);
  Target t = target(backend_->url("rpc"));
  t.check = check.check;
  Result r = probe_one(t);
  EXPECT_OUTCOME(r, LBK_CHECK_PASS);
  EXPECT_STREQ(r.verdict.version_str, "node/2.3.4");
}

// The control endpoint changes a listener's behaviour at run time and the
// stats endpoint counts the checks it saw.
TEST_F(ProberTest, ControlEndpointMakesAListenerFailAndRecover) {
  auto control = [](const std::string &json_body) {
    lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
    o.method = "POST";
    o.path = "/__control";
    o.body = json_body.c_str();
    o.headers = "Content-Type: application/json";
    Check check(o);
    Target t = target(backend_->url("control"));
    t.check = check.check;
    return probe_one(t);
  };
  EXPECT_OUTCOME(control("{\"reset_stats\":true}"), LBK_CHECK_PASS);
  EXPECT_OUTCOME(probe_one(target(backend_->url("control") + "/hc")), LBK_CHECK_PASS);
  EXPECT_OUTCOME(control("{\"status\":503}"), LBK_CHECK_PASS);
  Result failing = probe_one(target(backend_->url("control") + "/hc"));
  EXPECT_OUTCOME(failing, LBK_CHECK_FAIL_STATUS);
  EXPECT_EQ(failing.verdict.http_status, 503);
  EXPECT_OUTCOME(control("{\"hang\":true}"), LBK_CHECK_PASS);
  EXPECT_OUTCOME(probe_one(target(backend_->url("control") + "/hc", 200)), LBK_CHECK_FAIL_TIMEOUT);
  EXPECT_OUTCOME(control("{\"hang\":false,\"status\":200}"), LBK_CHECK_PASS);
  EXPECT_OUTCOME(probe_one(target(backend_->url("control") + "/hc")), LBK_CHECK_PASS);
  EXPECT_EQ(control("{\"no_such_key\":1}").verdict.http_status, 400);

  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.path = "/__stats";
  o.expect_body = "\"requests\":4";  // the four /hc probes; control calls are not counted
  Check stats(o);
  Target t = target(backend_->url("control"));
  t.check = stats.check;
  EXPECT_OUTCOME(probe_one(t), LBK_CHECK_PASS);
}

TEST_F(ProberTest, ThousandConcurrentProbesComplete) {
  std::vector<Target> targets;
  for (int i = 0; i < 1000; ++i) {
    const char *name = i % 10 == 0 ? "refuse" : (i % 2 ? "ok" : "rpc");
    targets.push_back(target(backend_->url(name) + "/n" + std::to_string(i), 20000));
  }
  Options o;
  o.max_concurrency = 1000;
  auto results = lbk::probe::probe_all(targets, o);
  ASSERT_EQ(results.size(), targets.size());
  int passed = 0, refused = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    int expected = i % 10 == 0 ? LBK_CHECK_FAIL_CONNECT : LBK_CHECK_PASS;
    EXPECT_EQ(results[i].verdict.outcome, expected) << i << ": " << results[i].verdict.reason;
    passed += results[i].verdict.outcome == LBK_CHECK_PASS;
    refused += results[i].verdict.outcome == LBK_CHECK_FAIL_CONNECT;
  }
  EXPECT_EQ(passed, 900);
  EXPECT_EQ(refused, 100);
}

// A one-connection HTTP server on 127.0.0.1 (a thread): replies 200 with a
// Content-Length and keeps the connection open, then reports how the prober
// ended it: "reset" (ECONNRESET), "fin" (end of stream) or what went wrong.
// Every wait is bounded (poll, 5 s).
class EndWatcher {
 public:
  EndWatcher() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
        listen(listen_fd_, 4) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { ending_ = serve(); });
  }
  ~EndWatcher() {
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  // How the connection ended (waits for the server thread).
  std::string ending() {
    if (thread_.joinable()) thread_.join();
    return ending_;
  }

 private:
  static bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 5000) == 1;
  }
  std::string serve() {
    if (!readable(listen_fd_)) return "no connection";
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return "accept failed";
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = readable(fd) ? recv(fd, buf, sizeof buf, 0) : -1;
      if (n <= 0) {
        close(fd);
        return "no request";
      }
      request.append(buf, static_cast<size_t>(n));
    }
    const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    send(fd, reply, sizeof reply - 1, MSG_NOSIGNAL);
    std::string result = "still open";
    if (readable(fd)) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      result = n == 0 ? "fin" : (n < 0 && errno == ECONNRESET ? "reset" : "other");
    }
    close(fd);
    return result;
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::string ending_;
};

TEST(ProberClose, ResetAfterTheVerdictByDefault) {
  EndWatcher server;
  Target t;
  t.url = server.url();
  Result r = lbk::probe::probe_all({t}).at(0);
  EXPECT_OUTCOME(r, LBK_CHECK_PASS);
  EXPECT_EQ(server.ending(), "reset");
}

TEST(ProberClose, OrderlyCloseWhenAsked) {
  EndWatcher server;
  Target t;
  t.url = server.url();
  Options o;
  o.reset_on_close = false;
  Result r = lbk::probe::probe_all({t}, o).at(0);
  EXPECT_OUTCOME(r, LBK_CHECK_PASS);
  EXPECT_EQ(server.ending(), "fin");
}

TEST_F(ProberTest, MaxConcurrencyQueuesTheRest) {
  // 12 probes of a never-answering listener, 3 at a time, 150 ms each: the
  // last batch cannot start before 3 earlier batches timed out.
  std::vector<Target> targets(12, target(backend_->url("hang"), 150));
  Options o;
  o.max_concurrency = 3;
  auto start = std::chrono::steady_clock::now();
  auto results = lbk::probe::probe_all(targets, o);
  double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (const auto &r : results) EXPECT_OUTCOME(r, LBK_CHECK_FAIL_TIMEOUT);
  EXPECT_GE(elapsed_ms, 4 * 150 * 0.95);
}

}  // namespace
