#include "sync/kick/push_util.h"

#include <openssl/evp.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "sync/kick/kick_util.h"

namespace postbox::sync::kick {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The kick's payload as JSON ({} if empty or, which the scheduler never
// makes, not JSON).
json Payload(const Kick& kick) {
  json p = json::parse(kick.payload_json, nullptr, false);
  return p.is_discarded() ? json::object() : p;
}

// A transient answer: `code` (BackOff or Unavailable) honouring Retry-After.
KickResult Transient(Code code, const std::string& what, std::string_view retry_after,
                     std::chrono::system_clock::time_point now) {
  KickResult r{Status(code, what), milliseconds(0)};
  if (auto after = ParseRetryAfter(retry_after, now)) r.retry_after = *after;
  return r;
}

KickResult Permanent(Code code, const std::string& what) { return {Status(code, what), {}}; }

// A string member of a JSON object, empty if absent or not a string.
std::string StringAt(const json& j, const char* name) {
  if (!j.is_object()) return "";
  const auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

bool KickBudget::Take(const std::function<void(KickResult)>& done) {
  if (held_.fetch_add(1) < limit_) return true;
  held_.fetch_sub(1);
  done({Status(Code::kBackOff,
               name_ + " queue full (" + std::to_string(limit_) + " kicks waiting or in flight)"),
        milliseconds(0)});
  return false;
}

Result<std::string> HttpsOrigin(std::string_view url, std::string_view what) {
  std::string_view rest = url;
  const auto bad = [&] {
    return Status::InvalidArgument(std::string(what) + " '" + std::string(url) +
                                   "': https://HOST[:PORT] expected");
  };
  if (rest.rfind("https://", 0) != 0) return bad();
  rest.remove_prefix(8);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return bad();
  for (char c : rest) {
    if (c == '/' || c == '?' || c == '#' || c == '@' || c <= ' ' || c == 0x7f) return bad();
  }
  return "https://" + std::string(rest);
}

bool IsHexToken(std::string_view token) {
  if (token.empty() || token.size() > 200) return false;
  for (char c : token) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string ApnsId(std::string_view dedup_id) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(dedup_id.data(), dedup_id.size(), d, &len, EVP_sha256(), nullptr) != 1) {
    std::abort();  // SHA-256 cannot fail short of a broken OpenSSL
  }
  d[6] = static_cast<unsigned char>((d[6] & 0x0f) | 0x80);  // version 8
  d[8] = static_cast<unsigned char>((d[8] & 0x3f) | 0x80);  // variant 10
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0], d[1],
                d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14],
                d[15]);
  return out;
}

std::string ApnsBody(const Kick& kick, const ApnsOptions& options) {
  json aps = json::object();
  if (options.push_type == ApnsOptions::PushType::kBackground) {
    aps["content-available"] = 1;
  } else {
    json alert = json::object();
    if (!options.alert_title.empty()) alert["title"] = options.alert_title;
    alert["body"] = options.alert_body;
    aps["alert"] = std::move(alert);
    aps["mutable-content"] = 1;
  }
  const json body = {
      {"aps", std::move(aps)},
      {"postbox",
       {{"mkey", kick.mkey.ToHex()}, {"dedup_id", kick.dedup_id}, {"payload", Payload(kick)}}}};
  return Dump(body);
}

KickResult ApnsResult(int http_status, std::string_view body, std::string_view retry_after,
                      std::chrono::system_clock::time_point now, bool* renew_token) {
  *renew_token = false;
  if (http_status == 200) return {};
  const std::string reason = StringAt(json::parse(body, nullptr, false), "reason");
  const std::string what =
      "apns answered " + std::to_string(http_status) + (reason.empty() ? "" : " " + reason);
  if (http_status == 429) return Transient(Code::kBackOff, what, retry_after, now);
  if (http_status >= 500) return Transient(Code::kUnavailable, what, retry_after, now);
  switch (http_status) {
    case 403:
      if (reason == "ExpiredProviderToken" || reason == "InvalidProviderToken") {
        *renew_token = true;
        return Transient(Code::kUnavailable, what, retry_after, now);
      }
      return Permanent(Code::kPermissionDenied, what);
    case 404:
    case 410:  // Unregistered: the app is gone from the device
      return Permanent(Code::kNotFound, what);
    case 413:
      return Permanent(Code::kTooLarge, what);
    default:  // 400 BadDeviceToken, BadTopic, ...; 405
      return Permanent(Code::kInvalidArgument, what);
  }
}

