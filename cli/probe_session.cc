// cli/probe_session.cc - probing rounds, health in liblbkit pools.
#include "probe_session.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <functional>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <stdexcept>

#include "exit_codes.h"
#include "output.h"
#include "probe_round.h"
#include "score.h"

namespace lbctl {

namespace {

std::string url_scheme(const std::string &url) {
  const size_t sep = url.find("://");
  return sep == std::string::npos ? "" : url.substr(0, sep);
}

std::string url_path(const std::string &url) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos) return "/";
  const size_t slash = url.find('/', sep + 3);
  if (slash == std::string::npos) return "/";
  return url.substr(slash);
}

int check_kind(const CheckConfig &c, const std::string &url) {
  std::string kind = c.kind;
  if (kind.empty()) kind = url_scheme(url);
  const int named = lbk_check_kind_from_name(kind.data(), kind.size());
  return named != 0 ? named : LBK_CHECK_HTTP;
}

const char *or_null(const std::string &s) { return s.empty() ? nullptr : s.c_str(); }

bool compile_check(const CheckConfig &c, const std::string &url, const std::string &headers,
                   lbk_check **out, std::string &error) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = check_kind(c, url);
  o.rise = c.rise;
  o.fall = c.fall;
  o.inter_ms = c.interval_ms;
  o.fastinter_ms = c.fastinter_ms;
  o.downinter_ms = c.downinter_ms;
  // No spread: the nodes of a pool stay in step and are probed in one round
  // (a round rewrites the state file; spread schedules would make one
  // round, and one rewrite, per node).
  o.jitter_pct = 0;
  o.timeout_ms = c.timeout_ms;
  const std::string path = c.path.empty() ? url_path(url) : c.path;
  o.method = or_null(c.method);
  o.path = path.c_str();
  o.headers = or_null(headers);
  o.body = or_null(c.body);
  o.expect_status = or_null(c.expect_status);
  o.expect_body = or_null(c.expect_body);
  o.jsonrpc_method = or_null(c.jsonrpc_method);
  o.jsonrpc_params = or_null(c.jsonrpc_params);
  o.jsonrpc_field = c.has_jsonrpc_field ? c.jsonrpc_field.c_str() : nullptr;
  o.max_lag = c.max_lag;
  o.version_field = or_null(c.version_field);
  o.min_version = or_null(c.min_version);
  const int rc = lbk_check_create(out, &o);
  if (rc != 0) {
    error = std::string("check for ") + url + ": " + lbk_strerror(rc);
    const char *detail = lbk_error_last();
    if (detail && *detail) error += std::string(" (") + detail + ")";
    return false;
  }
  return true;
}

// A one-call JSON-RPC check whose @p field of `result` is read as a string
// (version_str): the profile's version or chain-id call.
lbk_check *compile_identity_check(const CheckConfig &c, const std::string &url,
                                  const std::string &headers, const char *method,
                                  const char *field) {
  lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
  o.kind = LBK_CHECK_JSONRPC;
  o.timeout_ms = c.timeout_ms;
  const std::string path = c.path.empty() ? url_path(url) : c.path;
  o.path = path.c_str();
  o.headers = or_null(headers);
  o.jsonrpc_method = method;
  o.jsonrpc_params = "[]";
  // jsonrpc_field stays NULL: no head is read (but for a head method, as
  // bitcoin's chain-id call is: its head is then read, and is there).
  o.version_field = field;
  lbk_check *check = nullptr;
  return lbk_check_create(&check, &o) == 0 ? check : nullptr;
}

// The calls of an identity round, in the order of their targets: which
// check of a node asks, and where its answer (version_str) goes.
struct IdentityCall {
  const lbk_check *NodeRun::*check;
  std::string NodeRun::*answer;
};
const IdentityCall kIdentityCalls[] = {{&NodeRun::version_check, &NodeRun::version},
                                       {&NodeRun::chain_id_check, &NodeRun::chain_id}};

