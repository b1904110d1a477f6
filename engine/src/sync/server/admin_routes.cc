#include "sync/server/admin_routes.h"

#include <openssl/crypto.h>

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

constexpr std::string_view kPrefix = "/admin/";

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

}  // namespace

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

http::HttpResponse Unauthorized() {
  http::HttpResponse r = http::HttpResponse::JsonError(401, "a valid admin token is required");
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"postbox admin\"");
  return r;
}

http::HttpResponse JsonReply(uint16_t status, const Json& doc) {
  // Strings from clients (an app version, a push token) need not be UTF-8:
  // they are shown with U+FFFD rather than failing the whole answer.
  http::HttpResponse r = http::HttpResponse::Text(
      status, doc.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n", "application/json");
  AddSecurityHeaders(&r);
  return r;
}

bool SecretEquals(std::string_view given, std::string_view secret) {
  return given.size() == secret.size() &&
         CRYPTO_memcmp(given.data(), secret.data(), secret.size()) == 0;
}

bool BearerMatches(std::string_view header, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return false;
  }
  return SecretEquals(header.substr(kScheme.size()), token);
}

bool AdminRoutes::Claims(std::string_view path) {
  return path.starts_with(kPrefix) || path == "/admin" || path.starts_with("/console/") ||
         path == "/console";
}

void AdminRoutes::Handle(http::HttpRequest request, http::HttpRespond respond) {
  const std::string& token = core_->options().admin_token;
  if (token.empty()) return respond(http::HttpResponse::JsonError(404, "not found"));
  const std::string_view path = std::string_view(request.path);
  const bool get = request.method == "GET" || request.method == "HEAD";
  // One respond, shared by the gathering's completion and the stopping path.
  auto shared = std::make_shared<http::HttpRespond>(std::move(respond));
  if (path == "/console" || path.starts_with("/console/")) {
    if (!get) return (*shared)(http::HttpResponse::MethodNotAllowed("GET, HEAD"));
    if (path == "/console") {
      http::HttpResponse r{.status = 308};
      r.headers.emplace_back("Location", "/console/");
      return (*shared)(std::move(r));
    }
    std::optional<http::HttpResponse> file = ConsoleFile(path);
    return (*shared)(file ? std::move(*file) : http::HttpResponse::JsonError(404, "not found"));
  }
  const std::string_view rest = path.size() > kPrefix.size() ? path.substr(kPrefix.size()) : "";
  if (rest == "login") return Login(request, shared);
  // Who asks: the bearer token, else a console login's cookie.
  const std::string* auth = request.Header("authorization");
  std::optional<std::string> csrf;
  if (auth == nullptr || !BearerMatches(*auth, token)) {
    csrf = CsrfOfLogin(request);
    // Before anything is looked up: a bad token learns nothing.
    if (!csrf) return (*shared)(Unauthorized());
    if (!get) {
      if (!SameOrigin(request)) {
        return (*shared)(http::HttpResponse::JsonError(403, "cross-site request refused"));
      }
      const std::string* given = request.Header("x-csrf-token");
      if (given == nullptr || !SecretEquals(*given, *csrf)) {
        return (*shared)(http::HttpResponse::JsonError(403, "missing or wrong X-CSRF-Token"));
      }
    }
  }
  if (rest == "logout") {
    if (request.method != "POST") return (*shared)(http::HttpResponse::MethodNotAllowed("POST"));
    if (const auto cookie = CookieValue(request, ConsoleLogins::kCookie)) logins_.Remove(*cookie);
    http::HttpResponse r{.status = 204};
    r.headers.emplace_back("Set-Cookie",
                           std::string(ConsoleLogins::kCookie) +
                               "=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0");
    return (*shared)(std::move(r));
  }
  if (rest == "health") {
    if (!get) return (*shared)(http::HttpResponse::MethodNotAllowed("GET, HEAD"));
    return (*shared)(JsonReply(200, health_.Json()));
  }
  if (LiveRoute(request, rest, shared) || StoreRoute(request, rest, shared)) return;
  (*shared)(http::HttpResponse::JsonError(404, "not found"));
}

std::optional<std::string> AdminRoutes::CsrfOfLogin(const http::HttpRequest& request) {
  const auto cookie = CookieValue(request, ConsoleLogins::kCookie);
  if (!cookie) return std::nullopt;
  return logins_.Find(*cookie, ConsoleLogins::Clock::now());
}

void AdminRoutes::Login(const http::HttpRequest& request, const Shared& respond) {
  if (request.method == "GET" || request.method == "HEAD") {
    const std::optional<std::string> csrf = CsrfOfLogin(request);
    if (!csrf) return (*respond)(Unauthorized());
    return (*respond)(JsonReply(200, {{"csrf", *csrf}}));
  }
  if (request.method != "POST")
    return (*respond)(http::HttpResponse::MethodNotAllowed("GET, HEAD, POST"));
  if (!SameOrigin(request)) {
    return (*respond)(http::HttpResponse::JsonError(403, "cross-site request refused"));
  }
  constexpr size_t kMaxBody = 4096;
  if (request.body.size() > kMaxBody) {
    return (*respond)(http::HttpResponse::JsonError(413, "a login is at most 4 KiB"));
  }
  const Json doc = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("token") || !doc["token"].is_string()) {
    return (*respond)(http::HttpResponse::JsonError(400, "the body must be {\"token\": \"...\"}"));
  }
  if (!SecretEquals(doc["token"].get_ref<const std::string&>(), core_->options().admin_token)) {
    return (*respond)(Unauthorized());
  }
  const ConsoleLogins::Login login = logins_.Create(ConsoleLogins::Clock::now());
  http::HttpResponse r = JsonReply(
      200, {{"csrf", login.csrf},
            {"idle_timeout_s",
             std::chrono::duration_cast<std::chrono::seconds>(ConsoleLogins::kIdle).count()}});
  std::string cookie =
      std::string(ConsoleLogins::kCookie) + "=" + login.cookie +
      "; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=" +
      std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(ConsoleLogins::kLifetime).count());
  if (core_->options().http_tls) cookie += "; Secure";
  r.headers.emplace_back("Set-Cookie", std::move(cookie));
  (*respond)(std::move(r));
}

bool AdminRoutes::LiveRoute(const http::HttpRequest& request, std::string_view rest,
                            const Shared& shared) {
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (rest == "sessions" || rest == "viewers" || rest == "transfers") {
    if (!get) return (*shared)(http::HttpResponse::MethodNotAllowed("GET, HEAD")), true;
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
    return true;
  }
  if (rest == "stats") {
    if (!get) return (*shared)(http::HttpResponse::MethodNotAllowed("GET, HEAD")), true;
    return (*shared)(JsonReply(200, StatsJson(core_->stats()))), true;
  }
  if (rest.starts_with("sessions/")) {
    if (request.method != "DELETE")
      return (*shared)(http::HttpResponse::MethodNotAllowed("DELETE")), true;
    const std::string_view digits = rest.substr(std::string_view("sessions/").size());
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
      return (*shared)(http::HttpResponse::JsonError(404, "no such session")), true;
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
    return true;
  }
  return false;
}

}  // namespace postbox::sync::internal
