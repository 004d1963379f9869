// lbk-testbackend - a configurable HTTP/1.1 (and JSON-RPC, TLS) server for
// lbkit's tests, benchmarks and demo.  One process serves many listeners on
// one libevent loop; each listener has its own behaviour (status, body,
// latency, JSON-RPC answers, a fault) that can be changed at run time with
// `POST /__control` and observed with `GET /__stats`.  `--help` documents
// the command line; the usage text below is the reference.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

const char kUsage[] =
    "usage: lbk-testbackend [defaults] --listen ADDR:PORT [options] [--listen ...]\n"
    "\n"
    "Options before the first --listen set defaults for every listener; options\n"
    "after a --listen apply to that listener only.\n"
    "\n"
    "  --listen ADDR:PORT      numeric address, IPv6 in brackets ([::1]:0); port 0 =\n"
    "                          any free port\n"
    "  --ports N               this --listen opens N listeners: ports PORT..PORT+N-1,\n"
    "                          or, when PORT is 0, N free ports in 10000..32767\n"
    "  --name NAME             listener name (default: listenerN)\n"
    "  --status CODE           HTTP status of every reply (default 200)\n"
    "  --body TEXT             reply body (default \"ok\\n\")\n"
    "  --header 'Name: value'  extra reply header (repeatable)\n"
    "  --require-header 'Name: value'  answer 401 to requests without this exact\n"
    "                          header (an API key); repeatable\n"
    "  --latency SPEC          delay before replying: 5ms, 1.5s, 250us,\n"
    "                          uniform:2ms-10ms, exp:5ms (mean) (default 0)\n"
    "  --fault KIND            none | hang (read, never answer) | close (close\n"
    "                          after the request) | reset (partial reply, then\n"
    "                          RST) | garbage (binary bytes, then close) |\n"
    "                          huge-headers | trickle (1 byte per interval) |\n"
    "                          refuse (port bound but not listening: refused)\n"
    "  --trickle-interval DUR  interval of the trickle fault (default 100ms)\n"
    "  --huge-header-bytes N   header bytes of the huge-headers fault (default 65536)\n"
    "  --head N                JSON-RPC head block number at start (default 1000)\n"
    "  --head-interval DUR     the head advances by one every DUR; 0 = never\n"
    "                          (default 1s)\n"
    "  --lag N                 report head minus N (default 0)\n"
    "  --client-version TEXT   web3_clientVersion result (default\n"
    "                          \"lbk-testbackend/1.0.0\")\n"
    "  --rpc METHOD=JSON       result of a JSON-RPC method (repeatable)\n"
    "  --rpc-error METHOD=CODE:MESSAGE  error reply of a method (repeatable)\n"
    "  --tls-cert FILE --tls-key FILE   serve TLS with this certificate and key\n"
    "  --agent-reply TEXT      act as a HAProxy agent: send TEXT and a newline on\n"
    "                          connect, then close (\"up 75%\", \"drain\", ...)\n"
    "Global:\n"
    "  --dns ADDR:PORT         also answer DNS over UDP there: A/AAAA records given\n"
    "                          by --dns-record, NXDOMAIN for every other name\n"
    "  --dns-record NAME=IP    (repeatable)\n"
    "  --seed N                random seed for latency distributions\n"
    "\n"
    "Once every listener is bound it prints, one line each,\n"
    "  listening ADDR:PORT name=NAME [tls] [fault=KIND]\n"
    "then \"dns ADDR:PORT\" if --dns was given and finally \"ready\".\n"
    "Runtime (on every listener, never delayed or faulted, not counted):\n"
    "  GET  /__stats    {\"name\",\"requests\",\"connections\",\"unauthorized\",\"by_path\",\n"
    "                   \"by_method\",\"by_rpc_method\"}\n"
    "  GET  /__control  the listener's behaviour as JSON\n"
    "  POST /__control  JSON object with any of: status, body, latency (SPEC\n"
    "                   string) or latency_ms, hang (bool), fault, lag, head,\n"
    "                   head_interval_ms, client_version, trickle_interval_ms,\n"
    "                   agent_reply,\n"
    "                   reset_stats (bool), all (bool: apply to every listener)\n"
    "Exit status: 0 after SIGTERM/SIGINT, 1 on a start-up failure, 2 on bad usage.\n";

[[noreturn]] void usage_error(const std::string &what) {
  std::fprintf(stderr, "lbk-testbackend: %s (see --help)\n", what.c_str());
  std::exit(2);
}

// ---------------------------------------------------------------------------
// Behaviour of one listener
// ---------------------------------------------------------------------------

enum class Fault { kNone, kHang, kClose, kReset, kGarbage, kHugeHeaders, kTrickle, kRefuse };

const std::map<std::string, Fault> kFaultNames = {
    {"none", Fault::kNone},          {"hang", Fault::kHang},
    {"close", Fault::kClose},        {"reset", Fault::kReset},
    {"garbage", Fault::kGarbage},    {"huge-headers", Fault::kHugeHeaders},
    {"trickle", Fault::kTrickle},    {"refuse", Fault::kRefuse}};

std::string fault_name(Fault f) {
  for (const auto &kv : kFaultNames)
    if (kv.second == f) return kv.first;
  return "none";
}

// Parses "5ms", "1.5s", "250us", "7" (milliseconds) into milliseconds.
bool parse_duration_ms(const std::string &text, double *out_ms) {
  if (text.empty()) return false;
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v < 0 || !std::isfinite(v)) return false;
  std::string unit(end);
  if (unit.empty() || unit == "ms") *out_ms = v;
  else if (unit == "s") *out_ms = v * 1000.0;
  else if (unit == "us") *out_ms = v / 1000.0;
  else return false;
  return true;
}

