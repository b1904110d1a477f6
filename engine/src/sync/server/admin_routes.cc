#include "sync/server/admin_routes.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "sync/server/server_impl.h"
#include "sync/server/session.h"

namespace postbox::sync::internal {
namespace {

using Json = nlohmann::json;
constexpr std::string_view kPrefix = "/admin/";

http::HttpResponse JsonReply(uint16_t status, const Json& doc) {
  return http::HttpResponse::Text(status, doc.dump() + "\n", "application/json");
}

Json ToJson(const SessionInfo& s) {
  Json downloads = Json::array();
  for (const auto& d : s.downloads) {
    downloads.push_back({{"id", d.id.ToHex()}, {"next", d.next}, {"end", d.end}});
  }
  return {{"id", s.id},
          {"loop", s.loop},
          {"state", s.state},
          {"peer", s.peer},
          {"tls", s.tls},
          {"mkey", s.mkey ? Json(s.mkey->ToHex()) : Json(nullptr)},
          {"platform", std::string(PlatformName(s.platform))},
          {"app_version", s.app_version},
          {"since_ms", s.since_ms},
          {"bytes_in", s.bytes_in},
          {"bytes_out", s.bytes_out},
          {"pending_pushes", s.pending_pushes},
          {"queued_writes", s.queued_writes},
          {"unsent_bytes", s.unsent_bytes},
          {"downloads", std::move(downloads)}};
}

Json StatsJson(const ServerStats& s) {
  return {{"sessions", s.sessions},
          {"connections_refused", s.connections_refused},
          {"commits", s.commits},
          {"committed_ops", s.committed_ops},
          {"pushes", s.pushes},
          {"sessions_cut", s.sessions_cut},
          {"timeouts", s.timeouts},
          {"buffered_bytes", s.buffered_bytes},
          {"uploads_swept", s.uploads_swept},
          {"tombstones_purged", s.tombstones_purged},
          {"kicks_pending", s.kicks_pending},
          {"kicks_sent", s.kicks_sent},
          {"kicks_dropped", s.kicks_dropped},
          {"http_connections", s.http_connections},
          {"http_requests", s.http_requests},
          {"webpush_stored", s.webpush_stored},
          {"entries_expired", s.entries_expired},
          {"tls_handshakes", s.tls_handshakes},
          {"tls_handshake_failures", s.tls_handshake_failures}};
}

// Every loop's sessions, gathered on their own threads, then `done` with the
// list (on the thread of the loop that ran last).
void GatherSessions(ServerCore* core, std::function<void(std::vector<SessionInfo>)> done,
                    http::HttpRespond* respond_if_stopping) {
  struct Gathered {
    std::mutex mu;
    std::vector<SessionInfo> sessions;
  };
  auto g = std::make_shared<Gathered>();
  const bool queued = core->RunOnLoops(
      [g](Loop* loop) {
        std::vector<SessionInfo> mine;
        mine.reserve(loop->sessions.size());
        for (const auto& [id, s] : loop->sessions) mine.push_back(s->Info());
        std::lock_guard lock(g->mu);
        for (auto& i : mine) g->sessions.push_back(std::move(i));
      },
      [g, done = std::move(done)] {
        std::lock_guard lock(g->mu);
        std::sort(g->sessions.begin(), g->sessions.end(),
                  [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });
        done(std::move(g->sessions));
      });
  if (!queued) (*respond_if_stopping)(http::HttpResponse::JsonError(503, "server stopping"));
}

}  // namespace

bool BearerMatches(std::string_view header, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return false;
  }
  const std::string_view given = header.substr(kScheme.size());
  if (given.size() != token.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ token[i]);
  }
  return diff == 0;
}

bool AdminRoutes::Claims(std::string_view path) {
  return path.starts_with(kPrefix) || path == "/admin";
}

