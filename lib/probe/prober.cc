// The prober: drives liblbkit's check judge over libevent sockets.
//
// One probe goes through the phases dns -> connect -> tls -> reply, each
// timed on its own (steady clock), under one timer for the whole probe.
// Finished probes are handed to a "pump" event that runs callbacks and
// starts queued probes, so callbacks always run from the loop and may
// start new probes freely.  Plain HTTP drives its socket directly (send,
// recv, one event); TLS goes through a libevent OpenSSL bufferevent.
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
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>

#include "lbkit/probe.h"
#include "tls_client.h"

namespace lbk {
namespace probe {

namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

double ms_between(TimePoint from, TimePoint to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string sockaddr_text(const sockaddr_storage &ss) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    auto *a = reinterpret_cast<const sockaddr_in *>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
  }
  auto *a = reinterpret_cast<const sockaddr_in6 *>(&ss);
  inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
  return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
}

lbk_check_result failed_result(int outcome, const std::string &detail) {
  lbk_check_result r{};
  r.version = LBK_CHECK_RESULT_VERSION;
  lbk_check_result_fail(&r, outcome, detail.c_str());
  return r;
}

// The outcome of a non-blocking connect() on @p fd: 0 or an errno value.
int pending_socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  return err;
}

enum class Phase { kQueued, kDns, kConnect, kTls, kReply, kDone };

const char *phase_name(Phase p) {
  switch (p) {
    case Phase::kQueued: return "queued";
    case Phase::kDns: return "dns";
    case Phase::kConnect: return "connect";
    case Phase::kTls: return "tls";
    case Phase::kReply: return "reply";
    case Phase::kDone: return "done";
  }
  return "?";
}

}  // namespace

struct Probe {
  void *owner = nullptr;  // the Prober::Impl running it
  Target target;
  Prober::Callback done;
  Url url;
  bool use_tls = false;
  lbk_check *owned_check = nullptr;  // the default check when none was given
  const lbk_check *check = nullptr;
  lbk_check_reply *reply = nullptr;
  std::string request;

  Phase phase = Phase::kQueued;
  event *timeout_ev = nullptr;
  event *connect_ev = nullptr;   // TLS and tcp checks: connect() in progress
  event *io_ev = nullptr;        // plain HTTP: the socket's one event
  size_t request_sent = 0;       // plain HTTP: request bytes written
  evdns_getaddrinfo_request *dns_req = nullptr;
  int fd = -1;                   // owned until handed to bev
  bufferevent *bev = nullptr;
  SSL *ssl = nullptr;            // owned by bev once it exists
  std::vector<sockaddr_storage> addresses;
  size_t address_index = 0;
  std::string last_connect_error;
  size_t bytes_received = 0;

  TimePoint t_start, t_dns, t_connect, t_tls, t_request_sent, t_first_byte, t_end;
  bool dns_done = false, connected = false, tls_done = false, got_first_byte = false;

  Result result;

  // Frees every resource except the Probe itself; no callback runs.
  void release() {
    if (dns_req) {
      evdns_getaddrinfo_request *req = dns_req;
      dns_req = nullptr;
      evdns_getaddrinfo_cancel(req);  // calls dns_cb with EVUTIL_EAI_CANCEL
    }
    if (timeout_ev) event_free(timeout_ev), timeout_ev = nullptr;
    if (connect_ev) event_free(connect_ev), connect_ev = nullptr;
    if (io_ev) event_free(io_ev), io_ev = nullptr;
    if (bev) {
      bufferevent_free(bev);  // closes fd and frees ssl
      bev = nullptr;
      ssl = nullptr;
      fd = -1;
    }
    if (ssl) SSL_free(ssl), ssl = nullptr;
    if (fd >= 0) close(fd), fd = -1;
    if (reply) lbk_check_reply_free(reply), reply = nullptr;
    if (owned_check) lbk_check_free(owned_check), owned_check = nullptr;
  }
  ~Probe() { release(); }
};