struct Latency {
  enum Kind { kFixed, kUniform, kExponential } kind = kFixed;
  double a_ms = 0, b_ms = 0;  // fixed: a; uniform: a..b; exponential: mean a

  std::string text() const {
    char buf[96];
    if (kind == kFixed) std::snprintf(buf, sizeof buf, "%gms", a_ms);
    else if (kind == kUniform) std::snprintf(buf, sizeof buf, "uniform:%gms-%gms", a_ms, b_ms);
    else std::snprintf(buf, sizeof buf, "exp:%gms", a_ms);
    return buf;
  }
};

bool parse_latency(const std::string &spec, Latency *out) {
  Latency l;
  if (spec.rfind("uniform:", 0) == 0) {
    std::string range = spec.substr(8);
    size_t dash = range.find('-');
    if (dash == std::string::npos) return false;
    l.kind = Latency::kUniform;
    if (!parse_duration_ms(range.substr(0, dash), &l.a_ms) ||
        !parse_duration_ms(range.substr(dash + 1), &l.b_ms) || l.b_ms < l.a_ms)
      return false;
  } else if (spec.rfind("exp:", 0) == 0) {
    l.kind = Latency::kExponential;
    if (!parse_duration_ms(spec.substr(4), &l.a_ms)) return false;
  } else if (!parse_duration_ms(spec, &l.a_ms)) {
    return false;
  }
  *out = l;
  return true;
}

struct RpcError {
  int code;
  std::string message;
};

struct Behaviour {
  int status = 200;
  std::string body = "ok\n";
  std::vector<std::string> headers;
  std::vector<std::string> required_headers;  // "name: value", name lower-cased
  Latency latency;
  Fault fault = Fault::kNone;
  double trickle_interval_ms = 100;
  size_t huge_header_bytes = 65536;
  int64_t head_start = 1000;
  double head_interval_ms = 1000;
  int64_t lag = 0;
  std::string client_version = "lbk-testbackend/1.0.0";
  std::map<std::string, json> rpc_results;
  std::map<std::string, RpcError> rpc_errors;
  std::string tls_cert, tls_key;
  std::string agent_reply;  // HAProxy agent mode: this line on connect, then close
};

struct Stats {
  uint64_t requests = 0, connections = 0, unauthorized = 0;
  std::map<std::string, uint64_t> by_path, by_method, by_rpc_method;
};

struct Server;

struct Listener {
  Server *server = nullptr;
  std::string name;
  std::string address;  // "ip:port" as bound ([ip]:port for IPv6)
  Behaviour behaviour;
  SteadyClock::time_point head_epoch;  // when head_start was current
  Stats stats;
  evconnlistener *listener = nullptr;
  event *resume_ev = nullptr;  // re-enables accepting after EMFILE
  int refuse_fd = -1;  // fault refuse: bound, never listening
  SSL_CTX *ssl_ctx = nullptr;

  ~Listener() {
    if (resume_ev) event_free(resume_ev);
    if (listener) evconnlistener_free(listener);
    if (refuse_fd >= 0) close(refuse_fd);
    if (ssl_ctx) SSL_CTX_free(ssl_ctx);
  }

  // head(t) = head_start + floor(elapsed / head_interval) - lag
  int64_t head() const {
    int64_t h = behaviour.head_start;
    if (behaviour.head_interval_ms > 0) {
      double elapsed_ms =
          std::chrono::duration<double, std::milli>(SteadyClock::now() - head_epoch).count();
      h += static_cast<int64_t>(elapsed_ms / behaviour.head_interval_ms);
    }
    return h - behaviour.lag;
  }
  void set_head(int64_t head_start) {
    behaviour.head_start = head_start;
    head_epoch = SteadyClock::now();
  }
};

struct Conn;

struct Server {
  event_base *base = nullptr;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::unordered_set<Conn *> conns;  // open connections, freed at exit
  std::mt19937_64 rng{std::random_device{}()};

  double sample_ms(const Latency &l) {
    switch (l.kind) {
      case Latency::kFixed: return l.a_ms;
      case Latency::kUniform: return std::uniform_real_distribution<double>(l.a_ms, l.b_ms)(rng);
      case Latency::kExponential:
        return l.a_ms > 0 ? std::exponential_distribution<double>(1.0 / l.a_ms)(rng) : 0;
    }
    return 0;
  }
};

timeval ms_to_timeval(double ms) {
  if (ms < 0) ms = 0;
  auto us = static_cast<int64_t>(ms * 1000.0);
  timeval tv;
  tv.tv_sec = us / 1000000;
  tv.tv_usec = us % 1000000;
  return tv;
}

const char *reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

std::string hex_number(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, static_cast<uint64_t>(v < 0 ? 0 : v));
  return buf;
}

// ---------------------------------------------------------------------------
// JSON-RPC
// ---------------------------------------------------------------------------

json rpc_answer_one(Listener *l, const json &req) {
  json reply = {{"jsonrpc", "2.0"}, {"id", req.is_object() && req.contains("id") ? req["id"] : json()}};
  if (!req.is_object() || !req.contains("method") || !req["method"].is_string()) {
    reply["error"] = {{"code", -32600}, {"message", "Invalid Request"}};
    return reply;
  }
  std::string method = req["method"].get<std::string>();
  l->stats.by_rpc_method[method]++;
  const Behaviour &b = l->behaviour;
  if (auto e = b.rpc_errors.find(method); e != b.rpc_errors.end()) {
    reply["error"] = {{"code", e->second.code}, {"message", e->second.message}};
  } else if (auto r = b.rpc_results.find(method); r != b.rpc_results.end()) {
    reply["result"] = r->second;
  } else if (method == "eth_blockNumber") {
    reply["result"] = hex_number(l->head());
  } else if (method == "eth_getBlockByNumber") {
    int64_t head = l->head();
    reply["result"] = {{"number", hex_number(head)}, {"hash", hex_number(0x1000000 + head)}};
  } else if (method == "web3_clientVersion") {
    reply["result"] = b.client_version;
  } else if (method == "eth_chainId") {
    reply["result"] = "0x1";
  } else if (method == "net_version") {
    reply["result"] = "1";
  } else if (method == "eth_syncing") {
    reply["result"] = false;
  } else {
    reply["error"] = {{"code", -32601}, {"message", "Method not found"}};
  }
  return reply;
}