std::string FcmBody(const Kick& kick, const FcmOptions& options) {
  const std::string mkey = kick.mkey.ToHex();
  const json body = {
      {"message",
       {{"token", kick.registration.token},
        {"data", {{"mkey", mkey}, {"dedup_id", kick.dedup_id}, {"payload", Dump(Payload(kick))}}},
        {"android",
         {{"priority", options.high_priority ? "high" : "normal"},
          {"collapse_key", mkey},
          {"ttl", std::to_string(options.ttl.count()) + "s"}}}}}};
  return Dump(body);
}

KickResult FcmResult(int http_status, std::string_view body, std::string_view retry_after,
                     std::chrono::system_clock::time_point now, bool* renew_token) {
  *renew_token = false;
  if (http_status == 200) return {};
  const json answer = json::parse(body, nullptr, false);
  const json error = answer.is_object() ? answer.value("error", json::object()) : json::object();
  std::string code = StringAt(error, "status");
  // The FCM-specific code (UNREGISTERED, SENDER_ID_MISMATCH, ...) is more
  // precise than the canonical status.
  if (error.is_object() && error.contains("details") && error["details"].is_array()) {
    for (const auto& d : error["details"]) {
      if (StringAt(d, "@type").ends_with("google.firebase.fcm.v1.FcmError") &&
          !StringAt(d, "errorCode").empty()) {
        code = StringAt(d, "errorCode");
      }
    }
  }
  const std::string message = StringAt(error, "message");
  const std::string what = "fcm answered " + std::to_string(http_status) +
                           (code.empty() ? "" : " " + code) +
                           (message.empty() ? "" : ": " + message);
  if (http_status == 401) {
    *renew_token = true;
    return Transient(Code::kUnavailable, what, retry_after, now);
  }
  if (http_status == 429) return Transient(Code::kBackOff, what, retry_after, now);
  if (http_status >= 500) return Transient(Code::kUnavailable, what, retry_after, now);
  switch (http_status) {
    case 403:
      return Permanent(Code::kPermissionDenied, what);
    case 404:
      return Permanent(Code::kNotFound, what);
    default:  // 400 INVALID_ARGUMENT, ...
      return Permanent(Code::kInvalidArgument, what);
  }
}

Result<ServiceAccount> ParseServiceAccount(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("service account: a JSON object expected");
  ServiceAccount a;
  const std::pair<const char*, std::string*> required[] = {{"client_email", &a.client_email},
                                                           {"private_key", &a.private_key},
                                                           {"token_uri", &a.token_uri},
                                                           {"project_id", &a.project_id}};
  for (const auto& [name, field] : required) {
    *field = StringAt(j, name);
    if (field->empty()) {
      return Status::InvalidArgument(std::string("service account: no \"") + name +
                                     "\" string (a Google service-account key file expected)");
    }
  }
  a.private_key_id = StringAt(j, "private_key_id");
  return a;
}

std::string TokenRequestBody(std::string_view assertion) {
  // The JWT's characters (base64url and '.') need no form encoding.
  return "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" +
         std::string(assertion);
}

Result<AccessToken> ParseTokenResponse(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  AccessToken t;
  t.token = StringAt(j, "access_token");
  if (t.token.empty() || !j.contains("expires_in") || !j["expires_in"].is_number_integer() ||
      j["expires_in"].get<int64_t>() <= 0) {
    return Status::Unavailable("token endpoint: no access_token and positive expires_in");
  }
  for (char c : t.token) {
    if (c <= ' ' || c == 0x7f) return Status::Unavailable("token endpoint: a malformed token");
  }
  t.expires_in = std::chrono::seconds(j["expires_in"].get<int64_t>());
  return t;
}

}  // namespace postbox::sync::kick
