#include "sync/push/web_push.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "postbox/push.h"
#include "store/batch_op.h"
#include "sync/crypto/jwt.h"
#include "sync/server/server_impl.h"

namespace postbox::sync::push {
namespace {

using http::HttpRequest;
using http::HttpRespond;
using http::HttpResponse;

constexpr std::string_view kPushPath = "/push/";
constexpr std::string_view kMessagePath = "/m/";
constexpr size_t kTokenChars = 22;  // 16 random bytes in base64url
constexpr size_t kMaxTopicChars = 32;
// RFC 8292 §2: a token's exp is at most 24 hours ahead; a minute's leeway
// for the app server's clock.
constexpr uint64_t kVapidMaxLifetimeS = 24 * 3600;
constexpr uint64_t kClockLeewayS = 60;

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool IsBase64Url(std::string_view s) { return std::all_of(s.begin(), s.end(), IsBase64UrlChar); }

bool IsToken(std::string_view s) { return s.size() == kTokenChars && IsBase64Url(s); }

// RFC 8030 §5.4: 1 to 32 characters of base64url.
bool IsTopic(std::string_view s) {
  return !s.empty() && s.size() <= kMaxTopicChars && IsBase64Url(s);
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

HttpResponse Error(uint16_t status, std::string_view message) {
  return HttpResponse::JsonError(status, message);
}

// RFC 8030 §5.2: one or more digits; a value past 2^31 counts as 2^31.
bool ParseTtl(std::string_view text, uint64_t* out) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  uint64_t v = 0;
  for (char c : text) {
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > (uint64_t{1} << 31)) {
      v = uint64_t{1} << 31;
      break;
    }
  }
  *out = v;
  return true;
}

// The origin ("scheme://host[:port]") of an absolute URL.
std::string OriginOf(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const size_t path = url.find('/', scheme_end + 3);
  return std::string(url.substr(0, path));
}

// The error response for a failed write of a notification or version.
HttpResponse WriteError(const Status& s) {
  switch (s.code()) {
    case Code::kNotFound:  // the mailbox was deleted since the lookup
      return Error(410, "the endpoint's mailbox is gone");
    case Code::kTooLarge:
      return Error(413, s.message());
    case Code::kResourceExhausted:
    case Code::kUnavailable: {
      HttpResponse r = Error(503, "the server cannot store it now; try again later");
      r.headers.emplace_back("Retry-After", "60");
      return r;
    }
    default:
      spdlog::warn("web push write failed: {}", s.ToString());
      return Error(500, "the server could not store it");
  }
}

}  // namespace

bool RateLimiter::Take(std::string_view token, Clock::time_point now, uint32_t* retry_after_s) {
  if (rate_ <= 0) return true;
  std::lock_guard lock(mu_);
  const double burst = burst_;
  auto it = buckets_.find(std::string(token));
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxTracked) {
      // Forget the buckets that have refilled: they are as good as new.
      std::erase_if(buckets_, [&](const auto& kv) {
        const double s = std::chrono::duration<double>(now - kv.second.at).count();
        return kv.second.tokens + s * rate_ >= burst;
      });
    }
    it = buckets_.emplace(std::string(token), Bucket{burst, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * rate_);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  *retry_after_s = static_cast<uint32_t>(std::ceil((1 - b.tokens) / rate_));
  return false;
}

size_t RateLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

bool IsWebPushPath(std::string_view path) {
  return path.starts_with(kPushPath) || path.starts_with(kMessagePath);
}

WebPushRoutes::WebPushRoutes(internal::ServerCore* core)
    : core_(core), limiter_(core->options().webpush_rate, core->options().webpush_burst) {}

