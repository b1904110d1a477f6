// pbx_client_*: the sync client (postbox/sync/client.h), blocking calls only.
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "internal.h"

using namespace pbx_internal;
using postbox::Status;

namespace {

bool Valid(const pbx_client* c) { return c != nullptr && c->magic == kClientMagic; }

// Marks a call in progress on a client for its scope, so pbx_client_close
// waits for it to return before releasing the handle. Not ok() once close
// has begun. Does nothing for an invalid handle (the call refuses it next).
class InUse {
 public:
  explicit InUse(pbx_client* c) {
    if (!Valid(c)) return;
    std::lock_guard<std::mutex> lock(c->mu);
    if (c->closing) {
      ok_ = false;
      return;
    }
    ++c->calls;
    c_ = c;
  }
  ~InUse() {
    if (c_ == nullptr) return;
    std::lock_guard<std::mutex> lock(c_->mu);
    if (--c_->calls == 0) c_->idle.notify_all();
  }
  InUse(const InUse&) = delete;
  InUse& operator=(const InUse&) = delete;
  bool ok() const { return ok_; }

 private:
  pbx_client* c_ = nullptr;
  bool ok_ = true;
};

}  // namespace

extern "C" {

void pbx_client_options_init(pbx_client_options* options) {
  if (options == nullptr) return;
  const postbox::sync::ClientOptions d;
  *options = pbx_client_options{};
  options->host = "127.0.0.1";
  options->port = d.port;
  options->secret = nullptr;
  options->app_version = nullptr;
  options->request_timeout_ms = static_cast<uint32_t>(d.request_timeout.count());
  options->reconnect = d.reconnect ? 1 : 0;
  options->tls.min_version = static_cast<int>(d.tls.min_version);
}

int pbx_client_create(const pbx_client_options* options, pbx_client** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (options == nullptr || out == nullptr)
      return Bad("pbx_client_create: options and out are required");
    POSTBOX_RETURN_IF_ERROR(CheckClientOptions(*options));
    auto c = postbox::sync::Client::Create(ToClientOptions(*options));
    if (!c) return c.error();
    auto h = std::make_unique<pbx_client>();
    h->client = std::move(c).value();
    *out = h.release();
    Track();
    return Status::Ok();
  });
}

int pbx_client_connect(pbx_client* client, int* verdict, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_connect: the client is closing");
    if (!Valid(client)) return Bad("pbx_client_connect: not a pbx_client handle");
    auto r = client->client->Connect();
    if (!r) return r.error();
    if (verdict != nullptr) *verdict = static_cast<int>(r->verdict);
    return Status::Ok();
  });
}

void pbx_client_close(pbx_client* client) {
  if (!Valid(client)) return;
  {
    std::lock_guard<std::mutex> lock(client->mu);
    client->closing = true;  // calls from now on fail at once
  }
  try {
    // Fails the calls in progress (Unavailable), then waits for them to return.
    client->client->Close();
    std::unique_lock<std::mutex> lock(client->mu);
    client->idle.wait(lock, [&] { return client->calls == 0; });
    lock.unlock();
    client->client.reset();
  } catch (...) {
    // Close and the destructor do not throw; the handle is released anyway.
  }
  client->magic = 0;
  delete client;
  Untrack();
}

int pbx_client_put_entry(pbx_client* client, const char* key, const void* value, size_t value_len,
                         uint64_t version, pbx_put_result* out, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_put_entry: the client is closing");
    if (!Valid(client) || key == nullptr || !BytesOk(value, value_len)) {
      return Bad(
          "pbx_client_put_entry: a client, key and value (NULL only with length 0) are required");
    }
    auto r = client->client->PutEntry(key, Bytes(value, value_len), version);
    if (!r) return r.error();
    if (out != nullptr) {
      out->applied = r->applied ? 1 : 0;
      out->version = r->version;
    }
    return Status::Ok();
  });
}

int pbx_client_get_entry(pbx_client* client, const char* key, pbx_entry** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_get_entry: the client is closing");
    if (!Valid(client) || key == nullptr || out == nullptr) {
      return Bad("pbx_client_get_entry: a client, key and out are required");
    }
    auto e = client->client->GetEntry(key);
    if (!e) return e.error();
    *out = NewEntry(*e);
    return Status::Ok();
  });
}