// Single requests and batches; invalid JSON gives a -32700 error reply.
std::string rpc_answer(Listener *l, const std::string &body) {
  json req = json::parse(body, nullptr, false);
  json out;
  if (req.is_discarded()) {
    out = {{"jsonrpc", "2.0"}, {"id", nullptr},
           {"error", {{"code", -32700}, {"message", "Parse error"}}}};
  } else if (req.is_array()) {
    out = json::array();
    for (const auto &r : req) out.push_back(rpc_answer_one(l, r));
  } else {
    out = rpc_answer_one(l, req);
  }
  return out.dump() + "\n";
}

// ---------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------

constexpr size_t kMaxRequestHeaderBytes = 65536;
constexpr size_t kMaxRequestBodyBytes = 4u << 20;

struct Request {
  std::string method, target, path, version;
  std::vector<std::string> headers;  // "name: value", name lower-cased
  std::string body;
  bool keep_alive = true;
};

struct Conn {
  Listener *listener = nullptr;
  bufferevent *bev = nullptr;
  event *timer = nullptr;
  bool busy = false;         // a reply is pending: do not parse the next request
  bool hanging = false;      // fault hang: discard input forever
  bool close_after_write = false;
  bool seen_bytes = false;   // the first byte was looked at
  std::string pending;       // reply waiting for its latency or trickle
  size_t trickle_pos = 0;
  enum class Next { kSend, kTrickle, kReset, kNothing } next = Next::kNothing;

  ~Conn() {
    listener->server->conns.erase(this);
    if (timer) event_free(timer);
    if (bev) bufferevent_free(bev);
  }
};

void conn_free(Conn *c) { delete c; }

// Closes with SO_LINGER 0 so the peer sees a TCP reset.
void conn_reset(Conn *c) {
  evutil_socket_t fd = bufferevent_getfd(c->bev);
  if (fd >= 0) {
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  conn_free(c);
}

void conn_read_cb(bufferevent *bev, void *arg);

void conn_write_cb(bufferevent *bev, void *arg) {
  auto *c = static_cast<Conn *>(arg);
  if (evbuffer_get_length(bufferevent_get_output(bev)) != 0) return;
  if (c->close_after_write && !c->busy) {
    conn_free(c);
    return;
  }
  if (!c->busy && evbuffer_get_length(bufferevent_get_input(bev)) > 0) conn_read_cb(bev, c);
}

void conn_event_cb(bufferevent *, short what, void *arg) {
  auto *c = static_cast<Conn *>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) conn_free(c);
}

void send_now(Conn *c, const std::string &bytes) {
  bufferevent_write(c->bev, bytes.data(), bytes.size());
}

std::string build_reply(int status, const std::string &body, const std::string &content_type,
                        bool keep_alive, const std::vector<std::string> &headers,
                        size_t filler_header_bytes = 0) {
  std::string out;
  out.reserve(160 + body.size() + filler_header_bytes);
  char line[128];
  std::snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
  out += line;
  out += "Server: lbk-testbackend\r\nContent-Type: ";
  out += content_type;
  std::snprintf(line, sizeof line, "\r\nContent-Length: %zu\r\n", body.size());
  out += line;
  if (!keep_alive) out += "Connection: close\r\n";
  for (const auto &h : headers) {
    out += h;
    out += "\r\n";
  }
  // Filler lines of 100 bytes ("X-Filler-N: aaaa...\r\n") up to the size asked.
  for (size_t n = 0, written = 0; written < filler_header_bytes; ++n) {
    int head = std::snprintf(line, sizeof line, "X-Filler-%zu: ", n);
    std::string filler(line, head);
    filler.append(98 - head, 'a');
    filler += "\r\n";
    out += filler;
    written += filler.size();
  }
  out += "\r\n";
  out += body;
  return out;
}

void timer_cb(evutil_socket_t, short, void *arg);

void schedule(Conn *c, double delay_ms) {
  if (!c->timer) c->timer = evtimer_new(bufferevent_get_base(c->bev), timer_cb, c);
  timeval tv = ms_to_timeval(delay_ms);
  evtimer_add(c->timer, &tv);
}

// Sends the pending reply and, unless the connection closes after it, goes
// on with any request already buffered.  Called from the loop (timer), never
// from inside conn_read_cb.
void reply_sent(Conn *c) {
  c->pending.clear();
  c->busy = false;
  c->next = Conn::Next::kNothing;
  if (c->close_after_write) {
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
      conn_free(c);  // already flushed: no write callback will come
      return;
    }
    bufferevent_disable(c->bev, EV_READ);
  } else if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
    conn_read_cb(c->bev, c);
  }
}

// Runs the step a reply was waiting for (after its latency, or the next
// trickle byte).
void timer_cb(evutil_socket_t, short, void *arg) {
  auto *c = static_cast<Conn *>(arg);
  switch (c->next) {
    case Conn::Next::kSend:
      send_now(c, c->pending);
      reply_sent(c);
      return;
    case Conn::Next::kTrickle:
      if (c->trickle_pos < c->pending.size()) {
        send_now(c, c->pending.substr(c->trickle_pos++, 1));
        schedule(c, c->listener->behaviour.trickle_interval_ms);
        return;
      }
      reply_sent(c);
      return;
    case Conn::Next::kReset:
      conn_reset(c);
      return;
    case Conn::Next::kNothing:
      return;
  }
}

