// cli/discovery.cc - DNS service discovery through c-ares (discovery.h).
#include "discovery.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dlfcn.h>
#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "lazy/lazy_library.h"

// c-ares is not linked: these stubs load it on first call.
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, int, ares_library_init, (int flags), (flags))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, int, ares_init_options,
                  (ares_channel * channelptr, struct ares_options *options, int optmask),
                  (channelptr, options, optmask))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, void, ares_destroy, (ares_channel channel), (channel))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, int, ares_set_servers_ports_csv,
                  (ares_channel channel, const char *servers), (channel, servers))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, void, ares_query,
                  (ares_channel channel, const char *name, int dnsclass, int type,
                   ares_callback callback, void *arg),
                  (channel, name, dnsclass, type, callback, arg))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, int, ares_getsock,
                  (ares_channel channel, ares_socket_t *socks, int numsocks),
                  (channel, socks, numsocks))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, struct timeval *, ares_timeout,
                  (ares_channel channel, struct timeval *maxtv, struct timeval *tv),
                  (channel, maxtv, tv))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, void, ares_process_fd,
                  (ares_channel channel, ares_socket_t read_fd, ares_socket_t write_fd),
                  (channel, read_fd, write_fd))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, int, ares_parse_srv_reply,
                  (const unsigned char *abuf, int alen, struct ares_srv_reply **srv_out),
                  (abuf, alen, srv_out))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, int, ares_parse_a_reply,
                  (const unsigned char *abuf, int alen, struct hostent **host,
                   struct ares_addrttl *addrttls, int *naddrttls),
                  (abuf, alen, host, addrttls, naddrttls))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, int, ares_parse_aaaa_reply,
                  (const unsigned char *abuf, int alen, struct hostent **host,
                   struct ares_addr6ttl *addrttls, int *naddrttls),
                  (abuf, alen, host, addrttls, naddrttls))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, void, ares_free_data, (void *dataptr), (dataptr))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, void, ares_free_string, (void *str), (str))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, int, ares_expand_name,
                  (const unsigned char *encoded, const unsigned char *abuf, int alen, char **s,
                   long *enclen),
                  (encoded, abuf, alen, s, enclen))
LBK_LAZY_FUNCTION(LBK_CARES_SONAME, const char *, ares_strerror, (int code), (code))

namespace lbctl {

bool cares_version(std::string &version, std::string &error) {
  void *library = lazy_library(LBK_CARES_SONAME, &error);
  if (!library) return false;
  using Fn = const char *(*)(int *);
  const auto fn = reinterpret_cast<Fn>(dlsym(library, "ares_version"));
  if (!fn) {
    error = std::string(LBK_CARES_SONAME) + ": no symbol ares_version";
    return false;
  }
  version = fn(nullptr);
  return true;
}

std::string host_port_text(const std::string &address, int port) {
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
         std::to_string(port);
}

namespace {

// At most this many addresses per A or AAAA answer (a 64 KiB reply holds
// fewer than 4096 A records).
constexpr int kMaxAddresses = 4096;

// Skips one (possibly compressed) name at @p p; false when malformed.
bool skip_name(const unsigned char *reply, int length, const unsigned char *&p) {
  char *name = nullptr;
  long used = 0;
  if (ares_expand_name(p, reply, length, &name, &used) != ARES_SUCCESS) return false;
  ares_free_string(name);
  if (used <= 0 || used > reply + length - p) return false;
  p += used;
  return true;
}

uint16_t read16(const unsigned char *p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

}  // namespace

bool dns_answer_min_ttl(const unsigned char *reply, int length, uint32_t &ttl_s) {
  if (!reply || length < HFIXEDSZ) return false;
  const unsigned char *p = reply + HFIXEDSZ, *end = reply + length;
  const unsigned questions = read16(reply + 4), answers = read16(reply + 6);
  for (unsigned i = 0; i < questions; ++i) {
    if (!skip_name(reply, length, p) || end - p < QFIXEDSZ) return false;
    p += QFIXEDSZ;
  }
  bool any = false;
  for (unsigned i = 0; i < answers; ++i) {
    if (!skip_name(reply, length, p) || end - p < RRFIXEDSZ) return false;
    const uint32_t ttl = static_cast<uint32_t>(p[4]) << 24 | static_cast<uint32_t>(p[5]) << 16 |
                         static_cast<uint32_t>(p[6]) << 8 | p[7];
    const uint16_t rdlength = read16(p + 8);
    p += RRFIXEDSZ;
    if (end - p < rdlength) return false;
    p += rdlength;
    // RFC 2181 8: a TTL with the top bit set counts as 0.
    const uint32_t value = ttl & 0x80000000u ? 0 : ttl;
    ttl_s = any ? std::min(ttl_s, value) : value;
    any = true;
  }
  return any;
}

namespace {

// One resolve: a c-ares channel and the answers gathered so far.
class Resolve {
 public:
  explicit Resolve(uint32_t timeout_ms) : timeout_ms_(timeout_ms) {}
  ~Resolve() {
    if (channel_) ares_destroy(channel_);
  }

