// The web console (docs/operations.md "Web console"): its static files,
// compiled into the library (server/console/, embedded by
// cmake/PostboxEmbedFiles.cmake), and the logins that let a browser use the
// admin API with a cookie instead of the bearer token: a login holds a random
// cookie value (kept only as its SHA-256) and a CSRF token every change must
// carry in X-CSRF-Token.
//
// Internal. Thread-safety: ConsoleLogins is safe to use from any thread; the
// free functions are pure.
#ifndef POSTBOX_SYNC_SERVER_ADMIN_CONSOLE_H_
#define POSTBOX_SYNC_SERVER_ADMIN_CONSOLE_H_

#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "sync/http/http.h"

namespace postbox::sync::internal {

// The console's file at `path` ("/console/" is index.html) as a 200 with its
// Content-Type and AddSecurityHeaders; nullopt if there is none.
std::optional<http::HttpResponse> ConsoleFile(std::string_view path);

// The headers every console file and admin answer carries: a strict
// Content-Security-Policy, nosniff, no framing, no referrer, no caching.
void AddSecurityHeaders(http::HttpResponse* response);

// The value of cookie `name` in the request's Cookie headers, if any.
std::optional<std::string_view> CookieValue(const http::HttpRequest& request,
                                            std::string_view name);

// False when the browser says the request may come from another site:
// Sec-Fetch-Site other than same-origin, or an Origin that is not
// http(s):// + the request's Host. Requests without either header (not from
// a browser) pass.
bool SameOrigin(const http::HttpRequest& request);

class ConsoleLogins {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::minutes kIdle{30};
  static constexpr std::chrono::hours kLifetime{12};
  static constexpr size_t kMax = 64;
  static constexpr std::string_view kCookie = "postbox_admin";

  struct Login {
    std::string cookie;  // the cookie's value (43 characters, base64url)
    std::string csrf;    // the CSRF token (43 characters)
  };
  // A new login; the least recently used one goes when kMax are held.
  Login Create(Clock::time_point now);
  // The CSRF token of the login with this cookie value while it is valid
  // (and marks it used); nullopt otherwise (an expired one is forgotten).
  std::optional<std::string> Find(std::string_view cookie, Clock::time_point now);
  void Remove(std::string_view cookie);
  size_t size() const;

 private:
  struct Entry {
    std::string csrf;
    Clock::time_point created, used;
    std::list<std::string>::iterator lru;  // position in lru_ (front: most recent)
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> by_hash_;  // SHA-256 of the cookie value
  std::list<std::string> lru_;
};

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_ADMIN_CONSOLE_H_
