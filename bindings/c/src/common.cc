// The C API's shared parts: version, errors, memory, identifiers and the
// conversions between C structs and the C++ value types.
#include <cstdlib>
#include <cstring>

#include "internal.h"

namespace pbx_internal {

std::atomic<uint64_t> g_live{0};

int Fill(pbx_error* err, const postbox::Status& s) {
  if (s.ok()) return PBX_OK;
  const int code = -static_cast<int>(s.code());
  if (err != nullptr) {
    err->code = code;
    err->retryable = pbx_code_retryable(code);
    const std::string text = s.ToString();
    const size_t n = std::min(text.size(), sizeof(err->message) - 1);
    std::memcpy(err->message, text.data(), n);
    err->message[n] = '\0';
  }
  return code;
}

postbox::MailboxKey ToKey(const pbx_id* id) {
  postbox::MailboxKey k;
  std::memcpy(k.bytes.data(), id->bytes, k.bytes.size());
  return k;
}

postbox::MessageId ToMsgId(const pbx_id* id) {
  postbox::MessageId k;
  std::memcpy(k.bytes.data(), id->bytes, k.bytes.size());
  return k;
}

bool ValidStatus(int status) {
  return status >= PBX_STATUS_UPLOADED && status <= PBX_STATUS_VIEWED;
}

bool ValidPlatform(int platform) {
  return platform >= PBX_PLATFORM_NONE && platform <= PBX_PLATFORM_WEB;
}

uint8_t* CopyBytes(std::string_view bytes) {
  auto* p = static_cast<uint8_t*>(std::malloc(bytes.size() + 1));
  if (p == nullptr) throw std::bad_alloc();
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  p[bytes.size()] = 0;
  return p;
}

void FillEntry(pbx_entry* out, const postbox::EntryInfo& e) {
  *out = pbx_entry{};
  out->key = reinterpret_cast<char*>(CopyBytes(e.key));
  try {
    out->value = CopyBytes(e.value);
  } catch (...) {
    ClearEntry(out);
    throw;
  }
  out->value_len = e.value.size();
  out->version = e.version;
  out->seq = e.seq;
}

void ClearEntry(pbx_entry* e) {
  std::free(e->key);
  std::free(e->value);
  *e = pbx_entry{};
}

void FillMessage(pbx_message* out, const postbox::MessageInfo& m) {
  *out = pbx_message{};
  out->id = ToC(m.id);
  out->from = ToC(m.from);
  out->to = ToC(m.to);
  out->topic = reinterpret_cast<char*>(CopyBytes(m.topic));
  try {
    out->meta = CopyBytes(m.meta);
  } catch (...) {
    ClearMessage(out);
    throw;
  }
  out->meta_len = m.meta.size();
  out->length = m.length;
  std::memcpy(out->digest, m.digest.data(), sizeof(out->digest));
  out->status = static_cast<int>(m.status);
  out->created_ms = m.created_ms;
  out->seq = m.seq;
}

void ClearMessage(pbx_message* m) {
  std::free(m->topic);
  std::free(m->meta);
  *m = pbx_message{};
}

pbx_entry* NewEntry(const postbox::EntryInfo& e) {
  auto* out = static_cast<pbx_entry*>(std::calloc(1, sizeof(pbx_entry)));
  if (out == nullptr) throw std::bad_alloc();
  try {
    FillEntry(out, e);
  } catch (...) {
    std::free(out);
    throw;
  }
  Track();
  return out;
}

pbx_message* NewMessage(const postbox::MessageInfo& m) {
  auto* out = static_cast<pbx_message*>(std::calloc(1, sizeof(pbx_message)));
  if (out == nullptr) throw std::bad_alloc();
  try {
    FillMessage(out, m);
  } catch (...) {
    std::free(out);
    throw;
  }
  Track();
  return out;
}

uint8_t* NewBuffer(std::string_view bytes) {
  uint8_t* p = CopyBytes(bytes);
  Track();
  return p;
}

namespace {

void FillTombstone(pbx_tombstone* out, const postbox::Tombstone& t) {
  *out = pbx_tombstone{};
  out->kind = static_cast<int>(t.kind);
  const bool message = t.kind == postbox::TombstoneKind::kMessage;
  if (message && t.key.size() == sizeof(out->id.bytes)) {
    std::memcpy(out->id.bytes, t.key.data(), sizeof(out->id.bytes));
  }
  out->key = reinterpret_cast<char*>(CopyBytes(message ? std::string_view() : t.key));
  out->version = t.version;
  out->seq = t.seq;
}

// Allocates `n` zeroed items of T into *items (NULL for none).
template <typename T>
void Items(T** items, size_t n) {
  *items = nullptr;
  if (n == 0) return;
  *items = static_cast<T*>(std::calloc(n, sizeof(T)));
  if (*items == nullptr) throw std::bad_alloc();
}

}  // namespace

void FillInfo(pbx_info* out, const postbox::InfoPacket& p) {
  *out = pbx_info{};
  out->cursor = p.cursor;
  out->since = p.since;
  out->reset = p.reset ? 1 : 0;
  out->more = p.more ? 1 : 0;
  try {
    // Each count rises only once its item is filled, so ClearInfo releases
    // exactly what was made.
    Items(&out->incoming, p.incoming.size());
    for (const auto& m : p.incoming) FillMessage(&out->incoming[out->incoming_count++], m);
    Items(&out->outgoing, p.outgoing.size());
    for (const auto& m : p.outgoing) FillMessage(&out->outgoing[out->outgoing_count++], m);
    Items(&out->entries, p.entries.size());
    for (const auto& e : p.entries) FillEntry(&out->entries[out->entries_count++], e);
    Items(&out->tombstones, p.tombstones.size());
    for (const auto& t : p.tombstones) FillTombstone(&out->tombstones[out->tombstones_count++], t);
  } catch (...) {
    ClearInfo(out);
    throw;
  }
}

void ClearInfo(pbx_info* info) {
  for (size_t i = 0; i < info->incoming_count; ++i) ClearMessage(&info->incoming[i]);
  for (size_t i = 0; i < info->outgoing_count; ++i) ClearMessage(&info->outgoing[i]);
  for (size_t i = 0; i < info->entries_count; ++i) ClearEntry(&info->entries[i]);
  for (size_t i = 0; i < info->tombstones_count; ++i) std::free(info->tombstones[i].key);
  std::free(info->incoming);
  std::free(info->outgoing);
  std::free(info->entries);
  std::free(info->tombstones);
  *info = pbx_info{};
}

pbx_info* NewInfo(const postbox::InfoPacket& p) {
  auto* out = static_cast<pbx_info*>(std::calloc(1, sizeof(pbx_info)));
  if (out == nullptr) throw std::bad_alloc();
  try {
    FillInfo(out, p);
  } catch (...) {
    std::free(out);
    throw;
  }
  Track();
  return out;
}

pbx_connection_list* NewConnectionList(
    const std::vector<std::pair<postbox::MailboxKey, postbox::ConnectionState>>& v, bool more) {
  auto* list = NewList(
      v,
      [](pbx_connection* c, const auto& e) {
        c->peer = ToC(e.first);
        c->state = static_cast<int>(e.second);
      },
      &pbx_connection_list_free);
  list->more = more ? 1 : 0;
  return list;
}

postbox::Status CheckClientOptions(const pbx_client_options& o) {
  if (o.secret == nullptr)
    return Bad("client options: secret is NULL (the mailbox's secret is required)");
  return CheckTlsClientOptions(o.tls);
}

postbox::sync::ClientOptions ToClientOptions(const pbx_client_options& o) {
  postbox::sync::ClientOptions c;
  c.host = o.host != nullptr ? o.host : "127.0.0.1";
  c.port = o.port;
  c.mkey = ToKey(&o.mkey);
  c.secret = o.secret != nullptr ? o.secret : "";
  c.app_version = o.app_version != nullptr ? o.app_version : "";
  c.request_timeout = std::chrono::milliseconds(o.request_timeout_ms);
  c.reconnect = o.reconnect != 0;
  c.start_cursor = o.start_cursor;
  c.auto_ack = o.manual_ack == 0;
  c.tls = ToTlsClientOptions(o.tls);
  if (o.on_push != nullptr) {
    c.on_push = [fn = o.on_push, ctx = o.push_context](const postbox::InfoPacket& p) {
      pbx_info info;
      try {
        FillInfo(&info, p);
      } catch (...) {
        return;  // out of memory on the client's thread: this packet is not delivered
      }
      fn(ctx, &info);
      ClearInfo(&info);
    };
  }
  return c;
}

}  // namespace pbx_internal

