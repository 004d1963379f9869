// cli/cmd_forward.cc - `lbctl forward`: send one request through libcurl to
// the best node and print the reply.
//
// Candidates are the healthy, in-sync nodes of one pool, best first
// (score.h), from the canary's state (--state) or a fresh probe.  Each
// request carries the pool's and its server's headers (API keys, Basic auth
// from userinfo) and uses the pool's TLS settings, as the checks do.
// Strategies:
//   best   send to the best; on a failure of the node, try the next.
//   hedge  send to the best; if it has not replied after the hedge delay
//          (default: the best node's p95 probe latency) also send to the
//          next; the first good reply wins, the other is cancelled.
//   race   send to the top K at once, the first good reply wins.  It
//          multiplies the load on the nodes by K.
// A request is idempotent by its HTTP method (GET, HEAD, PUT, ...) or, for a
// JSON-RPC body, by its calls: every call a read (not in the chain's
// write-method list, lbk_chain_profile) makes it one, whatever the POST.
// hedge and race are refused for other requests (non-JSON-RPC ones pass with
// --force; JSON-RPC writes never do).
// Failover (at most --retries other nodes, within the --max-time deadline):
//   every request, on failures before the request can have left (connect,
//   resolve, TLS handshake);
//   idempotent requests also on timeouts, resets, empty replies, HTTP 429
//   and 5xx, and JSON-RPC errors in the pool's failover_errors (failover.h).
// A non-idempotent request that may have reached a node is never resent.
//
// A reply (headers and body) larger than --max-size (default 64 MiB) is
// abandoned: memory stays bounded whatever a node sends.  It is not retried
// elsewhere (the request reached the application).
//
// Exit codes: 0 a reply was received (with --fail: a good one), 2 usage,
// 3 no healthy node, 4 every attempt failed or the reply exceeded --max-size,
// 22 (--fail) the final reply is an HTTP error or a JSON-RPC error.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "annotate.h"
#include "commands.h"
#include "curl_api.h"
#include "failover.h"
#include "secrets.h"
#include "node_options.h"
#include "probe_session.h"
#include "score.h"