uint64_t WebPushRoutes::NowMs() const {
  const auto& clock = core_->db()->options().clock;
  if (clock) return clock();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

void WebPushRoutes::FillStats(ServerStats* s) const {
  s->webpush_stored = stored_.load(std::memory_order_relaxed);
  s->webpush_dropped = dropped_.load(std::memory_order_relaxed);
  s->webpush_rate_limited = rate_limited_.load(std::memory_order_relaxed);
}

void WebPushRoutes::Handle(HttpRequest request, HttpRespond respond) {
  // /push/<token> or /m/<token>/<message>
  const bool push = request.path.starts_with(kPushPath);
  std::string_view rest =
      std::string_view(request.path).substr(push ? kPushPath.size() : kMessagePath.size());
  std::string_view message;
  if (!push) {
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return respond(Error(404, "not found"));
    message = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  const std::string& method = request.method;
  if (push && method != "POST" && method != "PUT" && method != "GET" && method != "HEAD") {
    return respond(HttpResponse::MethodNotAllowed("GET, HEAD, POST, PUT"));
  }
  if (!push && method != "DELETE") return respond(HttpResponse::MethodNotAllowed("DELETE"));
  // Unknown and malformed tokens look the same: nothing to probe.
  if (!IsToken(rest)) return respond(Error(404, "unknown endpoint"));
  auto endpoint = core_->db()->GetEndpoint(rest);
  if (!endpoint) {
    if (endpoint.status().Is(Code::kNotFound)) return respond(Error(404, "unknown endpoint"));
    spdlog::warn("web push endpoint lookup failed: {}", endpoint.status().ToString());
    return respond(Error(500, "the server could not look the endpoint up"));
  }
  if (endpoint->revoked_ms != 0) return respond(Error(410, "the endpoint was revoked"));
  if (method == "GET" || method == "HEAD") {
    // UnifiedPush discovery: this endpoint takes UnifiedPush (version 1).
    return respond(HttpResponse::Text(200, R"({"unifiedpush":{"version":1}})", "application/json"));
  }
  if (method == "DELETE") return Delete(request, *endpoint, message, std::move(respond));
  uint32_t retry_after = 0;
  if (!limiter_.Take(endpoint->token, RateLimiter::Clock::now(), &retry_after)) {
    rate_limited_.fetch_add(1, std::memory_order_relaxed);
    HttpResponse r = Error(429, "too many notifications to this endpoint");
    r.headers.emplace_back("Retry-After", std::to_string(std::max<uint32_t>(retry_after, 1)));
    return respond(std::move(r));
  }
  if (method == "PUT") return Put(request, *endpoint, std::move(respond));
  Post(request, *endpoint, std::move(respond));
}

void WebPushRoutes::Post(const HttpRequest& r, const EndpointInfo& e, HttpRespond respond) {
  const ServerOptions& o = core_->options();
  if (r.body.size() > o.webpush_max_payload_bytes) {
    return respond(Error(413, "the payload is " + std::to_string(r.body.size()) +
                                  " bytes; the limit is " +
                                  std::to_string(o.webpush_max_payload_bytes)));
  }
  PushNotification n;
  n.token = e.token;
  if (const std::string* ce = r.Header("content-encoding")) {
    if (!EqualsNoCase(*ce, "aes128gcm")) {
      return respond(Error(415, "Content-Encoding must be aes128gcm (RFC 8291), or absent"));
    }
    n.encoding = "aes128gcm";
  }
  // A missing TTL keeps the notification as long as the server allows
  // (UnifiedPush senders often omit it; RFC 8030 senders always send it).
  uint64_t ttl = static_cast<uint64_t>(o.webpush_max_ttl.count() / 1000);
  if (const std::string* t = r.Header("ttl")) {
    if (!ParseTtl(*t, &ttl)) return respond(Error(400, "TTL must be a number of seconds"));
    ttl = std::min<uint64_t>(ttl, static_cast<uint64_t>(o.webpush_max_ttl.count() / 1000));
  }
  n.ttl_s = static_cast<uint32_t>(ttl);
  if (const std::string* u = r.Header("urgency")) {
    auto urgency = ParsePushUrgency(*u);
    if (!urgency) return respond(Error(400, "Urgency must be very-low, low, normal or high"));
    n.urgency = *urgency;
  }
  if (const std::string* topic = r.Header("topic")) {
    if (!IsTopic(*topic)) {
      return respond(Error(400, "Topic must be 1 to 32 characters of base64url"));
    }
    n.topic = *topic;
  }
  HttpResponse refusal;
  if (!CheckVapid(r, e, &refusal)) return respond(std::move(refusal));

  n.id = MessageId::Random().ToHex();
  n.received_ms = NowMs();
  n.payload = r.body;
  HttpResponse created{.status = 201};
  std::string location = std::string(kMessagePath) + n.token + "/" + n.id;
  if (!n.topic.empty()) location += "." + n.topic;
  if (!o.http_public_url.empty()) location = OriginOf(o.http_public_url) + location;
  created.headers.emplace_back("Location", std::move(location));
  created.headers.emplace_back("TTL", std::to_string(n.ttl_s));
  if (n.ttl_s == 0 && !core_->Online(e.mkey)) {
    // RFC 8030 §5.2: with TTL 0 a notification is delivered at once or not
    // at all, and no session of the mailbox is there to take it.
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return respond(std::move(created));
  }
  // TTL 0 for a connected mailbox: kept a second, long enough for the push.
  const uint64_t expires = n.received_ms + std::max<uint64_t>(n.ttl_s, 1) * 1000;
  WriteBatch::Op op{.kind = WriteBatch::Op::Kind::kPutEntry,
                    .a = e.mkey,
                    .key = PushEntryKey(n),
                    .value = EncodePushValue(n),
                    .at_ms = expires};
  Write(std::move(op), std::move(created), true, std::move(respond));
}

void WebPushRoutes::Put(const HttpRequest& r, const EndpointInfo& e, HttpRespond respond) {
  // SimplePush: "version=N" (form-encoded), or nothing for "now".
  uint64_t version = 0;
  std::string_view body = Trim(r.body);
  if (body.empty()) {
    version = NowMs();
  } else {
    constexpr std::string_view kField = "version=";
    if (!body.starts_with(kField)) return respond(Error(400, "the body must be version=N"));
    body.remove_prefix(kField.size());
    const auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), version);
    if (ec != std::errc() || end != body.data() + body.size() || version == 0) {
      return respond(Error(400, "the version must be a number from 1 to 2^64-1"));
    }
  }
  WriteBatch::Op op{.kind = WriteBatch::Op::Kind::kPutEntry,
                    .a = e.mkey,
                    .key = SimplePushEntryKey(e.token),
                    .value = std::to_string(version),
                    .version = version};
  Write(std::move(op), HttpResponse::Text(200, "{}", "application/json"), true, std::move(respond));
}

