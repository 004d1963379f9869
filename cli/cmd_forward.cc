// cli/cmd_forward.cc - `lbctl forward`: send one request through libcurl to
// the best node and print the reply.
//
// Candidates are the healthy nodes of one pool, best first (score.h), from
// the canary's state (--state) or a fresh probe.  Strategies:
//   best   send to the best; on a connection failure retry on the next.
//   hedge  send to the best; if it has not replied after the hedge delay
//          (default: the best node's p95 probe latency) also send to the
//          next; the first complete reply wins, the other is cancelled.
//   race   send to the top K at once, the first complete reply wins (the
//          seeds' behaviour).  It multiplies the load on the nodes by K.
// hedge and race send the request more than once, so they are refused for
// non-idempotent methods (POST, PATCH, ...) unless --force.
// Retries (at most --retries, default 2) happen only on failures where the
// request cannot have reached the application: for non-idempotent methods
// only connect/resolve/TLS-handshake failures; for idempotent ones also
// timeouts, resets and empty replies.
//
// A reply (headers and body) larger than --max-size (default 64 MiB) is
// abandoned: memory stays bounded whatever a node sends.  It is not retried
// elsewhere (the request reached the application).
//
// Exit codes: 0 a reply was received (whatever its HTTP status), 2 usage,
// 3 no healthy node, 4 every attempt failed or the reply exceeded --max-size.
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
  std::string max_time = "30s";
  std::string connect_timeout = "5s";
  std::string ca_file;
  uint64_t max_size = kDefaultMaxReplySize;
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
  const NodeState *node = nullptr;
  size_t rank = 0;
  std::string url;
  std::string body, headers;
  char error[CURL_ERROR_SIZE] = {0};
  Clock::time_point started;
  bool active = false;
  uint64_t max_size = 0;   // headers + body
  bool too_large = false;  // abandoned at max_size
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
  Forwarder(const ForwardArgs &args, const std::vector<NodeState> &candidates,
            const std::string &method, const std::string &body, uint32_t max_time_ms,
            uint32_t connect_timeout_ms)
      : args_(args), candidates_(candidates), method_(method), body_(body),
        max_time_ms_(max_time_ms), connect_timeout_ms_(connect_timeout_ms),
        idempotent_(idempotent(method)) {
    multi_ = libcurl().multi_init();
    attempts_.reserve(candidates.size());
  }
  ~Forwarder() {
    for (Attempt &a : attempts_) close(a);
    libcurl().multi_cleanup(multi_);
  }

  // Runs the strategy; returns the winning attempt or nullptr.
  Attempt *run(uint32_t hedge_delay_ms) {
    const Clock::time_point begin = Clock::now();
    const size_t initial = args_.strategy == "race" ? std::min<size_t>(args_.race_count, candidates_.size()) : 1;
    for (size_t i = 0; i < initial; ++i)
      launch(args_.strategy == "race" ? "race: one of the top " + std::to_string(initial)
                                      : std::string("the best ranked node"));
    bool hedged = args_.strategy != "hedge";
    unsigned retries_left = args_.retries;
    while (true) {
      int running = 0;
      libcurl().multi_perform(multi_, &running);
      int queued = 0;
      while (CURLMsg *msg = libcurl().multi_info_read(multi_, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Attempt *a = find(msg->easy_handle);
        if (!a) continue;
        const CURLcode rc = msg->data.result;
        if (rc == CURLE_OK) {
          a->active = false;
          libcurl().multi_remove_handle(multi_, a->easy);
          if (args_.verbose) {
            long status = 0;
            libcurl().easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
            std::fprintf(stderr, "lbctl: reply from %s in %.1f ms (HTTP %ld)\n", a->node->name.c_str(),
                         ms_since(a->started), status);
          }
          cancel_others(a);
          return a;
        }
        const bool too_large = a->too_large || rc == CURLE_FILESIZE_EXCEEDED;
        const std::string why =
            too_large ? "reply larger than --max-size (" + std::to_string(a->max_size) + " bytes)"
            : a->error[0] ? a->error : libcurl().easy_strerror(rc);
        std::fprintf(stderr, "lbctl: %s (%s): %s\n", a->node->name.c_str(), a->url.c_str(), why.c_str());
        close(*a);
        ++failures_;
        too_large_ |= too_large;
        if (retryable(rc, idempotent_) && retries_left > 0 && next_ < candidates_.size()) {
          --retries_left;
          launch("retry after a failure of " + a->node->name);
        }
      }
      const size_t active = std::count_if(attempts_.begin(), attempts_.end(),
                                          [](const Attempt &a) { return a.active; });
      if (!hedged && active > 0 && ms_since(begin) >= hedge_delay_ms) {
        hedged = true;
        if (next_ < candidates_.size())
          launch("hedge: no reply after " + std::to_string(hedge_delay_ms) + " ms");
      }
      if (active == 0) return nullptr;
      int wait_ms = 1000;
      if (!hedged) wait_ms = std::max(0, static_cast<int>(hedge_delay_ms - ms_since(begin))) + 1;
      libcurl().multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
    }
  }

  size_t failures() const { return failures_; }
  bool too_large() const { return too_large_; }

 private:
  void launch(const std::string &why) {
    attempts_.emplace_back();
    Attempt &a = attempts_.back();
    a.rank = next_;
    a.node = &candidates_[next_++];
    a.url = request_url(a.node->url, args_.path);
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
    libcurl().easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(max_time_ms_));
    libcurl().easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_ms_));
    libcurl().easy_setopt(e, CURLOPT_USERAGENT, "lbctl");
    // Refused before the body when Content-Length announces too much.
    libcurl().easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(args_.max_size));
    if (!args_.ca_file.empty()) libcurl().easy_setopt(e, CURLOPT_CAINFO, args_.ca_file.c_str());
    if (args_.nodes.insecure) {
      libcurl().easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
      libcurl().easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
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
    for (const std::string &h : args_.headers) {
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
                   method_.c_str(), a.url.c_str(), n.name.c_str(), a.rank + 1, n.score,
                   n.healthy ? "healthy" : "unhealthy", static_cast<long long>(n.lag),
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
  const std::vector<NodeState> &candidates_;
  std::string method_;
  const std::string &body_;
  uint32_t max_time_ms_, connect_timeout_ms_;
  bool idempotent_;
  CURLM *multi_ = nullptr;
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

int forward(const ForwardArgs &args) {
  uint32_t max_time_ms = 0, connect_ms = 0, hedge_ms = 0;
  if (!parse_duration_ms(args.max_time, max_time_ms) ||
      !parse_duration_ms(args.connect_timeout, connect_ms) ||
      (!args.hedge_delay.empty() && !parse_duration_ms(args.hedge_delay, hedge_ms))) {
    std::fprintf(stderr, "lbctl forward: bad duration in --max-time, --connect-timeout or --hedge-delay\n");
    return kExitUsage;
  }
  std::string method = args.method;
  if (method.empty()) method = args.data_given ? "POST" : "GET";
  std::transform(method.begin(), method.end(), method.begin(), ::toupper);
  if (args.strategy != "best" && !idempotent(method) && !args.force) {
    std::fprintf(stderr,
                 "lbctl forward: --strategy %s sends the request to several nodes; %s is not "
                 "idempotent, so this is refused (add --force if the request is safe to repeat)\n",
                 args.strategy.c_str(), method.c_str());
    return kExitUsage;
  }
  for (const std::string &h : args.headers)
    if (h.find(':') == std::string::npos) {
      std::fprintf(stderr, "lbctl forward: -H '%s': expected 'Name: value'\n", h.c_str());
      return kExitUsage;
    }
  std::string body, error;
  if (args.data_given && !read_body(args.data, body, error)) {
    std::fprintf(stderr, "lbctl forward: %s\n", error.c_str());
    return kExitUsage;
  }
  State state;
  const int rc = gather_state(args.nodes, args.state_path, 1, 0, state);
  if (rc != kExitOk) return rc;
  if (state.pools.size() != 1) {
    std::fprintf(stderr, "lbctl forward: %zu pools; choose one with --pool NAME\n", state.pools.size());
    return kExitUsage;
  }
  std::vector<NodeState> ranked = state.pools[0].nodes;
  rank_nodes(ranked);
  std::vector<NodeState> candidates;
  for (const NodeState &n : ranked)
    if (n.healthy && n.url.rfind("tcp://", 0) != 0) candidates.push_back(n);
  if (candidates.empty()) {
    std::fprintf(stderr, "lbctl forward: no healthy HTTP node in pool '%s'\n", state.pools[0].name.c_str());
    return kExitNoneHealthy;
  }
  // A backup is used only when no primary is healthy.
  if (!candidates.front().backup)
    candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                    [](const NodeState &n) { return n.backup; }),
                     candidates.end());
  if (args.hedge_delay.empty()) {
    // The best node's recent p95; 50 ms when there is no sample.
    const double p95 = candidates.front().p95_ms >= 0 ? candidates.front().p95_ms : candidates.front().last_ms;
    hedge_ms = p95 >= 0 ? std::max<uint32_t>(1, static_cast<uint32_t>(p95 + 0.5)) : 50;
  }
  if (args.verbose) {
    std::fprintf(stderr, "lbctl: strategy %s, %zu healthy candidate%s (state: %s)", args.strategy.c_str(),
                 candidates.size(), candidates.size() == 1 ? "" : "s",
                 args.state_path.empty() ? "fresh probe" : args.state_path.c_str());
    if (args.strategy == "hedge") std::fprintf(stderr, ", hedge delay %u ms", hedge_ms);
    std::fprintf(stderr, "\n");
  }
  Forwarder forwarder(args, candidates, method, body, max_time_ms, connect_ms);
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
  cmd->add_flag("--force", args->force, "Allow hedge/race for non-idempotent methods (POST, PATCH)");
  cmd->add_option("--retries", args->retries, "Other nodes tried after connection failures (default 2)")
      ->check(CLI::Range(0u, 100u));
  cmd->add_flag("--annotate", args->annotate, "Add __server__ and __version__ to a JSON object reply");
  cmd->add_option("--max-time", args->max_time, "Whole-request timeout per node (default 30s)");
  cmd->add_option("--connect-timeout", args->connect_timeout, "Connect timeout per node (default 5s)");
  cmd->add_option("--max-size", args->max_size,
                  "Largest reply (headers and body) kept; larger ones are abandoned, exit 4 "
                  "(bytes, or with a unit: 64MiB, 512k; default 64MiB)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 40));
  cmd->add_option("--cacert", args->ca_file, "Trust these CA certificates (PEM) instead of the system store")
      ->check(CLI::ExistingFile);
  cmd->footer(
      "hedge and race send the request to more than one node (race multiplies the load by its\n"
      "count); both are refused for non-idempotent methods unless --force.\n"
      "Exit codes: 0 a reply was received, 2 usage or config error, 3 no healthy node,\n"
      "4 every attempt failed or a reply exceeded --max-size.");
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
