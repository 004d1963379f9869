#include "metrics.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>


#include "lbkit.h"
#include "listen_address.h"
#include "output.h"

namespace lbctl {

namespace {

// One metric family: HELP, TYPE and its samples, written together.
struct Family {
  const char *name, *type, *help;
  std::string samples;
};

class Exposition {
 public:
  // Registers the families in the order they are printed.
  Family &family(const char *name, const char *type, const char *help) {
    families_.push_back(Family{name, type, help, {}});
    return families_.back();
  }
  std::string text() const {
    std::string out;
    for (const Family &f : families_) {
      out += std::string("# HELP ") + f.name + " " + f.help + "\n";
      out += std::string("# TYPE ") + f.name + " " + f.type + "\n";
      out += f.samples;
    }
    return out;
  }

 private:
  std::deque<Family> families_;  // stable references as families are added
};

// `name{labels} value`: whole numbers as integers, others in their
// shortest round-trip digits.
void sample(Family &f, const std::string &labels, double value) {
  f.samples += f.name;
  if (!labels.empty()) f.samples += "{" + labels + "}";
  f.samples += ' ';
  if (std::fabs(value) < 9007199254740992.0 && value == std::floor(value))
    json_append_int(f.samples, static_cast<long long>(value));
  else
    json_append_double(f.samples, value);
  f.samples += '\n';
}

}  // namespace

std::string render_metrics(const State &state, const ProbeSession *session,
                           const std::string &command, int64_t now_unix_ms) {
  // The last probe of each node, when this process probes: by pool and the
  // URL as the state shows it (masked, as NodeState::url).
  std::map<std::string, const NodeRun *> runs;
  if (session)
    for (const NodeRun &n : session->nodes())
      if (n.has_result)
        runs[session->config().pools[n.pool_index].name + "\n" +
             (n.server.shown_url.empty() ? n.server.url : n.server.shown_url)] = &n;

  Exposition x;
  Family &build = x.family("lbctl_build_info", "gauge",
                           "lbctl's version and the subcommand serving these metrics (always 1).");
  Family &rounds = x.family("lbctl_rounds_total", "counter", "Probe rounds done since start.");
  Family &generated = x.family("lbctl_state_timestamp_seconds", "gauge",
                               "Unix time the node state was last computed (or the state file written).");
  Family &up = x.family("lbctl_node_up", "gauge", "1 when rise/fall health is up, else 0.");
  Family &disabled = x.family("lbctl_node_disabled", "gauge",
                              "1 when the configuration disables the node (never probed).");
  Family &success = x.family("probe_success", "gauge", "1 if the last probe passed, else 0.");
  Family &duration = x.family("probe_duration_seconds", "gauge", "Duration of the last probe.");
  Family &phases = x.family("probe_http_duration_seconds", "gauge",
                            "Duration of each phase of the last probe (resolve, connect, tls, "
                            "processing); 0 when not reached or not applicable.");
  Family &status = x.family("probe_http_status_code", "gauge",
                            "HTTP status of the last probe (0: none).");
  Family &tls_version = x.family("probe_tls_version_info", "gauge",
                                 "TLS version of the last probe (label version; always 1).");
  Family &expiry = x.family("probe_ssl_earliest_cert_expiry", "gauge",
                            "Unix time of the earliest notAfter of the certificates the node sent.");
  Family &expires_in = x.family("lbctl_node_cert_expiry_seconds", "gauge",
                                "Seconds until the earliest notAfter of the node's certificates "
                                "(negative once expired).");
  Family &head = x.family("lbctl_node_jsonrpc_head", "gauge",
                          "Numeric field of the last JSON-RPC answer (the head block).");
  Family &lag = x.family("lbctl_node_jsonrpc_lag", "gauge",
                         "Best healthy head of the pool minus this node's.");
  Family &checks = x.family("lbctl_node_checks_total", "counter",
                            "Probes of the node by result (success, failure).");
  Family &score = x.family("lbctl_node_score", "gauge", "Ranking score (0: unusable).");
  Family &last_check = x.family("lbctl_node_last_check_timestamp_seconds", "gauge",
                                "Unix time of the node's last probe.");
  Family &last_change = x.family("lbctl_node_last_state_change_timestamp_seconds", "gauge",
                                 "Unix time of the node's last health change.");

  sample(build, "version=\"" + prom_label(lbk_version()) + "\",command=\"" + prom_label(command) + "\"",
         1);
  sample(rounds, "", static_cast<double>(state.round));
  sample(generated, "", state.generated_unix_ms / 1000.0);

  for (const PoolState &p : state.pools)
    for (const NodeState &n : p.nodes) {
      const std::string labels = "pool=\"" + prom_label(p.name) + "\",node=\"" + prom_label(n.name) +
                                 "\",url=\"" + prom_label(n.url) + "\"";
      sample(up, labels, n.health == "up" ? 1 : 0);
      sample(disabled, labels, n.disabled ? 1 : 0);
      if (n.disabled) continue;
      sample(checks, labels + ",result=\"success\"", static_cast<double>(n.checks - n.checks_failed));
      sample(checks, labels + ",result=\"failure\"", static_cast<double>(n.checks_failed));
      sample(score, labels, n.score);
      if (n.last_change_unix_ms > 0) sample(last_change, labels, n.last_change_unix_ms / 1000.0);
      if (n.last_check_unix_ms == 0) continue;  // never probed yet
      sample(last_check, labels, n.last_check_unix_ms / 1000.0);
      sample(success, labels, n.healthy ? 1 : 0);
      sample(status, labels, n.http_status);
      if (n.has_head) {
        sample(head, labels, static_cast<double>(n.head));
        sample(lag, labels, static_cast<double>(n.lag));
      }
      auto run = runs.find(p.name + "\n" + n.url);
      if (run == runs.end()) {
        if (n.last_ms >= 0) sample(duration, labels, n.last_ms / 1000.0);
        continue;
      }
      const lbk::probe::Result &r = run->second->last;
      const lbk::probe::Timings &t = r.timings;
      sample(duration, labels, t.total_ms / 1000.0);
      const std::pair<const char *, double> phase_ms[] = {
          {"resolve", t.dns_ms}, {"connect", t.connect_ms}, {"tls", t.tls_ms},
          {"processing", t.first_byte_ms}};
      for (const auto &ph : phase_ms)
        sample(phases, labels + ",phase=\"" + ph.first + "\"", ph.second > 0 ? ph.second / 1000.0 : 0);
      if (!r.tls_version.empty())
        sample(tls_version, labels + ",version=\"" + prom_label(r.tls_version) + "\"", 1);
      if (r.tls_earliest_expiry_unix > 0) {
        sample(expiry, labels, static_cast<double>(r.tls_earliest_expiry_unix));
        sample(expires_in, labels, r.tls_earliest_expiry_unix - now_unix_ms / 1000.0);
      }
    }
  return x.text();
}

std::string metrics_listen_address(const std::string &text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) return "127.0.0.1:" + text;
  return text;
}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::stop() {
  if (http_) evhttp_free(http_);  // frees its bound listener too
  http_ = nullptr;
}

