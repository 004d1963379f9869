// cli/state_file.cc - the canary state file: JSON (nlohmann) and atomic I/O.
#include "state_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

namespace lbctl {

using nlohmann::json;

int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const PoolState *State::find_pool(const std::string &name) const {
  for (const PoolState &p : pools)
    if (p.name == name) return &p;
  return nullptr;
}

namespace {

json node_to_json(const NodeState &n) {
  json j;
  j["name"] = n.name;
  j["url"] = n.url;
  j["weight"] = n.weight;
  j["backup"] = n.backup;
  j["disabled"] = n.disabled;
  j["health"] = n.health;
  j["healthy"] = n.healthy;
  j["outcome"] = n.outcome;
  j["reason"] = n.reason;
  j["http_status"] = n.http_status;
  j["head"] = n.has_head ? json(n.head) : json(nullptr);
  j["lag"] = n.lag;
  j["version"] = n.version;
  j["chain_id"] = n.chain_id;
  j["latency_ms"] = {{"last", n.last_ms}, {"p50", n.p50_ms}, {"p95", n.p95_ms}};
  j["checks"] = n.checks;
  j["checks_failed"] = n.checks_failed;
  j["consecutive_failures"] = n.consecutive_failures;
  j["last_check_unix_ms"] = n.last_check_unix_ms;
  j["last_change_unix_ms"] = n.last_change_unix_ms;
  j["score"] = n.score;
  return j;
}

// Reads member @p key of @p obj into @p out; records what is wrong.
template <typename T>
bool get_member(const json &obj, const char *key, T &out, const std::string &where,
                std::string &error, bool required = true) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) error = where + ": missing member '" + key + "'";
    return !required;
  }
  try {
    out = it->template get<T>();
  } catch (const json::exception &) {
    error = where + ": member '" + key + "' has the wrong type";
    return false;
  }
  return true;
}

bool node_from_json(const json &j, NodeState &n, const std::string &where, std::string &error) {
  if (!j.is_object()) {
    error = where + ": not an object";
    return false;
  }
  if (!get_member(j, "name", n.name, where, error) || !get_member(j, "url", n.url, where, error) ||
      !get_member(j, "health", n.health, where, error) ||
      !get_member(j, "healthy", n.healthy, where, error) ||
      !get_member(j, "score", n.score, where, error) ||
      !get_member(j, "weight", n.weight, where, error, false) ||
      !get_member(j, "backup", n.backup, where, error, false) ||
      !get_member(j, "disabled", n.disabled, where, error, false) ||
      !get_member(j, "outcome", n.outcome, where, error, false) ||
      !get_member(j, "reason", n.reason, where, error, false) ||
      !get_member(j, "http_status", n.http_status, where, error, false) ||
      !get_member(j, "lag", n.lag, where, error, false) ||
      !get_member(j, "version", n.version, where, error, false) ||
      !get_member(j, "chain_id", n.chain_id, where, error, false) ||
      !get_member(j, "checks", n.checks, where, error, false) ||
      !get_member(j, "checks_failed", n.checks_failed, where, error, false) ||
      !get_member(j, "consecutive_failures", n.consecutive_failures, where, error, false) ||
      !get_member(j, "last_check_unix_ms", n.last_check_unix_ms, where, error, false) ||
      !get_member(j, "last_change_unix_ms", n.last_change_unix_ms, where, error, false))
    return false;
  auto head = j.find("head");
  n.has_head = head != j.end() && head->is_number_integer();
  if (n.has_head) n.head = head->get<int64_t>();
  auto lat = j.find("latency_ms");
  if (lat != j.end() && lat->is_object()) {
    const std::string w = where + ".latency_ms";
    if (!get_member(*lat, "last", n.last_ms, w, error, false) ||
        !get_member(*lat, "p50", n.p50_ms, w, error, false) ||
        !get_member(*lat, "p95", n.p95_ms, w, error, false))
      return false;
  }
  return true;
}

}  // namespace