// Chain ids as nodes write them: numbers (0x1 and 1 are the same chain) or
// names and hashes (bitcoin's "main", Solana's genesis hash).
bool same_chain_id(const std::string &a, const std::string &b) {
  auto number = [](const std::string &t, unsigned long long &out) {
    if (t.empty() || t.size() > 18) return false;
    const bool hex = t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
    const std::string digits = hex ? t.substr(2) : t;
    if (digits.empty()) return false;
    for (char ch : digits)
      if (!(hex ? std::isxdigit(static_cast<unsigned char>(ch)) : std::isdigit(static_cast<unsigned char>(ch))))
        return false;
    out = std::strtoull(digits.c_str(), nullptr, hex ? 16 : 10);
    return true;
  };
  unsigned long long x = 0, y = 0;
  if (number(a, x) && number(b, y)) return x == y;
  // A reported id is cut to the check result's version_str (63 bytes;
  // Steem's and Hive's are 64): compare what was kept.
  const size_t kept = sizeof(lbk_check_result{}.version_str) - 1;
  if (a.size() == kept && b.size() > kept) return b.compare(0, kept, a) == 0;
  if (b.size() == kept && a.size() > kept) return a.compare(0, kept, b) == 0;
  return a == b;
}

lbk::probe::Target make_target(const NodeRun &n, const CheckConfig &c, const lbk_check *check) {
  lbk::probe::Target t;
  t.url = n.server.url;  // without userinfo: that is a header now
  t.check = check;
  t.sni = c.sni;
  t.tls_verify = c.tls_verify;
  t.ca_file = c.ca_file;
  t.timeout_ms = c.timeout_ms;
  return t;
}

}  // namespace

ProbeSession::~ProbeSession() {
  for (PoolRun &p : pools_) {
    for (auto &kv : p.checks_by_path) lbk_check_free(kv.second);
    for (auto &kv : p.version_checks_by_path) lbk_check_free(kv.second);
    for (auto &kv : p.chain_id_checks_by_path) lbk_check_free(kv.second);
    lbk_pool_free(p.pool);
  }
}

void ProbeSession::keep_state_of(const ProbeSession &old) {
  std::map<std::pair<std::string, std::string>, const NodeRun *> before;
  for (const NodeRun &n : old.nodes_)
    before[{old.config_.pools[n.pool_index].name, n.server.url}] = &n;
  for (NodeRun &n : nodes_) {
    auto it = before.find({config_.pools[n.pool_index].name, n.server.url});
    if (it == before.end()) continue;
    const NodeRun &was = *it->second;
    if (lbk_pool_peer_state_copy(pools_[n.pool_index].pool, n.peer_id,
                                 old.pools_[was.pool_index].pool, was.peer_id) != LBK_OK)
      continue;
    NodeRun kept = was;  // results and samples; identity and checks stay ours
    kept.pool_index = n.pool_index;
    kept.server = n.server;
    kept.peer_id = n.peer_id;
    kept.check = n.check;
    kept.version_check = n.version_check;
    n = std::move(kept);
  }
  rounds_ = old.rounds_;
}

bool ProbeSession::init(const Config &config, std::string &error) {
  config_ = config;
  // Every subcommand's checks take their chain profile's defaults here (the
  // flags of node_options.cc may already have resolved them: it is idempotent).
  for (PoolConfig &pc : config_.pools) {
    std::string why;
    if (!resolve_chain_defaults(pc.check, why)) {
      error = "pool '" + pc.name + "': " + why;
      return false;
    }
  }
  // Thousands of probes in flight need as many descriptors: raise the soft
  // limit to the hard one (a no-op when it already is).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  size_t node_count = 0;
  for (const PoolConfig &pc : config_.pools) node_count += pc.servers.size();
  nodes_.reserve(node_count);
  for (size_t pi = 0; pi < config_.pools.size(); ++pi) {
    const PoolConfig &pc = config_.pools[pi];
    PoolRun run;
    lbk_pool_options po = LBK_POOL_OPTIONS_INIT;
    // The pool only keeps health and lag here; picks are ranked by score.h,
    // so any method will do.
    po.method = "round_robin";
    po.max_peers = static_cast<uint32_t>(std::max<size_t>(1, pc.servers.size()));
    int rc = lbk_pool_create(&run.pool, &po);
    if (rc != 0) {
      error = "pool '" + pc.name + "': " + lbk_strerror(rc) + " (" + lbk_error_last() + ")";
      return false;
    }
    pools_.push_back(run);
    for (size_t si = 0; si < pc.servers.size(); ++si) {
      NodeRun n;
      n.pool_index = pi;
      n.server = pc.servers[si];
      const std::string path = pc.check.path.empty() ? url_path(n.server.url) : pc.check.path;
      for (const std::string &h : node_headers(pc.check, n.server))
        n.headers += (n.headers.empty() ? "" : "\n") + h;
      const std::string key = path + "\n" + n.headers;
      lbk_check *&check = pools_.back().checks_by_path[key];
      if (!check && !compile_check(pc.check, n.server.url, n.headers, &check, error)) {
        pools_.back().checks_by_path.erase(key);
        error = scrub(error, n.server.secrets);
        return false;
      }
      n.check = check;
      const lbk_chain_profile *profile = lbk_chain_profile_find(pc.check.chain.c_str());
      if (check_kind(pc.check, n.server.url) == LBK_CHECK_JSONRPC && profile) {
        if (pc.check.version_field.empty() && profile->version_method[0]) {
          lbk_check *&version = pools_.back().version_checks_by_path[key];
          if (!version)
            version = compile_identity_check(pc.check, n.server.url, n.headers, profile->version_method,
                                             profile->version_field);
          n.version_check = version;
        }
        if (profile->chain_id_method[0]) {
          lbk_check *&chain = pools_.back().chain_id_checks_by_path[key];
          if (!chain)
            chain = compile_identity_check(pc.check, n.server.url, n.headers, profile->chain_id_method,
                                           profile->chain_id_field);
          n.chain_id_check = chain;
        }
      }
      // Peer names in the pool are internal ("n<index>"): URLs may exceed
      // LBK_NAME_MAX and node names are kept here.
      const std::string peer_name = "n" + std::to_string(si);
      const std::string address = n.server.url.substr(0, LBK_ADDRESS_MAX - 1);
      lbk_peer_config peer = LBK_PEER_CONFIG_INIT;
      peer.name = peer_name.c_str();
      peer.address = address.c_str();
      peer.weight = n.server.weight;
      peer.backup = n.server.backup ? 1 : 0;
      rc = lbk_pool_add(&n.peer_id, run.pool, &peer);
      if (rc != 0) {
        error = "node " + n.server.name + ": " + lbk_strerror(rc) + " (" + lbk_error_last() + ")";
        return false;
      }
      nodes_.push_back(std::move(n));
    }
  }
  return true;
}