struct Prober::Impl {
  event_base *base;
  Options opts;
  evdns_base *dns = nullptr;
  TlsContexts tls;
  event *pump_ev = nullptr;
  std::deque<std::unique_ptr<Probe>> queued;
  std::unordered_map<Probe *, std::unique_ptr<Probe>> active;
  std::vector<std::unique_ptr<Probe>> finished;  // callbacks not yet run
  bool launching = false;                  // pump_cb is starting queued probes
  std::vector<Probe *> sent_unwatched;     // request out during launching, no event yet
  std::map<uint32_t, const timeval *> common_timeouts;  // by timeout_ms
  std::deque<timeval> heap_timeouts;                     // beyond libevent's 256
  std::vector<char> read_buffer = std::vector<char>(64 * 1024);  // plain replies, one probe at a time

  Impl(event_base *b, Options o) : base(b), opts(std::move(o)) {
    pump_ev = event_new(base, -1, 0, &Impl::pump_cb, this);
    // libevent writes with write()/writev(), which raise SIGPIPE on a
    // connection the peer reset; a probe must never kill its process.
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
      signal(SIGPIPE, SIG_IGN);
  }
  ~Impl() {
    bool dns_pending = false;
    for (auto &kv : active) {
      dns_pending = dns_pending || kv.second->dns_req != nullptr;
      kv.second->release();
    }
    active.clear();
    // libevent completes a cancelled lookup in a deferred callback, which
    // frees its memory: let the loop run those (non-blocking, bounded).
    for (int i = 0; dns_pending && i < 4; ++i) event_base_loop(base, EVLOOP_NONBLOCK);
    queued.clear();
    finished.clear();
    if (pump_ev) event_free(pump_ev);
    if (dns) evdns_base_free(dns, 0);
  }

  void wake() { event_active(pump_ev, EV_TIMEOUT, 1); }

  // The timeval to arm a probe's timer with.  Timers of one duration share
  // a libevent "common timeout" queue (constant-time add and delete instead
  // of the heap's log n); libevent allows 256 such durations, beyond that
  // the timer goes on the heap.
  const timeval *timeout_timeval(uint32_t ms) {
    auto it = common_timeouts.find(ms);
    if (it != common_timeouts.end()) return it->second;
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    const timeval *common = event_base_init_common_timeout(base, &tv);
    if (!common) {
      heap_timeouts.push_back(tv);  // std::deque: stable addresses
      common = &heap_timeouts.back();
    }
    common_timeouts.emplace(ms, common);
    return common;
  }

  static void pump_cb(evutil_socket_t, short, void *arg) {
    auto *self = static_cast<Impl *>(arg);
    std::vector<std::unique_ptr<Probe>> ready;
    ready.swap(self->finished);
    for (auto &p : ready)
      if (p->done) p->done(p->result);
    self->launching = true;
    while (self->active.size() < std::max(1u, self->opts.max_concurrency) && !self->queued.empty()) {
      std::unique_ptr<Probe> p = std::move(self->queued.front());
      self->queued.pop_front();
      Probe *raw = p.get();
      self->active.emplace(raw, std::move(p));
      self->launch(raw);
    }
    self->launching = false;
    // Launching a large batch takes a while, so many replies are in by now:
    // read them without ever registering their sockets; only the sockets
    // still waiting get an event.
    std::vector<Probe *> sent;
    sent.swap(self->sent_unwatched);
    for (Probe *p : sent)
      if (p->phase == Phase::kReply && !p->io_ev && self->read_plain(p)) self->watch_plain(p);
  }

  // Ends @p p with @p verdict: records timings, frees its I/O and hands it to
  // the pump.  Idempotent.
  void finish(Probe *p, const lbk_check_result &verdict) {
    if (p->phase == Phase::kDone) return;
    p->phase = Phase::kDone;
    p->t_end = SteadyClock::now();
    Timings &t = p->result.timings;
    TimePoint connect_from = p->dns_done ? p->t_dns : p->t_start;
    if (p->dns_done) t.dns_ms = ms_between(p->t_start, p->t_dns);
    if (p->connected) t.connect_ms = ms_between(connect_from, p->t_connect);
    if (p->tls_done) t.tls_ms = ms_between(p->t_connect, p->t_tls);
    if (p->got_first_byte) t.first_byte_ms = ms_between(p->t_request_sent, p->t_first_byte);
    t.total_ms = ms_between(p->t_start, p->t_end);
    p->result.verdict = verdict;
    p->result.verdict.duration_us = static_cast<uint64_t>(t.total_ms * 1000.0);
    if (opts.reset_on_close && p->fd >= 0 && !p->bev) {  // see Options::reset_on_close
      linger abort_on_close{1, 0};
      setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    }
    p->release();
    auto it = active.find(p);
    if (it != active.end()) {
      finished.push_back(std::move(it->second));
      active.erase(it);
    }
    wake();
  }

