// cli/cmd_agent.cc - `lbctl agent`: a HAProxy agent-check responder.
//
//   lbctl agent -c FILE [--listen ADDR:PORT] [--state FILE]
//               [--max-connections N] [--connection-timeout DURATION]
//
// One listener answers for every server of every pool of the configuration.
// HAProxy names the server it asks about with agent-send; configure each
// server as
//
//   server a 10.0.0.1:8545 weight 100 agent-check agent-addr 127.0.0.1
//          agent-port 5555 agent-inter 2s agent-send "POOL/SERVER\n"
//
// where POOL is the [pool NAME] and SERVER the server's name= (or its URL) in
// the lbctl configuration, or its URL's HOST:PORT ("10.0.0.1:8545",
// "[fd00::1]:8545"; the nginx module's `lbkit_check type=agent` sends the
// server's host:port as written in nginx.conf).  The agent reads one line (up to '\n', at most
// 512 bytes; a bare SERVER is accepted when one pool has it), answers one
// line and closes.  Answers (haproxy_verdict.h has the mapping):
//   "ready up 73% #lbkit: score ..."   healthy; weight = ranking score
//   "drain #lbkit: ..."                 JSON-RPC head lags by more than max_lag
//   "down #lbkit: ..."                  failing its checks (rise/fall)
//   "maint #lbkit: ..."                 marked `disabled` in the configuration
//   "#lbkit: ..."                       unknown server, no verdict yet, no line
//                                       received, or a stale state file: a
//                                       comment alone changes nothing in 2.6
// Verdicts come from the agent's own probes (every node at its pool's
// interval, fastinter or downinter, however many HAProxy instances poll) or, with --state, from
// the canary's state file (re-read when it changes; older than 3 intervals
// or 10 s is stale).  Unknown names are logged on stderr (once a minute per name).
// Because the agent answers "ready", it owns the administrative state of the
// servers it answers for: to hold one in maintenance, mark it `disabled` in
// the configuration (the agent answers "maint"), or first
// `disable agent BACKEND/SERVER`.
// Connections: each has --connection-timeout from accept to its answer (bytes
// do not extend it), then as long again to take the answer.  At most
// --max-connections are open, lowered to fit the descriptor limit
// (RLIMIT_NOFILE); at the bound, a new connection replaces the oldest one
// still waiting for its line, so a poller that sends its line at once is
// answered however many idle or slow connections are held open.  When accept
// fails (descriptors exhausted) the listener pauses, 50 ms doubling to 1 s,
// with one log line per episode.  Requested names are logged escaped.
// Prints "listening ADDR:PORT" on stdout once bound (port 0 = any free), then
// "metrics listening ADDR:PORT" with --metrics-listen (metrics.h).
// Exit codes: 0 stopped by SIGINT/SIGTERM, 2 usage or config error, 4 cannot
// listen.
#include <CLI/CLI.hpp>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <list>
#include <map>
#include <memory>

#include "commands.h"
#include "config.h"
#include "discovery.h"
#include "haproxy/haproxy_commands.h"
#include "haproxy/haproxy_verdict.h"
#include "output.h"
#include "listen_address.h"
#include "metrics.h"
#include "probe_round.h"
#include "probe_session.h"
#include "state_file.h"

namespace lbctl {
namespace {

constexpr size_t kMaxRequestLine = 512;
// Descriptors kept free of connections: stdio, the listener, libevent's own,
// the state file, name resolution; probe sockets are added per node.
constexpr rlim_t kReservedDescriptors = 32;
// Pauses of the listener after a failed accept.
constexpr int kAcceptPauseFirstMs = 50, kAcceptPauseMaxMs = 1000;

struct AgentOptions {
  std::string config_path, listen, state_path, metrics_listen;
  unsigned max_connections = 1024;
  std::string connection_timeout = "2s";
};

class Agent {
 public:
  explicit Agent(const AgentOptions &opts) : opts_(opts) {}
  ~Agent() {
    while (!waiting_.empty()) close_connection(waiting_.front());
    for (event *e : {round_timer_, sigint_, sigterm_, accept_pause_})
      if (e) event_free(e);
    if (listener_) evconnlistener_free(listener_);
    metrics_.stop();
    runner_.reset();
    if (base_) event_base_free(base_);
  }

