// The `apns` kick driver (docs/notifications.md, "APNs"): one HTTP/2 request
// per kick through the shared HTTPS client (http_client.h), authenticated by
// an ES256 provider token that is minted here and reused until it is due.
#include <atomic>
#include <mutex>

#include "postbox/sync/kick.h"
#include "sync/crypto/jwt.h"
#include "sync/kick/http_client.h"
#include "sync/kick/push_util.h"

namespace postbox::sync {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

class ApnsKickDriver final : public KickDriver {
 public:
  ApnsKickDriver(const ApnsOptions& options, crypto::PrivateKey key, std::string origin,
                 std::unique_ptr<kick::HttpClient> client)
      : options_(options),
        key_(std::move(key)),
        origin_(std::move(origin)),
        client_(std::move(client)) {}
  ~ApnsKickDriver() override { Stop(); }

  void Send(const Kick& kick, std::function<void(KickResult)> done) override {
    const std::string& device = kick.registration.token;
    if (!kick::IsHexToken(device)) {
      done({Status::InvalidArgument("apns: the device token is not hex digits"), milliseconds(0)});
      return;
    }
    if (!budget_.Take(done)) return;
    Result<std::string> token = ProviderToken();
    if (!token) {
      budget_.Release();
      done({Status::Unavailable("apns: cannot sign a provider token: " +
                                std::string(token.error().message())),
            milliseconds(0)});
      return;
    }
    kick::HttpRequest req;
    req.url = origin_ + "/3/device/" + device;
    const bool background = options_.push_type == ApnsOptions::PushType::kBackground;
    const auto now = std::chrono::system_clock::now();
    const int64_t expiration =
        options_.ttl.count() == 0
            ? 0
            : std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() +
                  options_.ttl.count();
    req.headers = {"authorization: bearer " + *token, "apns-topic: " + options_.topic,
                   std::string("apns-push-type: ") + (background ? "background" : "alert"),
                   std::string("apns-priority: ") + (background ? "5" : "10"),
                   "apns-expiration: " + std::to_string(expiration),
                   // A newer kick of the mailbox replaces an older one still shown.
                   "apns-collapse-id: " + kick.mkey.ToHex(),
                   "apns-id: " + kick::ApnsId(kick.dedup_id), "content-type: application/json"};
    req.body = kick::ApnsBody(kick, options_);
    client_->Submit(std::move(req), [this, used = std::move(*token),
                                     done = std::move(done)](kick::HttpResponse r) {
      budget_.Release();
      if (!r.transport.ok()) {
        done({std::move(r.transport), milliseconds(0)});
        return;
      }
      bool renew = false;
      KickResult result = kick::ApnsResult(r.status, r.body, r.Header("retry-after"),
                                           std::chrono::system_clock::now(), &renew);
      if (renew) Renew(used);
      done(std::move(result));
    });
  }

  void Stop() override { client_->Stop(); }

 private:
  // The current provider token, minted when there is none, when it is due
  // (token_refresh), or when Apple refused it and the last one is at least
  // token_refresh_min old.
  Result<std::string> ProviderToken() {
    std::lock_guard lock(mu_);
    const Steady::time_point now = Steady::now();
    const auto age = now - minted_;
    if (!token_.empty() && age < options_.token_refresh &&
        !(refused_ && age >= options_.token_refresh_min)) {
      return token_;
    }
    const int64_t iat = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const std::string header = R"({"alg":"ES256","kid":")" + options_.key_id + "\"}";
    const std::string claims =
        R"({"iss":")" + options_.team_id + R"(","iat":)" + std::to_string(iat) + "}";
    POSTBOX_ASSIGN_OR_RETURN(token_, crypto::SignJwt(key_, header, claims));
    minted_ = now;
    refused_ = false;
    return token_;
  }

  // Apple refused `used` (expired or invalid): renew it when allowed.
  void Renew(const std::string& used) {
    std::lock_guard lock(mu_);
    if (used == token_) refused_ = true;
  }

  const ApnsOptions options_;
  const crypto::PrivateKey key_;
  const std::string origin_;  // https://HOST[:PORT]
  std::unique_ptr<kick::HttpClient> client_;
  kick::KickBudget budget_{"apns", options_.queue_limit};

  std::mutex mu_;
  std::string token_;          // guarded by mu_
  Steady::time_point minted_;  // guarded by mu_
  bool refused_ = false;       // guarded by mu_
};

// Key ids and team ids go into JSON and headers as they are.
bool PlainField(const std::string& s) {
  for (char c : s) {
    if (c <= ' ' || c == '"' || c == '\\' || c == 0x7f) return false;
  }
  return !s.empty();
}

}  // namespace

Result<std::unique_ptr<KickDriver>> MakeApnsKickDriver(const ApnsOptions& options) {
  if (!PlainField(options.key_id) || !PlainField(options.team_id) || !PlainField(options.topic)) {
    return Status::InvalidArgument(
        "apns: key id, team id and topic must be non-empty, without spaces, quotes or "
        "backslashes");
  }
  POSTBOX_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::FromPem(options.key_pem));
  if (key.type() != crypto::PrivateKey::Type::kEs256) {
    return Status::InvalidArgument("apns: the signing key must be an EC P-256 key (a .p8 file)");
  }
  std::string origin =
      options.sandbox ? "https://api.sandbox.push.apple.com" : "https://api.push.apple.com";
  if (!options.base_url.empty()) {
    POSTBOX_ASSIGN_OR_RETURN(origin, kick::HttpsOrigin(options.base_url, "apns base url"));
  }
  if (options.queue_limit == 0) return Status::InvalidArgument("apns: queue_limit must be ≥ 1");
  if (options.token_refresh.count() <= 0 || options.token_refresh > std::chrono::minutes(60) ||
      options.token_refresh_min.count() < 0 || options.token_refresh_min > options.token_refresh) {
    return Status::InvalidArgument(
        "apns: 0 ≤ token_refresh_min ≤ token_refresh ≤ 60 minutes, token_refresh > 0 expected");
  }
  if (options.ttl.count() < 0) return Status::InvalidArgument("apns: ttl must be ≥ 0");
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<kick::HttpClient> client,
                           kick::HttpClient::Start({.name = "apns",
                                                    .ca_file = options.ca_file,
                                                    .timeout = options.timeout,
                                                    .max_in_flight = options.max_in_flight}));
  return std::unique_ptr<KickDriver>(
      new ApnsKickDriver(options, std::move(key), std::move(origin), std::move(client)));
}

}  // namespace postbox::sync
