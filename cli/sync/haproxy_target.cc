// cli/sync/haproxy_target.cc - `lbctl sync` into HAProxy 2.6 through its runtime
// API (sync_target.h).  Commands used (management guide, 2.6):
//   show servers state B          the servers, their address, state, weights
//   show stat B 4 -1              current sessions and queue per server
//   add server B/S ADDR:PORT weight W [backup]   (starts in maintenance;
//                                 needs a dynamic balance algorithm)
//   set server B/S state ready|drain|maint, set server B/S weight N[%]
//   del server B/S                (only in maintenance, with no connection)
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "exit_codes.h"
#include "discovery.h"
#include "haproxy/haproxy_commands.h"
#include "haproxy/haproxy_runtime.h"
#include "sync_target.h"

namespace lbctl {

void log_change(const SyncConfig &config, const std::string &text) {
  std::printf("sync %s: %s\n", config.name.c_str(), text.c_str());
  std::fflush(stdout);
}

namespace {

using Clock = std::chrono::steady_clock;

// Current sessions + queued requests per server name, from `show stat`.
bool parse_active(const std::string &csv, std::map<std::string, long> &out, std::string &error) {
  std::istringstream in(csv);
  std::string line;
  std::vector<std::string> header;
  auto split = [](const std::string &text) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream s(text);
    while (std::getline(s, field, ',')) fields.push_back(field);
    return fields;
  };
  while (std::getline(in, line)) {
    if (line.rfind("# ", 0) == 0) {
      header = split(line.substr(2));
      continue;
    }
    if (line.empty() || header.empty()) continue;
    const std::vector<std::string> f = split(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < f.size(); ++i) row[header[i]] = f[i];
    out[row["svname"]] = std::atol(row["scur"].c_str()) + std::atol(row["qcur"].c_str());
  }
  if (header.empty()) {
    error = "unexpected answer to 'show stat': " + csv.substr(0, 200);
    return false;
  }
  return true;
}

// "lbk-10.0.0.7-8080", "lbk-fd00::7-8080" (HAProxy server names allow
// letters, digits, '-', '_', '.' and ':').
std::string owned_name(const DesiredServer &d) {
  return kOwnedServerPrefix + d.address + "-" + std::to_string(d.port);
}

const char *verdict_word(const HaproxyVerdict &v) {
  switch (v.kind) {
    case HaproxyVerdict::kUp: return "up";
    case HaproxyVerdict::kDrain: return "drain";
    case HaproxyVerdict::kDown: return "down";
    case HaproxyVerdict::kMaint: return "maint";
    default: return "no verdict yet";
  }
}

class HaproxyTarget : public SyncTarget {
 public:
  HaproxyTarget(const SyncConfig &config, const RuntimeEndpoint &endpoint)
      : config_(config), endpoint_(endpoint) {}

  uint64_t requests() const override { return requests_; }

  int sync(const std::vector<DesiredServer> &desired, const SyncSettings &settings) override {
    settings_ = &settings;
    failed_ = false;
    std::string answer, error;
    std::vector<ServerRuntimeState> servers;
    ++requests_;
    if (!runtime_command(endpoint_, "show servers state " + config_.backend, answer, error,
                         settings.timeout_ms) ||
        !parse_servers_state(answer, servers, error)) {
      std::fprintf(stderr, "lbctl sync: %s: haproxy %s backend '%s': %s\n",
                   config_.name.c_str(), endpoint_.text().c_str(), config_.backend.c_str(),
                   error.c_str());
      return kExitRuntime;
    }
    std::map<std::string, const ServerRuntimeState *> by_address;
    for (const ServerRuntimeState &s : servers)
      by_address[host_port_text(s.addr, s.port)] = &s;
    std::set<std::string> matched;
    for (const DesiredServer &d : desired) {
      const ServerRuntimeState *s = nullptr;
      if (d.discovered) {
        auto it = by_address.find(d.host_port());
        if (it != by_address.end()) s = it->second;
      } else {
        s = match_server(*d.node, servers);
      }
      if (!s) {
        if (d.discovered) add(d);
        else if (warned_missing_.insert(d.node->name).second)
          std::fprintf(stderr, "lbctl sync: %s: pool server '%s' (%s) is not in backend '%s' "
                               "(only discovered servers are added); skipped\n",
                       config_.name.c_str(), d.node->name.c_str(), d.node->url.c_str(),
                       config_.backend.c_str());
        continue;
      }
      matched.insert(s->name);
      const int base = d.discovered ? static_cast<int>(d.weight) : 0;
      for (const std::string &cmd :
           commands_for(config_.backend, *s, d.verdict, settings.min_change_pct, base))
        send(cmd, d.host_port() + " " + verdict_word(d.verdict) +
                      (d.verdict.reason.empty() ? "" : ": " + d.verdict.reason));
      if (!s->name.empty()) draining_.erase(s->name);
    }
    remove_unwanted(servers, matched);
    return failed_ ? kExitRuntime : kExitOk;
  }