void WebPushRoutes::Delete(const HttpRequest&, const EndpointInfo& e, std::string_view message,
                           HttpRespond respond) {
  // <id> or <id>.<topic>, as the 201's Location named it.
  PushNotification n;
  n.token = e.token;
  const size_t dot = message.find('.');
  n.id = std::string(message.substr(0, dot));
  if (dot != std::string_view::npos) n.topic = std::string(message.substr(dot + 1));
  const auto id = MessageId::FromHex(n.id);  // as written: lower case only
  if (!id || n.id != id->ToHex() || (dot != std::string_view::npos && !IsTopic(n.topic))) {
    return respond(Error(404, "no such notification"));
  }
  const std::string key = PushEntryKey(n);
  auto entry = core_->db()->GetEntry(e.mkey, key);
  // Delivered and consumed, expired, or replaced by a newer one of its topic.
  if (!entry) return respond(Error(404, "no such notification"));
  auto stored = ParsePushNotification(key, entry->value);
  if (!stored || stored->id != n.id) return respond(Error(404, "no such notification"));
  WriteBatch::Op op{.kind = WriteBatch::Op::Kind::kDeleteEntry,
                    .a = e.mkey,
                    .key = key,
                    .version = entry->version + 1};
  Write(std::move(op), HttpResponse{.status = 204}, false, std::move(respond));
}