std::string behaviour_json(const Listener *l) {
  const Behaviour &b = l->behaviour;
  json j = {{"name", l->name},
            {"address", l->address},
            {"status", b.status},
            {"body", b.body},
            {"latency", b.latency.text()},
            {"fault", fault_name(b.fault)},
            {"trickle_interval_ms", b.trickle_interval_ms},
            {"head", l->head()},
            {"head_interval_ms", b.head_interval_ms},
            {"lag", b.lag},
            {"client_version", b.client_version},
            {"tls", l->ssl_ctx != nullptr}};
  return j.dump() + "\n";
}

std::string stats_json(const Listener *l) {
  json j = {{"name", l->name},
            {"requests", l->stats.requests},
            {"connections", l->stats.connections},
            {"unauthorized", l->stats.unauthorized},
            {"by_path", l->stats.by_path},
            {"by_method", l->stats.by_method},
            {"by_rpc_method", l->stats.by_rpc_method}};
  return j.dump() + "\n";
}

// Applies one POST /__control object to @p l; returns "" or an error text.
std::string apply_control(Listener *l, const json &j) {
  Behaviour &b = l->behaviour;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string &k = it.key();
    const json &v = it.value();
    if (k == "all") continue;
    if (k == "status" && v.is_number_integer() && v.get<int>() >= 100 && v.get<int>() <= 999) {
      b.status = v.get<int>();
    } else if (k == "body" && v.is_string()) {
      b.body = v.get<std::string>();
    } else if (k == "latency" && v.is_string()) {
      if (!parse_latency(v.get<std::string>(), &b.latency)) return "bad latency '" + v.get<std::string>() + "'";
    } else if (k == "latency_ms" && v.is_number() && v.get<double>() >= 0) {
      b.latency = Latency{Latency::kFixed, v.get<double>(), 0};
    } else if (k == "hang" && v.is_boolean()) {
      b.fault = v.get<bool>() ? Fault::kHang : Fault::kNone;
    } else if (k == "fault" && v.is_string() && kFaultNames.count(v.get<std::string>()) &&
               v.get<std::string>() != "refuse") {
      b.fault = kFaultNames.at(v.get<std::string>());
    } else if (k == "lag" && v.is_number_integer()) {
      b.lag = v.get<int64_t>();
    } else if (k == "head" && v.is_number_integer()) {
      l->set_head(v.get<int64_t>());
    } else if (k == "head_interval_ms" && v.is_number() && v.get<double>() >= 0) {
      int64_t now_head = l->head() + b.lag;
      b.head_interval_ms = v.get<double>();
      l->set_head(now_head);
    } else if (k == "trickle_interval_ms" && v.is_number() && v.get<double>() > 0) {
      b.trickle_interval_ms = v.get<double>();
    } else if (k == "agent_reply" && v.is_string()) {
      b.agent_reply = v.get<std::string>();
    } else if (k == "client_version" && v.is_string()) {
      b.client_version = v.get<std::string>();
    } else if (k == "reset_stats" && v.is_boolean()) {
      if (v.get<bool>()) l->stats = Stats{};
    } else {
      return "bad or unknown control key '" + k + "' = " + v.dump();
    }
  }
  return "";
}

// /__control and /__stats: answered at once, whatever the behaviour.
void handle_runtime(Conn *c, const Request &req) {
  Listener *l = c->listener;
  int status = 200;
  std::string body;
  if (req.path == "/__stats" && req.method == "GET") {
    body = stats_json(l);
  } else if (req.path == "/__control" && req.method == "GET") {
    body = behaviour_json(l);
  } else if (req.path == "/__control" && req.method == "POST") {
    json j = json::parse(req.body, nullptr, false);
    std::string err;
    if (j.is_discarded() || !j.is_object()) {
      err = "body is not a JSON object";
    } else if (j.value("all", false)) {
      for (auto &other : l->server->listeners)
        if (err.empty()) err = apply_control(other.get(), j);
    } else {
      err = apply_control(l, j);
    }
    if (err.empty()) {
      body = behaviour_json(l);
    } else {
      status = 400;
      body = json{{"error", err}}.dump() + "\n";
    }
  } else {
    status = 405;
    body = json{{"error", "use GET /__stats, GET or POST /__control"}}.dump() + "\n";
  }
  send_now(c, build_reply(status, body, "application/json", req.keep_alive, {}));
  if (!req.keep_alive) c->close_after_write = true;
}

bool looks_like_json(const std::string &body) {
  for (char ch : body) {
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') continue;
    return ch == '{' || ch == '[';
  }
  return false;
}