  int run() {
    std::vector<ConfigError> errors;
    if (!load_config(opts_.config_path, config_, errors)) {
      for (const ConfigError &e : errors) std::fprintf(stderr, "%s\n", e.text().c_str());
      return kExitUsage;
    }
    if (!parse_duration_ms(opts_.connection_timeout, conn_timeout_ms_) || !conn_timeout_ms_) {
      std::fprintf(stderr, "lbctl agent: --connection-timeout: %s\n",
                   duration_problem(opts_.connection_timeout).c_str());
      return kExitUsage;
    }
    std::string error;
    if (opts_.state_path.empty() && !session_.init(config_, error)) {
      std::fprintf(stderr, "lbctl agent: %s\n", error.c_str());
      return kExitUsage;
    }
    if (!fit_connections_to_descriptors()) return kExitUsage;
    base_ = event_base_new();
    if (!base_) {
      std::fprintf(stderr, "lbctl agent: cannot create the event loop\n");
      return kExitRuntime;
    }
    const std::string listen = opts_.listen.empty() ? config_.global.listen : opts_.listen;
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (!parse_listen_address(listen, ss, len)) {
      std::fprintf(stderr, "lbctl agent: --listen: expected ADDR:PORT (numeric, [v6]:port), "
                           "got '%s'\n", listen.c_str());
      return kExitUsage;
    }
    listener_ = evconnlistener_new_bind(base_, &Agent::on_accept, this,
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                            LEV_OPT_CLOSE_ON_EXEC,
                                        128, reinterpret_cast<sockaddr *>(&ss),
                                        static_cast<int>(len));
    if (!listener_) {
      std::fprintf(stderr, "lbctl agent: cannot listen on %s: %s\n", listen.c_str(),
                   std::strerror(errno));
      return kExitRuntime;
    }
    evconnlistener_set_error_cb(listener_, &Agent::on_accept_error);
    accept_pause_ = evtimer_new(base_, &Agent::on_accept_pause_end, this);
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(listener_), reinterpret_cast<sockaddr *>(&bound), &blen);
    std::printf("listening %s\n", sockaddr_text(reinterpret_cast<sockaddr *>(&bound)).c_str());
    if (!opts_.metrics_listen.empty()) {
      const auto render = [this]() {
        if (!opts_.state_path.empty()) reload_state_if_changed();
        return render_metrics(state_, opts_.state_path.empty() ? &session_ : nullptr, "agent", unix_now_ms());
      };
      if (!metrics_.start(base_, opts_.metrics_listen, render, error)) {
        std::fprintf(stderr, "lbctl agent: %s\n", error.c_str());
        return kExitRuntime;
      }
      std::printf("metrics listening %s\n", metrics_.bound().c_str());
    }
    std::fflush(stdout);

    std::signal(SIGPIPE, SIG_IGN);
    sigint_ = evsignal_new(base_, SIGINT, &Agent::on_signal, this);
    sigterm_ = evsignal_new(base_, SIGTERM, &Agent::on_signal, this);
    event_add(sigint_, nullptr);
    event_add(sigterm_, nullptr);
    if (opts_.state_path.empty()) {
      runner_.reset(new RoundRunner(base_, session_.probe_options()));
      schedule_.reset(new RoundSchedule(session_.nodes().size()));
      round_timer_ = evtimer_new(base_, &Agent::on_round_timer, this);
      // Until the first round ends every node reads "no verdict yet"
      // (never checked), except disabled ones, known at once (maint).
      state_ = session_.snapshot(0);
      have_state_ = true;
      start_round();
    } else {
      reload_state_if_changed();
    }
    event_base_dispatch(base_);
    std::fprintf(stderr, "lbctl agent: stopped\n");
    return kExitOk;
  }

 private:
  struct Connection {
    Agent *agent;
    bufferevent *bev;
    std::string peer;
    bool answered = false;
    event *deadline = nullptr;
    // Its place in waiting_ until it is answered.
    std::list<Connection *>::iterator waiting;
  };