namespace lbctl {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kDefaultMaxReplySize = 64ull << 20;

// libcurl, loaded by the command's callback before anything else runs.
const CurlApi &libcurl() { return *curl_api(nullptr); }

struct ForwardArgs {
  NodeOptions nodes;
  std::string state_path;
  std::string method;
  std::string path;
  std::vector<std::string> headers;
  std::string data;
  bool data_given = false;
  bool include = false;
  bool verbose = false;
  std::string strategy = "best";
  std::string hedge_delay;
  unsigned race_count = 3;
  bool force = false;
  unsigned retries = 2;
  bool annotate = false;
  bool fail = false;
  std::string failover_errors;  // "" = the pool's failover_errors
  std::string max_time = "30s";
  std::string connect_timeout = "5s";
  uint64_t max_size = kDefaultMaxReplySize;
};

// A node to send to: its state, and what the configuration says of it.
struct Candidate {
  NodeState node;
  std::string url;                   // as sent (no userinfo)
  std::vector<std::string> headers;  // the pool's, then the server's
  std::vector<std::string> secrets;  // never printed
  std::string ca_file, sni;
  bool tls_verify = true;
};

bool idempotent(const std::string &method) {
  static const char *const kIdempotent[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
  for (const char *m : kIdempotent)
    if (method == m) return true;
  return false;
}

// The node's URL with its path (and query) replaced by @p path when given.
std::string request_url(const std::string &node_url, const std::string &path) {
  if (path.empty()) return node_url;
  const size_t sep = node_url.find("://");
  const size_t start = node_url.find_first_of("/?#", sep + 3);
  const std::string base = start == std::string::npos ? node_url : node_url.substr(0, start);
  return base + (path[0] == '/' ? "" : "/") + path;
}

bool read_body(const std::string &spec, std::string &out, std::string &error) {
  if (spec == "-") {
    out.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  if (!spec.empty() && spec[0] == '@') {
    std::ifstream in(spec.substr(1), std::ios::binary);
    if (!in) {
      error = spec.substr(1) + ": cannot read the request body file";
      return false;
    }
    std::ostringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
  }
  out = spec;
  return true;
}

struct Attempt {
  CURL *easy = nullptr;
  curl_slist *header_list = nullptr;
  curl_slist *connect_to = nullptr;
  const Candidate *candidate = nullptr;
  const NodeState *node = nullptr;
  size_t rank = 0;
  std::string url;
  std::string body, headers;
  char error[CURL_ERROR_SIZE] = {0};
  Clock::time_point started;
  bool active = false;
  uint64_t max_size = 0;   // headers + body
  bool too_large = false;  // abandoned at max_size
  ReplyJudgement judgement;
};

// Appends a piece of the reply to @p to unless the reply would exceed its
// bound; returning less than given makes libcurl abort the transfer.
size_t keep_bounded(Attempt *a, std::string &to, const char *data, size_t len) {
  if (a->headers.size() + a->body.size() + len > a->max_size) {
    a->too_large = true;
    return 0;
  }
  to.append(data, len);
  return len;
}

size_t on_body(char *data, size_t size, size_t n, void *arg) {
  auto *a = static_cast<Attempt *>(arg);
  return keep_bounded(a, a->body, data, size * n);
}

size_t on_header(char *data, size_t size, size_t n, void *arg) {
  auto *a = static_cast<Attempt *>(arg);
  return keep_bounded(a, a->headers, data, size * n);
}

// Failures after which another node may be tried (see the file comment).
bool retryable(CURLcode rc, bool idempotent_method) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return true;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return idempotent_method;
    default:
      return false;
  }
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

class Forwarder {
 public:
  Forwarder(const ForwardArgs &args, const std::vector<Candidate> &candidates,
            const std::string &method, const std::string &body, bool idempotent_request,
            const std::string &failover_errors, uint32_t max_time_ms, uint32_t connect_timeout_ms)
      : args_(args), candidates_(candidates), method_(method), body_(body),
        failover_errors_(failover_errors), max_time_ms_(max_time_ms),
        connect_timeout_ms_(connect_timeout_ms), idempotent_(idempotent_request) {
    multi_ = libcurl().multi_init();
    attempts_.reserve(candidates.size());
  }
  ~Forwarder() {
    for (Attempt &a : attempts_) close(a);
    libcurl().multi_cleanup(multi_);
  }

  // Runs the strategy; returns the winning attempt, else the last complete
  // reply (a node failure nothing better replaced), else nullptr.
  Attempt *run(uint32_t hedge_delay_ms) {
    begin_ = Clock::now();
    const size_t initial = args_.strategy == "race" ? std::min<size_t>(args_.race_count, candidates_.size()) : 1;
    for (size_t i = 0; i < initial; ++i)
      launch(args_.strategy == "race" ? "race: one of the top " + std::to_string(initial)
                                      : std::string("the best ranked node"));
    bool hedged = args_.strategy != "hedge";
    unsigned retries_left = args_.retries;
    Attempt *fallback = nullptr;
    while (true) {
      int running = 0;
      libcurl().multi_perform(multi_, &running);
      int queued = 0;
      while (CURLMsg *msg = libcurl().multi_info_read(multi_, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Attempt *a = find(msg->easy_handle);
        if (!a) continue;
        const CURLcode rc = msg->data.result;
        bool may_retry = false;
        if (rc == CURLE_OK) {
          a->active = false;
          libcurl().multi_remove_handle(multi_, a->easy);
          long status = 0;
          libcurl().easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
          a->judgement = judge_reply(status, a->body, failover_errors_);
          if (args_.verbose)
            std::fprintf(stderr, "lbctl: reply from %s in %.1f ms (HTTP %ld%s%s)\n", a->node->name.c_str(),
                         ms_since(a->started), status, a->judgement.is_error ? ", " : "",
                         shown(*a, a->judgement.why).c_str());
          if (!a->judgement.node_failed) {
            cancel_others(a);
            return a;
          }
          fallback = a;
          ++failures_;
          if (idempotent_) {
            may_retry = true;
            std::fprintf(stderr, "lbctl: %s: %s: the node failed\n", a->node->name.c_str(),
                         shown(*a, a->judgement.why).c_str());
          } else {
            std::fprintf(stderr,
                         "lbctl: %s: %s; not resent elsewhere: the request is not idempotent and "
                         "reached the node\n",
                         a->node->name.c_str(), shown(*a, a->judgement.why).c_str());
          }
        } else {
          const bool too_large = a->too_large || rc == CURLE_FILESIZE_EXCEEDED;
          const std::string why =
              too_large ? "reply larger than --max-size (" + std::to_string(a->max_size) + " bytes)"
              : a->error[0] ? a->error : libcurl().easy_strerror(rc);
          std::fprintf(stderr, "lbctl: %s: %s\n", a->node->name.c_str(), shown(*a, why).c_str());
          close(*a);
          ++failures_;
          too_large_ |= too_large;
          may_retry = !too_large && retryable(rc, idempotent_);
        }
        if (may_retry && retries_left > 0 && next_ < candidates_.size() && remaining_ms() > 0) {
          --retries_left;
          launch("failover after a failure of " + a->node->name);
        }
      }
      const size_t active = std::count_if(attempts_.begin(), attempts_.end(),
                                          [](const Attempt &a) { return a.active; });
      if (!hedged && active > 0 && ms_since(begin_) >= hedge_delay_ms) {
        hedged = true;
        if (next_ < candidates_.size())
          launch("hedge: no reply after " + std::to_string(hedge_delay_ms) + " ms");
      }
      if (active == 0) return fallback;
      int wait_ms = 1000;
      if (!hedged) wait_ms = std::max(0, static_cast<int>(hedge_delay_ms - ms_since(begin_))) + 1;
      libcurl().multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
    }
  }

  size_t failures() const { return failures_; }
  bool too_large() const { return too_large_; }

 private:
  // @p text with the attempt's secrets masked (libcurl's errors quote URLs).
  static std::string shown(const Attempt &a, const std::string &text) {
    return scrub(text, a.candidate->secrets);
  }

  long remaining_ms() const {
    return static_cast<long>(max_time_ms_) - static_cast<long>(ms_since(begin_));
  }

  void launch(const std::string &why) {
    attempts_.emplace_back();
    Attempt &a = attempts_.back();
    a.rank = next_;
    a.candidate = &candidates_[next_++];
    a.node = &a.candidate->node;
    a.url = request_url(a.candidate->url, args_.path);
    a.easy = libcurl().easy_init();
    a.max_size = args_.max_size;
    CURL *e = a.easy;
    libcurl().easy_setopt(e, CURLOPT_URL, a.url.c_str());
    libcurl().easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    libcurl().easy_setopt(e, CURLOPT_WRITEDATA, &a);
    libcurl().easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    libcurl().easy_setopt(e, CURLOPT_HEADERDATA, &a);
    libcurl().easy_setopt(e, CURLOPT_ERRORBUFFER, a.error);
    libcurl().easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    libcurl().easy_setopt(e, CURLOPT_TIMEOUT_MS, std::max(1L, remaining_ms()));
    libcurl().easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_ms_));
    libcurl().easy_setopt(e, CURLOPT_USERAGENT, "lbctl");
    // Refused before the body when Content-Length announces too much.
    libcurl().easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(args_.max_size));
    const Candidate &c = *a.candidate;
    if (!c.ca_file.empty()) libcurl().easy_setopt(e, CURLOPT_CAINFO, c.ca_file.c_str());
    if (!c.tls_verify) {
      libcurl().easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
      libcurl().easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!c.sni.empty()) {
      // The TLS name (and so the Host) is the configured sni; the
      // connection still goes to the URL's host.
      lbk::probe::Url u;
      std::string ignored;
      if (lbk::probe::parse_url(&u, a.url, &ignored) && u.tls) {
        const std::string port = std::to_string(u.port);
        const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
        a.connect_to =
            libcurl().slist_append(a.connect_to, (c.sni + ":" + port + ":" + host + ":" + port).c_str());
        const size_t host_at = a.url.find("://") + 3;
        a.url = a.url.substr(0, host_at) + c.sni + ":" + port +
                a.url.substr(std::min(a.url.find_first_of("/?#", host_at), a.url.size()));
        libcurl().easy_setopt(e, CURLOPT_URL, a.url.c_str());
        libcurl().easy_setopt(e, CURLOPT_CONNECT_TO, a.connect_to);
      }
    }
    if (method_ == "HEAD") {
      libcurl().easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (method_ != "GET" || args_.data_given) {
      if (method_ != "POST") libcurl().easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_.c_str());
      if (args_.data_given || method_ == "POST") {
        libcurl().easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_.size()));
        libcurl().easy_setopt(e, CURLOPT_POSTFIELDS, body_.c_str());
      }
    }
    bool has_content_type = false;
    for (const std::string &h : merge_headers(c.headers, args_.headers)) {
      a.header_list = libcurl().slist_append(a.header_list, h.c_str());
      std::string lower = h.substr(0, h.find(':'));
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      has_content_type |= lower == "content-type";
    }
    // A JSON body (JSON-RPC) gets a JSON content type unless one is given.
    const size_t first = body_.find_first_not_of(" \t\r\n");
    if (args_.data_given && !has_content_type && first != std::string::npos &&
        (body_[first] == '{' || body_[first] == '['))
      a.header_list = libcurl().slist_append(a.header_list, "Content-Type: application/json");
    if (a.header_list) libcurl().easy_setopt(e, CURLOPT_HTTPHEADER, a.header_list);
    a.started = Clock::now();
    a.active = true;
    libcurl().multi_add_handle(multi_, e);
    if (args_.verbose) {
      const NodeState &n = *a.node;
      std::fprintf(stderr,
                   "lbctl: sending %s %s to %s (rank %zu, score %.1f, %s, lag %lld, p50 %.2f ms): %s\n",
                   method_.c_str(), request_url(n.url, args_.path).c_str(), n.name.c_str(), a.rank + 1,
                   n.score, n.healthy ? "healthy" : "unhealthy", static_cast<long long>(n.lag),
                   ranking_latency_ms(n), why.c_str());
    }
  }

  Attempt *find(CURL *easy) {
    for (Attempt &a : attempts_)
      if (a.easy == easy) return &a;
    return nullptr;
  }

  void close(Attempt &a) {
    if (!a.easy) return;
    if (a.active) libcurl().multi_remove_handle(multi_, a.easy);
    a.active = false;
    libcurl().easy_cleanup(a.easy);
    a.easy = nullptr;
    libcurl().slist_free_all(a.header_list);
    a.header_list = nullptr;
    libcurl().slist_free_all(a.connect_to);
    a.connect_to = nullptr;
  }

  void cancel_others(Attempt *winner) {
    for (Attempt &a : attempts_) {
      if (&a == winner || !a.active) continue;
      if (args_.verbose)
        std::fprintf(stderr, "lbctl: cancelled the request to %s\n", a.node->name.c_str());
      close(a);
    }
  }

  const ForwardArgs &args_;
  const std::vector<Candidate> &candidates_;
  std::string method_;
  const std::string &body_;
  std::string failover_errors_;
  uint32_t max_time_ms_, connect_timeout_ms_;
  bool idempotent_;
  CURLM *multi_ = nullptr;
  Clock::time_point begin_;
  std::vector<Attempt> attempts_;  // reserved up front: Attempt addresses stay valid
  size_t next_ = 0;
  size_t failures_ = 0;
  bool too_large_ = false;
};

