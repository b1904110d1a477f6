// Web Push notifications as a mailbox stores them (docs/notifications.md
// "Web Push"). An app server POSTs a notification to one of the mailbox's
// endpoints over HTTP; the server stores it as an entry of the mailbox's KV
// store, so it reaches the mailbox's clients through the feed like any entry
// (push, poll, ack, replicas, the bindings) and the client consumes it by
// deleting the entry. This header says how such an entry is named and laid
// out, for whoever reads it (a client, a relay) and for the server that
// writes it.
//
//   key:   "postbox/push/<token>/<id>"        a notification without a Topic
//          "postbox/push/<token>/t.<topic>"   one with a Topic: a newer one with
//                                             the same topic replaces it (the
//                                             entry's last writer wins, RFC 8030
//                                             §5.4)
//
//   value: one line of JSON, "\n", then the payload bytes as the app server
//          sent them (aes128gcm ciphertext, or raw for UnifiedPush):
//          {"id":"<32 hex>","topic":"...","urgency":"normal","ttl":60,
//           "received_ms":1767225600000,"encoding":"aes128gcm"}
//
// SimplePush (Edition) versions are stored under "postbox/simplepush/<token>"
// with the version as the entry's version and, in decimal, its value.
//
// Plain values and pure functions: safe from any thread.
#ifndef POSTBOX_PUSH_H_
#define POSTBOX_PUSH_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "postbox/result.h"

namespace postbox {

// Entry key prefixes the server writes. Clients may delete entries under them
// (consuming a notification) but not put any (PermissionDenied): app servers,
// through the HTTP endpoint, are their only writers.
inline constexpr std::string_view kPushKeyPrefix = "postbox/push/";
inline constexpr std::string_view kSimplePushKeyPrefix = "postbox/simplepush/";
// Whether a client may not put `key` (it is under one of the prefixes above).
bool IsReservedEntryKey(std::string_view key);

// RFC 8030 §5.3, lowest first.
enum class PushUrgency : uint8_t { kVeryLow = 0, kLow = 1, kNormal = 2, kHigh = 3 };
std::string_view PushUrgencyName(PushUrgency u);  // "very-low", "low", "normal", "high"
// Parses the names above (exactly, lower case as RFC 8030 spells them).
Result<PushUrgency> ParsePushUrgency(std::string_view name);

struct PushNotification {
  std::string token;  // the endpoint's token (22 characters of base64url)
  std::string id;     // 32 lowercase hex characters, unique per notification
  std::string topic;  // empty, or 1..32 characters of base64url
  PushUrgency urgency = PushUrgency::kNormal;
  uint32_t ttl_s = 0;        // seconds the app server asked it be kept (RFC 8030 §5.2)
  uint64_t received_ms = 0;  // when the server stored it (Unix ms)
  std::string encoding;      // the Content-Encoding sent ("aes128gcm"), or empty
  std::string payload;       // the body as sent (at most 4096 bytes)
  bool operator==(const PushNotification&) const = default;
};

// The entry key of a notification: by topic when it has one, else by id.
std::string PushEntryKey(const PushNotification& n);
// The entry key of an endpoint's SimplePush version.
std::string SimplePushEntryKey(std::string_view token);
// The entry value of a notification (the JSON line, "\n", the payload).
std::string EncodePushValue(const PushNotification& n);
// Reads a notification back from its entry's key and value. InvalidArgument
// if the key is not under kPushKeyPrefix or the value is not laid out as
// above (unknown JSON members are ignored, so later servers may add some).
Result<PushNotification> ParsePushNotification(std::string_view key, std::string_view value);

}  // namespace postbox

#endif  // POSTBOX_PUSH_H_
