// The admin API on the HTTP listener (docs/operations.md "Live stats"): what
// `postbox-admin --server` and the web console use to see the live server.
//   GET    /admin/sessions        every connection and what its session knows
//   GET    /admin/viewers         sessions per mailbox (the seeds' viewers)
//   GET    /admin/transfers       download streams in progress, uploads begun
//   GET    /admin/stats           ServerStats
//   DELETE /admin/sessions/<id>   kicks a session out (204; 404 if none)
// Every request needs `Authorization: Bearer <ServerOptions::admin_token>`
// (401 otherwise, before anything is looked up); with no token configured
// every /admin path is 404, like any unknown path. Answers are JSON.
//
// Library code only. Thread-safety: Handle runs on the loop threads; the
// answers that need every loop's sessions are gathered on each loop in turn
// (ServerCore::RunOnLoops) and sent from the last.
#ifndef POSTBOX_SYNC_SERVER_ADMIN_ROUTES_H_
#define POSTBOX_SYNC_SERVER_ADMIN_ROUTES_H_

#include <string_view>

#include "sync/http/http.h"

namespace postbox::sync::internal {

class ServerCore;

class AdminRoutes final : public http::HttpHandler {
 public:
  explicit AdminRoutes(ServerCore* core) : core_(core) {}
  static bool Claims(std::string_view path);
  void Handle(http::HttpRequest request, http::HttpRespond respond) override;

 private:
  ServerCore* core_;
};

// "Bearer <token>" (the scheme case-insensitive, RFC 6750 §2.1) against
// `token`, in time that does not depend on where they differ.
bool BearerMatches(std::string_view header, std::string_view token);

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_ADMIN_ROUTES_H_