// Adds "__server__" and "__version__" to a JSON object reply (annotate.h);
// other replies are returned unchanged.
std::string annotate(const std::string &body, const NodeState &node, bool verbose) {
  std::string why;
  Annotated result;
  std::string out = annotate_reply(body, node.url, node.version, result, why);
  // Too deep is said always: the caller asked for an annotation it lacks.
  if (result == Annotated::kTooDeep || (result != Annotated::kYes && verbose))
    std::fprintf(stderr, "lbctl forward: --annotate: %s; printed unchanged\n", why.c_str());
  return out;
}

// The candidates of @p pool: its healthy nodes, best first, backups only
// when no primary is healthy, with what @p config (may be null: --state
// alone) says of their URLs, headers and TLS.  False (after saying why)
// when a node's URL is masked in the state and no configuration gives it.
bool candidates_of(const PoolState &pool, const PoolConfig *config, const ForwardArgs &args,
                   std::vector<Candidate> &out) {
  std::vector<NodeState> ranked = pool.nodes;
  rank_nodes(ranked);
  for (const NodeState &n : ranked) {
    if (!n.healthy || n.url.rfind("tcp://", 0) == 0) continue;
    Candidate c;
    c.node = n;
    c.url = n.url;
    c.tls_verify = !args.nodes.insecure;
    c.ca_file = args.nodes.ca_file;
    if (config) {
      const CheckConfig &check = config->check;
      const ServerConfig *server = nullptr;
      for (const ServerConfig &s : config->servers)
        if (s.name == n.name) server = &s;
      if (!server) continue;  // not in the configuration (any more)
      c.url = server->url;
      c.secrets = server->secrets;
      c.headers = node_headers(check, *server);
      c.tls_verify = check.tls_verify;
      c.ca_file = check.ca_file;
      c.sni = check.sni;
    } else if (n.url.find("***") != std::string::npos) {
      std::fprintf(stderr,
                   "lbctl forward: node %s: its URL is masked in the state file (it holds a "
                   "secret); give the configuration too (-c FILE)\n",
                   n.name.c_str());
      return false;
    }
    out.push_back(std::move(c));
  }
  // A backup is used only when no primary is healthy.
  if (!out.empty() && !out.front().node.backup)
    out.erase(std::remove_if(out.begin(), out.end(), [](const Candidate &c) { return c.node.backup; }),
              out.end());
  return true;
}