  // The connection bound, lowered below the descriptor limit; false (with a
  // message) when the limit leaves no room for a connection.
  bool fit_connections_to_descriptors() {
    max_connections_ = opts_.max_connections;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return true;
    const rlim_t reserved = kReservedDescriptors + 2 * session_.nodes().size();
    if (rl.rlim_cur <= reserved) {
      std::fprintf(stderr, "lbctl agent: the descriptor limit (%llu, ulimit -n) leaves no room "
                           "for connections; %llu are needed besides them\n",
                   static_cast<unsigned long long>(rl.rlim_cur),
                   static_cast<unsigned long long>(reserved));
      return false;
    }
    const rlim_t room = rl.rlim_cur - reserved;
    if (room < max_connections_) {
      max_connections_ = static_cast<unsigned>(room);
      std::fprintf(stderr, "lbctl agent: at most %u connections (descriptor limit %llu, "
                           "ulimit -n)\n",
                   max_connections_, static_cast<unsigned long long>(rl.rlim_cur));
    }
    return true;
  }
  // ---- probing --------------------------------------------------------
  void start_round() {
    in_round_ = schedule_->begin(std::chrono::steady_clock::now());
    const bool identity = session_.identity_due();  // chain id and version too
    runner_->start(session_.targets(identity, in_round_), [this, identity](std::vector<lbk::probe::Result> results) {
      session_.absorb(results, identity, in_round_);
      const timeval tv = schedule_->finish(std::chrono::steady_clock::now(),
                                           [this](size_t i) { return session_.next_check_ms(i); });
      state_ = session_.snapshot(schedule_->period_ms());
      have_state_ = true;
      evtimer_add(round_timer_, &tv);
    });
  }
  static void on_round_timer(evutil_socket_t, short, void *arg) {
    static_cast<Agent *>(arg)->start_round();
  }

  // ---- state file -----------------------------------------------------
  void reload_state_if_changed() {
    struct stat st {};
    if (::stat(opts_.state_path.c_str(), &st) != 0) {
      if (!state_missing_logged_)
        std::fprintf(stderr, "lbctl agent: %s: %s; answering without changes until it exists\n",
                     opts_.state_path.c_str(), std::strerror(errno));
      state_missing_logged_ = true;
      have_state_ = false;
      state_seen_ = false;
      return;
    }
    state_missing_logged_ = false;
    // Read (and a bad file logged) once per change of the file, not per
    // request.  read_state_file() does not block on a FIFO and is bounded.
    if (state_seen_ && st.st_ino == state_ino_ && st.st_mtim.tv_sec == state_mtime_.tv_sec &&
        st.st_mtim.tv_nsec == state_mtime_.tv_nsec && st.st_size == state_size_)
      return;
    state_seen_ = true;
    state_ino_ = st.st_ino;
    state_mtime_ = st.st_mtim;
    state_size_ = st.st_size;
    State fresh;
    std::string error;
    if (!read_state_file(opts_.state_path, fresh, error)) {
      std::fprintf(stderr, "lbctl agent: %s (keeping the previous state until the file "
                           "changes)\n",
                   log_escape(error).c_str());
      return;
    }
    state_ = std::move(fresh);
    have_state_ = true;
  }

  // The state is too old to act on (the canary stopped).
  bool state_stale(std::string &why) const {
    if (opts_.state_path.empty()) return false;
    const int64_t limit = std::max<int64_t>(3 * int64_t(state_.interval_ms), 10000);
    const int64_t age = unix_now_ms() - state_.generated_unix_ms;
    if (age <= limit) return false;
    why = "state file " + opts_.state_path + " is stale (" + std::to_string(age / 1000) +
          " s old); no change";
    return true;
  }

  // ---- answering --------------------------------------------------------
  std::string answer(const std::string &request, const std::string &peer) {
    if (!opts_.state_path.empty()) reload_state_if_changed();
    const AgentRequest asked = parse_agent_request(request);
    const std::string &name = asked.name;
    if (name.empty())
      return agent_comment_line("no server name received: set agent-send \"POOL/SERVER\\n\"");
    if (!have_state_) return agent_comment_line("no verdict yet (first probes running)");
    std::string why;
    if (state_stale(why)) {
      // Logged once a minute, not per request.
      const auto now = std::chrono::steady_clock::now();
      if (now - stale_logged_ > std::chrono::minutes(1)) {
        std::fprintf(stderr, "lbctl agent: %s\n", log_escape(why).c_str());
        stale_logged_ = now;
      }
      return agent_comment_line(why);
    }
    const PoolState *found_pool = nullptr;
    int matches = 0;
    const NodeState *found = find_agent_node(state_, asked, &found_pool, &matches);
    if (matches != 1) {
      const std::string what = matches == 0 ? "unknown server" : "ambiguous server (name the pool)";
      const std::string logged_name = log_escape(name);
      // Logged once a minute per name: HAProxy asks every agent-inter.
      const auto now = std::chrono::steady_clock::now();
      auto logged = unknown_logged_.find(name);
      if (logged == unknown_logged_.end() || now - logged->second > std::chrono::minutes(1)) {
        std::fprintf(stderr, "lbctl agent: %s '%s' asked by %s; answered without a change\n",
                     what.c_str(), logged_name.c_str(), peer.c_str());
        if (unknown_logged_.size() > 10000) unknown_logged_.clear();  // bounded
        unknown_logged_[name] = now;
      }
      return agent_comment_line(what + " '" + logged_name + "'");
    }
    return agent_reply_line(haproxy_verdict(*found, *found_pool, false));
  }