lbk::probe::Options ProbeSession::probe_options() const {
  lbk::probe::Options o;
  o.max_concurrency = config_.global.concurrency;
  return o;
}

std::vector<lbk::probe::Target> ProbeSession::targets(bool with_versions) const {
  return targets(with_versions, std::vector<bool>(nodes_.size(), true));
}

void ProbeSession::absorb(const std::vector<lbk::probe::Result> &results, bool with_versions) {
  absorb(results, with_versions, std::vector<bool>(nodes_.size(), true));
}

uint32_t ProbeSession::next_check_ms(size_t i) const {
  const NodeRun &n = nodes_[i];
  uint64_t delay_us = 0;
  // lbctl's checks have no jitter (compile_check), so the random bits are
  // unused.
  if (lbk_pool_peer_next_check_delay(&delay_us, pools_[n.pool_index].pool, n.peer_id, n.check, 0) != 0 ||
      delay_us == 0)
    return config_.pools[n.pool_index].check.interval_ms;
  return static_cast<uint32_t>(std::min<uint64_t>(delay_us / 1000, UINT32_MAX));
}

std::vector<lbk::probe::Target> ProbeSession::targets(bool with_versions,
                                                      const std::vector<bool> &node_due) const {
  std::vector<lbk::probe::Target> out;
  out.reserve(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (probed(i, node_due))
      out.push_back(make_target(nodes_[i], config_.pools[nodes_[i].pool_index].check, nodes_[i].check));
  if (with_versions)
    for (const IdentityCall &call : kIdentityCalls)
      for (size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i].*call.check && probed(i, node_due))
          out.push_back(
              make_target(nodes_[i], config_.pools[nodes_[i].pool_index].check, nodes_[i].*call.check));
  return out;
}

