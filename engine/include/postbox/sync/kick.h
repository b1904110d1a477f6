// Kick drivers (SPEC §6, docs/notifications.md): how the sync server tells an
// offline mailbox's push registration that the mailbox changed. The server's
// scheduler decides when (coalescing, retries, persistence across restarts);
// a driver only delivers one kick. A host server may supply its own driver;
// four are built in: `log` (JSON lines to a file), `webhook` (an HTTP POST of
// JSON to a gateway), `apns` (Apple's push service, HTTP/2 with a provider
// token) and `fcm` (Firebase Cloud Messaging's HTTP v1 API with a service
// account); a platform driver routes each kick to the driver of its platform.
//
// Thread-safety: a KickDriver's methods may be called from any thread; the
// built-in drivers are thread-safe.
#ifndef POSTBOX_SYNC_KICK_H_
#define POSTBOX_SYNC_KICK_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/types.h"

namespace postbox::sync {

// One kick to deliver.
struct Kick {
  MailboxKey mkey;
  PushRegistration registration;  // platform is never kNone
  // Stable for one pending kick across retries and restarts
  // ("<mkey hex>-<since as 16 hex digits>"): a gateway drops repeats with it.
  // Delivery is at least once.
  std::string dedup_id;
  // The JSON object of docs/notifications.md ("Payloads"), e.g.
  // {"type":"message_received","from":"<hex>","id":"<hex>","count":1}.
  std::string payload_json;
  uint32_t attempt = 1;  // 1 for the first send, 2 for the first retry, ...
};

// A driver's answer about one kick.
struct KickResult {
  // OK: delivered. Unavailable or BackOff: a transient failure, retried by the
  // scheduler with exponential backoff and jitter, no sooner than
  // `retry_after`. Any other code: permanent (the gateway refused the token or
  // the request); the kick is dropped, counted and logged.
  Status status;
  std::chrono::milliseconds retry_after{0};
};

class KickDriver {
 public:
  virtual ~KickDriver();

  // Delivers `kick` and calls `done` exactly once, on any thread (also inside
  // Send itself, e.g. when a bounded queue is full), when it knows the outcome.
  // Must not block for long: the scheduler calls it for every due kick.
  virtual void Send(const Kick& kick, std::function<void(KickResult)> done) = 0;

  // Called by the server when it stops: ends the driver's threads. Sends still
  // in progress may be abandoned (their `done` may never run); the scheduler
  // keeps their kicks pending in the store and sends them after a restart.
  virtual void Stop() {}