std::string state_to_json(const State &state) {
  json j;
  j["format"] = "lbctl-state";
  j["version"] = state.version;
  j["generated_unix_ms"] = state.generated_unix_ms;
  j["interval_ms"] = state.interval_ms;
  j["round"] = state.round;
  j["pools"] = json::array();
  for (const PoolState &p : state.pools) {
    json pj;
    pj["name"] = p.name;
    pj["method"] = p.method;
    pj["nodes"] = json::array();
    for (const NodeState &n : p.nodes) pj["nodes"].push_back(node_to_json(n));
    j["pools"].push_back(std::move(pj));
  }
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

bool state_from_json(const std::string &text, State &out, std::string &error) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "not a JSON object";
    return false;
  }
  std::string format;
  if (!get_member(j, "format", format, "state", error)) return false;
  if (format != "lbctl-state") {
    error = "state: format is '" + format + "', expected 'lbctl-state'";
    return false;
  }
  if (!get_member(j, "version", out.version, "state", error)) return false;
  if (out.version != 1) {
    error = "state: version " + std::to_string(out.version) + " is not supported (1)";
    return false;
  }
  if (!get_member(j, "generated_unix_ms", out.generated_unix_ms, "state", error) ||
      !get_member(j, "interval_ms", out.interval_ms, "state", error, false) ||
      !get_member(j, "round", out.round, "state", error, false))
    return false;
  auto pools = j.find("pools");
  if (pools == j.end() || !pools->is_array()) {
    error = "state: missing array 'pools'";
    return false;
  }
  out.pools.clear();
  for (size_t i = 0; i < pools->size(); ++i) {
    const json &pj = (*pools)[i];
    const std::string where = "state.pools[" + std::to_string(i) + "]";
    PoolState p;
    if (!pj.is_object() || !get_member(pj, "name", p.name, where, error) ||
        !get_member(pj, "method", p.method, where, error, false)) {
      if (error.empty()) error = where + ": not an object";
      return false;
    }
    auto nodes = pj.find("nodes");
    if (nodes == pj.end() || !nodes->is_array()) {
      error = where + ": missing array 'nodes'";
      return false;
    }
    for (size_t k = 0; k < nodes->size(); ++k) {
      NodeState n;
      if (!node_from_json((*nodes)[k], n, where + ".nodes[" + std::to_string(k) + "]", error))
        return false;
      p.nodes.push_back(std::move(n));
    }
    out.pools.push_back(std::move(p));
  }
  return true;
}

namespace {

bool write_all(int fd, const std::string &data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string directory_of(const std::string &path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// 16 random hex digits (getrandom(2)): a temporary name nobody can plant
// a file or symlink at beforehand.
bool random_suffix(std::string &out) {
  unsigned char bytes[8];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    got += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  out.clear();
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return true;
}

}  // namespace

bool write_state_file(const std::string &path, const State &state, std::string &error) {
  const std::string data = state_to_json(state);
  std::string tmp;
  int fd = -1;
  // O_EXCL | O_NOFOLLOW: never write through a file or symlink that was
  // there; 0600: node URLs may carry credentials.
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    std::string suffix;
    if (!random_suffix(suffix)) {
      error = path + ": cannot pick a temporary name: " + std::strerror(errno);
      return false;
    }
    tmp = path + ".tmp." + suffix;
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    error = tmp + ": cannot create: " + std::strerror(errno);
    return false;
  }
  if (!write_all(fd, data) || ::fsync(fd) != 0) {
    error = tmp + ": cannot write: " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path + ": cannot rename " + tmp + " over it: " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  // The rename is durable only once the directory entry is on disk.
  int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

bool read_state_file(const std::string &path, State &out, std::string &error) {
  // O_NONBLOCK: opening a FIFO planted there returns at once (and is then
  // refused) instead of waiting for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": cannot open state file: " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) != 0) {
    error = path + ": cannot stat state file: " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = path + ": not a regular file; a state file is one (written by lbctl watch)";
  } else if (static_cast<uint64_t>(st.st_size) > kMaxStateFileBytes) {
    error = path + ": state file of " + std::to_string(st.st_size) + " bytes is larger than " +
            std::to_string(kMaxStateFileBytes) + " bytes";
  } else {
    // Read at most one byte past the bound: the file may grow meanwhile.
    text.resize(static_cast<size_t>(st.st_size) + 1);
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, &text[got], text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
    if (got > kMaxStateFileBytes) error = path + ": state file grew past the size bound while read";
  }
  ::close(fd);
  if (!error.empty()) return false;
  std::string why;
  if (!state_from_json(text, out, why)) {
    error = path + ": bad state file: " + why;
    return false;
  }
  return true;
}

}  // namespace lbctl
