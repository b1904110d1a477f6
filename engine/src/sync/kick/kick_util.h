// Pure pieces of the kick scheduler and drivers (docs/notifications.md), kept
// free of I/O so unit tests reach them directly: JSON text, dedup ids, the
// payload derived from a mailbox's feed, backoff with jitter, Retry-After.
#ifndef POSTBOX_SYNC_KICK_KICK_UTIL_H_
#define POSTBOX_SYNC_KICK_KICK_UTIL_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "postbox/sync/kick.h"
#include "postbox/types.h"

namespace postbox::sync::kick {

// `s` as a JSON string literal, quotes included (control characters and
// invalid UTF-8 bytes escaped as \u00XX, so any token yields valid JSON).
std::string JsonString(std::string_view s);

// "<mkey hex>-<since as 16 lowercase hex digits>": the same for one pending
// kick across retries and restarts, different for the next kick of the mailbox.
std::string DedupId(const MailboxKey& mkey, uint64_t since);

// The payload of a kick for `self`, from `window`: the feed items of the last
// changes the kick covers (ascending seq, as DB::Changes returns them) and
// `count`, the number of changes it covers. The newest relevant item wins: an
// incoming message → message_received; an outgoing message whose status rose
// above uploaded → status_changed; otherwise (entries, tombstones)
// {"type":"changed"}. nullopt when the window holds only the mailbox's own
// posts (outgoing messages at uploaded): nothing to wake the app for.
std::optional<std::string> DerivePayload(const InfoPacket& window, uint64_t count);

// The delay before retry number `attempt` (1 for the first retry): an
// exponential base min(max, initial × 2^(attempt-1)) with "equal jitter" — a
// uniform point of [base/2, base] chosen by `jitter` in [0, 1) — and never
// below `retry_after` (what the gateway asked for).
std::chrono::milliseconds Backoff(uint32_t attempt, std::chrono::milliseconds initial,
                                  std::chrono::milliseconds max, double jitter,
                                  std::chrono::milliseconds retry_after);

// A Retry-After header's delay (RFC 9110 §10.2.3): delta-seconds, or an
// HTTP-date (IMF-fixdate, RFC 850 or asctime form) less `now` (0 if past).
// nullopt if it is neither. Capped at one day.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

// "2026-01-02T03:04:05.678Z".
std::string FormatUtc(std::chrono::system_clock::time_point t);

// The JSON body both built-in drivers write for `kick` (the log driver adds
// "time" in front): {"mkey":..,"platform":..,"token":..,"dedup_id":..,
// "attempt":..,"payload":{..}}.
std::string KickJson(const Kick& kick);

// What a webhook's HTTP answer means for a kick: 2xx delivered; 429 BackOff
// and 503 Unavailable with `retry_after` from the Retry-After header (empty:
// none); other 5xx Unavailable; other statuses (4xx, 1xx, 3xx) permanent:
// 404 NotFound, 410 Gone, 413 TooLarge, anything else InvalidArgument.
KickResult WebhookResult(int http_status, std::string_view retry_after,
                         std::chrono::system_clock::time_point now);

// True for a KickResult status the scheduler retries (Unavailable, BackOff).
inline bool Transient(const Status& s) { return s.Is(Code::kUnavailable) || s.Is(Code::kBackOff); }

}  // namespace postbox::sync::kick

#endif  // POSTBOX_SYNC_KICK_KICK_UTIL_H_
