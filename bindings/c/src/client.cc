// pbx_client_*: the sync client (postbox/sync/client.h), blocking calls only.
#include <cstring>
#include <string>

#include "internal.h"

using namespace pbx_internal;
using postbox::Status;

namespace {

bool Valid(const pbx_client* c) { return c != nullptr && c->magic == kClientMagic; }

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
    if (!Valid(client)) return Bad("pbx_client_connect: not a pbx_client handle");
    auto r = client->client->Connect();
    if (!r) return r.error();
    if (verdict != nullptr) *verdict = static_cast<int>(r->verdict);
    return Status::Ok();
  });
}

void pbx_client_close(pbx_client* client) {
  if (!Valid(client)) return;
  try {
    client->client->Close();
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
    if (!Valid(client) || key == nullptr || out == nullptr) {
      return Bad("pbx_client_get_entry: a client, key and out are required");
    }
    auto e = client->client->GetEntry(key);
    if (!e) return e.error();
    *out = NewEntry(*e);
    return Status::Ok();
  });
}

int pbx_client_update_status(pbx_client* client, const pbx_id* id, int status, int* status_out,
                             int* applied, pbx_error* err) {
  return Guard(err, [&] {
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