bool MetricsServer::start(event_base *base, const std::string &listen, std::function<std::string()> render,
                          std::string &error) {
  const std::string address = metrics_listen_address(listen);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!parse_listen_address(address, ss, len)) {
    error = "--metrics-listen: expected ADDR:PORT (numeric, [v6]:port) or PORT, got '" + listen + "'";
    return false;
  }
  evconnlistener *listener =
      evconnlistener_new_bind(base, nullptr, nullptr, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
                              reinterpret_cast<sockaddr *>(&ss), static_cast<int>(len));
  if (!listener) {
    error = "--metrics-listen: cannot listen on " + address + ": " + std::strerror(errno);
    return false;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(evconnlistener_get_fd(listener), reinterpret_cast<sockaddr *>(&bound), &blen);
  bound_ = sockaddr_text(reinterpret_cast<sockaddr *>(&bound));
  http_ = evhttp_new(base);
  if (!http_ || !evhttp_bind_listener(http_, listener)) {
    evconnlistener_free(listener);
    error = "--metrics-listen: cannot serve HTTP on " + bound_;
    return false;
  }
  // A scrape is one small GET: bound what a client may send, and how long
  // it may take.
  // (other methods reach on_request, which answers 405; libevent would say
  // 501 for the ones it is not allowed to parse)
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
  evhttp_set_max_headers_size(http_, 8192);
  evhttp_set_max_body_size(http_, 4096);
  evhttp_set_timeout(http_, 10);
  render_ = std::move(render);
  evhttp_set_gencb(http_, &MetricsServer::on_request, this);
  // created without a callback, the listener starts disabled
  evconnlistener_enable(listener);
  return true;
}

void MetricsServer::on_request(evhttp_request *req, void *arg) {
  auto *self = static_cast<MetricsServer *>(arg);
  const evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *path = uri ? evhttp_uri_get_path(uri) : nullptr;
  if (!path || std::strcmp(path, "/metrics") != 0) {
    evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is served here");
    return;
  }
  const evhttp_cmd_type method = evhttp_request_get_command(req);
  if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
    evhttp_send_error(req, 405, "only GET and HEAD");
    return;
  }
  const std::string body = self->render_();
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                    "text/plain; version=0.0.4; charset=utf-8");
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  evhttp_send_reply(req, HTTP_OK, "OK", nullptr);
}

}  // namespace lbctl