  void fail(Probe *p, int outcome, const std::string &detail) {
    finish(p, failed_result(outcome, detail));
  }

  // ---- start -------------------------------------------------------------

  void launch(Probe *p) {
    p->t_start = SteadyClock::now();
    p->timeout_ev = evtimer_new(base, &Impl::timeout_cb, p);
    evtimer_add(p->timeout_ev, timeout_timeval(p->target.timeout_ms));

    std::string error;
    if (!parse_url(&p->url, p->target.url, &error)) {
      fail(p, LBK_CHECK_FAIL_CONNECT, "invalid target URL '" + p->target.url + "': " + error);
      return;
    }
    p->check = p->target.check;
    if (!p->check) {
      lbk_check_options o = LBK_CHECK_OPTIONS_INIT;
      o.kind = p->url.scheme == "tcp" ? LBK_CHECK_TCP
                                      : (p->url.tls ? LBK_CHECK_HTTPS : LBK_CHECK_HTTP);
      o.path = p->url.path.c_str();
      o.timeout_ms = p->target.timeout_ms;
      if (lbk_check_create(&p->owned_check, &o) != 0) {
        fail(p, LBK_CHECK_FAIL_CONNECT,
             std::string("cannot build the default check: ") + lbk_error_last());
        return;
      }
      p->check = p->owned_check;
    }
    int kind = lbk_check_kind(p->check);
    p->use_tls = p->url.tls || kind == LBK_CHECK_HTTPS;
    if (lbk_check_reply_create(&p->reply, p->check) != 0) {
      fail(p, LBK_CHECK_FAIL_CONNECT, std::string("cannot create the reply reader: ") + lbk_error_last());
      return;
    }
    if (kind != LBK_CHECK_TCP) {
      std::string host = p->url.host_header();
      // Rendered on the stack first, so the probe keeps only the bytes used.
      char rendered[1024];
      size_t len = sizeof rendered;
      int rc = lbk_check_request(rendered, &len, p->check, host.c_str());
      if (rc == 0) {
        p->request.assign(rendered, len);
      } else if (rc == LBK_ERANGE) {
        p->request.resize(len);
        rc = lbk_check_request(&p->request[0], &len, p->check, host.c_str());
        p->request.resize(len);
      }
      if (rc != 0) {
        fail(p, LBK_CHECK_FAIL_CONNECT, std::string("cannot render the check request: ") + lbk_error_last());
        return;
      }
    }

    if (p->url.host_is_ip) {
      sockaddr_storage ss{};
      if (inet_pton(AF_INET, p->url.host.c_str(), &reinterpret_cast<sockaddr_in *>(&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        reinterpret_cast<sockaddr_in *>(&ss)->sin_port = htons(p->url.port);
      } else {
        inet_pton(AF_INET6, p->url.host.c_str(), &reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_addr);
        ss.ss_family = AF_INET6;
        reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port = htons(p->url.port);
      }
      if (p->target.family != 0 && p->target.family != ss.ss_family) {
        fail(p, LBK_CHECK_FAIL_CONNECT, "address '" + p->url.host + "' is not of the requested family");
        return;
      }
      p->addresses.push_back(ss);
      connect_next(p);
      return;
    }
    resolve(p);
  }

  // ---- dns ---------------------------------------------------------------

  void resolve(Probe *p) {
    p->phase = Phase::kDns;
    if (!dns) {
      if (opts.dns_nameserver.empty()) {
        dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
      } else {
        dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (dns && evdns_base_nameserver_ip_add(dns, opts.dns_nameserver.c_str()) != 0) {
          evdns_base_free(dns, 0);
          dns = nullptr;
          fail(p, LBK_CHECK_FAIL_DNS, "bad dns_nameserver '" + opts.dns_nameserver + "'");
          return;
        }
      }
      if (!dns) {
        fail(p, LBK_CHECK_FAIL_DNS, "cannot initialise the resolver (see /etc/resolv.conf)");
        return;
      }
    }
    evutil_addrinfo hints{};
    hints.ai_family = p->target.family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    std::string port = std::to_string(p->url.port);
    // The callback may run before evdns_getaddrinfo returns (hosts file,
    // immediate failure); it then returns nullptr.
    evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(dns, p->url.host.c_str(), port.c_str(), &hints, &Impl::dns_cb, p);
    if (req && p->phase == Phase::kDns) p->dns_req = req;
  }

  static void dns_cb(int err, evutil_addrinfo *res, void *arg) {
    if (err == EVUTIL_EAI_CANCEL) {
      if (res) evutil_freeaddrinfo(res);
      return;  // the probe is being released
    }
    auto *p = static_cast<Probe *>(arg);
    Impl *self = static_cast<Impl *>(p->owner);
    p->dns_req = nullptr;
    p->t_dns = SteadyClock::now();
    p->dns_done = true;
    if (err != 0) {
      if (res) evutil_freeaddrinfo(res);
      self->fail(p, LBK_CHECK_FAIL_DNS,
                 "cannot resolve '" + p->url.host + "': " + evutil_gai_strerror(err));
      return;
    }
    for (evutil_addrinfo *ai = res; ai; ai = ai->ai_next) {
      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
      sockaddr_storage ss{};
      std::memcpy(&ss, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof ss));
      p->addresses.push_back(ss);
    }
    if (res) evutil_freeaddrinfo(res);
    if (p->addresses.empty()) {
      self->fail(p, LBK_CHECK_FAIL_DNS, "'" + p->url.host + "' has no IPv4 or IPv6 address");
      return;
    }
    self->connect_next(p);
  }

  // ---- connect -------------------------------------------------------------

  // Tries the next resolved address; fails the probe when none is left.
  void connect_next(Probe *p) {
    p->phase = Phase::kConnect;
    while (p->address_index < p->addresses.size()) {
      const sockaddr_storage &ss = p->addresses[p->address_index];
      p->result.address = sockaddr_text(ss);
      int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        fail(p, LBK_CHECK_FAIL_CONNECT, std::string("cannot open a socket: ") + std::strerror(errno));
        return;
      }
      socklen_t len = ss.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
      const int rc = connect(fd, reinterpret_cast<const sockaddr *>(&ss), len);
      if (rc == 0 || errno == EINPROGRESS) {
        p->fd = fd;
        if (!p->use_tls && lbk_check_kind(p->check) != LBK_CHECK_TCP) {
          begin_plain(p, rc == 0);
        } else if (rc == 0) {
          connected(p);
        } else {
          p->connect_ev = event_new(base, fd, EV_WRITE, &Impl::connect_cb, p);
          event_add(p->connect_ev, nullptr);
        }
        return;
      }
      p->last_connect_error = "connect to " + p->result.address + ": " + std::strerror(errno);
      close(fd);
      p->address_index++;
    }
    fail(p, LBK_CHECK_FAIL_CONNECT, p->last_connect_error.empty() ? "no address to connect to"
                                                                  : p->last_connect_error);
  }