bool WebPushRoutes::CheckVapid(const HttpRequest& r, const EndpointInfo& e, HttpResponse* refusal) {
  if (e.vapid_public_key.empty()) return true;  // not a restricted endpoint
  const auto unauthorized = [&](std::string_view why) {
    *refusal = Error(401, why);
    refusal->headers.emplace_back("WWW-Authenticate", "vapid");
    return false;
  };
  const auto forbidden = [&](std::string_view why) {
    *refusal = Error(403, why);
    return false;
  };
  const std::string* auth = r.Header("authorization");
  if (auth == nullptr) return unauthorized("this endpoint needs VAPID (RFC 8292)");
  std::string_view value = Trim(*auth);
  const size_t space = value.find(' ');
  if (space == std::string_view::npos || !EqualsNoCase(value.substr(0, space), "vapid")) {
    return unauthorized("this endpoint needs the vapid authentication scheme (RFC 8292)");
  }
  // t=<jwt>, k=<key>, in either order.
  std::string_view t, k;
  std::string_view params = value.substr(space + 1);
  while (!params.empty()) {
    const size_t comma = params.find(',');
    const std::string_view param = Trim(params.substr(0, comma));
    params = comma == std::string_view::npos ? std::string_view() : params.substr(comma + 1);
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = Trim(param.substr(0, eq));
    const std::string_view v = Trim(param.substr(eq + 1));
    if (EqualsNoCase(name, "t")) t = v;
    if (EqualsNoCase(name, "k")) k = v;
  }
  if (t.empty() || k.empty()) return unauthorized("the vapid credentials need t and k");
  auto key = crypto::Base64UrlDecode(k);
  if (!key || *key != e.vapid_public_key) {
    return forbidden("the vapid key is not the one this endpoint was registered with");
  }
  auto claims_text = crypto::VerifyEs256Jwt(t, *key);
  if (!claims_text) return forbidden("the vapid token does not verify");
  const auto claims = nlohmann::json::parse(*claims_text, nullptr, false);
  if (!claims.is_object()) return forbidden("the vapid token's claims are no JSON object");
  const auto aud = claims.find("aud");
  const auto exp = claims.find("exp");
  if (aud == claims.end() || !aud->is_string()) return forbidden("the vapid token has no aud");
  if (exp == claims.end() || !exp->is_number_unsigned()) {
    return forbidden("the vapid token has no exp");
  }
  // aud is this endpoint's origin: the public URL's, else what the request
  // was sent to (a TLS proxy in front may make it https).
  const std::string& want = core_->options().http_public_url;
  const std::string audience = aud->get<std::string>();
  bool aud_ok;
  if (!want.empty()) {
    aud_ok = audience == OriginOf(want);
  } else {
    const std::string* host = r.Header("host");
    aud_ok = host != nullptr && (audience == "http://" + *host || audience == "https://" + *host);
  }
  if (!aud_ok) return forbidden("the vapid token's aud is not this push service's origin");
  const uint64_t now_s = NowMs() / 1000;
  const uint64_t expires = exp->get<uint64_t>();
  if (expires + kClockLeewayS <= now_s) return forbidden("the vapid token has expired");
  if (expires > now_s + kVapidMaxLifetimeS + kClockLeewayS) {
    return forbidden("the vapid token's exp is more than 24 hours ahead");
  }
  return true;
}

void WebPushRoutes::Write(WriteBatch::Op op, HttpResponse ok, bool count_stored,
                          HttpRespond respond) {
  // The respond is moved into the callback, which the writer calls once.
  auto shared = std::make_shared<HttpRespond>(std::move(respond));
  const bool queued = core_->Enqueue(
      std::move(op), [this, ok = std::move(ok), count_stored, shared](const OpResult& result) {
        if (!result.status.ok()) return (*shared)(WriteError(result.status));
        if (count_stored && result.entry.applied) {
          stored_.fetch_add(1, std::memory_order_relaxed);
        }
        (*shared)(ok);
      });
  if (!queued) (*shared)(Error(503, "the server is stopping"));
}

}  // namespace postbox::sync::push
