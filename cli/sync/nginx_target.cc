// cli/sync/nginx_target.cc - `lbctl sync` into an upstream through the NGINX Plus
// API's upstream endpoints (sync_target.h), as NGINX Plus and lbkit's module
// (lbkit_api) serve them:
//   GET    {api}/                                  supported versions: [1,...]
//   GET    {api}/{v}/http/upstreams/{u}/servers    [{id, server, weight, backup,
//                                                    down, drain, ...}]
//   GET    {api}/{v}/http/upstreams/{u}            {peers: [{id, active, ...}]}
//   POST   {api}/{v}/http/upstreams/{u}/servers    {server, weight, backup, down}
//   PATCH  {api}/{v}/http/upstreams/{u}/servers/{id}  {weight, down, drain}
//   DELETE {api}/{v}/http/upstreams/{u}/servers/{id}
// Errors are JSON {"error": {"status", "text", "code"}}.  The API URL may end
// in a version ("/api/9"); otherwise the highest version the API lists is used.
//
// States: up -> down false, drain false, weight = base * pct / 100 (>= 1);
// drain -> drain true; down and maint -> down true.
// Ownership: the Plus API has no free-form tag, so the servers lbctl adds
// carry route "lbctl" (Plus uses `route` only for `sticky route`); a later
// lbctl run knows them by it.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <set>

#include "exit_codes.h"
#include "curl_api.h"
#include "sync_target.h"

namespace lbctl {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxBody = 16u << 20;
constexpr const char kOwnerRoute[] = "lbctl";

struct HttpReply {
  long status = 0;
  std::string body;
};

size_t on_body(char *data, size_t size, size_t count, void *user) {
  auto *body = static_cast<std::string *>(user);
  const size_t n = size * count;
  if (body->size() + n > kMaxBody) return 0;  // aborts the transfer
  body->append(data, n);
  return n;
}

// The error text of an API error document, or the start of the body.
std::string error_text(const HttpReply &reply) {
  const json doc = json::parse(reply.body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const json &e = doc["error"];
    std::string text = e.value("text", std::string());
    if (e.contains("code") && e["code"].is_string()) text += " (" + e["code"].get<std::string>() + ")";
    return "HTTP " + std::to_string(reply.status) + ": " + text;
  }
  return "HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 200);
}

class NginxTarget : public SyncTarget {
 public:
  explicit NginxTarget(const SyncConfig &config) : config_(config) {
    base_ = config.nginx_api;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  }
  ~NginxTarget() override {
    if (curl_ && api_) api_->easy_cleanup(curl_);
  }

  uint64_t requests() const override { return requests_; }

  int sync(const std::vector<DesiredServer> &desired, const SyncSettings &settings) override {
    settings_ = &settings;
    failed_ = false;
    std::string error;
    if (!open(error) || !find_version(error)) {
      std::fprintf(stderr, "lbctl sync: %s: nginx API %s: %s\n", config_.name.c_str(),
                   config_.nginx_api.c_str(), error.c_str());
      return kExitRuntime;
    }
    HttpReply reply;
    if (!request("GET", servers_url(), "", reply, error) || reply.status != 200) {
      std::fprintf(stderr, "lbctl sync: %s: upstream '%s': %s\n", config_.name.c_str(),
                   config_.upstream.c_str(), error.empty() ? error_text(reply).c_str()
                                                           : error.c_str());
      return kExitRuntime;
    }
    const json servers = json::parse(reply.body, nullptr, false);
    if (!servers.is_array()) {
      std::fprintf(stderr, "lbctl sync: %s: upstream '%s': the server list is not a JSON "
                           "array\n", config_.name.c_str(), config_.upstream.c_str());
      return kExitRuntime;
    }
    std::map<std::string, const json *> by_address;
    for (const json &s : servers)
      if (s.is_object() && s.contains("server") && s["server"].is_string() && s.contains("id"))
        by_address.emplace(s["server"].get<std::string>(), &s);
    std::set<long> matched;
    for (const DesiredServer &d : desired) {
      const std::string address = d.discovered ? d.host_port() : node_address(d);
      auto it = by_address.find(address);
      if (it == by_address.end()) {
        if (d.discovered) add(d);
        else if (warned_missing_.insert(address).second)
          std::fprintf(stderr, "lbctl sync: %s: pool server '%s' is not in upstream '%s' (only "
                               "discovered servers are added); skipped\n",
                       config_.name.c_str(), d.node->name.c_str(), config_.upstream.c_str());
        continue;
      }
      const json &s = *it->second;
      const long id = s["id"].get<long>();
      matched.insert(id);
      if (d.discovered) owned_.insert(address);
      update(d, s, id);
    }
    remove_unwanted(servers, matched);
    return failed_ ? kExitRuntime : kExitOk;
  }

