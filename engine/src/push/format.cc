// How a Web Push notification is laid out as an entry (postbox/push.h).
#include <nlohmann/json.hpp>

#include "postbox/push.h"

namespace postbox {
namespace {

constexpr std::string_view kTopicMark = "t.";

bool IsBase64Url(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool IsLowerHex32(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status Bad(std::string_view what) {
  return Status::InvalidArgument("not a push notification entry: " + std::string(what));
}

}  // namespace

bool IsReservedEntryKey(std::string_view key) {
  return key.starts_with(kPushKeyPrefix) || key.starts_with(kSimplePushKeyPrefix);
}

std::string_view PushUrgencyName(PushUrgency u) {
  switch (u) {
    case PushUrgency::kVeryLow:
      return "very-low";
    case PushUrgency::kLow:
      return "low";
    case PushUrgency::kNormal:
      return "normal";
    case PushUrgency::kHigh:
      return "high";
  }
  return "normal";
}

Result<PushUrgency> ParsePushUrgency(std::string_view name) {
  for (PushUrgency u :
       {PushUrgency::kVeryLow, PushUrgency::kLow, PushUrgency::kNormal, PushUrgency::kHigh}) {
    if (name == PushUrgencyName(u)) return u;
  }
  return Status::InvalidArgument("urgency '" + std::string(name) +
                                 "': expected very-low, low, normal or high");
}

std::string PushEntryKey(const PushNotification& n) {
  std::string key(kPushKeyPrefix);
  key += n.token;
  key += '/';
  if (n.topic.empty()) {
    key += n.id;
  } else {
    key += kTopicMark;
    key += n.topic;
  }
  return key;
}

std::string SimplePushEntryKey(std::string_view token) {
  return std::string(kSimplePushKeyPrefix) + std::string(token);
}

std::string EncodePushValue(const PushNotification& n) {
  const nlohmann::json head = {{"id", n.id},
                               {"topic", n.topic},
                               {"urgency", PushUrgencyName(n.urgency)},
                               {"ttl", n.ttl_s},
                               {"received_ms", n.received_ms},
                               {"encoding", n.encoding}};
  // dump() escapes control characters, so the line has no raw "\n" in it.
  std::string value = head.dump();
  value += '\n';
  value += n.payload;
  return value;
}

Result<PushNotification> ParsePushNotification(std::string_view key, std::string_view value) {
  if (!key.starts_with(kPushKeyPrefix)) return Bad("the key is not under postbox/push/");
  const std::string_view rest = key.substr(kPushKeyPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return Bad("the key names no token");
  PushNotification n;
  n.token = std::string(rest.substr(0, slash));
  const std::string_view last = rest.substr(slash + 1);
  const size_t newline = value.find('\n');
  if (newline == std::string_view::npos) return Bad("the value has no header line");
  const nlohmann::json head =
      nlohmann::json::parse(value.substr(0, newline), nullptr, /*allow_exceptions=*/false);
  if (!head.is_object()) return Bad("the header line is not a JSON object");
  const auto text = [&](const char* name, std::string* out) {
    const auto it = head.find(name);
    if (it == head.end() || !it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  const auto number = [&](const char* name, uint64_t* out) {
    const auto it = head.find(name);
    if (it == head.end() || !it->is_number_unsigned()) return false;
    *out = it->get<uint64_t>();
    return true;
  };
  std::string urgency;
  uint64_t ttl = 0;
  if (!text("id", &n.id) || !text("topic", &n.topic) || !text("urgency", &urgency) ||
      !text("encoding", &n.encoding) || !number("ttl", &ttl) ||
      !number("received_ms", &n.received_ms)) {
    return Bad("the header line lacks a member or has one of the wrong type");
  }
  if (!IsLowerHex32(n.id)) return Bad("the id is not 32 lowercase hex characters");
  if (ttl > UINT32_MAX) return Bad("the ttl is out of range");
  n.ttl_s = static_cast<uint32_t>(ttl);
  auto u = ParsePushUrgency(urgency);
  if (!u) return Bad("unknown urgency");
  n.urgency = *u;
  if (n.topic.size() > 32 || !IsBase64Url(n.topic)) return Bad("the topic is not base64url");
  // The key must be the one this notification is stored under.
  const std::string expected = n.topic.empty() ? n.id : std::string(kTopicMark) + n.topic;
  if (last != expected) return Bad("the key does not match the notification's id or topic");
  n.payload = std::string(value.substr(newline + 1));
  return n;
}

}  // namespace postbox
