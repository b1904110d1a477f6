// Pure pieces of the apns and fcm drivers (docs/notifications.md), free of
// I/O so unit tests reach them directly: request bodies, the apns-id, what
// each service's answer means for a kick, the service-account file.
#ifndef POSTBOX_SYNC_KICK_PUSH_UTIL_H_
#define POSTBOX_SYNC_KICK_PUSH_UTIL_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "postbox/result.h"
#include "postbox/sync/kick.h"

namespace postbox::sync::kick {

// The kicks a driver holds (waiting or in flight), bounded by its queue_limit:
// past it Send answers BackOff at once, so memory stays bounded whatever the
// service does. Thread-safe.
class KickBudget {
 public:
  KickBudget(std::string name, size_t limit) : name_(std::move(name)), limit_(limit) {}
  // True if there was room: the kick counts until Release(). Otherwise
  // answers `done` BackOff and returns false.
  bool Take(const std::function<void(KickResult)>& done);
  void Release() { held_.fetch_sub(1); }

 private:
  const std::string name_;
  const size_t limit_;
  std::atomic<size_t> held_{0};
};

// "https://HOST[:PORT]" from `url` (a trailing '/' dropped). InvalidArgument,
// naming `what`, for anything else (another scheme, a path, a query, user
// info, white space).
Result<std::string> HttpsOrigin(std::string_view url, std::string_view what);

// An APNs device token is hex (64 digits today; Apple may lengthen it).
bool IsHexToken(std::string_view token);

// apns-id: a UUID (RFC 9562 version 8, lowercase 8-4-4-4-12) made of the
// SHA-256 of `dedup_id`, so every retry of one kick carries the same id.
std::string ApnsId(std::string_view dedup_id);

// The APNs body: {"aps":{...},"postbox":{"mkey":"<hex>","dedup_id":"...",
// "payload":{...}}} — aps {"alert":{"title":..,"body":..},"mutable-content":1}
// for alert pushes (no title when empty), {"content-available":1} for
// background ones.
std::string ApnsBody(const Kick& kick, const ApnsOptions& options);

// What an APNs answer means for a kick (`body` the JSON {"reason":...}).
// `*renew_token` is set true for 403 ExpiredProviderToken and
// InvalidProviderToken (false otherwise).
KickResult ApnsResult(int http_status, std::string_view body, std::string_view retry_after,
                      std::chrono::system_clock::time_point now, bool* renew_token);

// The FCM HTTP v1 body: {"message":{"token":"<registration token>","data":
// {"mkey":"<hex>","dedup_id":"...","payload":"<payload JSON as a string>"},
// "android":{"priority":"high"|"normal","collapse_key":"<mkey hex>",
// "ttl":"<seconds>s"}}}. Data values are strings, as FCM requires.
std::string FcmBody(const Kick& kick, const FcmOptions& options);

// What an FCM answer means for a kick (`body` the JSON {"error":{"code":..,
// "status":..,"details":[{"@type":"...FcmError","errorCode":..}]}}).
// `*renew_token` is set true for 401.
KickResult FcmResult(int http_status, std::string_view body, std::string_view retry_after,
                     std::chrono::system_clock::time_point now, bool* renew_token);

// The fields of a service-account key file the fcm driver uses.
struct ServiceAccount {
  std::string client_email, private_key, private_key_id, token_uri, project_id;
};
// InvalidArgument, naming the missing field, if `json` is no JSON object with
// string client_email, private_key, token_uri and project_id
// (private_key_id is optional).
Result<ServiceAccount> ParseServiceAccount(std::string_view json);

// The OAuth 2 token request body (application/x-www-form-urlencoded) that
// trades `assertion` (an RS256 JWT) for an access token (RFC 7523 §2.1).
std::string TokenRequestBody(std::string_view assertion);

// The access token and its lifetime from a token endpoint's 200 answer
// {"access_token":"...","expires_in":3599,"token_type":"Bearer"};
// Unavailable if it has no such fields.
struct AccessToken {
  std::string token;
  std::chrono::seconds expires_in{0};
};
Result<AccessToken> ParseTokenResponse(std::string_view body);

}  // namespace postbox::sync::kick

#endif  // POSTBOX_SYNC_KICK_PUSH_UTIL_H_
