// The `fcm` kick driver (docs/notifications.md, "FCM"): one HTTP v1 send per
// kick through the shared HTTPS client (http_client.h), with an OAuth 2
// access token obtained from the service account's token endpoint (RFC 7523
// JWT bearer grant) and cached until shortly before it expires. While a token
// is being fetched, kicks wait for it (one fetch at a time).
#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <vector>

#include "postbox/sync/kick.h"
#include "sync/crypto/jwt.h"
#include "sync/kick/http_client.h"
#include "sync/kick/kick_util.h"
#include "sync/kick/push_util.h"

namespace postbox::sync {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kScope[] = "https://www.googleapis.com/auth/firebase.messaging";

class FcmKickDriver final : public KickDriver {
 public:
  FcmKickDriver(const FcmOptions& options, kick::ServiceAccount account, crypto::PrivateKey key,
                std::string send_url, std::unique_ptr<kick::HttpClient> client)
      : options_(options),
        account_(std::move(account)),
        key_(std::move(key)),
        send_url_(std::move(send_url)),
        client_(std::move(client)) {}
  ~FcmKickDriver() override { Stop(); }

  void Send(const Kick& kick, std::function<void(KickResult)> done) override {
    if (!budget_.Take(done)) return;
    Pending p{kick, std::move(done)};
    std::string token;
    bool fetch = false;
    {
      std::lock_guard lock(mu_);
      if (!token_.empty() && Steady::now() < renew_at_) {
        token = token_;
      } else {
        waiting_.push_back(std::move(p));
        fetch = !fetching_;
        fetching_ = true;
      }
    }
    if (!token.empty()) {
      Post(std::move(p), token);
    } else if (fetch) {
      FetchToken();
    }
  }

  void Stop() override { client_->Stop(); }

 private:
  struct Pending {
    Kick kick;
    std::function<void(KickResult)> done;
  };

  void Finish(Pending& p, KickResult r) {
    budget_.Release();
    p.done(std::move(r));
  }

  void Post(Pending p, const std::string& token) {
    kick::HttpRequest req;
    req.url = send_url_;
    req.headers = {"authorization: Bearer " + token, "content-type: application/json"};
    req.body = kick::FcmBody(p.kick, options_);
    client_->Submit(std::move(req), [this, token, p = std::move(p)](kick::HttpResponse r) mutable {
      if (!r.transport.ok()) {
        Finish(p, {std::move(r.transport), milliseconds(0)});
        return;
      }
      bool renew = false;
      KickResult result = kick::FcmResult(r.status, r.body, r.Header("retry-after"),
                                          std::chrono::system_clock::now(), &renew);
      if (renew) {
        std::lock_guard lock(mu_);
        if (token_ == token) token_.clear();  // the next kick fetches a new one
      }
      Finish(p, std::move(result));
    });
  }

  // Asks the token endpoint for an access token; its answer releases the
  // kicks waiting for it. Precondition: fetching_ was set by this caller.
  void FetchToken() {
    const int64_t iat = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::string header = R"({"alg":"RS256","typ":"JWT")";
    if (!account_.private_key_id.empty()) {
      header += ",\"kid\":" + kick::JsonString(account_.private_key_id);
    }
    header += "}";
    const std::string claims =
        "{\"iss\":" + kick::JsonString(account_.client_email) + ",\"scope\":\"" + kScope +
        "\",\"aud\":" + kick::JsonString(token_uri()) + ",\"iat\":" + std::to_string(iat) +
        ",\"exp\":" + std::to_string(iat + 3600) + "}";
    Result<std::string> assertion = crypto::SignJwt(key_, header, claims);
    if (!assertion) {
      TokenFailed({Status::Unavailable("fcm: cannot sign the token request: " +
                                       std::string(assertion.error().message())),
                   milliseconds(0)});
      return;
    }
    kick::HttpRequest req;
    req.url = token_uri();
    req.headers = {"content-type: application/x-www-form-urlencoded"};
    req.body = kick::TokenRequestBody(*assertion);
    const Steady::time_point asked = Steady::now();
    client_->Submit(std::move(req), [this, asked](kick::HttpResponse r) {
      if (!r.transport.ok()) {
        TokenFailed(
            {Status::Unavailable("fcm token endpoint: " + std::string(r.transport.message())),
             milliseconds(0)});
        return;
      }
      if (r.status != 200) {
        KickResult failed = kick::WebhookResult(r.status, r.Header("retry-after"),
                                                std::chrono::system_clock::now());
        // Whatever the endpoint says, the kicks themselves were not refused.
        TokenFailed({Status::Unavailable("fcm token endpoint answered " + std::to_string(r.status) +
                                         ": " + r.body.substr(0, 200)),
                     failed.retry_after});
        return;
      }
      Result<kick::AccessToken> token = kick::ParseTokenResponse(r.body);
      if (!token) {
        TokenFailed({token.error(), milliseconds(0)});
        return;
      }
      // Renewed when 5 minutes (or, for a short-lived token, half its life)
      // are left, counted from when it was asked for.
      const auto life = std::chrono::duration_cast<Steady::duration>(token->expires_in);
      const auto margin = std::min<Steady::duration>(std::chrono::minutes(5), life / 2);
      std::vector<Pending> ready;
      {
        std::lock_guard lock(mu_);
        token_ = token->token;
        renew_at_ = asked + life - margin;
        fetching_ = false;
        ready.swap(waiting_);
      }
      for (auto& p : ready) Post(std::move(p), token->token);
    });
  }

