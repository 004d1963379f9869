// cli/metrics.h - lbctl as a Prometheus exporter: `--metrics-listen
// ADDR:PORT` on watch and agent serves GET /metrics (text format 0.0.4)
// from the command's own event loop.
//
// Per node (labels pool, node, url): health, the last probe (success, duration,
// phases, HTTP status; blackbox_exporter's names where the meaning is the
// same), TLS certificate expiry for https nodes, JSON-RPC head and lag,
// checks by result, score, and the process's build info.  man lbctl(1)
// lists every metric.
#pragma once

#include <functional>
#include <string>

#include "probe_session.h"
#include "state_file.h"

struct event_base;
struct evhttp;
struct evhttp_request;

namespace lbctl {

// The exposition of @p state at @p now_unix_ms.  With @p session (the
// command probes itself), the last probe of each node adds its phases,
// HTTP status and TLS details; without (agent --state), the state file's
// fields only.  @p command names the subcommand in lbctl_build_info.
std::string render_metrics(const State &state, const ProbeSession *session,
                           const std::string &command, int64_t now_unix_ms);

// "9464" alone means 127.0.0.1:9464: loopback unless an address is given.
std::string metrics_listen_address(const std::string &text);

class MetricsServer {
 public:
  MetricsServer() = default;
  ~MetricsServer();
  MetricsServer(const MetricsServer &) = delete;
  MetricsServer &operator=(const MetricsServer &) = delete;

  // Listens on @p listen (see metrics_listen_address) on @p base and
  // answers GET/HEAD /metrics with @p render(); other paths 404.  False
  // with @p error ("--metrics-listen: ...") when the address is bad or
  // cannot be bound.  bound() is then the address bound (port 0 = any).
  bool start(event_base *base, const std::string &listen, std::function<std::string()> render,
             std::string &error);
  const std::string &bound() const { return bound_; }
  // Closes the listener and its connections; before the event base is
  // freed (the destructor does it too).
  void stop();

 private:
  static void on_request(evhttp_request *req, void *arg);
  evhttp *http_ = nullptr;
  std::function<std::string()> render_;
  std::string bound_;
};

}  // namespace lbctl