  bool open(const std::string &resolver, std::string &error) {
    static const int library = ares_library_init(ARES_LIB_INIT_ALL);
    if (library != ARES_SUCCESS) {
      error = std::string("c-ares: ") + ares_strerror(library);
      return false;
    }
    ares_options options{};
    options.timeout = static_cast<int>(std::max<uint32_t>(timeout_ms_ / 2, 100));
    options.tries = 2;
    int rc = ares_init_options(&channel_, &options, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
      channel_ = nullptr;
      error = std::string("c-ares: cannot start a resolver: ") + ares_strerror(rc);
      return false;
    }
    if (!resolver.empty()) {
      rc = ares_set_servers_ports_csv(channel_, resolver.c_str());
      if (rc != ARES_SUCCESS) {
        error = "resolver " + resolver + ": " + ares_strerror(rc);
        return false;
      }
    }
    return true;
  }

  // An answer: the status and a copy of the reply.
  struct Answer {
    int status = ARES_ETIMEOUT;
    std::string reply;
  };

  // Sends a question; its answer lands in the returned slot.
  Answer *ask(const std::string &name, int type) {
    answers_.emplace_back(new Answer);
    Answer *slot = answers_.back().get();
    ares_query(channel_, name.c_str(), ns_c_in, type, &Resolve::on_answer, slot);
    return slot;
  }

  // Runs the channel until every question is answered or the deadline.
  bool wait(std::chrono::steady_clock::time_point deadline) {
    for (int loops = 0; loops < 100000; ++loops) {
      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      const int mask = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
      pollfd fds[ARES_GETSOCK_MAXNUM];
      nfds_t n = 0;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(mask, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(mask, i)) events |= POLLOUT;
        if (!events) continue;
        fds[n++] = pollfd{socks[i], events, 0};
      }
      if (n == 0) return true;  // nothing pending: all answered
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      timeval max_tv{}, tv{};
      const auto left =
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count();
      max_tv.tv_sec = static_cast<time_t>(left / 1000000);
      max_tv.tv_usec = static_cast<suseconds_t>(left % 1000000);
      const timeval *wait_tv = ares_timeout(channel_, &max_tv, &tv);
      const int wait_ms = static_cast<int>(wait_tv->tv_sec * 1000 + wait_tv->tv_usec / 1000) + 1;
      const int ready = ::poll(fds, n, wait_ms);
      if (ready <= 0) {
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
        continue;
      }
      for (nfds_t i = 0; i < n; ++i) {
        const bool readable = fds[i].revents & (POLLIN | POLLERR | POLLHUP);
        const bool writable = fds[i].revents & POLLOUT;
        if (readable || writable)
          ares_process_fd(channel_, readable ? fds[i].fd : ARES_SOCKET_BAD,
                          writable ? fds[i].fd : ARES_SOCKET_BAD);
      }
    }
    return false;
  }

 private:
  static void on_answer(void *arg, int status, int, unsigned char *abuf, int alen) {
    auto *slot = static_cast<Answer *>(arg);
    slot->status = status;
    if (status == ARES_SUCCESS && abuf && alen > 0)
      slot->reply.assign(reinterpret_cast<const char *>(abuf), static_cast<size_t>(alen));
  }