  // Reopens files the driver writes (the log driver's, after logrotate moved
  // it: postbox-server calls this on SIGHUP). OK by default; the error of
  // opening the file otherwise (the old file is kept then).
  virtual Status Reopen() { return Status::Ok(); }
};

// The `log` driver: appends one JSON object per line to `path` (created with
// mode 0640 if missing), {"time":"2026-01-02T03:04:05.678Z","mkey":"<hex>",
// "platform":"ios","token":"...","dedup_id":"...","attempt":1,"payload":{...}}.
// With `fsync` each line is fdatasync'ed before the kick counts as delivered.
// A failed write is Unavailable (retried). Unavailable if the file cannot be
// opened.
struct LogKickOptions {
  std::string path;
  bool fsync = false;
};
Result<std::unique_ptr<KickDriver>> MakeLogKickDriver(const LogKickOptions& options);

// The `webhook` driver: POSTs {"mkey":"<hex>","platform":"ios|android|web",
// "token":"...","dedup_id":"...","attempt":N,"payload":{...}} to `url` with
// Content-Type: application/json and Idempotency-Key: <dedup_id>, over
// keep-alive connections. 2xx: delivered. 429 and 503: transient, honouring
// Retry-After (seconds or an HTTP-date); other 5xx, connection errors and
// timeouts: transient; other 4xx: permanent.
struct WebhookOptions {
  // http://HOST[:PORT]/PATH (HOST a name or an IPv4 / [IPv6] literal; port 80
  // by default). https is refused (InvalidArgument): put a TLS-terminating
  // proxy on localhost in front of a remote gateway.
  std::string url;
  // From connecting to the whole response, per request.
  std::chrono::milliseconds timeout{10000};
  // Requests in progress at once (one connection and one worker thread each).
  size_t max_in_flight = 4;
  // Kicks waiting for a worker; past it Send answers BackOff at once (the
  // scheduler retries later), so memory stays bounded whatever the gateway does.
  size_t queue_limit = 1024;
  // Extra request headers (e.g. {"Authorization", "Bearer ..."}).
  std::vector<std::pair<std::string, std::string>> headers;
};
// InvalidArgument for a URL that is not http://HOST[:PORT]/PATH, an https URL,
// zero max_in_flight or queue_limit, a non-positive timeout, or a header name
// or value with CR, LF or (in the name) ':'.
Result<std::unique_ptr<KickDriver>> MakeWebhookKickDriver(const WebhookOptions& options);

// The `apns` driver: an HTTP/2 POST /3/device/<token> per kick to Apple's
// push service, over one TLS connection whose streams all kicks share,
// authenticated by an ES256 provider token (docs/notifications.md, "APNs").
// 200: delivered. 410 Unregistered: NotFound; 400 (BadDeviceToken, ...):
// InvalidArgument; 403 ExpiredProviderToken / InvalidProviderToken: the token
// is renewed, Unavailable (retried); other 403: PermissionDenied; 413:
// TooLarge; 429: BackOff and 5xx, connection errors and timeouts:
// Unavailable, both honouring Retry-After.
struct ApnsOptions {
  std::string key_pem;  // the .p8 signing key's text (PEM, EC P-256)
  std::string key_id;   // its 10-character key id
  std::string team_id;  // the developer team id (the token's issuer)
  std::string topic;    // the app's bundle id (apns-topic)
  // api.sandbox.push.apple.com instead of api.push.apple.com.
  bool sandbox = false;
  // https://HOST[:PORT] replacing Apple's (a test's fake); empty: Apple's.
  std::string base_url;
  std::string ca_file;  // PEM CA bundle to trust; empty: the system's
  // `alert` (a visible notification, apns-priority 10, mutable-content so a
  // notification service extension can fetch and rewrite it) or `background`
  // (content-available, apns-priority 5, throttled by iOS).
  enum class PushType { kAlert, kBackground };
  PushType push_type = PushType::kAlert;
  std::string alert_title;                  // alert pushes: may be empty
  std::string alert_body = "New activity";  // alert pushes
  // Apple stores an undeliverable notification this long (apns-expiration);
  // zero: it tries once.
  std::chrono::seconds ttl{86400};
  // A provider token is renewed after `token_refresh` (Apple: between 20 and
  // 60 minutes), and after a 403 ExpiredProviderToken / InvalidProviderToken,
  // but never sooner than `token_refresh_min` after the last one (Apple
  // answers TooManyProviderTokenUpdates to more frequent renewals).
  std::chrono::seconds token_refresh{40 * 60};
  std::chrono::seconds token_refresh_min{20 * 60};
  std::chrono::milliseconds timeout{10000};  // per request
  size_t max_in_flight = 100;                // HTTP/2 streams at once
  // Kicks waiting or in flight; past it Send answers BackOff at once.
  size_t queue_limit = 1024;
};
// InvalidArgument for a key that is no P-256 PEM, an empty key id, team id or
// topic, a base_url that is not https://HOST[:PORT], zero max_in_flight or
// queue_limit, a non-positive timeout or token_refresh, or token_refresh_min
// above token_refresh or token_refresh above 60 minutes.
Result<std::unique_ptr<KickDriver>> MakeApnsKickDriver(const ApnsOptions& options);

// The `fcm` driver: an HTTP/1.1-or-2 POST /v1/projects/<project>/messages:send
// per kick to Firebase Cloud Messaging, authenticated by an OAuth 2 access
// token that the driver gets from the service account's token_uri with an
// RS256 JWT assertion and caches until shortly before it expires
// (docs/notifications.md, "FCM"). 200: delivered. 404 UNREGISTERED:
// NotFound; 400 INVALID_ARGUMENT: InvalidArgument; 403 SENDER_ID_MISMATCH:
// PermissionDenied; 401: the access token is renewed, Unavailable; 429:
// BackOff and 5xx, connection errors, timeouts and a failed token request:
// Unavailable, both honouring Retry-After.
struct FcmOptions {
  // The service-account key file's text (JSON with "client_email",
  // "private_key" (PEM, RSA), "token_uri" and "project_id").
  std::string service_account_json;
  // https://HOST[:PORT] replacing https://fcm.googleapis.com (a test's
  // fake); empty: Google's.
  std::string base_url;
  // Replaces the service account's token_uri when not empty.
  std::string token_uri;
  std::string ca_file;  // PEM CA bundle to trust; empty: the system's
  // android.priority: `high` wakes the device at once (Doze or not).
  bool high_priority = true;
  std::chrono::seconds ttl{86400};  // android.ttl
  std::chrono::milliseconds timeout{10000};
  size_t max_in_flight = 100;
  size_t queue_limit = 1024;
};
// InvalidArgument for service-account JSON without those four strings or
// whose private_key is no RSA PEM of at least 2048 bits, a base_url or
// token_uri that is not https, zero max_in_flight or queue_limit, or a
// non-positive timeout.
Result<std::unique_ptr<KickDriver>> MakeFcmKickDriver(const FcmOptions& options);

// One driver per platform, for a server that kicks several (each may be
// null; one driver may serve several platforms).
struct PlatformKickDrivers {
  std::shared_ptr<KickDriver> ios, android, web;
};
// A driver that hands each kick to its platform's driver. A kick for a
// platform without one is answered NotFound at once (dropped, counted in
// ServerStats::kicks_dropped and logged by the server). Stop and Reopen reach
// every distinct driver once. InvalidArgument if all three are null.
Result<std::unique_ptr<KickDriver>> MakePlatformKickDriver(PlatformKickDrivers drivers);

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_KICK_H_