// Answers (or starts answering) one request.  Returns false when it freed
// the connection (fault close).
bool handle_request(Conn *c, const Request &req) {
  if (req.path == "/__stats" || req.path == "/__control") {
    handle_runtime(c, req);
    return true;
  }
  Listener *l = c->listener;
  const Behaviour &b = l->behaviour;
  l->stats.requests++;
  l->stats.by_path[req.path]++;
  l->stats.by_method[req.method]++;

  for (const std::string &h : b.required_headers)
    if (std::find(req.headers.begin(), req.headers.end(), h) == req.headers.end()) {
      l->stats.unauthorized++;
      c->close_after_write = !req.keep_alive;
      send_now(c, build_reply(401, "missing or wrong " + h.substr(0, h.find(':')) + "\n", "text/plain",
                              req.keep_alive, {}));
      return true;
    }
  if (b.fault == Fault::kHang) {
    c->busy = true;
    c->hanging = true;
    return true;
  }
  if (b.fault == Fault::kClose) {
    conn_free(c);
    return false;
  }
  std::string body, content_type = "text/plain";
  if (req.method == "POST" && looks_like_json(req.body)) {
    body = rpc_answer(l, req.body);
    content_type = "application/json";
  } else {
    body = b.body;
  }
  c->busy = true;
  c->close_after_write = !req.keep_alive;
  double delay = c->listener->server->sample_ms(b.latency);
  switch (b.fault) {
    case Fault::kReset: {
      // A partial header block now, then a reset after a pause so the peer
      // has certainly read the partial bytes first.
      std::string full = build_reply(b.status, body, content_type, true, b.headers);
      send_now(c, full.substr(0, std::min<size_t>(full.size(), 24)));
      c->next = Conn::Next::kReset;
      schedule(c, delay + 50);
      return true;
    }
    case Fault::kGarbage: {
      std::string junk(512, '\0');
      for (auto &ch : junk) ch = static_cast<char>(c->listener->server->rng() & 0xff);
      junk[0] = '\x16';  // never a valid status line
      c->pending = junk;
      c->close_after_write = true;
      c->next = Conn::Next::kSend;
      break;
    }
    case Fault::kHugeHeaders:
      c->pending = build_reply(b.status, body, content_type, req.keep_alive, b.headers,
                               b.huge_header_bytes);
      c->next = Conn::Next::kSend;
      break;
    case Fault::kTrickle:
      c->pending = build_reply(b.status, body, content_type, req.keep_alive, b.headers);
      c->trickle_pos = 0;
      c->next = Conn::Next::kTrickle;
      break;
    default:
      c->pending = build_reply(b.status, body, content_type, req.keep_alive, b.headers);
      c->next = Conn::Next::kSend;
      break;
  }
  // A HEAD reply has the headers of the GET reply and no body.
  if (req.method == "HEAD" && b.fault != Fault::kGarbage)
    c->pending.resize(c->pending.size() - body.size());
  if (delay <= 0 && c->next == Conn::Next::kSend) {
    send_now(c, c->pending);  // the read loop goes on with the next request
    c->pending.clear();
    c->busy = false;
    c->next = Conn::Next::kNothing;
  } else {
    schedule(c, delay);
  }
  return true;
}

std::string lower(std::string s) {
  for (auto &ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

void reply_error_and_close(Conn *c, int status, const std::string &why) {
  send_now(c, build_reply(status, why + "\n", "text/plain", false, {}));
  c->close_after_write = true;
  c->busy = true;
  bufferevent_disable(c->bev, EV_READ);
}

// Parses as many complete requests as are buffered (one at a time: the next
// waits until the current reply is out).
void conn_read_cb(bufferevent *bev, void *arg) {
  auto *c = static_cast<Conn *>(arg);
  evbuffer *in = bufferevent_get_input(bev);
  if (!c->listener->ssl_ctx && !c->seen_bytes && evbuffer_get_length(in) > 0 &&
      c->listener->behaviour.fault != Fault::kHang) {
    c->seen_bytes = true;
    unsigned char first;
    evbuffer_copyout(in, &first, 1);
    if (first == 0x16) {  // a TLS handshake on a plain port: answer as nginx does
      reply_error_and_close(c, 400, "plain HTTP port: TLS handshake received");
      return;
    }
  }
  while (!c->busy) {
    if (c->hanging) break;
    evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, nullptr);
    if (end.pos < 0) {
      if (evbuffer_get_length(in) > kMaxRequestHeaderBytes)
        reply_error_and_close(c, 431, "request header block too large");
      return;
    }
    size_t head_len = static_cast<size_t>(end.pos) + 4;
    if (head_len > kMaxRequestHeaderBytes) {
      reply_error_and_close(c, 431, "request header block too large");
      return;
    }
    std::string head(reinterpret_cast<const char *>(evbuffer_pullup(in, head_len)), head_len);
    Request req;
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) {
      reply_error_and_close(c, 400, "bad request line");
      return;
    }
    req.method = request_line.substr(0, sp1);
    req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    req.version = request_line.substr(sp2 + 1);
    req.path = req.target.substr(0, req.target.find('?'));
    req.keep_alive = req.version == "HTTP/1.1";
    size_t content_length = 0;
    for (size_t pos = line_end + 2; pos < head_len - 2;) {
      size_t eol = head.find("\r\n", pos);
      std::string line = head.substr(pos, eol - pos);
      pos = eol + 2;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = lower(line.substr(0, colon));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      req.headers.push_back(name + ": " + value);
      if (name == "content-length") {
        content_length = std::strtoull(value.c_str(), nullptr, 10);
      } else if (name == "connection") {
        std::string v = lower(value);
        if (v.find("close") != std::string::npos) req.keep_alive = false;
        if (v.find("keep-alive") != std::string::npos) req.keep_alive = true;
      } else if (name == "transfer-encoding") {
        reply_error_and_close(c, 501, "chunked request bodies are not supported");
        return;
      }
    }
    if (content_length > kMaxRequestBodyBytes) {
      reply_error_and_close(c, 413, "request body too large");
      return;
    }
    if (evbuffer_get_length(in) < head_len + content_length) return;  // body incomplete
    evbuffer_drain(in, head_len);
    req.body.resize(content_length);
    if (content_length) evbuffer_remove(in, &req.body[0], content_length);
    if (!handle_request(c, req)) return;  // freed (fault close)
    if (c->close_after_write && !c->busy) {
      bufferevent_disable(bev, EV_READ);
      return;  // conn_write_cb closes once the reply is flushed
    }
  }
  if (c->hanging) evbuffer_drain(in, evbuffer_get_length(in));
}

