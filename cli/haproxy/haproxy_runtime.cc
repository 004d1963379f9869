// cli/haproxy/haproxy_runtime.cc - HAProxy runtime API client (unix socket or TCP).
#include "haproxy_runtime.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <sstream>
#include <vector>

namespace lbctl {

std::string RuntimeEndpoint::text() const {
  if (is_unix) return path;
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

bool parse_runtime_endpoint(const std::string &text, RuntimeEndpoint &out, std::string &error) {
  out = RuntimeEndpoint();
  if (text.empty()) {
    error = "empty runtime API address";
    return false;
  }
  if (text.find('/') != std::string::npos || text.find(':') == std::string::npos) {
    out.is_unix = true;
    out.path = text;
    if (text.size() >= sizeof(sockaddr_un{}.sun_path)) {
      error = "unix socket path too long: " + text;
      return false;
    }
    return true;
  }
  out.is_unix = false;
  std::string host, port;
  if (text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == std::string::npos) {
      error = "expected [IPV6]:PORT, got '" + text + "'";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
    error = "expected HOST:PORT or a unix socket path, got '" + text + "'";
    return false;
  }
  out.host = host;
  out.port = port;
  return true;
}

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for @p events on @p fd until the deadline; false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

// Non-blocking connect with the deadline; returns the socket or -1.
int connect_endpoint(const RuntimeEndpoint &ep, Clock::time_point deadline, std::string &error) {
  std::vector<std::pair<sockaddr_storage, socklen_t>> addrs;
  int family = AF_UNIX;
  if (ep.is_unix) {
    sockaddr_storage ss{};
    auto *un = reinterpret_cast<sockaddr_un *>(&ss);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, ep.path.c_str(), ep.path.size() + 1);
    addrs.push_back({ss, static_cast<socklen_t>(sizeof(sockaddr_un))});
  } else {
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    const int rc = ::getaddrinfo(ep.host.c_str(), ep.port.c_str(), &hints, &res);
    if (rc != 0) {
      error = ep.text() + ": cannot resolve: " + ::gai_strerror(rc);
      return -1;
    }
    for (addrinfo *a = res; a; a = a->ai_next) {
      sockaddr_storage ss{};
      std::memcpy(&ss, a->ai_addr, a->ai_addrlen);
      addrs.push_back({ss, a->ai_addrlen});
    }
    ::freeaddrinfo(res);
  }
  for (const auto &a : addrs) {
    family = a.first.ss_family;
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = ep.text() + ": socket: " + std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, reinterpret_cast<const sockaddr *>(&a.first), a.second);
    if (rc != 0 && (errno == EINPROGRESS || errno == EAGAIN)) {
      if (!wait_fd(fd, POLLOUT, deadline)) {
        error = ep.text() + ": connect timed out";
        ::close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) return fd;
    error = ep.text() + ": connect: " + std::strerror(errno);
    ::close(fd);
  }
  return -1;
}

}  // namespace

bool runtime_command(const RuntimeEndpoint &ep, const std::string &command,
                     std::string &answer, std::string &error, uint32_t timeout_ms) {
  answer.clear();
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const int fd = connect_endpoint(ep, deadline, error);
  if (fd < 0) return false;
  const std::string line = command + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd, POLLOUT, deadline)) break;
    } else {
      break;
    }
  }
  if (sent < line.size()) {
    error = ep.text() + ": cannot send the command: " +
            (remaining_ms(deadline) == 0 ? std::string("timed out") : std::strerror(errno));
    ::close(fd);
    return false;
  }
  // Answers are small (a few KB per backend); cap them anyway.
  constexpr size_t kMaxAnswer = 16u << 20;
  char buf[8192];
  for (;;) {
    if (!wait_fd(fd, POLLIN, deadline)) {
      error = ep.text() + ": no complete answer within " + std::to_string(timeout_ms) + " ms";
      ::close(fd);
      return false;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      error = ep.text() + ": read: " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    answer.append(buf, static_cast<size_t>(n));
    if (answer.size() > kMaxAnswer) {
      error = ep.text() + ": answer larger than 16 MiB";
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  return true;
}

bool parse_servers_state(const std::string &answer, std::vector<ServerRuntimeState> &out,
                         std::string &error) {
  out.clear();
  std::istringstream in(answer);
  std::string line;
  if (!std::getline(in, line) || line != "1") {
    std::string first = line.substr(0, 200);
    error = first.empty() ? "empty answer to 'show servers state'"
                          : "unexpected answer to 'show servers state': " + first;
    return false;
  }
  std::map<std::string, size_t> column;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.empty()) continue;
    if (w[0] == "#") {
      if (column.empty())
        for (size_t i = 1; i < w.size(); ++i) column[w[i]] = i - 1;
      continue;
    }
    if (column.empty()) {
      error = "'show servers state' answer has no header line";
      return false;
    }
    auto get = [&](const char *name) -> std::string {
      auto it = column.find(name);
      return it != column.end() && it->second < w.size() ? w[it->second] : std::string();
    };
    ServerRuntimeState s;
    s.backend = get("be_name");
    s.name = get("srv_name");
    s.addr = get("srv_addr");
    s.port = std::atoi(get("srv_port").c_str());
    s.op_state = std::atoi(get("srv_op_state").c_str());
    s.admin = static_cast<unsigned>(std::strtoul(get("srv_admin_state").c_str(), nullptr, 10));
    s.uweight = std::atoi(get("srv_uweight").c_str());
    s.iweight = std::atoi(get("srv_iweight").c_str());
    if (s.name.empty()) {
      error = "'show servers state' line without srv_name: " + line.substr(0, 200);
      return false;
    }
    out.push_back(s);
  }
  return true;
}

}  // namespace lbctl