  static void on_accept(evconnlistener *, evutil_socket_t fd, sockaddr *sa, int, void *arg) {
    auto *self = static_cast<Agent *>(arg);
    self->accept_pause_ms_ = 0;  // accepting works (again)
    if (self->connections_ >= self->max_connections_) {
      if (self->waiting_.empty()) {
        // Every connection is being answered: refuse at once; HAProxy treats
        // a failed agent connection as "no information".
        evutil_closesocket(fd);
        return;
      }
      // The oldest connection still waiting for its line makes room: idle
      // and slow connections cannot keep a poller out.
      const auto now = std::chrono::steady_clock::now();
      ++self->evicted_;
      if (now - self->evicted_logged_ > std::chrono::minutes(1)) {
        std::fprintf(stderr, "lbctl agent: %u connections open; closing the oldest waiting for "
                             "its line to accept a new one (%llu so far)\n",
                     self->connections_, static_cast<unsigned long long>(self->evicted_));
        self->evicted_logged_ = now;
      }
      close_connection(self->waiting_.front());
    }
    bufferevent *bev = bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
      evutil_closesocket(fd);
      return;
    }
    auto *c = new Connection{self, bev, sockaddr_text(sa), false, nullptr, {}};
    c->deadline = evtimer_new(self->base_, &Agent::on_deadline, c);
    if (!c->deadline) {
      bufferevent_free(bev);
      delete c;
      return;
    }
    ++self->connections_;
    c->waiting = self->waiting_.insert(self->waiting_.end(), c);
    self->arm_deadline(c);
    bufferevent_setcb(bev, &Agent::on_read, &Agent::on_written, &Agent::on_event, c);
    bufferevent_enable(bev, EV_READ);
  }

  // Accept failed (EMFILE, ENFILE, ENOBUFS, ...): the pending connection
  // stays queued, so accepting again at once would spin.  Pause instead.
  static void on_accept_error(evconnlistener *listener, void *arg) {
    auto *self = static_cast<Agent *>(arg);
    const int err = EVUTIL_SOCKET_ERROR();
    if (self->accept_pause_ms_ == 0)
      std::fprintf(stderr, "lbctl agent: cannot accept a connection: %s; pausing accepts "
                           "(said once until accepting works again)\n",
                   evutil_socket_error_to_string(err));
    self->accept_pause_ms_ = self->accept_pause_ms_ == 0
                                 ? kAcceptPauseFirstMs
                                 : std::min(2 * self->accept_pause_ms_, kAcceptPauseMaxMs);
    evconnlistener_disable(listener);
    const timeval tv{0, static_cast<suseconds_t>(self->accept_pause_ms_) * 1000};
    evtimer_add(self->accept_pause_, &tv);
  }

  static void on_accept_pause_end(evutil_socket_t, short, void *arg) {
    auto *self = static_cast<Agent *>(arg);
    evconnlistener_enable(self->listener_);
  }

  void arm_deadline(Connection *c) {
    const timeval tv{static_cast<time_t>(conn_timeout_ms_ / 1000),
                     static_cast<suseconds_t>((conn_timeout_ms_ % 1000) * 1000)};
    evtimer_add(c->deadline, &tv);
  }

  // The connection's time is up: answer what it sent (possibly nothing) and
  // give it as long again to take the answer; after that, close it.
  static void on_deadline(evutil_socket_t, short, void *arg) {
    auto *c = static_cast<Connection *>(arg);
    if (c->answered) {
      close_connection(c);
      return;
    }
    answer_partial(c, false);
    if (c->answered) c->agent->arm_deadline(c);
  }

  // Answers the bytes received without a newline; a peer that closed
  // without sending anything asked nothing and is closed.
  static void answer_partial(Connection *c, bool peer_closed) {
    evbuffer *in = bufferevent_get_input(c->bev);
    std::string request(evbuffer_get_length(in), '\0');
    evbuffer_remove(in, &request[0], request.size());
    if (peer_closed && request.empty()) {
      close_connection(c);
      return;
    }
    reply(c, c->agent->answer(request, c->peer));
  }

  static void close_connection(Connection *c) {
    Agent *self = c->agent;
    --self->connections_;
    if (!c->answered) self->waiting_.erase(c->waiting);
    event_free(c->deadline);
    bufferevent_free(c->bev);
    delete c;
  }