  uint32_t timeout_ms_;
  ares_channel channel_ = nullptr;
  std::vector<std::unique_ptr<Answer>> answers_;
};

const unsigned char *bytes(const std::string &s) {
  return reinterpret_cast<const unsigned char *>(s.data());
}

// "timeout", "no such name" ... for a failed question.
std::string describe(const std::string &what, int status) {
  if (status == ARES_ENODATA || status == ARES_ENOTFOUND) return what + ": empty answer";
  return what + ": " + ares_strerror(status);
}

// Addresses of @p name from its A and AAAA answers; false with @p error
// when either failed for another reason than "no records", or both are empty.
bool addresses_of(const std::string &name, const Resolve::Answer &a, const Resolve::Answer &aaaa,
                  std::vector<std::string> &out, uint32_t &ttl_s, std::string &error) {
  for (const Resolve::Answer *answer : {&a, &aaaa}) {
    const bool v4 = answer == &a;
    if (answer->status == ARES_ENODATA || answer->status == ARES_ENOTFOUND)
      continue;  // no records of this type, or no such name
    if (answer->status != ARES_SUCCESS) {
      error = describe(std::string(v4 ? "A " : "AAAA ") + name, answer->status);
      return false;
    }
    std::vector<ares_addrttl> ttls4(v4 ? kMaxAddresses : 0);
    std::vector<ares_addr6ttl> ttls6(v4 ? 0 : kMaxAddresses);
    int count = kMaxAddresses;
    const int length = static_cast<int>(answer->reply.size());
    const int rc = v4 ? ares_parse_a_reply(bytes(answer->reply), length, nullptr, ttls4.data(),
                                           &count)
                      : ares_parse_aaaa_reply(bytes(answer->reply), length, nullptr,
                                              ttls6.data(), &count);
    if (rc == ARES_ENODATA) continue;
    if (rc != ARES_SUCCESS) {
      error = std::string(v4 ? "A " : "AAAA ") + name + ": malformed answer (" +
              ares_strerror(rc) + ")";
      return false;
    }
    for (int i = 0; i < count; ++i) {
      char text[INET6_ADDRSTRLEN] = "";
      const int ttl = v4 ? ttls4[i].ttl : ttls6[i].ttl;
      if (v4) inet_ntop(AF_INET, &ttls4[i].ipaddr, text, sizeof text);
      else inet_ntop(AF_INET6, &ttls6[i].ip6addr, text, sizeof text);
      out.push_back(text);
      ttl_s = std::min<uint32_t>(ttl_s, ttl < 0 ? 0 : static_cast<uint32_t>(ttl));
    }
  }
  if (out.empty()) {
    error = name + ": no A or AAAA record (empty answer)";
    return false;
  }
  return true;
}

}  // namespace

DiscoveryResult discover_servers(const DiscoveryConfig &d, uint32_t timeout_ms) {
  DiscoveryResult result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string what = (d.srv ? "SRV " : "") + d.dns_name;
  Resolve resolve(timeout_ms);
  if (!resolve.open(d.resolver, result.error)) return result;
  uint32_t ttl_s = UINT32_MAX;

  struct Record {
    std::string target;
    int port;
    uint32_t weight;
    unsigned priority;
  };
  std::vector<Record> records;
  if (d.srv) {
    Resolve::Answer *srv = resolve.ask(d.dns_name, ns_t_srv);
    if (!resolve.wait(deadline) || srv->status != ARES_SUCCESS) {
      result.error = describe(what, srv->status);
      return result;
    }
    ares_srv_reply *list = nullptr;
    const int length = static_cast<int>(srv->reply.size());
    const int rc = ares_parse_srv_reply(bytes(srv->reply), length, &list);
    uint32_t srv_ttl = 0;
    if (rc == ARES_ENODATA || (rc == ARES_SUCCESS && !list)) {
      result.error = what + ": empty answer";
      return result;
    }
    if (rc != ARES_SUCCESS || !dns_answer_min_ttl(bytes(srv->reply), length, srv_ttl)) {
      if (list) ares_free_data(list);
      result.error = what + ": malformed answer" +
                     (rc != ARES_SUCCESS ? std::string(" (") + ares_strerror(rc) + ")" : "");
      return result;
    }
    ttl_s = srv_ttl;
    for (const ares_srv_reply *r = list; r; r = r->next) {
      const std::string target = r->host ? r->host : "";
      if (target.empty() || target == "." || r->port == 0) {
        result.error = what + ": malformed record (target '" + target + "', port " +
                       std::to_string(r->port) + "): the whole answer is ignored";
        ares_free_data(list);
        return result;
      }
      records.push_back({target, r->port,
                         std::min<uint32_t>(std::max<uint32_t>(r->weight, 1), 256),
                         r->priority});
    }
    ares_free_data(list);
  } else {
    records.push_back({d.dns_name, d.port, 1, 0});
  }

  // Every target's A and AAAA, all at once.
  std::map<std::string, std::pair<Resolve::Answer *, Resolve::Answer *>> asked;
  for (const Record &r : records)
    if (!asked.count(r.target))
      asked[r.target] = {resolve.ask(r.target, ns_t_a), resolve.ask(r.target, ns_t_aaaa)};
  if (!resolve.wait(deadline)) {
    result.error = what + ": address lookups timed out";
    return result;
  }
  std::map<std::string, std::vector<std::string>> addresses;
  for (const auto &entry : asked) {
    std::string error;
    if (!addresses_of(entry.first, *entry.second.first, *entry.second.second,
                      addresses[entry.first], ttl_s, error)) {
      result.error = d.srv ? what + ": target " + error : error;
      return result;
    }
  }
  unsigned best_priority = UINT32_MAX;
  for (const Record &r : records) best_priority = std::min(best_priority, r.priority);
  std::map<std::pair<std::string, int>, DiscoveredServer> unique;
  for (const Record &r : records)
    for (const std::string &address : addresses[r.target]) {
      DiscoveredServer s;
      s.address = address;
      s.port = r.port;
      s.weight = r.weight;
      s.backup = r.priority > best_priority;
      s.target = r.target;
      auto it = unique.find({address, r.port});
      // The same address and port twice: keep the primary, heavier one.
      if (it == unique.end() || (it->second.backup && !s.backup) ||
          (it->second.backup == s.backup && it->second.weight < s.weight))
        unique[{address, r.port}] = s;
    }
  for (const auto &entry : unique) result.servers.push_back(entry.second);
  const uint64_t ttl_ms = ttl_s == UINT32_MAX ? 0 : uint64_t(ttl_s) * 1000;
  result.ttl_ms = static_cast<uint32_t>(
      std::min<uint64_t>(std::max<uint64_t>(ttl_ms, kDiscoveryMinTtlMs), kDiscoveryMaxTtlMs));
  result.ok = true;
  return result;
}

}  // namespace lbctl