 private:
  bool open(std::string &error) {
    if (curl_) return true;
    api_ = curl_api(&error);
    if (!api_) return false;
    curl_ = api_->easy_init();
    if (!curl_) {
      error = "curl_easy_init failed";
      return false;
    }
    return true;
  }

  // The API version: from the URL ("/api/9") or the highest the API lists.
  bool find_version(std::string &error) {
    if (!version_.empty()) return true;
    const size_t slash = base_.rfind('/');
    const std::string last = base_.substr(slash + 1);
    if (!last.empty() && last.size() < 4 && last.find_first_not_of("0123456789") == std::string::npos) {
      version_ = last;
      base_ = base_.substr(0, slash);
      return true;
    }
    HttpReply reply;
    if (!request("GET", base_ + "/", "", reply, error)) return false;
    const json versions = json::parse(reply.body, nullptr, false);
    long best = -1;
    if (reply.status == 200 && versions.is_array())
      for (const json &v : versions)
        if (v.is_number_integer()) best = std::max(best, v.get<long>());
    if (best < 1) {
      error = "GET " + base_ + "/: expected the list of API versions, got " + error_text(reply);
      return false;
    }
    version_ = std::to_string(best);
    return true;
  }

  std::string servers_url() const {
    return base_ + "/" + version_ + "/http/upstreams/" + config_.upstream + "/servers";
  }