void ProbeSession::absorb(const std::vector<lbk::probe::Result> &results, bool with_versions,
                          const std::vector<bool> &node_due) {
  ++rounds_;
  const int64_t now_ms = unix_now_ms();
  // The nodes of this round, in the order of their results.
  std::vector<size_t> in_round;
  in_round.reserve(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (probed(i, node_due)) in_round.push_back(i);
  if (results.size() < in_round.size()) return;
  // Report the highest JSON-RPC heads first, so the pool knows the best
  // healthy head before it judges a lagging node.  order[] indexes results.
  std::vector<size_t> order(in_round.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const lbk_check_result &ra = results[a].verdict, &rb = results[b].verdict;
    const bool va = ra.outcome == LBK_CHECK_PASS && ra.has_value;
    const bool vb = rb.outcome == LBK_CHECK_PASS && rb.has_value;
    if (va != vb) return va;
    return va && ra.value > rb.value;
  });
  // The pool's verdict on each result (the reply's outcome, or lag), by
  // position in the round.
  std::vector<int> verdicts(in_round.size(), LBK_CHECK_PASS);
  for (size_t k : order) {
    NodeRun &n = nodes_[in_round[k]];
    const lbk::probe::Result &r = results[k];
    n.last = r;
    n.has_result = true;
    ++n.checks;
    n.last_check_unix_ms = now_ms;
    lbk_health_event ev = LBK_HEALTH_EVENT_INIT;
    const int rc =
        lbk_pool_report_check(&ev, pools_[n.pool_index].pool, n.peer_id, n.check, &r.verdict);
    verdicts[k] = rc == LBK_OK ? ev.outcome : r.verdict.outcome;
    if (rc == LBK_OK && ev.changed) n.last_change_unix_ms = now_ms;
  }
  if (with_versions) {
    // The identity targets follow the health ones, a kind at a time (targets()).
    size_t k = in_round.size();
    for (const IdentityCall &call : kIdentityCalls)
      for (size_t i : in_round) {
        NodeRun &n = nodes_[i];
        if (!(n.*call.check) || k >= results.size()) continue;
        const lbk_check_result &v = results[k++].verdict;
        if (v.outcome == LBK_CHECK_PASS && v.version_str[0]) n.*call.answer = v.version_str;
      }
    report_chain_disagreement();
  }
  for (size_t k = 0; k < in_round.size(); ++k) {
    NodeRun &n = nodes_[in_round[k]];
    const PoolConfig &pc = config_.pools[n.pool_index];
    lbk_peer_info info{};
    info.version = LBK_PEER_INFO_VERSION;
    lbk_pool_peer_info(&info, pools_[n.pool_index].pool, n.peer_id);
    n.healthy = info.health != LBK_HEALTH_DOWN;
    n.lag = info.has_value && info.lag > 0 ? info.lag : 0;
    const lbk_check_result &v = n.last.verdict;
    bool passed = verdicts[k] == LBK_CHECK_PASS;
    n.outcome = lbk_check_outcome_name(verdicts[k]);
    n.error = passed ? "" : v.reason;
    // Another chain first: its head says nothing of this chain's lag.
    if (v.outcome == LBK_CHECK_PASS && !pc.check.chain_id.empty() && !n.chain_id.empty() &&
        !same_chain_id(n.chain_id, pc.check.chain_id)) {
      passed = false;
      n.outcome = "chain";
      n.error = "chain id " + n.chain_id + ", expected " + pc.check.chain_id;
    } else if (verdicts[k] == LBK_CHECK_FAIL_LAG) {
      // The pool judged the lag; lbctl words it in head terms.
      n.error = "head " + std::to_string(v.value) + " lags the best healthy head by " +
                std::to_string(n.lag) + " (max_lag " + std::to_string(pc.check.max_lag) + ")";
    }
    if (passed) {
      n.consecutive_failures = 0;
    } else {
      ++n.failed;
      ++n.consecutive_failures;
      if (n.error.empty()) n.error = info.last_reason;
    }
    if (v.version_str[0] && !n.version_check) n.version = v.version_str;
    const lbk::probe::Timings &t = n.last.timings;
    if (passed) {
      n.dns.add(t.dns_ms);
      n.connect.add(t.connect_ms);
      n.tls.add(t.tls_ms);
      n.first_byte.add(t.first_byte_ms);
      n.total.add(t.total_ms);
    }
  }
}

void ProbeSession::report_chain_disagreement() {
  for (size_t p = 0; p < pools_.size(); ++p) {
    std::map<std::string, std::string> first_by_id;  // chain id -> a node reporting it
    std::string text;
    for (const NodeRun &n : nodes_) {
      if (n.pool_index != p || n.chain_id.empty()) continue;
      bool known = false;
      for (const auto &kv : first_by_id) known |= same_chain_id(kv.first, n.chain_id);
      if (!known) first_by_id[n.chain_id] = n.server.name;
    }
    if (first_by_id.size() < 2) continue;
    for (const auto &kv : first_by_id)
      text += (text.empty() ? "" : ", ") + kv.second + " reports " + kv.first;
    if (text == pools_[p].disagreement) continue;
    pools_[p].disagreement = text;
    std::fprintf(stderr, "lbctl: pool %s: nodes disagree on the chain id: %s%s\n",
                 config_.pools[p].name.c_str(), text.c_str(),
                 config_.pools[p].check.chain_id.empty() ? " (set chain_id to say which is right)" : "");
  }
}

