// pbx_db_*: the store (postbox/db.h) and pbx_server_*: the embedded sync
// server over it (postbox/sync/server.h).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "internal.h"

using namespace pbx_internal;
using postbox::Status;

namespace {

bool Valid(const pbx_db* db) { return db != nullptr && db->magic == kDbMagic; }
bool Valid(const pbx_server* s) { return s != nullptr && s->magic == kServerMagic; }

Status FillPut(const postbox::Result<postbox::EntryPutResult>& r, pbx_put_result* out) {
  if (!r) return r.error();
  if (out != nullptr) {
    out->applied = r->applied ? 1 : 0;
    out->version = r->version;
  }
  return Status::Ok();
}

}  // namespace

extern "C" {

void pbx_db_options_init(pbx_db_options* options) {
  if (options == nullptr) return;
  const postbox::Options d;
  *options = pbx_db_options{};
  options->durability = PBX_DURABLE;
  options->posting_policy = PBX_POST_CONNECTED;
  options->max_map_size = d.max_map_size;
  options->slot_depth = d.slot_depth;
  options->read_only = 0;
}

int pbx_db_open(const char* path, const pbx_db_options* options, pbx_db** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (path == nullptr || out == nullptr) return Bad("pbx_db_open: path and out must not be NULL");
    postbox::Options o;
    if (options != nullptr) {
      if (options->durability != PBX_DURABLE && options->durability != PBX_RELAXED) {
        return Bad("pbx_db_open: durability must be PBX_DURABLE or PBX_RELAXED");
      }
      if (options->posting_policy != PBX_POST_CONNECTED &&
          options->posting_policy != PBX_POST_OPEN) {
        return Bad("pbx_db_open: posting_policy must be PBX_POST_CONNECTED or PBX_POST_OPEN");
      }
      o.durability = options->durability == PBX_RELAXED ? postbox::Durability::kRelaxed
                                                        : postbox::Durability::kDurable;
      o.posting_policy = options->posting_policy == PBX_POST_OPEN
                             ? postbox::PostingPolicy::kOpen
                             : postbox::PostingPolicy::kConnected;
      o.max_map_size = options->max_map_size;
      o.slot_depth = options->slot_depth;
      o.read_only = options->read_only != 0;
    }
    auto db = postbox::DB::Open(path, o);
    if (!db) return db.error();
    auto h = std::make_unique<pbx_db>();
    h->db = std::move(db).value();
    *out = h.release();
    Track();
    return Status::Ok();
  });
}

int pbx_db_close(pbx_db* db, pbx_error* err) {
  if (db == nullptr) return PBX_OK;
  return Guard(err, [&] {
    if (!Valid(db)) return Bad("pbx_db_close: not a pbx_db handle");
    const int servers = db->servers.load();
    if (servers > 0) {
      return Status::Conflict(std::to_string(servers) +
                              " server(s) still running over this db: pbx_server_stop first");
    }
    db->magic = 0;
    delete db;
    Untrack();
    return Status::Ok();
  });
}

int pbx_db_create_mailbox(pbx_db* db, pbx_credentials* out, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(db) || out == nullptr)
      return Bad("pbx_db_create_mailbox: a db and out are required");
    auto c = db->db->CreateMailbox();
    if (!c) return c.error();
    if (c->secret.size() >= sizeof(out->secret)) return Status::Internal("secret too long");
    *out = pbx_credentials{};
    out->mkey = ToC(c->mkey);
    std::memcpy(out->secret, c->secret.c_str(), c->secret.size() + 1);
    return Status::Ok();
  });
}

int pbx_db_authenticate(pbx_db* db, const pbx_id* mkey, const char* secret, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(db) || mkey == nullptr || secret == nullptr) {
      return Bad("pbx_db_authenticate: a db, mkey and secret are required");
    }
    return db->db->Authenticate(ToKey(mkey), secret);
  });
}

int pbx_db_connect(pbx_db* db, const pbx_id* a, const pbx_id* b, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(db) || a == nullptr || b == nullptr)
      return Bad("pbx_db_connect: a db, a and b are required");
    return db->db->Connect(ToKey(a), ToKey(b));
  });
}

int pbx_db_disconnect(pbx_db* db, const pbx_id* actor, const pbx_id* peer, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(db) || actor == nullptr || peer == nullptr) {
      return Bad("pbx_db_disconnect: a db, actor and peer are required");
    }
    return db->db->Disconnect(ToKey(actor), ToKey(peer));
  });
}

