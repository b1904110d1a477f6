// Web Push notifications as the replica's mirror holds them (postbox/push.h,
// docs/replica.md "Web Push endpoints and notifications"): entries under
// kPushKeyPrefix, read back with ParsePushNotification and consumed by an
// entry delete through the outbox. Built on the replica's public reads and
// writes only: a notification is an entry like any other.
#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "postbox/push.h"
#include "postbox/sync/replica.h"

namespace postbox::sync {
namespace {

bool IsBase64Url(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

}  // namespace

Result<std::vector<ReplicaPushNotification>> Replica::PushNotifications(
    std::string_view token) const {
  if (!IsBase64Url(token)) {
    return Status::InvalidArgument("push token '" + std::string(token) +
                                   "': expected base64url characters (A-Z a-z 0-9 - _)");
  }
  std::string prefix(kPushKeyPrefix);
  if (!token.empty()) {
    prefix += token;
    prefix += '/';
  }
  POSTBOX_ASSIGN_OR_RETURN(std::vector<EntryInfo> entries, ListEntries(prefix));
  std::vector<ReplicaPushNotification> out;
  out.reserve(entries.size());
  for (EntryInfo& e : entries) {
    // Not parsing is not an error of the listing: a later server may store a
    // format this build does not read, and the app can still see (and
    // delete) such an entry with ListEntries.
    auto n = ParsePushNotification(e.key, e.value);
    if (!n) continue;
    out.push_back(ReplicaPushNotification{
        .notification = std::move(*n), .key = std::move(e.key), .version = e.version});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.notification.received_ms, a.key) <
           std::tie(b.notification.received_ms, b.key);
  });
  return out;
}

Result<uint64_t> Replica::ConsumePushNotification(const ReplicaPushNotification& n) {
  if (!n.key.starts_with(kPushKeyPrefix) || n.key.size() == kPushKeyPrefix.size()) {
    return Status::InvalidArgument("entry '" + n.key +
                                   "' is not a push notification's (expected a key under " +
                                   std::string(kPushKeyPrefix) + ")");
  }
  if (n.version == 0) {
    return Status::InvalidArgument("entry '" + n.key +
                                   "': version 0 is no notification's (pass one PushNotifications "
                                   "returned)");
  }
  // At the notification's own version: a delete wins the tie with the put it
  // removes (merge.h) and loses to a newer notification of the same topic.
  return DeleteEntry(n.key, n.version);
}

}  // namespace postbox::sync