int forward(const ForwardArgs &args) {
  uint32_t max_time_ms = 0, connect_ms = 0, hedge_ms = 0;
  const std::pair<const char *, const std::string *> durations[] = {
      {"--max-time", &args.max_time}, {"--connect-timeout", &args.connect_timeout},
      {"--hedge-delay", &args.hedge_delay}};
  uint32_t *const outputs[] = {&max_time_ms, &connect_ms, &hedge_ms};
  for (size_t i = 0; i < 3; ++i) {
    if (i == 2 && args.hedge_delay.empty()) continue;
    if (!parse_duration_ms(*durations[i].second, *outputs[i]) || (i < 2 && *outputs[i] == 0)) {
      std::fprintf(stderr, "lbctl forward: %s: %s\n", durations[i].first,
                   *outputs[i] == 0 && parse_duration_ms(*durations[i].second, *outputs[i])
                       ? "must be above 0"
                       : duration_problem(*durations[i].second).c_str());
      return kExitUsage;
    }
  }
  std::string method = args.method;
  if (method.empty()) method = args.data_given ? "POST" : "GET";
  std::transform(method.begin(), method.end(), method.begin(), ::toupper);
  for (const std::string &h : args.headers)
    if (h.find(':') == std::string::npos) {
      std::fprintf(stderr, "lbctl forward: -H '%s': expected 'Name: value'\n",
                   mask_header(h, kDefaultSecretHeaders).c_str());
      return kExitUsage;
    }
  std::string body, error;
  if (args.data_given && !read_body(args.data, body, error)) {
    std::fprintf(stderr, "lbctl forward: %s\n", error.c_str());
    return kExitUsage;
  }
  // A JSON-RPC request goes to nodes checked with JSON-RPC, unless the
  // configuration or --check say otherwise.
  std::vector<std::string> calls;
  const bool jsonrpc = args.data_given && method == "POST" && jsonrpc_methods(body, calls);
  NodeOptions nodes = args.nodes;
  if (jsonrpc) nodes.default_check = "jsonrpc";
  // The configuration, when there is one: URLs with their secrets, headers,
  // TLS, chain (a state file holds none of them).
  Config config;
  const bool configured = !nodes.config_path.empty() || !nodes.urls.empty();
  if (configured && !resolve_config(nodes, config)) return kExitUsage;
  // One pool's configuration (its chain's write methods decide idempotency
  // before anything is sent, probes included).
  if (configured && config.pools.size() != 1) {
    std::fprintf(stderr, "lbctl forward: %zu pools; choose one with --pool NAME\n", config.pools.size());
    return kExitUsage;
  }
  const PoolConfig *pool_config = configured ? &config.pools[0] : nullptr;
  // Idempotency: a JSON-RPC body by its calls, anything else by its method.
  const CheckConfig defaults;
  const CheckConfig &check = pool_config ? pool_config->check : defaults;
  const lbk_chain_profile *profile = lbk_chain_profile_find(check.chain.c_str());
  const std::string write = jsonrpc ? first_write_method(calls, profile) : "";
  const bool idempotent_request = jsonrpc ? write.empty() : idempotent(method);
  if (args.strategy != "best" && !idempotent_request) {
    if (jsonrpc) {
      std::fprintf(stderr,
                   "lbctl forward: --strategy %s sends the request to several nodes; %s is a write "
                   "method (%s chain), so this is refused, --force or not: send it with "
                   "--strategy best\n",
                   args.strategy.c_str(), write.c_str(), profile->name);
      return kExitUsage;
    }
    if (!args.force) {
      std::fprintf(stderr,
                   "lbctl forward: --strategy %s sends the request to several nodes; %s is not "
                   "idempotent, so this is refused (add --force if the request is safe to repeat)\n",
                   args.strategy.c_str(), method.c_str());
      return kExitUsage;
    }
  }
  State state;
  const int rc = gather_state(nodes, args.state_path, 1, 0, state);
  if (rc != kExitOk) return rc;
  if (state.pools.size() != 1) {
    std::fprintf(stderr, "lbctl forward: %zu pools; choose one with --pool NAME\n", state.pools.size());
    return kExitUsage;
  }
  if (pool_config && pool_config->name != state.pools[0].name) pool_config = nullptr;
  if (configured && !pool_config) {
    std::fprintf(stderr, "lbctl forward: pool '%s' of the state is not in the configuration\n",
                 state.pools[0].name.c_str());
    return kExitUsage;
  }
  std::vector<Candidate> candidates;
  if (!candidates_of(state.pools[0], pool_config, args, candidates)) return kExitUsage;
  if (candidates.empty()) {
    std::fprintf(stderr, "lbctl forward: no healthy HTTP node in pool '%s'\n", state.pools[0].name.c_str());
    return kExitNoneHealthy;
  }
  if (args.hedge_delay.empty()) {
    // The best node's recent p95; 50 ms when there is no sample.
    const NodeState &best = candidates.front().node;
    const double p95 = best.p95_ms >= 0 ? best.p95_ms : best.last_ms;
    hedge_ms = p95 >= 0 ? std::max<uint32_t>(1, static_cast<uint32_t>(p95 + 0.5)) : 50;
  }
  if (args.verbose) {
    std::fprintf(stderr, "lbctl: strategy %s, %zu healthy candidate%s (state: %s), %s", args.strategy.c_str(),
                 candidates.size(), candidates.size() == 1 ? "" : "s",
                 args.state_path.empty() ? "fresh probe" : args.state_path.c_str(),
                 jsonrpc ? (write.empty() ? "JSON-RPC read" : ("JSON-RPC write " + write).c_str())
                         : (idempotent_request ? "idempotent" : "not idempotent"));
    if (args.strategy == "hedge") std::fprintf(stderr, ", hedge delay %u ms", hedge_ms);
    std::fprintf(stderr, "\n");
    for (const std::string &h : merge_headers(candidates.front().headers, args.headers))
      std::fprintf(stderr, "lbctl: header %s\n", mask_header(h, check.secret_headers).c_str());
  }
  const std::string &failover_errors = args.failover_errors.empty() ? check.failover_errors : args.failover_errors;
  Forwarder forwarder(args, candidates, method, body, idempotent_request, failover_errors,
                      max_time_ms, connect_ms);
  Attempt *winner = forwarder.run(hedge_ms);
  if (!winner) {
    std::fprintf(stderr, "lbctl forward: no node answered (%zu attempt%s failed%s)\n",
                 forwarder.failures(), forwarder.failures() == 1 ? "" : "s",
                 forwarder.too_large() ? ", a reply exceeded --max-size" : "");
    return kExitRuntime;
  }
  if (args.include) std::fwrite(winner->headers.data(), 1, winner->headers.size(), stdout);
  const std::string out = args.annotate ? annotate(winner->body, *winner->node, args.verbose) : winner->body;
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (args.fail && winner->judgement.is_error) {
    std::fprintf(stderr, "lbctl forward: --fail: %s from %s\n",
                 scrub(winner->judgement.why, winner->candidate->secrets).c_str(), winner->node->name.c_str());
    return kExitReplyError;
  }
  return kExitOk;
}

}  // namespace