  // A configured node's "host:port" as nginx lists it (from its URL).
  static std::string node_address(const DesiredServer &d) {
    std::string rest = d.node->url.substr(d.node->url.find("://") + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (rest.find(':') == std::string::npos || (rest.front() == '[' && rest.back() == ']'))
      rest += d.node->url.rfind("https", 0) == 0 ? ":443" : ":80";
    return rest;
  }

  bool request(const char *method, const std::string &url, const std::string &body,
               HttpReply &reply, std::string &error) {
    ++requests_;
    reply = HttpReply();
    api_->easy_reset(curl_);
    api_->easy_setopt(curl_, CURLOPT_URL, url.c_str());
    api_->easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method);
    api_->easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_->timeout_ms));
    api_->easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    api_->easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &on_body);
    api_->easy_setopt(curl_, CURLOPT_WRITEDATA, &reply.body);
    curl_slist *headers = nullptr;
    if (!body.empty()) {
      headers = api_->slist_append(headers, "Content-Type: application/json");
      api_->easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
      api_->easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    api_->easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    const CURLcode rc = api_->easy_perform(curl_);
    if (headers) api_->slist_free_all(headers);
    if (rc != CURLE_OK) {
      error = std::string(method) + " " + url + ": " + api_->easy_strerror(rc);
      return false;
    }
    api_->easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply.status);
    return true;
  }

  // Sends (or, dry, prints) one change; false when it failed.
  bool change(const char *method, const std::string &url, const json &body,
              const std::string &what, long expect_status) {
    log_change(config_, what);
    if (settings_->dry_run) return true;
    HttpReply reply;
    std::string error;
    if (!request(method, url, body.is_null() ? "" : body.dump(), reply, error) ||
        reply.status != expect_status) {
      std::fprintf(stderr, "lbctl sync: %s: %s %s: %s\n", config_.name.c_str(), method,
                   url.c_str(), error.empty() ? error_text(reply).c_str() : error.c_str());
      failed_ = true;
      return false;
    }
    if (method == std::string("POST")) {
      const json added = json::parse(reply.body, nullptr, false);
      if (added.is_object() && added.contains("server") && added["server"].is_string())
        owned_.insert(added["server"].get<std::string>());
    }
    return true;
  }

  static int weight_for(const DesiredServer &d) {
    const int base = static_cast<int>(d.weight);
    int pct = d.verdict.weight_pct < 1 ? 100 : d.verdict.weight_pct;
    return std::max(1, base * pct / 100);
  }

  static std::string why(const DesiredServer &d) {
    return d.verdict.reason.empty() ? "" : " (" + d.verdict.reason + ")";
  }

  void add(const DesiredServer &d) {
    json body = {{"server", d.host_port()}, {"weight", d.weight}, {"route", kOwnerRoute}};
    if (d.backup) body["backup"] = true;
    // Without a verdict yet (or failing), the server joins held out.
    const bool up = d.verdict.kind == HaproxyVerdict::kUp;
    body["down"] = !up && d.verdict.kind != HaproxyVerdict::kDrain;
    if (up) body["weight"] = weight_for(d);
    change("POST", servers_url(), body,
           "add " + d.host_port() + " weight " + std::to_string(body["weight"].get<int>()) +
               (d.backup ? " backup" : "") + (body["down"].get<bool>() ? " down" : "") + " (" +
               settings_->source + ")",
           201);
  }

  void update(const DesiredServer &d, const json &s, long id) {
    const bool down = s.value("down", false), drain = s.value("drain", false);
    const int weight = s.value("weight", 1);
    json patch = json::object();
    std::string what;
    switch (d.verdict.kind) {
      case HaproxyVerdict::kUnknown:
        return;
      case HaproxyVerdict::kDrain:
        if (!drain || down) {
          patch["drain"] = true;
          patch["down"] = false;
          what = "drain";
        }
        break;
      case HaproxyVerdict::kDown:
      case HaproxyVerdict::kMaint:
        if (!down) {
          patch["down"] = true;
          what = "down";
        }
        break;
      case HaproxyVerdict::kUp: {
        if (down || drain) {
          patch["down"] = false;
          patch["drain"] = false;
          what = "up";
        }
        const int base = static_cast<int>(d.weight);
        const int want = weight_for(d);
        if (want != weight &&
            std::abs(want - weight) * 100 >= static_cast<int>(settings_->min_change_pct) * base) {
          patch["weight"] = want;
          what += std::string(what.empty() ? "" : ", ") + "weight " + std::to_string(want);
        }
        break;
      }
    }
    if (patch.empty()) return;
    const std::string address = s["server"].get<std::string>();
    change("PATCH", servers_url() + "/" + std::to_string(id), patch,
           address + ": " + what + why(d), 200);
  }

  // Active connections per server id (GET the upstream's peers).
  bool active_counts(std::map<long, long> &out) {
    HttpReply reply;
    std::string error;
    const std::string url = base_ + "/" + version_ + "/http/upstreams/" + config_.upstream;
    if (!request("GET", url, "", reply, error) || reply.status != 200) {
      std::fprintf(stderr, "lbctl sync: %s: GET %s: %s\n", config_.name.c_str(), url.c_str(),
                   error.empty() ? error_text(reply).c_str() : error.c_str());
      failed_ = true;
      return false;
    }
    const json doc = json::parse(reply.body, nullptr, false);
    if (doc.is_object() && doc.contains("peers") && doc["peers"].is_array())
      for (const json &p : doc["peers"])
        if (p.is_object() && p.contains("id") && p["id"].is_number_integer())
          out[p["id"].get<long>()] = p.value("active", 0L);
    return true;
  }

  void remove_unwanted(const json &servers, const std::set<long> &matched) {
    std::map<long, long> active;
    bool have_active = false;
    const Clock::time_point now = Clock::now();
    for (const json &s : servers) {
      if (!s.is_object() || !s.contains("id") || !s["id"].is_number_integer() ||
          !s.contains("server") || !s["server"].is_string())
        continue;
      const long id = s["id"].get<long>();
      const std::string address = s["server"].get<std::string>();
      if (matched.count(id)) continue;
      const bool tagged = s.contains("route") && s["route"] == kOwnerRoute;
      if (!config_.own_all && !tagged && !owned_.count(address)) continue;
      const std::string url = servers_url() + "/" + std::to_string(id);
      if (!s.value("drain", false) && !s.value("down", false)) {
        if (change("PATCH", url, {{"drain", true}}, address + ": drain (no longer discovered)",
                   200))
          draining_[id] = now;
        continue;
      }
      const auto since = draining_.emplace(id, now).first->second;
      if (!have_active && !(have_active = active_counts(active))) return;
      const long busy = active.count(id) ? active[id] : 0;
      const bool expired = now - since >= std::chrono::milliseconds(config_.drain_timeout_ms);
      if (busy > 0 && !expired) continue;
      if (change("DELETE", url, json(), "remove " + address +
                                            (busy ? " (drain_timeout with " +
                                                        std::to_string(busy) + " active)"
                                                  : " (drained)"),
                 200)) {
        draining_.erase(id);
        owned_.erase(address);
      }
    }
  }

  SyncConfig config_;
  std::string base_, version_;
  const CurlApi *api_ = nullptr;
  CURL *curl_ = nullptr;
  const SyncSettings *settings_ = nullptr;
  bool failed_ = false;
  uint64_t requests_ = 0;
  std::set<std::string> owned_;           // "host:port" of servers lbctl added
  std::map<long, Clock::time_point> draining_;
  std::set<std::string> warned_missing_;
};

}  // namespace

std::unique_ptr<SyncTarget> make_nginx_target(const SyncConfig &config, std::string &) {
  return std::unique_ptr<SyncTarget>(new NginxTarget(config));
}

}  // namespace lbctl
