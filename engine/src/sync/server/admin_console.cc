#include "sync/server/admin_console.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cstdlib>
#include <utility>

#include "sync/crypto/jwt.h"

namespace postbox::sync::internal {

// cmake/PostboxEmbedFiles.cmake: the console's files by name, an empty pair last.
extern const std::pair<std::string_view, std::string_view> kEmbeddedFiles[];

namespace {

std::string_view ContentType(std::string_view name) {
  constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"}};
  for (const auto& [suffix, type] : kTypes) {
    if (name.ends_with(suffix)) return type;
  }
  return "application/octet-stream";
}

// 32 random bytes as base64url (43 characters).
std::string RandomToken() {
  std::array<unsigned char, 32> bytes{};
  // RAND_bytes only fails when the system's entropy source is broken; a
  // guessable login would be worse than stopping.
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) std::abort();
  return crypto::Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string Sha256(std::string_view text) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

void AddSecurityHeaders(http::HttpResponse* r) {
  r->headers.emplace_back("Content-Security-Policy",
                          "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'");
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("X-Frame-Options", "DENY");
  r->headers.emplace_back("Referrer-Policy", "no-referrer");
  r->headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r->headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
  r->headers.emplace_back("Cache-Control", "no-cache");
}

std::optional<http::HttpResponse> ConsoleFile(std::string_view path) {
  constexpr std::string_view kDir = "/console/";
  if (!path.starts_with(kDir)) return std::nullopt;
  std::string_view name = path.substr(kDir.size());
  if (name.empty()) name = "index.html";
  for (const auto* f = kEmbeddedFiles; !f->first.empty(); ++f) {
    if (f->first != name) continue;
    http::HttpResponse r =
        http::HttpResponse::Text(200, std::string(f->second), std::string(ContentType(name)));
    AddSecurityHeaders(&r);
    return r;
  }
  return std::nullopt;
}

std::optional<std::string_view> CookieValue(const http::HttpRequest& request,
                                            std::string_view name) {
  for (const auto& [field, value] : request.headers) {
    if (field != "cookie") continue;
    // "a=1; b=2" (RFC 6265 §5.4).
    std::string_view rest = value;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

bool SameOrigin(const http::HttpRequest& request) {
  if (const std::string* site = request.Header("sec-fetch-site")) {
    if (*site != "same-origin") return false;
  }
  if (const std::string* origin = request.Header("origin")) {
    const std::string* host = request.Header("host");
    if (host == nullptr) return false;
    if (*origin != "http://" + *host && *origin != "https://" + *host) return false;
  }
  return true;
}

ConsoleLogins::Login ConsoleLogins::Create(Clock::time_point now) {
  Login login{.cookie = RandomToken(), .csrf = RandomToken()};
  std::lock_guard lock(mu_);
  while (by_hash_.size() >= kMax) {
    by_hash_.erase(lru_.back());
    lru_.pop_back();
  }
  std::string hash = Sha256(login.cookie);
  lru_.push_front(hash);
  by_hash_.emplace(std::move(hash),
                   Entry{.csrf = login.csrf, .created = now, .used = now, .lru = lru_.begin()});
  return login;
}

std::optional<std::string> ConsoleLogins::Find(std::string_view cookie, Clock::time_point now) {
  const std::string hash = Sha256(cookie);
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  Entry& e = it->second;
  if (now - e.used > kIdle || now - e.created > kLifetime) {
    lru_.erase(e.lru);
    by_hash_.erase(it);
    return std::nullopt;
  }
  e.used = now;
  lru_.splice(lru_.begin(), lru_, e.lru);
  return e.csrf;
}

void ConsoleLogins::Remove(std::string_view cookie) {
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(Sha256(cookie));
  if (it == by_hash_.end()) return;
  lru_.erase(it->second.lru);
  by_hash_.erase(it);
}

size_t ConsoleLogins::size() const {
  std::lock_guard lock(mu_);
  return by_hash_.size();
}

}  // namespace postbox::sync::internal