void accept_cb(evconnlistener *, evutil_socket_t fd, sockaddr *, int, void *arg) {
  auto *l = static_cast<Listener *>(arg);
  l->stats.connections++;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  event_base *base = l->server->base;
  bufferevent *bev;
  if (l->ssl_ctx) {
    SSL *ssl = SSL_new(l->ssl_ctx);
    bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev) bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  } else {
    bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  }
  if (!bev) {
    close(fd);
    return;
  }
  auto *c = new Conn;
  c->listener = l;
  c->bev = bev;
  l->server->conns.insert(c);
  bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
  if (!l->behaviour.agent_reply.empty()) {
    // An HAProxy agent answers on connect, whatever it was sent, and closes.
    send_now(c, l->behaviour.agent_reply + "\n");
    c->close_after_write = true;
    bufferevent_enable(bev, EV_WRITE);
    return;
  }
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void resume_accepting_cb(evutil_socket_t, short, void *arg) {
  evconnlistener_enable(static_cast<Listener *>(arg)->listener);
}

// accept() failed (EMFILE, ENFILE, ENOBUFS): pause this listener for 50 ms
// instead of spinning on a socket that stays readable.
void accept_error_cb(evconnlistener *lev, void *arg) {
  auto *l = static_cast<Listener *>(arg);
  evconnlistener_disable(lev);
  if (!l->resume_ev) l->resume_ev = evtimer_new(l->server->base, resume_accepting_cb, l);
  timeval tv{0, 50 * 1000};
  evtimer_add(l->resume_ev, &tv);
}

// ---------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------

struct ListenSpec {
  std::string host;
  int port = 0;
  int count = 1;
  std::string name;
  Behaviour behaviour;
};

// "127.0.0.1:0", "[::1]:8080" -> sockaddr.  Numeric addresses only.
bool parse_address(const std::string &text, sockaddr_storage *ss, socklen_t *len, std::string *host,
                   int *port) {
  std::string h, p;
  if (!text.empty() && text[0] == '[') {
    size_t close_br = text.find(']');
    if (close_br == std::string::npos || close_br + 1 >= text.size() || text[close_br + 1] != ':')
      return false;
    h = text.substr(1, close_br - 1);
    p = text.substr(close_br + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  char *end = nullptr;
  long port_number = std::strtol(p.c_str(), &end, 10);
  if (p.empty() || *end || port_number < 0 || port_number > 65535) return false;
  std::memset(ss, 0, sizeof *ss);
  auto *v4 = reinterpret_cast<sockaddr_in *>(ss);
  auto *v6 = reinterpret_cast<sockaddr_in6 *>(ss);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port_number));
    *len = sizeof *v4;
  } else if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port_number));
    *len = sizeof *v6;
  } else {
    return false;
  }
  *host = h;
  *port = static_cast<int>(port_number);
  return true;
}

std::string format_address(const std::string &host, int port) {
  return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                             : host + ":" + std::to_string(port);
}

// Binds (and unless the fault is refuse, listens on) one socket.
// With @p quiet_if_in_use, a port in use fails silently (errno EADDRINUSE).
bool open_listener(Server *server, Listener *l, const std::string &host, int port,
                   bool quiet_if_in_use = false) {
  sockaddr_storage ss;
  socklen_t len;
  std::string h;
  int p;
  if (!parse_address(format_address(host, port), &ss, &len, &h, &p)) return false;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "lbk-testbackend: socket: %s\n", std::strerror(errno));
    return false;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
    int bind_errno = errno;
    if (!(quiet_if_in_use && bind_errno == EADDRINUSE))
      std::fprintf(stderr, "lbk-testbackend: bind %s: %s\n", format_address(host, port).c_str(),
                   std::strerror(bind_errno));
    close(fd);
    errno = bind_errno;
    return false;
  }
  sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &bound_len);
  int bound_port = ntohs(bound.ss_family == AF_INET
                             ? reinterpret_cast<sockaddr_in *>(&bound)->sin_port
                             : reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port);
  l->address = format_address(host, bound_port);
  if (l->behaviour.fault == Fault::kRefuse) {
    l->refuse_fd = fd;  // bound, not listening: connections are refused
    return true;
  }
  if (listen(fd, 4096) != 0 || evutil_make_socket_nonblocking(fd) != 0) {
    std::fprintf(stderr, "lbk-testbackend: listen %s: %s\n", l->address.c_str(),
                 std::strerror(errno));
    close(fd);
    return false;
  }
  l->listener = evconnlistener_new(server->base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE, 0, fd);
  if (!l->listener) {
    close(fd);
    return false;
  }
  evconnlistener_set_error_cb(l->listener, accept_error_cb);
  return true;
}