using namespace pbx_internal;

extern "C" {

const char* pbx_version(void) { return PBX_VERSION_STRING; }
int pbx_version_number(void) { return PBX_VERSION_NUMBER; }

const char* pbx_strerror(int code) {
  switch (code) {
    case PBX_OK:
      return "OK";
    case PBX_E_INVALID_ARGUMENT:
      return "InvalidArgument";
    case PBX_E_UNAUTHENTICATED:
      return "Unauthenticated";
    case PBX_E_PERMISSION_DENIED:
      return "PermissionDenied";
    case PBX_E_NOT_FOUND:
      return "NotFound";
    case PBX_E_CONFLICT:
      return "Conflict";
    case PBX_E_GONE:
      return "Gone";
    case PBX_E_TOO_LARGE:
      return "TooLarge";
    case PBX_E_DIGEST_MISMATCH:
      return "DigestMismatch";
    case PBX_E_PROTOCOL_UNSUPPORTED:
      return "ProtocolUnsupported";
    case PBX_E_BACK_OFF:
      return "BackOff";
    case PBX_E_INTERNAL:
      return "Internal";
    case PBX_E_UNAVAILABLE:
      return "Unavailable";
    case PBX_E_RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    default:
      return "Unknown";
  }
}

// The replica's and the client's transfers retry exactly these (a lost
// session or timeout is Unavailable; 429 is BackOff): IsTransient in
// engine/src/sync/client/transfer.cc, which is not public API.
int pbx_code_retryable(int code) { return code == PBX_E_UNAVAILABLE || code == PBX_E_BACK_OFF; }

void pbx_free(void* p) {
  if (p == nullptr) return;
  std::free(p);
  Untrack();
}

uint64_t pbx_live_handles(void) { return g_live.load(std::memory_order_relaxed); }

int pbx_id_to_hex(const pbx_id* id, char out[33], pbx_error* err) {
  return Guard(err, [&] {
    if (id == nullptr || out == nullptr) return Bad("pbx_id_to_hex: id and out must not be NULL");
    const std::string hex = ToKey(id).ToHex();
    std::memcpy(out, hex.c_str(), 33);
    return postbox::Status::Ok();
  });
}

int pbx_id_from_hex(const char* hex, pbx_id* out, pbx_error* err) {
  return Guard(err, [&] {
    if (hex == nullptr || out == nullptr)
      return Bad("pbx_id_from_hex: hex and out must not be NULL");
    auto k = postbox::MailboxKey::FromHex(hex);
    if (!k) return k.error();
    *out = ToC(*k);
    return postbox::Status::Ok();
  });
}

int pbx_id_random(pbx_id* out, pbx_error* err) {
  return Guard(err, [&] {
    if (out == nullptr) return Bad("pbx_id_random: out must not be NULL");
    *out = ToC(postbox::MessageId::Random());
    return postbox::Status::Ok();
  });
}

void pbx_entry_free(pbx_entry* entry) {
  if (entry == nullptr) return;
  ClearEntry(entry);
  std::free(entry);
  Untrack();
}

void pbx_entry_list_free(pbx_entry_list* list) {
  if (list == nullptr) return;
  for (size_t i = 0; i < list->count; ++i) ClearEntry(&list->items[i]);
  std::free(list->items);
  std::free(list);
  Untrack();
}

void pbx_message_free(pbx_message* message) {
  if (message == nullptr) return;
  ClearMessage(message);
  std::free(message);
  Untrack();
}

void pbx_connection_list_free(pbx_connection_list* list) {
  if (list == nullptr) return;
  std::free(list->items);
  std::free(list);
  Untrack();
}

void pbx_info_free(pbx_info* info) {
  if (info == nullptr) return;
  ClearInfo(info);
  std::free(info);
  Untrack();
}

void pbx_message_list_free(pbx_message_list* list) {
  if (list == nullptr) return;
  for (size_t i = 0; i < list->count; ++i) ClearMessage(&list->items[i]);
  std::free(list->items);
  std::free(list);
  Untrack();
}

}  // extern "C"