  static void reply(Connection *c, const std::string &line) {
    c->answered = true;
    c->agent->waiting_.erase(c->waiting);
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_enable(c->bev, EV_WRITE);
    bufferevent_write(c->bev, line.data(), line.size());
  }

  static void on_read(bufferevent *bev, void *arg) {
    auto *c = static_cast<Connection *>(arg);
    if (c->answered) return;
    evbuffer *in = bufferevent_get_input(bev);
    size_t len = 0;
    char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
    if (line) {
      const std::string request(line, len);
      std::free(line);
      if (len > kMaxRequestLine) {
        reply(c, agent_comment_line("request line longer than 512 bytes"));
        return;
      }
      reply(c, c->agent->answer(request, c->peer));
      return;
    }
    if (evbuffer_get_length(in) > kMaxRequestLine)
      reply(c, agent_comment_line("request line longer than 512 bytes"));
  }

  static void on_written(bufferevent *bev, void *arg) {
    auto *c = static_cast<Connection *>(arg);
    if (c->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0) close_connection(c);
  }

  static void on_event(bufferevent *, short what, void *arg) {
    auto *c = static_cast<Connection *>(arg);
    if (!c->answered && (what & BEV_EVENT_EOF) && !(what & BEV_EVENT_WRITING)) {
      // The peer sent no newline: answer what it sent (possibly nothing).
      answer_partial(c, true);
      return;
    }
    close_connection(c);
  }

  static void on_signal(evutil_socket_t, short, void *arg) {
    event_base_loopbreak(static_cast<Agent *>(arg)->base_);
  }

  AgentOptions opts_;
  Config config_;
  uint32_t conn_timeout_ms_ = 2000;
  std::unique_ptr<RoundSchedule> schedule_;
  std::vector<bool> in_round_;
  event_base *base_ = nullptr;
  evconnlistener *listener_ = nullptr;
  event *round_timer_ = nullptr, *sigint_ = nullptr, *sigterm_ = nullptr;
  ProbeSession session_;
  MetricsServer metrics_;
  std::unique_ptr<RoundRunner> runner_;
  State state_;
  bool have_state_ = false;
  bool state_missing_logged_ = false;
  bool state_seen_ = false;  // state_ino_, state_mtime_, state_size_ describe the last read
  ino_t state_ino_ = 0;
  timespec state_mtime_{};
  off_t state_size_ = 0;
  unsigned connections_ = 0;
  unsigned max_connections_ = 0;  // --max-connections, within the descriptor limit
  // Connections not answered yet, oldest first.
  std::list<Connection *> waiting_;
  uint64_t evicted_ = 0;
  std::chrono::steady_clock::time_point evicted_logged_{}, stale_logged_{};
  event *accept_pause_ = nullptr;
  int accept_pause_ms_ = 0;  // 0 = accepting
  std::map<std::string, std::chrono::steady_clock::time_point> unknown_logged_;
};

}  // namespace

void register_agent(CLI::App &app, int &exit_code) {
  auto opts = std::make_shared<AgentOptions>();
  CLI::App *cmd = app.add_subcommand(
      "agent", "HAProxy agent-check responder: one listener answers for every server of the "
               "configured pools (agent-send \"POOL/SERVER\\n\")");
  cmd->add_option("-c,--config", opts->config_path, "lbctl INI configuration")->required();
  cmd->add_option("--listen", opts->listen,
                  "ADDR:PORT to listen on (default: [lbctl] listen, 127.0.0.1:5555)");
  cmd->add_option("--state", opts->state_path,
                  "answer from the canary's state file (lbctl watch) instead of probing");
  cmd->add_option("--metrics-listen", opts->metrics_listen,
                  "serve Prometheus metrics on http://ADDR:PORT/metrics (PORT alone: 127.0.0.1)");
  cmd->add_option("--max-connections", opts->max_connections,
                  "connections open at once, lowered to fit the descriptor limit; at the bound "
                  "a new one replaces the oldest still waiting for its line (default 1024)")
      ->check(CLI::Range(1u, 1000000u));
  cmd->add_option("--connection-timeout", opts->connection_timeout,
                  "time from accept to the answer, not extended by bytes received; as long "
                  "again to take the answer (default 2s)");
  cmd->footer("Exit codes: 0 stopped by SIGINT/SIGTERM, 2 usage/config error, 4 cannot "
              "listen (agent or metrics address).");
  cmd->callback([opts, &exit_code]() {
    Agent agent(*opts);
    exit_code = agent.run();
  });
}

}  // namespace lbctl