SSL_CTX *make_server_tls(const std::string &cert, const std::string &key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return nullptr;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    char err[256];
    ERR_error_string_n(ERR_get_error(), err, sizeof err);
    std::fprintf(stderr, "lbk-testbackend: TLS certificate %s / key %s: %s\n", cert.c_str(),
                 key.c_str(), err);
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

// ---------------------------------------------------------------------------
// A tiny DNS responder (UDP): A/AAAA from --dns-record, NXDOMAIN otherwise.
// ---------------------------------------------------------------------------

struct DnsResponder {
  int fd = -1;
  event *ev = nullptr;
  std::multimap<std::string, std::string> records;  // lower-case name -> ip
  std::string address;
  ~DnsResponder() {
    if (ev) event_free(ev);
    if (fd >= 0) close(fd);
  }
};

void dns_cb(evutil_socket_t fd, short, void *arg) {
  auto *dns = static_cast<DnsResponder *>(arg);
  for (int budget = 0; budget < 64; ++budget) {
    unsigned char q[512];
    sockaddr_storage from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd, q, sizeof q, 0, reinterpret_cast<sockaddr *>(&from), &from_len);
    if (n < 12) return;
    // Question: QNAME labels, QTYPE, QCLASS right after the 12-byte header.
    size_t pos = 12;
    std::string name;
    while (pos < static_cast<size_t>(n) && q[pos] != 0 && pos + q[pos] < static_cast<size_t>(n)) {
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<const char *>(q + pos + 1), q[pos]);
      pos += q[pos] + 1u;
    }
    if (pos + 5 > static_cast<size_t>(n)) continue;
    uint16_t qtype = static_cast<uint16_t>(q[pos + 1] << 8 | q[pos + 2]);
    size_t question_end = pos + 5;
    std::string answer;
    uint16_t count = 0;
    name = lower(name);
    auto range = dns->records.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) {
      unsigned char addr[16];
      int rr_type = 0, addr_len = 0;
      if (qtype == 1 && inet_pton(AF_INET, it->second.c_str(), addr) == 1) rr_type = 1, addr_len = 4;
      if (qtype == 28 && inet_pton(AF_INET6, it->second.c_str(), addr) == 1) rr_type = 28, addr_len = 16;
      if (!rr_type) continue;
      // Name pointer to offset 12, type, class IN, TTL 5 s, rdata.
      const unsigned char rr[] = {0xc0, 12, 0, static_cast<unsigned char>(rr_type), 0, 1,
                                  0,    0,  0, 5, 0, static_cast<unsigned char>(addr_len)};
      answer.append(reinterpret_cast<const char *>(rr), sizeof rr);
      answer.append(reinterpret_cast<const char *>(addr), addr_len);
      ++count;
    }
    std::string reply(reinterpret_cast<const char *>(q), question_end);
    reply[2] = static_cast<char>(0x84 | (q[2] & 0x01));  // QR, AA, keep RD
    reply[3] = static_cast<char>(range.first == range.second ? 0x83 : 0x80);  // RA; NXDOMAIN
    reply[4] = 0, reply[5] = 1;                                             // QDCOUNT
    reply[6] = static_cast<char>(count >> 8), reply[7] = static_cast<char>(count & 0xff);
    reply[8] = reply[9] = reply[10] = reply[11] = 0;
    reply += answer;
    sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr *>(&from), from_len);
  }
}

bool open_dns(Server *server, DnsResponder *dns, const std::string &spec) {
  sockaddr_storage ss;
  socklen_t len;
  std::string host;
  int port;
  if (!parse_address(spec, &ss, &len, &host, &port)) usage_error("--dns: bad address '" + spec + "'");
  dns->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (dns->fd < 0 || bind(dns->fd, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
    std::fprintf(stderr, "lbk-testbackend: dns bind %s: %s\n", spec.c_str(), std::strerror(errno));
    return false;
  }
  sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(dns->fd, reinterpret_cast<sockaddr *>(&bound), &bound_len);
  int bound_port = ntohs(bound.ss_family == AF_INET
                             ? reinterpret_cast<sockaddr_in *>(&bound)->sin_port
                             : reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port);
  dns->address = format_address(host, bound_port);
  dns->ev = event_new(server->base, dns->fd, EV_READ | EV_PERSIST, dns_cb, dns);
  return dns->ev && event_add(dns->ev, nullptr) == 0;
}

void raise_fd_limit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void stop_cb(evutil_socket_t, short, void *arg) {
  event_base_loopexit(static_cast<event_base *>(arg), nullptr);
}

int64_t parse_int(const std::string &opt, const std::string &v, int64_t lo, int64_t hi) {
  char *end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || n < lo || n > hi)
    usage_error(opt + ": '" + v + "' is not an integer in " + std::to_string(lo) + ".." +
                std::to_string(hi));
  return n;
}

double parse_duration_option(const std::string &opt, const std::string &v) {
  double ms;
  if (!parse_duration_ms(v, &ms)) usage_error(opt + ": bad duration '" + v + "' (e.g. 100ms, 1s)");
  return ms;
}

}  // namespace