State ProbeSession::snapshot(uint32_t interval_ms) const {
  State s;
  s.generated_unix_ms = unix_now_ms();
  s.interval_ms = interval_ms;
  s.round = rounds_;
  for (const PoolConfig &pc : config_.pools) s.pools.push_back({pc.name, pc.method, {}});
  for (const NodeRun &n : nodes_) {
    NodeState ns;
    ns.name = n.server.name;
    ns.url = n.server.shown_url.empty() ? n.server.url : n.server.shown_url;
    ns.chain_id = n.chain_id;
    ns.weight = n.server.weight;
    ns.backup = n.server.backup;
    ns.disabled = n.server.disabled;
    ns.healthy = !n.server.disabled && n.healthy && n.outcome != "lag" && n.outcome != "chain";
    ns.health = !n.has_result ? "unknown" : (ns.healthy ? "up" : "down");
    ns.outcome = n.outcome;
    ns.reason = n.error;
    ns.http_status = n.last.verdict.http_status;
    ns.has_head = n.has_result && n.last.verdict.has_value;
    ns.head = n.last.verdict.value;
    ns.lag = n.lag;
    ns.version = n.version;
    ns.last_ms = n.outcome == "pass" ? n.last.timings.total_ms : -1;
    const SampleSummary total = n.total.summary();
    ns.p50_ms = total.p50;
    ns.p95_ms = total.p95;
    ns.checks = n.checks;
    ns.checks_failed = n.failed;
    ns.consecutive_failures = n.consecutive_failures;
    ns.last_check_unix_ms = n.last_check_unix_ms;
    ns.last_change_unix_ms = n.last_change_unix_ms;
    s.pools[n.pool_index].nodes.push_back(std::move(ns));
  }
  for (PoolState &p : s.pools) {
    std::vector<NodeState> ranked = p.nodes;
    rank_nodes(ranked);
    for (NodeState &n : p.nodes)
      for (const NodeState &r : ranked)
        if (r.url == n.url && r.name == n.name) n.score = r.score;
  }
  return s;
}

void probe_rounds(ProbeSession &session, unsigned rounds, uint32_t interval_ms) {
  const auto run_started = std::chrono::steady_clock::now();
  for (unsigned r = 1; r <= rounds; ++r) {
    if (r > 1 && interval_ms) {
      timespec pause{static_cast<time_t>(interval_ms / 1000),
                     static_cast<long>(interval_ms % 1000) * 1000000L};
      while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
      }
    }
    const bool with_versions = session.identity_due();
    const std::string label =
        rounds > 1 ? "probing, round " + std::to_string(r) + "/" + std::to_string(rounds) : "probing";
    session.absorb(
        run_round(session.targets(with_versions), session.probe_options(), label, run_started),
        with_versions);
  }
}

int gather_state(const NodeOptions &opts, const std::string &state_path, unsigned rounds,
                 uint32_t interval_ms, State &out) {
  if (!state_path.empty()) {
    std::string error;
    if (!read_state_file(state_path, out, error)) {
      std::fprintf(stderr, "lbctl: %s\n", error.c_str());
      return kExitRuntime;
    }
    // A state older than three canary intervals (at least 10 s) is stale:
    // say so, but use it (it is still the best knowledge there is).
    const int64_t age_ms = unix_now_ms() - out.generated_unix_ms;
    const int64_t stale_ms = std::max<int64_t>(10000, 3 * static_cast<int64_t>(out.interval_ms));
    if (age_ms > stale_ms)
      std::fprintf(stderr, "lbctl: warning: %s is %lld s old (is `lbctl watch` running?)\n",
                   state_path.c_str(), static_cast<long long>(age_ms / 1000));
    if (!opts.pool.empty()) {
      const PoolState *p = out.find_pool(opts.pool);
      if (!p) {
        std::fprintf(stderr, "lbctl: %s: no pool named '%s'\n", state_path.c_str(), opts.pool.c_str());
        return kExitUsage;
      }
      PoolState kept = *p;
      out.pools = {kept};
    }
    return kExitOk;
  }
  Config config;
  if (!resolve_config(opts, config)) return kExitUsage;
  ProbeSession session;
  std::string error;
  if (!session.init(config, error)) {
    std::fprintf(stderr, "lbctl: %s\n", error.c_str());
    return kExitUsage;
  }
  probe_rounds(session, rounds, interval_ms);
  out = session.snapshot(interval_ms);
  return kExitOk;
}

}  // namespace lbctl