 private:
  // Sends (or, dry, prints) one command and logs it; false when refused.
  bool send(const std::string &cmd, const std::string &why, const char *success = nullptr) {
    log_change(config_, cmd + " (" + why + ")");
    if (settings_->dry_run) return true;
    std::string answer, error;
    ++requests_;
    if (!runtime_command(endpoint_, cmd, answer, error, settings_->timeout_ms)) {
      std::fprintf(stderr, "lbctl sync: %s: %s: %s\n", config_.name.c_str(), cmd.c_str(),
                   error.c_str());
      failed_ = true;
      return false;
    }
    // "set" commands answer an empty line; add/del answer a sentence.
    const bool ok = success ? answer.find(success) != std::string::npos
                            : answer.find_first_not_of(" \r\n") == std::string::npos;
    if (!ok) {
      std::string text = answer.substr(0, 300);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      std::fprintf(stderr, "lbctl sync: %s: %s: refused: %s\n", config_.name.c_str(),
                   cmd.c_str(), text.c_str());
      failed_ = true;
    }
    return ok;
  }

  void add(const DesiredServer &d) {
    const std::string name = owned_name(d);
    const std::string server = config_.backend + "/" + name;
    std::string cmd = "add server " + server + " " + d.host_port() + " weight " +
                      std::to_string(d.weight) + (d.backup ? " backup" : "");
    if (!send(cmd, settings_->source.empty() ? "new server" : settings_->source,
              "New server registered"))
      return;
    // A new server starts in maintenance; bring it to its verdict.
    ServerRuntimeState added;
    added.backend = config_.backend;
    added.name = name;
    added.admin = kAdminForcedMaint;
    added.iweight = added.uweight = static_cast<int>(d.weight);
    for (const std::string &c : commands_for(config_.backend, added, d.verdict, 0, 0))
      send(c, d.host_port() + " " + verdict_word(d.verdict));
  }

  void remove_unwanted(const std::vector<ServerRuntimeState> &servers,
                       const std::set<std::string> &matched) {
    std::map<std::string, long> active;
    bool have_active = false;
    const Clock::time_point now = Clock::now();
    for (const ServerRuntimeState &s : servers) {
      if (matched.count(s.name)) continue;
      if (!config_.own_all && s.name.rfind(kOwnedServerPrefix, 0) != 0) continue;
      const std::string server = config_.backend + "/" + s.name;
      const std::string where = host_port_text(s.addr, s.port);
      const bool maint = s.admin & kAdminForcedMaint, drain = s.admin & kAdminForcedDrain;
      if (!maint && !drain) {
        send("set server " + server + " state drain", where + " no longer discovered: drain");
        draining_[s.name] = now;
        continue;
      }
      auto since = draining_.emplace(s.name, now).first->second;
      if (!have_active) {
        std::string answer, error;
        ++requests_;
        if (!runtime_command(endpoint_, "show stat " + config_.backend + " 4 -1", answer, error,
                             settings_->timeout_ms) ||
            !parse_active(answer, active, error)) {
          std::fprintf(stderr, "lbctl sync: %s: %s\n", config_.name.c_str(), error.c_str());
          failed_ = true;
          return;
        }
        have_active = true;
      }
      const long busy = active.count(s.name) ? active[s.name] : 0;
      const bool expired = now - since >= std::chrono::milliseconds(config_.drain_timeout_ms);
      if (busy > 0 && !expired) continue;
      const std::string why = busy > 0 ? where + " still has " + std::to_string(busy) +
                                             " connection(s) after drain_timeout"
                                       : where + " drained";
      if (!maint && !send("set server " + server + " state maint", why)) continue;
      if (send("del server " + server, why, "Server deleted")) draining_.erase(s.name);
    }
  }

  SyncConfig config_;
  RuntimeEndpoint endpoint_;
  const SyncSettings *settings_ = nullptr;
  bool failed_ = false;
  uint64_t requests_ = 0;
  std::map<std::string, Clock::time_point> draining_;  // server -> drain start
  std::set<std::string> warned_missing_;
};

}  // namespace

std::unique_ptr<SyncTarget> make_haproxy_target(const SyncConfig &config, std::string &error) {
  RuntimeEndpoint endpoint;
  if (!parse_runtime_endpoint(config.haproxy, endpoint, error)) {
    error = config.file + ":" + std::to_string(config.line) + ": haproxy: " + error;
    return nullptr;
  }
  return std::unique_ptr<SyncTarget>(new HaproxyTarget(config, endpoint));
}

}  // namespace lbctl