  // The connection to the current address failed with @p err: closes it and
  // tries the next address.
  void connect_failed(Probe *p, int err) {
    p->last_connect_error = "connect to " + p->result.address + ": " + std::strerror(err);
    if (p->io_ev) event_free(p->io_ev), p->io_ev = nullptr;
    close(p->fd);
    p->fd = -1;
    p->request_sent = 0;
    p->address_index++;
    connect_next(p);
  }

  // TLS and tcp checks: the connect() in progress has ended.
  static void connect_cb(evutil_socket_t fd, short, void *arg) {
    auto *p = static_cast<Probe *>(arg);
    Impl *self = static_cast<Impl *>(p->owner);
    event_free(p->connect_ev);
    p->connect_ev = nullptr;
    if (int err = pending_socket_error(fd)) {
      self->connect_failed(p, err);
      return;
    }
    self->connected(p);
  }

  // TLS and tcp checks: TCP is up.  A tcp check passes here; TLS starts its
  // handshake on a bufferevent.
  void connected(Probe *p) {
    p->t_connect = SteadyClock::now();
    p->connected = true;
    if (lbk_check_kind(p->check) == LBK_CHECK_TCP) {  // connecting was the test
      finish_with_reply(p);
      return;
    }
    int one = 1;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string error;
    const std::string &name = p->target.sni.empty() ? p->url.host : p->target.sni;
    bool name_is_ip = p->target.sni.empty() ? p->url.host_is_ip : false;
    p->ssl = tls.new_ssl(name, name_is_ip, p->target.tls_verify, p->target.ca_file, &error);
    if (!p->ssl) {
      fail(p, LBK_CHECK_FAIL_TLS, error);
      return;
    }
    p->phase = Phase::kTls;
    p->bev = bufferevent_openssl_socket_new(base, p->fd, p->ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!p->bev) {
      fail(p, LBK_CHECK_FAIL_TLS, "cannot start TLS");
      return;
    }
    // A close without close_notify ends a close-delimited reply; the
    // reply reader still judges whether the reply was complete.
    bufferevent_openssl_set_allow_dirty_shutdown(p->bev, 1);
    // Read at most 64 KiB ahead of the judge: the per-probe memory bound.
    bufferevent_setwatermark(p->bev, EV_READ, 0, 64 * 1024);
    bufferevent_setcb(p->bev, &Impl::tls_read_cb, nullptr, &Impl::tls_event_cb, p);
    bufferevent_enable(p->bev, EV_READ | EV_WRITE);
  }