int main(int argc, char **argv) {
  std::vector<ListenSpec> specs;
  Behaviour defaults;
  std::string dns_spec;
  std::multimap<std::string, std::string> dns_records;
  uint64_t seed = 0;
  bool seeded = false;

  for (int i = 1; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "-h" || opt == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) usage_error("option " + opt + " needs a value");
    std::string v = argv[++i];
    Behaviour &b = specs.empty() ? defaults : specs.back().behaviour;
    if (opt == "--listen") {
      ListenSpec s;
      sockaddr_storage ss;
      socklen_t len;
      if (!parse_address(v, &ss, &len, &s.host, &s.port))
        usage_error("--listen: '" + v + "' is not a numeric ADDR:PORT");
      s.behaviour = defaults;
      specs.push_back(s);
    } else if (opt == "--ports") {
      if (specs.empty()) usage_error("--ports must follow a --listen");
      specs.back().count = static_cast<int>(parse_int(opt, v, 1, 60000));
    } else if (opt == "--name") {
      if (specs.empty()) usage_error("--name must follow a --listen");
      specs.back().name = v;
    } else if (opt == "--status") {
      b.status = static_cast<int>(parse_int(opt, v, 100, 999));
    } else if (opt == "--body") {
      b.body = v;
    } else if (opt == "--require-header") {
      const size_t colon = v.find(':');
      if (colon == std::string::npos) usage_error("--require-header: '" + v + "' is not 'Name: value'");
      std::string value = v.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      b.required_headers.push_back(lower(v.substr(0, colon)) + ": " + value);
    } else if (opt == "--header") {
      if (v.find(':') == std::string::npos) usage_error("--header: '" + v + "' is not 'Name: value'");
      b.headers.push_back(v);
    } else if (opt == "--latency") {
      if (!parse_latency(v, &b.latency))
        usage_error("--latency: bad spec '" + v + "' (5ms, uniform:2ms-10ms, exp:5ms)");
    } else if (opt == "--fault") {
      if (!kFaultNames.count(v)) usage_error("--fault: unknown fault '" + v + "'");
      b.fault = kFaultNames.at(v);
    } else if (opt == "--trickle-interval") {
      b.trickle_interval_ms = parse_duration_option(opt, v);
      if (b.trickle_interval_ms <= 0) usage_error("--trickle-interval must be positive");
    } else if (opt == "--huge-header-bytes") {
      b.huge_header_bytes = static_cast<size_t>(parse_int(opt, v, 1, 64 << 20));
    } else if (opt == "--head") {
      b.head_start = parse_int(opt, v, 0, INT64_MAX);
    } else if (opt == "--head-interval") {
      b.head_interval_ms = parse_duration_option(opt, v);
    } else if (opt == "--lag") {
      b.lag = parse_int(opt, v, INT64_MIN / 2, INT64_MAX / 2);
    } else if (opt == "--client-version") {
      b.client_version = v;
    } else if (opt == "--rpc") {
      size_t eq = v.find('=');
      json result = eq == std::string::npos ? json() : json::parse(v.substr(eq + 1), nullptr, false);
      if (eq == std::string::npos || result.is_discarded())
        usage_error("--rpc: '" + v + "' is not METHOD=JSON");
      b.rpc_results[v.substr(0, eq)] = result;
    } else if (opt == "--rpc-error") {
      size_t eq = v.find('='), colon = v.find(':', eq == std::string::npos ? 0 : eq);
      if (eq == std::string::npos || colon == std::string::npos)
        usage_error("--rpc-error: '" + v + "' is not METHOD=CODE:MESSAGE");
      b.rpc_errors[v.substr(0, eq)] = {static_cast<int>(parse_int(opt, v.substr(eq + 1, colon - eq - 1),
                                                                  INT32_MIN, INT32_MAX)),
                                       v.substr(colon + 1)};
    } else if (opt == "--agent-reply") {
      b.agent_reply = v;
    } else if (opt == "--tls-cert") {
      b.tls_cert = v;
    } else if (opt == "--tls-key") {
      b.tls_key = v;
    } else if (opt == "--dns") {
      dns_spec = v;
    } else if (opt == "--dns-record") {
      size_t eq = v.find('=');
      if (eq == std::string::npos) usage_error("--dns-record: '" + v + "' is not NAME=IP");
      dns_records.emplace(lower(v.substr(0, eq)), v.substr(eq + 1));
    } else if (opt == "--seed") {
      seed = static_cast<uint64_t>(parse_int(opt, v, 0, INT64_MAX));
      seeded = true;
    } else {
      usage_error("unknown option '" + opt + "'");
    }
  }
  if (specs.empty() && dns_spec.empty()) usage_error("give at least one --listen");

  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN);
  Server server;
  if (seeded) server.rng.seed(seed);
  server.base = event_base_new();
  if (!server.base) return 1;

  int index = 0;
  for (const auto &s : specs) {
    if (s.behaviour.tls_cert.empty() != s.behaviour.tls_key.empty())
      usage_error("--tls-cert and --tls-key go together");
    for (int k = 0; k < s.count; ++k, ++index) {
      auto l = std::make_unique<Listener>();
      l->server = &server;
      l->behaviour = s.behaviour;
      l->head_epoch = SteadyClock::now();
      l->name = s.name.empty() ? "listener" + std::to_string(index)
                               : (s.count > 1 ? s.name + std::to_string(k) : s.name);
      if (!l->behaviour.tls_cert.empty()) {
        l->ssl_ctx = make_server_tls(l->behaviour.tls_cert, l->behaviour.tls_key);
        if (!l->ssl_ctx) return 1;
      }
      if (s.port == 0 && s.count > 1) {
        // Many free ports: the kernel's bind(0) search slows down badly as
        // its (odd-numbered) ephemeral ports fill up, so take ports in
        // 10000..32767, below Linux's default ephemeral range, skipping
        // those in use.
        static int next_port = 10000 + static_cast<int>(server.rng() % 10000);
        bool bound = false;
        for (int attempt = 0; attempt < 22768 && !bound; ++attempt) {
          int port = next_port++;
          if (next_port > 32767) next_port = 10000;
          bound = open_listener(&server, l.get(), s.host, port, true);
          if (!bound && errno != EADDRINUSE) return 1;
        }
        if (!bound) {
          std::fprintf(stderr, "lbk-testbackend: no free port left in 10000..32767\n");
          return 1;
        }
        server.listeners.push_back(std::move(l));
        continue;
      }
      int port = s.port == 0 ? 0 : s.port + k;
      if (port > 65535) usage_error("--ports: range passes port 65535");
      if (!open_listener(&server, l.get(), s.host, port)) return 1;
      server.listeners.push_back(std::move(l));
    }
  }
  auto dns = std::make_unique<DnsResponder>();
  dns->records = dns_records;
  if (!dns_spec.empty() && !open_dns(&server, dns.get(), dns_spec)) return 1;

  std::string out;
  for (const auto &l : server.listeners) {
    out += "listening " + l->address + " name=" + l->name;
    if (l->ssl_ctx) out += " tls";
    if (l->behaviour.fault != Fault::kNone) out += " fault=" + fault_name(l->behaviour.fault);
    out += "\n";
  }
  if (!dns->address.empty()) out += "dns " + dns->address + "\n";
  out += "ready\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);

  event *sigterm = evsignal_new(server.base, SIGTERM, stop_cb, server.base);
  event *sigint = evsignal_new(server.base, SIGINT, stop_cb, server.base);
  evsignal_add(sigterm, nullptr);
  evsignal_add(sigint, nullptr);
  event_base_dispatch(server.base);
  event_free(sigterm);
  event_free(sigint);
  while (!server.conns.empty()) delete *server.conns.begin();
  server.listeners.clear();
  dns.reset();
  event_base_free(server.base);
  return 0;
}
