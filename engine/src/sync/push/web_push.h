// The Web Push routes of the HTTP listener (docs/notifications.md "Web Push",
// docs/http.md "Routes"): where app servers send notifications to a mailbox's
// endpoints. RFC 8030 POST /push/<token> (TTL, Topic, Urgency, aes128gcm
// bodies up to webpush_max_payload_bytes, RFC 8292 VAPID when the endpoint
// was registered with a key), DELETE of a stored notification
// (/m/<token>/<id>), the UnifiedPush discovery GET, and SimplePush's PUT of
// version=N. A notification becomes an entry of the mailbox (postbox/push.h)
// written through the server's group commit; the response goes once it is
// durable.
//
// Library code only. Thread-safety: Handle runs on the loop threads,
// concurrently; the rate buckets are behind a mutex, the counters atomic.
#ifndef POSTBOX_SYNC_PUSH_WEB_PUSH_H_
#define POSTBOX_SYNC_PUSH_WEB_PUSH_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "postbox/sync/server.h"
#include "sync/http/http.h"

namespace postbox::sync::internal {
class ServerCore;
}

namespace postbox::sync::push {

// A token bucket per endpoint token: `rate` per second, `burst` at once.
// Bounded: past kMaxTracked tokens, buckets that have refilled are forgotten
// (a full bucket is what a new one starts as, so nothing changes for them).
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(double rate, uint32_t burst) : rate_(rate), burst_(burst) {}
  // Takes one token; false with the seconds until one is there otherwise.
  bool Take(std::string_view token, Clock::time_point now, uint32_t* retry_after_s);
  size_t tracked() const;
  static constexpr size_t kMaxTracked = 65536;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  const double rate_;
  const uint32_t burst_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

// Whether the Web Push routes answer `path` (/push/... and /m/...).
bool IsWebPushPath(std::string_view path);

class WebPushRoutes final : public http::HttpHandler {
 public:
  explicit WebPushRoutes(internal::ServerCore* core);
  void Handle(http::HttpRequest request, http::HttpRespond respond) override;
  void FillStats(ServerStats* s) const;

 private:
  void Post(const http::HttpRequest& r, const EndpointInfo& e, http::HttpRespond respond);
  void Put(const http::HttpRequest& r, const EndpointInfo& e, http::HttpRespond respond);
  void Delete(const http::HttpRequest& r, const EndpointInfo& e, std::string_view message,
              http::HttpRespond respond);
  // RFC 8292: OK, or the 401 / 403 response to send.
  bool CheckVapid(const http::HttpRequest& r, const EndpointInfo& e, http::HttpResponse* refusal);
  // Queues `op`; answers `ok` once it is durable, or the error's response.
  void Write(WriteBatch::Op op, http::HttpResponse ok, bool count_stored,
             http::HttpRespond respond);
  uint64_t NowMs() const;

  internal::ServerCore* core_;
  RateLimiter limiter_;
  std::atomic<uint64_t> stored_{0}, dropped_{0}, rate_limited_{0};
};

}  // namespace postbox::sync::push

#endif  // POSTBOX_SYNC_PUSH_WEB_PUSH_H_