  // ---- plain HTTP: the socket driven directly ----------------------------
  //
  // Without TLS no bufferevent is needed: the request goes out with send()
  // as soon as the connection is up -- tried right after connect(), since on
  // loopback and fast links the handshake is often done by then (EAGAIN
  // means it is not; the connect error, if any, comes back from send()) --
  // and the reply is read into one buffer shared by every probe and fed to
  // the judge.  One edge-triggered event per socket, added once: per probe
  // that is socket, connect, send, epoll add, recv, epoll del and close --
  // or, when the reply is already in after a batch of launches (pump_cb),
  // just socket, connect, send, recv and close.

  // Requests up to this size fit one TCP segment at any MSS (RFC 1122's
  // 536 bytes), so Nagle's algorithm cannot hold part of them back.
  static constexpr size_t kOneSegmentBytes = 536;

  void begin_plain(Probe *p, bool connected_now) {
    if (p->request.size() > kOneSegmentBytes) {
      int one = 1;
      setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (connected_now) plain_connected(p);
    if (!send_request(p)) return;
    if (launching && p->phase == Phase::kReply && p->request_sent == p->request.size()) {
      sent_unwatched.push_back(p);  // pump_cb tries a read first
      return;
    }
    watch_plain(p);
  }

  // Level-triggered EV_WRITE would fire for as long as the socket is
  // writable; edge-triggered, the event needs no change once the request is
  // out.  Reads then drain the socket (read_plain).  Registering an
  // edge-triggered event reports what is already pending.
  void watch_plain(Probe *p) {
    short what = EV_READ | EV_ET | EV_PERSIST;
    if (p->phase == Phase::kConnect || p->request_sent < p->request.size()) what |= EV_WRITE;
    p->io_ev = event_new(base, p->fd, what, &Impl::plain_cb, p);
    if (!p->io_ev || event_add(p->io_ev, nullptr) != 0) fail(p, LBK_CHECK_FAIL_CONNECT, "cannot watch the socket");
  }

  void plain_connected(Probe *p) {
    p->t_connect = SteadyClock::now();
    p->connected = true;
    p->phase = Phase::kReply;
    p->t_request_sent = p->t_connect;
  }

  // Writes what is left of the request.  A byte accepted means connected;
  // EAGAIN waits for EV_WRITE.  Returns false when the probe moved on (it
  // failed, or its connection failed and the next address is being tried).
  bool send_request(Probe *p) {
    while (p->request_sent < p->request.size()) {
      const ssize_t n = send(p->fd, p->request.data() + p->request_sent,
                             p->request.size() - p->request_sent, MSG_NOSIGNAL);
      if (n >= 0) {
        if (p->phase == Phase::kConnect) plain_connected(p);
        p->request_sent += static_cast<size_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (p->phase == Phase::kConnect) connect_failed(p, errno);
      else reply_error(p, errno);
      return false;
    }
    return true;
  }

  static void plain_cb(evutil_socket_t fd, short what, void *arg) {
    auto *p = static_cast<Probe *>(arg);
    Impl *self = static_cast<Impl *>(p->owner);
    if (what & EV_WRITE) {
      if (p->phase == Phase::kConnect && p->request.empty()) {  // nothing to send (agent)
        if (int err = pending_socket_error(fd)) {
          self->connect_failed(p, err);
          return;
        }
        self->plain_connected(p);
      } else if (p->phase == Phase::kConnect || p->phase == Phase::kReply) {
        if (!self->send_request(p)) return;
      }
    }
    if ((what & EV_READ) && p->phase == Phase::kReply) self->read_plain(p);
  }

  // Edge-triggered: reads until the socket is drained, the verdict is in or
  // the peer closed.  Bounded: max_response_bytes ends a flood.  True when
  // the probe goes on waiting for more of the reply.
  bool read_plain(Probe *p) {
    for (;;) {
      const ssize_t n = recv(p->fd, read_buffer.data(), read_buffer.size(), 0);
      if (n > 0) {
        if (take_reply_bytes(p, read_buffer.data(), static_cast<size_t>(n))) return false;
        continue;
      }
      if (n == 0) {
        reply_eof(p);
        return false;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      reply_error(p, errno);
      return false;
    }
  }

  // ---- reply -------------------------------------------------------------

  // Takes @p n reply bytes (in order); true once the probe has finished.
  bool take_reply_bytes(Probe *p, const void *data, size_t n) {
    if (!p->got_first_byte) {
      p->got_first_byte = true;
      p->t_first_byte = SteadyClock::now();
    }
    p->bytes_received += n;
    if (p->bytes_received > opts.max_response_bytes) {
      fail(p, LBK_CHECK_FAIL_LIMIT,
           "reply larger than " + std::to_string(opts.max_response_bytes) + " bytes");
      return true;
    }
    if (lbk_check_reply_feed(p->reply, data, n) == 0) {
      finish_with_reply(p);
      return true;
    }
    return false;
  }

  // The peer closed: the judge decides whether the reply was complete.
  void reply_eof(Probe *p) {
    lbk_check_reply_eof(p->reply);
    finish_with_reply(p);
  }

  // The connection broke while waiting for (more of) the reply.
  void reply_error(Probe *p, int socket_errno) {
    std::string why = socket_errno ? std::strerror(socket_errno) : "connection error";
    if (p->bytes_received == 0) {
      fail(p, LBK_CHECK_FAIL_CONNECT, why + " before any reply byte (" + p->result.address + ")");
    } else {
      fail(p, LBK_CHECK_FAIL_PROTOCOL,
           why + " after " + std::to_string(p->bytes_received) + " reply bytes (" +
               p->result.address + ")");
    }
  }

  void finish_with_reply(Probe *p) {
    lbk_check_result r{};
    r.version = LBK_CHECK_RESULT_VERSION;
    if (lbk_check_reply_result(&r, p->reply) != 0)
      r = failed_result(LBK_CHECK_FAIL_PROTOCOL, "the reply reader gave no verdict");
    finish(p, r);
  }

  // ---- TLS: a bufferevent over OpenSSL -----------------------------------

  static void tls_read_cb(bufferevent *bev, void *arg) {
    auto *p = static_cast<Probe *>(arg);
    Impl *self = static_cast<Impl *>(p->owner);
    evbuffer *in = bufferevent_get_input(bev);
    if (p->phase != Phase::kReply) return;
    evbuffer_iovec vec[16];
    while (evbuffer_get_length(in) > 0) {
      int count = evbuffer_peek(in, -1, nullptr, vec, 16);
      if (count > 16) count = 16;
      size_t fed = 0;
      for (int i = 0; i < count; ++i) {
        if (self->take_reply_bytes(p, vec[i].iov_base, vec[i].iov_len)) return;  // bev freed
        fed += vec[i].iov_len;
      }
      evbuffer_drain(in, fed);
    }
  }

  static void tls_event_cb(bufferevent *bev, short what, void *arg) {
    auto *p = static_cast<Probe *>(arg);
    Impl *self = static_cast<Impl *>(p->owner);
    if (what & BEV_EVENT_CONNECTED) {
      if (p->phase == Phase::kTls) {
        p->t_tls = SteadyClock::now();
        p->tls_done = true;
        p->result.tls_earliest_expiry_unix = earliest_certificate_expiry(p->ssl);
        p->result.tls_version = SSL_get_version(p->ssl);
        p->phase = Phase::kReply;
        p->t_request_sent = SteadyClock::now();
        if (!p->request.empty()) bufferevent_write(p->bev, p->request.data(), p->request.size());
      }
      return;
    }
    int socket_errno = EVUTIL_SOCKET_ERROR();
    if (p->phase == Phase::kTls) {
      unsigned long ssl_error = bufferevent_get_openssl_error(bev);
      while (bufferevent_get_openssl_error(bev) != 0) {
      }
      self->fail(p, LBK_CHECK_FAIL_TLS,
                 describe_tls_failure(p->ssl, ssl_error,
                                      (what & BEV_EVENT_ERROR) ? socket_errno : 0) +
                     " (" + p->result.address + ")");
      return;
    }
    if (p->phase != Phase::kReply) return;
    if (what & BEV_EVENT_EOF) {
      tls_read_cb(bev, p);  // anything still buffered first
      if (p->phase == Phase::kReply) self->reply_eof(p);
      return;
    }
    if (what & BEV_EVENT_ERROR) {
      tls_read_cb(bev, p);
      if (p->phase != Phase::kReply) return;
      while (bufferevent_get_openssl_error(bev) != 0) {
      }
      self->reply_error(p, socket_errno);
    }
  }

  static void timeout_cb(evutil_socket_t, short, void *arg) {
    auto *p = static_cast<Probe *>(arg);
    // libevent measures timers from its cached, possibly coarse clock
    // (CLOCK_MONOTONIC_COARSE, read once per loop iteration): the timer may
    // fire before timeout_ms have passed since t_start.  Wait for the rest.
    auto due = p->t_start + std::chrono::milliseconds(p->target.timeout_ms);
    auto now = SteadyClock::now();
    if (now < due) {
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(due - now).count() + 1;
      timeval tv{static_cast<time_t>(left / 1000000), static_cast<suseconds_t>(left % 1000000)};
      evtimer_add(p->timeout_ev, &tv);
      return;
    }
    std::string detail = "no verdict within " + std::to_string(p->target.timeout_ms) +
                         " ms (in " + phase_name(p->phase);
    if (p->phase == Phase::kReply) detail += ", " + std::to_string(p->bytes_received) + " reply bytes";
    if (!p->result.address.empty()) detail += ", " + p->result.address;
    detail += ")";
    static_cast<Impl *>(p->owner)->fail(p, LBK_CHECK_FAIL_TIMEOUT, detail);
  }
};

Prober::Prober(event_base *base, Options opts) : impl_(new Impl(base, std::move(opts))) {}

Prober::~Prober() = default;

void Prober::start(const Target &target, Callback done) {
  auto p = std::make_unique<Probe>();
  p->owner = impl_.get();
  p->target = target;
  p->done = std::move(done);
  impl_->queued.push_back(std::move(p));
  impl_->wake();
}

size_t Prober::in_flight() const {
  return impl_->queued.size() + impl_->active.size() + impl_->finished.size();
}

uint64_t raise_open_files_limit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return static_cast<uint64_t>(rl.rlim_cur);
}

std::vector<Result> probe_all(const std::vector<Target> &targets, const Options &opts) {
  std::vector<Result> results(targets.size());
  if (targets.empty()) return results;
  raise_open_files_limit();
  event_base *base = event_base_new();
  if (!base) {
    for (auto &r : results)
      r.verdict = failed_result(LBK_CHECK_FAIL_CONNECT, "cannot create an event loop");
    return results;
  }
  {
    Prober prober(base, opts);
    size_t remaining = targets.size();
    for (size_t i = 0; i < targets.size(); ++i) {
      prober.start(targets[i], [&results, &remaining, base, i](const Result &r) {
        results[i] = r;
        if (--remaining == 0) event_base_loopbreak(base);
      });
    }
    event_base_dispatch(base);
  }
  event_base_free(base);
  return results;
}

}  // namespace probe
}  // namespace lbk
