// Web Push in the C API (postbox/push.h): endpoints of a client or a replica,
// notifications parsed from entries and listed and consumed from a replica's
// mirror, and their free functions.
#include "postbox/push.h"

#include <cstdlib>
#include <string>
#include <string_view>

#include "internal.h"

using namespace pbx_internal;
using postbox::Status;

namespace {

char* CopyText(std::string_view s) { return reinterpret_cast<char*>(CopyBytes(s)); }

void ClearEndpoint(pbx_endpoint* e) {
  std::free(e->token);
  std::free(e->app_id);
  std::free(e->vapid_public_key);
  std::free(e->url);
  *e = pbx_endpoint{};
}

void FillEndpoint(pbx_endpoint* out, const postbox::sync::Endpoint& e) {
  *out = pbx_endpoint{};
  try {
    out->token = CopyText(e.token);
    out->app_id = CopyText(e.app_id);
    out->vapid_public_key = CopyBytes(e.vapid_public_key);
    out->url = CopyText(e.url);
  } catch (...) {
    ClearEndpoint(out);  // frees what was copied (the rest is NULL)
    throw;
  }
  out->vapid_public_key_len = e.vapid_public_key.size();
  out->created_ms = e.created_ms;
}

void ClearNotification(pbx_push_notification* n) {
  std::free(n->token);
  std::free(n->id);
  std::free(n->topic);
  std::free(n->encoding);
  std::free(n->payload);
  std::free(n->key);
  *n = pbx_push_notification{};
}

void FillNotification(pbx_push_notification* out, const postbox::PushNotification& n,
                      std::string_view key, uint64_t version) {
  *out = pbx_push_notification{};
  try {
    out->token = CopyText(n.token);
    out->id = CopyText(n.id);
    out->topic = CopyText(n.topic);
    out->encoding = CopyText(n.encoding);
    out->payload = CopyBytes(n.payload);
    out->key = CopyText(key);
  } catch (...) {
    ClearNotification(out);
    throw;
  }
  out->urgency = static_cast<int>(n.urgency);
  out->ttl_s = n.ttl_s;
  out->received_ms = n.received_ms;
  out->payload_len = n.payload.size();
  out->version = version;
}

// A tracked single object made by `fill`, released by its free function.
template <typename T, typename F>
T* NewOne(F&& fill) {
  auto* out = static_cast<T*>(std::calloc(1, sizeof(T)));
  if (out == nullptr) throw std::bad_alloc();
  try {
    fill(out);
  } catch (...) {
    std::free(out);
    throw;
  }
  Track();
  return out;
}

}  // namespace

namespace pbx_internal {

template <typename Api>
Status RegisterEndpoint(Api& api, const char* fn, const char* app_id, const void* key,
                        size_t key_len, pbx_endpoint** out) {
  if (app_id == nullptr || out == nullptr || !BytesOk(key, key_len)) {
    return Bad(std::string(fn) +
               ": app_id, out and vapid_public_key (NULL only with length 0) are required");
  }
  auto e = api.RegisterEndpoint(app_id, Bytes(key, key_len));
  if (!e) return e.error();
  *out = NewOne<pbx_endpoint>([&](pbx_endpoint* p) { FillEndpoint(p, *e); });
  return Status::Ok();
}

template <typename Api>
Status ListEndpoints(Api& api, const char* fn, const char* start_after, size_t limit,
                     pbx_endpoint_list** out) {
  if (out == nullptr) return Bad(std::string(fn) + ": out is required");
  if (limit > UINT32_MAX) return Bad(std::string(fn) + ": limit over 2^32 - 1");
  auto page =
      api.ListEndpoints(start_after != nullptr ? start_after : "", static_cast<uint32_t>(limit));
  if (!page) return page.error();
  auto* list = NewList(page->endpoints, FillEndpoint, &pbx_endpoint_list_free);
  list->more = page->more ? 1 : 0;
  *out = list;
  return Status::Ok();
}

template <typename Api>
Status RevokeEndpoint(Api& api, const char* fn, const char* token) {
  if (token == nullptr) return Bad(std::string(fn) + ": token is required");
  return api.RevokeEndpoint(token);
}

template Status RegisterEndpoint(postbox::sync::Client&, const char*, const char*, const void*,
                                 size_t, pbx_endpoint**);
template Status RegisterEndpoint(postbox::sync::Replica&, const char*, const char*, const void*,
                                 size_t, pbx_endpoint**);
template Status ListEndpoints(postbox::sync::Client&, const char*, const char*, size_t,
                              pbx_endpoint_list**);
template Status ListEndpoints(postbox::sync::Replica&, const char*, const char*, size_t,
                              pbx_endpoint_list**);
template Status RevokeEndpoint(postbox::sync::Client&, const char*, const char*);
template Status RevokeEndpoint(postbox::sync::Replica&, const char*, const char*);

}  // namespace pbx_internal