int pbx_db_list_connections(pbx_db* db, const pbx_id* mkey, int kind, const pbx_id* start_after,
                            size_t limit, pbx_connection_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(db) || mkey == nullptr || out == nullptr) {
      return Bad("pbx_db_list_connections: a db, mkey and out are required");
    }
    if (kind < PBX_CONNECTIONS_CONNECTED || kind > PBX_CONNECTIONS_INCOMING) {
      return Bad("pbx_db_list_connections: kind must be a pbx_connection_kind");
    }
    std::optional<postbox::MailboxKey> after;
    if (start_after != nullptr) after = ToKey(start_after);
    // An unknown mailbox lists nothing in the store; the C API says NotFound.
    if (auto m = db->db->GetMailbox(ToKey(mkey)); !m) return m.error();
    auto r = db->db->ListConnections(ToKey(mkey), after, limit != 0 ? limit : SIZE_MAX,
                                     static_cast<postbox::ConnectionListKind>(kind));
    if (!r) return r.error();
    const auto state = kind == PBX_CONNECTIONS_CONNECTED ? postbox::ConnectionState::kConnected
                                                         : postbox::ConnectionState::kRequested;
    std::vector<std::pair<postbox::MailboxKey, postbox::ConnectionState>> v;
    for (const auto& k : *r) v.emplace_back(k, state);
    *out = NewConnectionList(v, limit != 0 && r->size() == limit);
    return Status::Ok();
  });
}

int pbx_db_delete_mailbox(pbx_db* db, const pbx_id* mkey, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(db) || mkey == nullptr)
      return Bad("pbx_db_delete_mailbox: a db and mkey are required");
    return db->db->DeleteMailbox(ToKey(mkey));
  });
}

int pbx_db_changes(pbx_db* db, const pbx_id* mkey, uint64_t since, size_t limit, pbx_info** out,
                   pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(db) || mkey == nullptr || out == nullptr) {
      return Bad("pbx_db_changes: a db, mkey and out are required");
    }
    auto r = db->db->Changes(ToKey(mkey), since, limit);
    if (!r) return r.error();
    *out = NewInfo(*r);
    return Status::Ok();
  });
}

int pbx_db_put_entry(pbx_db* db, const pbx_id* mkey, const char* key, const void* value,
                     size_t value_len, uint64_t version, pbx_put_result* out, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(db) || mkey == nullptr || key == nullptr || !BytesOk(value, value_len)) {
      return Bad(
          "pbx_db_put_entry: a db, mkey, key and value (NULL only with length 0) are required");
    }
    return FillPut(db->db->PutEntry(ToKey(mkey), key, Bytes(value, value_len), version), out);
  });
}

int pbx_db_delete_entry(pbx_db* db, const pbx_id* mkey, const char* key, uint64_t version,
                        pbx_put_result* out, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(db) || mkey == nullptr || key == nullptr) {
      return Bad("pbx_db_delete_entry: a db, mkey and key are required");
    }
    return FillPut(db->db->DeleteEntry(ToKey(mkey), key, version), out);
  });
}

int pbx_db_get_entry(pbx_db* db, const pbx_id* mkey, const char* key, pbx_entry** out,
                     pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(db) || mkey == nullptr || key == nullptr || out == nullptr) {
      return Bad("pbx_db_get_entry: a db, mkey, key and out are required");
    }
    auto e = db->db->GetEntry(ToKey(mkey), key);
    if (!e) return e.error();
    *out = NewEntry(*e);
    return Status::Ok();
  });
}

int pbx_db_list_entries(pbx_db* db, const pbx_id* mkey, const char* prefix, const char* start_after,
                        size_t limit, pbx_entry_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(db) || mkey == nullptr || out == nullptr) {
      return Bad("pbx_db_list_entries: a db, mkey and out are required");
    }
    auto r = db->db->ListEntries(ToKey(mkey), prefix != nullptr ? prefix : "",
                                 start_after != nullptr ? start_after : "",
                                 limit != 0 ? limit : SIZE_MAX);
    if (!r) return r.error();
    auto* list = NewList(*r, FillEntry, &pbx_entry_list_free);
    list->more = (limit != 0 && r->size() == limit) ? 1 : 0;
    *out = list;
    return Status::Ok();
  });
}

int pbx_db_post_message(pbx_db* db, const pbx_id* from, const pbx_id* to, const pbx_id* id,
                        const char* topic, const void* meta, size_t meta_len, const void* bytes,
                        size_t len, pbx_message** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(db) || from == nullptr || to == nullptr || topic == nullptr ||
        !BytesOk(meta, meta_len) || !BytesOk(bytes, len)) {
      return Bad(
          "pbx_db_post_message: a db, from, to, topic, and meta and bytes (NULL only "
          "with length 0) are required");
    }
    postbox::PostRequest req;
    req.from = ToKey(from);
    req.to = ToKey(to);
    req.id = id != nullptr ? ToMsgId(id) : postbox::MessageId::Random();
    req.topic = topic;
    req.meta = std::string(Bytes(meta, meta_len));
    req.bytes = Bytes(bytes, len);
    auto m = db->db->PostMessage(req);
    if (!m) return m.error();
    if (out != nullptr) *out = NewMessage(*m);
    return Status::Ok();
  });
}