  void TokenFailed(const KickResult& r) {
    std::vector<Pending> failed;
    {
      std::lock_guard lock(mu_);
      fetching_ = false;
      failed.swap(waiting_);
    }
    for (auto& p : failed) Finish(p, r);
  }

  const std::string& token_uri() const {
    return options_.token_uri.empty() ? account_.token_uri : options_.token_uri;
  }

  const FcmOptions options_;
  const kick::ServiceAccount account_;
  const crypto::PrivateKey key_;
  const std::string send_url_;
  std::unique_ptr<kick::HttpClient> client_;
  kick::KickBudget budget_{"fcm", options_.queue_limit};

  std::mutex mu_;
  std::string token_;             // guarded by mu_; empty: none
  Steady::time_point renew_at_;   // guarded by mu_
  bool fetching_ = false;         // guarded by mu_
  std::vector<Pending> waiting_;  // guarded by mu_: kicks waiting for a token
};

}  // namespace

Result<std::unique_ptr<KickDriver>> MakeFcmKickDriver(const FcmOptions& options) {
  POSTBOX_ASSIGN_OR_RETURN(kick::ServiceAccount account,
                           kick::ParseServiceAccount(options.service_account_json));
  POSTBOX_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                           crypto::PrivateKey::FromPem(account.private_key));
  if (key.type() != crypto::PrivateKey::Type::kRs256) {
    return Status::InvalidArgument("fcm: the service account's private_key must be an RSA key");
  }
  for (char c : account.project_id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != ':') {
      return Status::InvalidArgument("fcm: project_id '" + account.project_id +
                                     "' has characters a project id has not");
    }
  }
  std::string origin = "https://fcm.googleapis.com";
  if (!options.base_url.empty()) {
    POSTBOX_ASSIGN_OR_RETURN(origin, kick::HttpsOrigin(options.base_url, "fcm base url"));
  }
  const std::string& token_uri = options.token_uri.empty() ? account.token_uri : options.token_uri;
  if (token_uri.rfind("https://", 0) != 0 ||
      token_uri.find_first_of(" \t\r\n") != std::string::npos) {
    return Status::InvalidArgument("fcm token_uri '" + token_uri + "': an https URL expected");
  }
  if (options.queue_limit == 0) return Status::InvalidArgument("fcm: queue_limit must be ≥ 1");
  if (options.ttl.count() < 0) return Status::InvalidArgument("fcm: ttl must be ≥ 0");
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<kick::HttpClient> client,
                           kick::HttpClient::Start({.name = "fcm",
                                                    .ca_file = options.ca_file,
                                                    .timeout = options.timeout,
                                                    .max_in_flight = options.max_in_flight}));
  std::string send_url = origin + "/v1/projects/" + account.project_id + "/messages:send";
  return std::unique_ptr<KickDriver>(new FcmKickDriver(options, std::move(account), std::move(key),
                                                       std::move(send_url), std::move(client)));
}

}  // namespace postbox::sync
