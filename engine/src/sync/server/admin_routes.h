// The admin API on the HTTP listener (docs/operations.md "Admin API"): what
// `postbox-admin --server` and the web console use to see and change the
// live server.
//   GET    /admin/sessions        every connection and what its session knows
//   GET    /admin/viewers         sessions per mailbox (the seeds' viewers)
//   GET    /admin/transfers       download streams in progress, uploads begun
//   GET    /admin/stats           ServerStats
//   GET    /admin/health          the last ten minutes of samples (health.h)
//   DELETE /admin/sessions/<id>   kicks a session out (204; 404 if none)
//   GET    /admin/mailboxes[?after=&limit=&prefix=], POST /admin/mailboxes
//   GET    /admin/mailboxes/<mkey>, DELETE /admin/mailboxes/<mkey>
//   GET    /admin/mailboxes/<mkey>/connections[?kind=&after=&limit=]
//   PUT    /admin/connections/<a>/<b>, DELETE /admin/connections/<a>/<b>
//   POST   /admin/login, GET /admin/login, POST /admin/logout (the console)
//   GET    /console/...           the web console's files (admin_console.h)
// A request is let in by `Authorization: Bearer <ServerOptions::admin_token>`
// or by a console login's cookie; a change made with the cookie must also
// carry the login's X-CSRF-Token and come from the same origin. Otherwise
// 401 (403 for the CSRF checks) before anything is looked up; with no token
// configured every /admin and /console path is 404, like any unknown path.
// Changes go through the server's writer (the sessions' group commit), so
// the console and the CLI add no second way to change the store. Answers
// are JSON.
//
// Library code only. Thread-safety: Handle runs on the loop threads; the
// answers that need every loop's sessions are gathered on each loop in turn
// (ServerCore::RunOnLoops) and sent from the last.
#ifndef POSTBOX_SYNC_SERVER_ADMIN_ROUTES_H_
#define POSTBOX_SYNC_SERVER_ADMIN_ROUTES_H_

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sync/http/http.h"
#include "sync/server/admin_console.h"
#include "sync/server/health.h"

namespace postbox::sync::internal {

class ServerCore;

class AdminRoutes final : public http::HttpHandler {
 public:
  explicit AdminRoutes(ServerCore* core) : core_(core) {}
  static bool Claims(std::string_view path);
  void Handle(http::HttpRequest request, http::HttpRespond respond) override;

  // Loop 0's tick (a sample every HealthHistory::kIntervalMs).
  HealthHistory& health() { return health_; }

 private:
  using Shared = std::shared_ptr<http::HttpRespond>;
  // The CSRF token of the console login the request's cookie names, if valid.
  std::optional<std::string> CsrfOfLogin(const http::HttpRequest& request);
  // POST /admin/login (the token in a JSON body) and GET /admin/login (the cookie).
  void Login(const http::HttpRequest& request, const Shared& respond);
  // The live sessions' routes; false if `rest` is not one of them.
  bool LiveRoute(const http::HttpRequest& request, std::string_view rest, const Shared& respond);
  // Mailboxes and connections; false if `rest` is not one of them.
  bool StoreRoute(const http::HttpRequest& request, std::string_view rest, const Shared& respond);

  ServerCore* core_;
  ConsoleLogins logins_;
  HealthHistory health_;
};

// "Bearer <token>" (the scheme case-insensitive, RFC 6750 §2.1) against
// `token`, in time that does not depend on where they differ.
bool BearerMatches(std::string_view header, std::string_view token);
// `given` == `secret` in time that does not depend on where they differ.
bool SecretEquals(std::string_view given, std::string_view secret);

// Every loop's sessions, gathered on their own threads, then `done` with the
// list ordered by id (on the thread of the loop that ran last); if the loops
// are stopping, *respond_if_stopping gets 503 instead.
struct SessionInfo;
void GatherSessions(ServerCore* core, std::function<void(std::vector<SessionInfo>)> done,
                    http::HttpRespond* respond_if_stopping);

// Answers the admin routes share: `doc` as JSON (strings that are not UTF-8
// shown with U+FFFD) with AddSecurityHeaders; 401 with WWW-Authenticate.
using Json = nlohmann::json;
http::HttpResponse JsonReply(uint16_t status, const Json& doc);
http::HttpResponse Unauthorized();

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_ADMIN_ROUTES_H_