void register_forward(CLI::App &app, int &exit_code) {
  CLI::App *cmd = app.add_subcommand(
      "forward", "Send one request to the best node (libcurl) and print the reply body");
  auto args = std::make_shared<ForwardArgs>();
  add_node_options(cmd, args->nodes);
  cmd->add_option("--state", args->state_path, "Pick from the canary's state file instead of probing");
  cmd->add_option("-X,--request", args->method, "HTTP method (default GET, or POST with --data)");
  cmd->add_option("-p,--path", args->path, "Request path (default: the node URL's path)");
  cmd->add_option("-H,--header", args->headers, "Extra request header 'Name: value' (repeatable)");
  cmd->add_option("-d,--data", args->data, "Request body: TEXT, @FILE, or - for stdin")
      ->each([args](const std::string &) { args->data_given = true; });
  cmd->add_flag("-i,--include", args->include, "Print the reply's status line and headers too");
  cmd->add_flag("-v,--verbose", args->verbose, "Say on stderr which node was chosen and why");
  cmd->add_option("-s,--strategy", args->strategy, "best (default), hedge or race")
      ->check(CLI::IsMember({"best", "hedge", "race"}));
  cmd->add_option("--hedge-delay", args->hedge_delay,
                  "hedge: delay before the second request (default: the best node's p95)");
  cmd->add_option("--race-count", args->race_count, "race: nodes sent to at once (default 3)")
      ->check(CLI::Range(2u, 1000u));
  cmd->add_flag("--force", args->force,
                "Allow hedge/race for non-idempotent HTTP requests (never for JSON-RPC write methods)");
  cmd->add_option("--retries", args->retries, "Other nodes tried after a node fails (default 2)")
      ->check(CLI::Range(0u, 100u));
  cmd->add_option("--failover-errors", args->failover_errors,
                  "JSON-RPC error codes and message texts that fail over (comma-separated; "
                  "default: the pool's failover_errors)");
  cmd->add_flag("-f,--fail", args->fail,
                "Exit 22 when the final reply is an HTTP error (>= 400) or a JSON-RPC error");
  cmd->add_flag("--annotate", args->annotate, "Add __server__ and __version__ to a JSON object reply");
  cmd->add_option("--max-time", args->max_time,
                  "Deadline of the whole forward, failovers included (default 30s)");
  cmd->add_option("--connect-timeout", args->connect_timeout, "Connect timeout per node (default 5s)");
  cmd->add_option("--max-size", args->max_size,
                  "Largest reply (headers and body) kept; larger ones are abandoned, exit 4 "
                  "(bytes, or with a unit: 64MiB, 512k; default 64MiB)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40));
  cmd->footer(
      "Requests carry the pool's and server's headers (API keys, Basic auth from user:pass@).\n"
      "hedge and race send the request to more than one node (race multiplies the load by its\n"
      "count): they are for idempotent requests: JSON-RPC reads (every call not a write method of\n"
      "the chain) or GET/HEAD/PUT/DELETE; --force allows other HTTP methods, never JSON-RPC writes.\n"
      "Failover to the next node: connect/TLS failures; for idempotent requests also timeouts,\n"
      "HTTP 429 and 5xx, and JSON-RPC errors of the pool's failover_errors (lbctl.ini(5)).\n"
      "Exit codes: 0 a reply was received, 2 usage or config error, 3 no healthy node,\n"
      "4 every attempt failed or a reply exceeded --max-size, 22 (--fail) the final reply is\n"
      "an HTTP or JSON-RPC error.");
  cmd->callback([args, &exit_code]() {
    std::string error;
    if (!curl_api(&error)) {
      std::fprintf(stderr, "lbctl forward: cannot load libcurl: %s\n", error.c_str());
      exit_code = kExitRuntime;
      return;
    }
    libcurl().global_init(CURL_GLOBAL_DEFAULT);
    exit_code = forward(*args);
    libcurl().global_cleanup();
  });
}

}  // namespace lbctl