int pbx_client_delete_entry(pbx_client* client, const char* key, uint64_t version,
                            pbx_put_result* out, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_delete_entry: the client is closing");
    if (!Valid(client) || key == nullptr)
      return Bad("pbx_client_delete_entry: a client and key are required");
    auto r = client->client->DeleteEntry(key, version);
    if (!r) return r.error();
    if (out != nullptr) {
      out->applied = r->applied ? 1 : 0;
      out->version = r->version;
    }
    return Status::Ok();
  });
}

int pbx_client_list_entries(pbx_client* client, const char* prefix, const char* start_after,
                            size_t limit, pbx_entry_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_list_entries: the client is closing");
    if (!Valid(client) || out == nullptr)
      return Bad("pbx_client_list_entries: a client and out are required");
    if (limit > UINT32_MAX) return Bad("pbx_client_list_entries: limit over 2^32 - 1");
    auto r = client->client->ListEntries(prefix != nullptr ? prefix : "",
                                         start_after != nullptr ? start_after : "",
                                         static_cast<uint32_t>(limit));
    if (!r) return r.error();
    auto* list = NewList(r->entries, FillEntry, &pbx_entry_list_free);
    list->more = r->more ? 1 : 0;
    *out = list;
    return Status::Ok();
  });
}

int pbx_client_add_connection(pbx_client* client, const pbx_id* peer, int* state, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_add_connection: the client is closing");
    if (!Valid(client) || peer == nullptr)
      return Bad("pbx_client_add_connection: a client and peer are required");
    auto r = client->client->AddConnection(ToKey(peer));
    if (!r) return r.error();
    if (state != nullptr) *state = static_cast<int>(*r);
    return Status::Ok();
  });
}

int pbx_client_remove_connection(pbx_client* client, const pbx_id* peer, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok())
      return Status::Unavailable("pbx_client_remove_connection: the client is closing");
    if (!Valid(client) || peer == nullptr)
      return Bad("pbx_client_remove_connection: a client and peer are required");
    return client->client->RemoveConnection(ToKey(peer));
  });
}

int pbx_client_list_connections(pbx_client* client, int kind, const pbx_id* start_after,
                                size_t limit, pbx_connection_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_list_connections: the client is closing");
    if (!Valid(client) || out == nullptr)
      return Bad("pbx_client_list_connections: a client and out are required");
    if (kind < PBX_CONNECTIONS_CONNECTED || kind > PBX_CONNECTIONS_INCOMING) {
      return Bad("pbx_client_list_connections: kind must be a pbx_connection_kind");
    }
    if (limit > UINT32_MAX) return Bad("pbx_client_list_connections: limit over 2^32 - 1");
    std::optional<postbox::MailboxKey> after;
    if (start_after != nullptr) after = ToKey(start_after);
    auto r = client->client->ListConnections(after, static_cast<uint32_t>(limit),
                                             static_cast<postbox::ConnectionListKind>(kind));
    if (!r) return r.error();
    const auto state = kind == PBX_CONNECTIONS_CONNECTED ? postbox::ConnectionState::kConnected
                                                         : postbox::ConnectionState::kRequested;
    std::vector<std::pair<postbox::MailboxKey, postbox::ConnectionState>> v;
    for (const auto& k : r->peers) v.emplace_back(k, state);
    *out = NewConnectionList(v, r->more);
    return Status::Ok();
  });
}

int pbx_client_register_push(pbx_client* client, int platform, const char* token, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_register_push: the client is closing");
    if (!Valid(client) || token == nullptr)
      return Bad("pbx_client_register_push: a client and token are required");
    if (!ValidPlatform(platform))
      return Bad("pbx_client_register_push: platform must be a pbx_platform");
    return client->client->RegisterPush(static_cast<postbox::Platform>(platform), token);
  });
}