int pbx_db_get_message(pbx_db* db, const pbx_id* actor, const pbx_id* id, pbx_message** out,
                       pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(db) || actor == nullptr || id == nullptr || out == nullptr) {
      return Bad("pbx_db_get_message: a db, actor, id and out are required");
    }
    auto m = db->db->GetMessage(ToKey(actor), ToMsgId(id));
    if (!m) return m.error();
    *out = NewMessage(*m);
    return Status::Ok();
  });
}

int pbx_db_advance_status(pbx_db* db, const pbx_id* actor, const pbx_id* id, int status,
                          int* status_out, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(db) || actor == nullptr || id == nullptr) {
      return Bad("pbx_db_advance_status: a db, actor and id are required");
    }
    if (!ValidStatus(status)) return Bad("pbx_db_advance_status: status must be 1, 2 or 3");
    auto s = db->db->AdvanceStatus(ToKey(actor), ToMsgId(id),
                                   static_cast<postbox::MessageStatus>(status));
    if (!s) return s.error();
    if (status_out != nullptr) *status_out = static_cast<int>(*s);
    return Status::Ok();
  });
}

int pbx_db_read_blob(pbx_db* db, const pbx_id* actor, const pbx_id* id, uint64_t offset,
                     uint64_t length, uint8_t** out, size_t* out_len, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(db) || actor == nullptr || id == nullptr || out == nullptr || out_len == nullptr) {
      return Bad("pbx_db_read_blob: a db, actor, id, out and out_len are required");
    }
    auto b = db->db->ReadBlob(ToKey(actor), ToMsgId(id), offset, length);
    if (!b) return b.error();
    *out = NewBuffer(*b);
    *out_len = b->size();
    return Status::Ok();
  });
}

// ---- server ----

void pbx_server_options_init(pbx_server_options* options) {
  if (options == nullptr) return;
  const postbox::sync::ServerOptions d;
  *options = pbx_server_options{};
  options->host = "127.0.0.1";
  options->port = d.port;
  options->threads = d.threads;
  const postbox::sync::TlsServerOptions t;
  options->tls.min_version = static_cast<int>(t.min_version);
  options->tls.handshake_timeout_ms = static_cast<uint32_t>(t.handshake_timeout.count());
}

int pbx_server_start(pbx_db* db, const pbx_server_options* options, pbx_server** out,
                     pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(db) || out == nullptr) return Bad("pbx_server_start: a db and out are required");
    postbox::sync::ServerOptions o;
    if (options != nullptr) {
      if (options->host == nullptr) return Bad("pbx_server_start: options->host is NULL");
      o.host = options->host;
      o.port = options->port;
      o.threads = options->threads;
      POSTBOX_ASSIGN_OR_RETURN(o.tls, ToTlsServerOptions(options->tls));
    }
    auto h = std::make_unique<pbx_server>();
    h->db = db;
    // Counted before Start so a concurrent pbx_db_close cannot slip in.
    db->servers.fetch_add(1);
    struct Uncount {  // undoes the count unless the server started (throws included)
      pbx_db* db;
      ~Uncount() {
        if (db != nullptr) db->servers.fetch_sub(1);
      }
    } uncount{db};
    auto s = postbox::sync::Server::Start(db->db.get(), o);
    if (!s) return s.error();
    h->server = std::move(s).value();
    uncount.db = nullptr;
    *out = h.release();
    Track();
    return Status::Ok();
  });
}

int pbx_server_port(pbx_server* server, uint16_t* out, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(server) || out == nullptr)
      return Bad("pbx_server_port: a server and out are required");
    *out = server->server->port();
    return Status::Ok();
  });
}

int pbx_server_reload_tls(pbx_server* server, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(server)) return Bad("pbx_server_reload_tls: a server is required");
    return server->server->ReloadTls();
  });
}

void pbx_server_stop(pbx_server* server) {
  if (!Valid(server)) return;
  try {
    server->server->Stop();
    server->server.reset();
  } catch (...) {
    // Stop does not throw; if it ever did, the handle is still released.
  }
  server->db->servers.fetch_sub(1);
  server->magic = 0;
  delete server;
  Untrack();
}

}  // extern "C"