void AdminRoutes::Handle(http::HttpRequest request, http::HttpRespond respond) {
  const std::string& token = core_->options().admin_token;
  if (token.empty()) return respond(http::HttpResponse::JsonError(404, "not found"));
  const std::string* auth = request.Header("authorization");
  if (auth == nullptr || !BearerMatches(*auth, token)) {
    // Before anything is looked up: a bad token learns nothing.
    http::HttpResponse r = http::HttpResponse::JsonError(401, "a bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"postbox admin\"");
    return respond(std::move(r));
  }
  const std::string_view path = std::string_view(request.path);
  const std::string_view rest = path.size() > kPrefix.size() ? path.substr(kPrefix.size()) : "";
  const bool get = request.method == "GET" || request.method == "HEAD";
  // One respond, shared by the gathering's completion and the stopping path.
  auto shared = std::make_shared<http::HttpRespond>(std::move(respond));
  const auto not_allowed = [&shared](std::string_view allow) {
    http::HttpResponse r = http::HttpResponse::JsonError(405, "method not allowed");
    r.headers.emplace_back("Allow", std::string(allow));
    (*shared)(std::move(r));
  };
  if (rest == "sessions" || rest == "viewers" || rest == "transfers") {
    if (!get) return not_allowed("GET, HEAD");
    const std::string what(rest);
    DB* db = core_->db();
    GatherSessions(
        core_,
        [shared, what, db](std::vector<SessionInfo> sessions) {
          Json doc;
          if (what == "sessions") {
            Json list = Json::array();
            for (const auto& s : sessions) list.push_back(ToJson(s));
            doc = {{"sessions", std::move(list)}};
          } else if (what == "viewers") {
            // Sessions watching each mailbox (active ones: Hello done).
            std::map<std::string, Json> by;
            for (const auto& s : sessions) {
              if (!s.mkey || s.state != "active") continue;
              Json& v = by[s.mkey->ToHex()];
              if (v.is_null()) v = {{"mkey", s.mkey->ToHex()}, {"sessions", Json::array()}};
              v["sessions"].push_back(s.id);
            }
            Json list = Json::array();
            for (auto& [mkey, v] : by) {
              v["viewers"] = v["sessions"].size();
              list.push_back(std::move(v));
            }
            doc = {{"mailboxes", std::move(list)}};
          } else {
            Json downloads = Json::array();
            for (const auto& s : sessions) {
              for (const auto& d : s.downloads) {
                downloads.push_back({{"session", s.id},
                                     {"mkey", s.mkey ? Json(s.mkey->ToHex()) : Json(nullptr)},
                                     {"id", d.id.ToHex()},
                                     {"next", d.next},
                                     {"end", d.end}});
              }
            }
            Json uploads = Json::array();
            constexpr size_t kMaxUploads = 1000;
            if (auto list = db->ListUploads(std::nullopt, kMaxUploads); list.ok()) {
              for (const auto& u : *list) {
                uploads.push_back({{"id", u.id.ToHex()},
                                   {"from", u.from.ToHex()},
                                   {"to", u.to.ToHex()},
                                   {"offset", u.offset},
                                   {"length", u.length},
                                   {"created_ms", u.created_ms}});
              }
            }
            doc = {{"downloads", std::move(downloads)}, {"uploads", std::move(uploads)}};
          }
          (*shared)(JsonReply(200, doc));
        },
        shared.get());
    return;
  }
  if (rest == "stats") {
    if (!get) return not_allowed("GET, HEAD");
    return (*shared)(JsonReply(200, StatsJson(core_->stats())));
  }
  if (rest.starts_with("sessions/")) {
    if (request.method != "DELETE") return not_allowed("DELETE");
    const std::string_view digits = rest.substr(std::string_view("sessions/").size());
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
      return (*shared)(http::HttpResponse::JsonError(404, "no such session"));
    }
    // Session ids are unique in the server (ServerCore::NextSessionId), the same
    // ids the event log writes; the loop holding one finds it in its own map.
    auto found = std::make_shared<std::atomic<bool>>(false);
    const bool queued = core_->RunOnLoops(
        [id, found](Loop* loop) {
          auto it = loop->sessions.find(id);
          if (it == loop->sessions.end()) return;
          it->second->Kick();
          found->store(true, std::memory_order_relaxed);
        },
        [shared, found] {
          (*shared)(found->load(std::memory_order_relaxed)
                        ? http::HttpResponse{.status = 204}
                        : http::HttpResponse::JsonError(404, "no such session"));
        });
    if (!queued) (*shared)(http::HttpResponse::JsonError(503, "server stopping"));
    return;
  }
  (*shared)(http::HttpResponse::JsonError(404, "not found"));
}

}  // namespace postbox::sync::internal