int pbx_client_register_endpoint(pbx_client* client, const char* app_id,
                                 const void* vapid_public_key, size_t key_len, pbx_endpoint** out,
                                 pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok())
      return Status::Unavailable("pbx_client_register_endpoint: the client is closing");
    if (!Valid(client)) return Bad("pbx_client_register_endpoint: not a pbx_client handle");
    return RegisterEndpoint(*client->client, "pbx_client_register_endpoint", app_id,
                            vapid_public_key, key_len, out);
  });
}

int pbx_client_list_endpoints(pbx_client* client, const char* start_after, size_t limit,
                              pbx_endpoint_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_list_endpoints: the client is closing");
    if (!Valid(client)) return Bad("pbx_client_list_endpoints: not a pbx_client handle");
    return ListEndpoints(*client->client, "pbx_client_list_endpoints", start_after, limit, out);
  });
}

int pbx_client_revoke_endpoint(pbx_client* client, const char* token, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_revoke_endpoint: the client is closing");
    if (!Valid(client)) return Bad("pbx_client_revoke_endpoint: not a pbx_client handle");
    return RevokeEndpoint(*client->client, "pbx_client_revoke_endpoint", token);
  });
}

int pbx_client_poll(pbx_client* client, uint64_t since, uint32_t limit, pbx_info** out,
                    pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_poll: the client is closing");
    if (!Valid(client) || out == nullptr)
      return Bad("pbx_client_poll: a client and out are required");
    auto r = client->client->Poll(since, limit);
    if (!r) return r.error();
    *out = NewInfo(*r);
    return Status::Ok();
  });
}

int pbx_client_ack(pbx_client* client, uint64_t cursor, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_ack: the client is closing");
    if (!Valid(client)) return Bad("pbx_client_ack: not a pbx_client handle");
    return client->client->Ack(cursor);
  });
}

int pbx_client_ping(pbx_client* client, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_ping: the client is closing");
    if (!Valid(client)) return Bad("pbx_client_ping: not a pbx_client handle");
    return client->client->Ping();
  });
}

int pbx_client_update_status(pbx_client* client, const pbx_id* id, int status, int* status_out,
                             int* applied, pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_update_status: the client is closing");
    if (!Valid(client) || id == nullptr)
      return Bad("pbx_client_update_status: a client and id are required");
    if (!ValidStatus(status)) return Bad("pbx_client_update_status: status must be 1, 2 or 3");
    auto r = client->client->UpdateStatus(ToMsgId(id), static_cast<postbox::MessageStatus>(status));
    if (!r) return r.error();
    if (status_out != nullptr) *status_out = static_cast<int>(r->status);
    if (applied != nullptr) *applied = r->applied ? 1 : 0;
    return Status::Ok();
  });
}

int pbx_client_upload(pbx_client* client, const pbx_id* to, const pbx_id* id, const char* topic,
                      const void* meta, size_t meta_len, const void* bytes, size_t len,
                      pbx_error* err) {
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_upload: the client is closing");
    if (!Valid(client) || to == nullptr || id == nullptr || topic == nullptr ||
        !BytesOk(meta, meta_len) || !BytesOk(bytes, len)) {
      return Bad(
          "pbx_client_upload: a client, to, id, topic, and meta and bytes (NULL only "
          "with length 0) are required");
    }
    auto source = postbox::sync::MemorySource(std::string(Bytes(bytes, len)));
    postbox::sync::UploadSpec spec;
    spec.to = ToKey(to);
    spec.id = ToMsgId(id);
    spec.topic = topic;
    spec.meta = std::string(Bytes(meta, meta_len));
    return client->client->Upload(source.get(), spec);
  });
}

int pbx_client_download(pbx_client* client, const pbx_id* id, uint8_t** out, size_t* out_len,
                        pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    const InUse use(client);
    if (!use.ok()) return Status::Unavailable("pbx_client_download: the client is closing");
    if (!Valid(client) || id == nullptr || out == nullptr || out_len == nullptr) {
      return Bad("pbx_client_download: a client, id, out and out_len are required");
    }
    std::string bytes;
    auto sink = postbox::sync::MemorySink(&bytes);
    auto r = client->client->Download(ToMsgId(id), sink.get());
    if (!r) return r.error();
    *out = NewBuffer(bytes);
    *out_len = bytes.size();
    return Status::Ok();
  });
}

}  // extern "C"