extern "C" {

void pbx_endpoint_free(pbx_endpoint* endpoint) {
  if (endpoint == nullptr) return;
  ClearEndpoint(endpoint);
  std::free(endpoint);
  Untrack();
}

void pbx_endpoint_list_free(pbx_endpoint_list* list) {
  if (list == nullptr) return;
  for (size_t i = 0; i < list->count; ++i) ClearEndpoint(&list->items[i]);
  std::free(list->items);
  std::free(list);
  Untrack();
}

void pbx_push_notification_free(pbx_push_notification* notification) {
  if (notification == nullptr) return;
  ClearNotification(notification);
  std::free(notification);
  Untrack();
}

void pbx_push_notification_list_free(pbx_push_notification_list* list) {
  if (list == nullptr) return;
  for (size_t i = 0; i < list->count; ++i) ClearNotification(&list->items[i]);
  std::free(list->items);
  std::free(list);
  Untrack();
}

int pbx_push_notification_parse(const char* key, const void* value, size_t value_len,
                                uint64_t version, pbx_push_notification** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (key == nullptr || out == nullptr || !BytesOk(value, value_len)) {
      return Bad(
          "pbx_push_notification_parse: key, out and value (NULL only with length 0) are "
          "required");
    }
    auto n = postbox::ParsePushNotification(key, Bytes(value, value_len));
    if (!n) return n.error();
    *out = NewOne<pbx_push_notification>(
        [&](pbx_push_notification* p) { FillNotification(p, *n, key, version); });
    return Status::Ok();
  });
}

int pbx_replica_register_endpoint(pbx_replica* replica, const char* app_id,
                                  const void* vapid_public_key, size_t key_len, pbx_endpoint** out,
                                  pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica)) return Bad("pbx_replica_register_endpoint: not a pbx_replica handle");
    return RegisterEndpoint(*replica->replica, "pbx_replica_register_endpoint", app_id,
                            vapid_public_key, key_len, out);
  });
}

int pbx_replica_list_endpoints(pbx_replica* replica, const char* start_after, size_t limit,
                               pbx_endpoint_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica)) return Bad("pbx_replica_list_endpoints: not a pbx_replica handle");
    return ListEndpoints(*replica->replica, "pbx_replica_list_endpoints", start_after, limit, out);
  });
}

int pbx_replica_revoke_endpoint(pbx_replica* replica, const char* token, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica)) return Bad("pbx_replica_revoke_endpoint: not a pbx_replica handle");
    return RevokeEndpoint(*replica->replica, "pbx_replica_revoke_endpoint", token);
  });
}

int pbx_replica_push_notifications(pbx_replica* replica, const char* token,
                                   pbx_push_notification_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica) || out == nullptr)
      return Bad("pbx_replica_push_notifications: a replica and out are required");
    auto r = replica->replica->PushNotifications(token != nullptr ? token : "");
    if (!r) return r.error();
    *out = NewList(
        *r,
        [](pbx_push_notification* p, const postbox::sync::ReplicaPushNotification& n) {
          FillNotification(p, n.notification, n.key, n.version);
        },
        &pbx_push_notification_list_free);
    return Status::Ok();
  });
}

int pbx_replica_consume_push_notification(pbx_replica* replica,
                                          const pbx_push_notification* notification, uint64_t* item,
                                          pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || notification == nullptr || notification->key == nullptr) {
      return Bad(
          "pbx_replica_consume_push_notification: a replica and a notification with its key are "
          "required");
    }
    // Only the key and version say which entry to delete; the rest is not
    // read, so a notification the app copied or built itself works too.
    postbox::sync::ReplicaPushNotification n;
    n.key = notification->key;
    n.version = notification->version;
    auto r = replica->replica->ConsumePushNotification(n);
    if (!r) return r.error();
    if (item != nullptr) *item = *r;
    return Status::Ok();
  });
}

}  // extern "C"
