// pbx_replica_*: an app's mailbox with its mirror and durable outbox
// (postbox/sync/replica.h), and pbx_task_run for hosts that run callbacks.
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "internal.h"

using namespace pbx_internal;
using postbox::Status;

// A callback the replica handed to the host's executor.
struct pbx_task {
  std::function<void()> fn;
};

namespace {

void FillReplicaMessage(pbx_message* out, const postbox::sync::ReplicaMessage& m) {
  FillMessage(out, m.info);
  out->incoming = m.incoming ? 1 : 0;
  out->synced_status = m.synced_status;
  out->pending = m.pending ? 1 : 0;
}

Status NewMessageList(const std::vector<postbox::sync::ReplicaMessage>& v, pbx_message_list** out) {
  *out = NewList(v, FillReplicaMessage, &pbx_message_list_free);
  return Status::Ok();
}

// An outbox write's result: its item id into *item (may be NULL).
Status ItemOf(const postbox::Result<uint64_t>& r, uint64_t* item) {
  if (!r) return r.error();
  if (item != nullptr) *item = *r;
  return Status::Ok();
}

void FillOutboxItem(pbx_outbox_item* out, const postbox::sync::OutboxItem& i) {
  *out = pbx_outbox_item{};
  out->item = i.id;
  out->kind = static_cast<int>(i.kind);
  out->created_ms = i.created_ms;
  out->attempts = i.attempts;
  out->message = ToC(i.message);
  out->status = i.kind == postbox::sync::OutboxKind::kStatus ? static_cast<int>(i.status) : 0;
  out->key = reinterpret_cast<char*>(CopyBytes(i.key));
  out->version = i.version;
  out->peer = ToC(i.peer);
  out->platform = static_cast<int>(i.platform);
  out->length = i.length;
}

// The C view of a change, valid while `change` lives.
void CallChange(pbx_change_fn fn, void* ctx, const postbox::sync::ReplicaChange& change) {
  std::vector<pbx_id> messages, removed;
  for (const auto& id : change.messages) messages.push_back(ToC(id));
  for (const auto& id : change.messages_removed) removed.push_back(ToC(id));
  std::vector<const char*> entries, entries_removed;
  for (const auto& k : change.entries) entries.push_back(k.c_str());
  for (const auto& k : change.entries_removed) entries_removed.push_back(k.c_str());
  pbx_change c{};
  c.messages = messages.data();
  c.messages_count = messages.size();
  c.messages_removed = removed.data();
  c.messages_removed_count = removed.size();
  c.entries = entries.data();
  c.entries_count = entries.size();
  c.entries_removed = entries_removed.data();
  c.entries_removed_count = entries_removed.size();
  c.reset = change.reset ? 1 : 0;
  c.cursor = change.cursor;
  fn(ctx, &c);
}

void CallOutbox(pbx_outbox_fn fn, void* ctx, const postbox::sync::OutboxOutcome& o) {
  pbx_outbox_outcome c{};
  c.item = o.item.id;
  c.kind = static_cast<int>(o.item.kind);
  c.message = ToC(o.item.message);
  c.key = o.item.key.c_str();
  c.code = o.status.ok() ? PBX_OK : -static_cast<int>(o.status.code());
  const std::string text(o.status.message());
  c.message_text = text.c_str();
  c.cancelled = o.cancelled ? 1 : 0;
  c.applied = o.applied ? 1 : 0;
  fn(ctx, &c);
}

void CallError(pbx_error_fn fn, void* ctx, const Status& s) {
  pbx_error e{};
  Fill(&e, s.ok() ? Status::Internal("an error without a code") : s);
  fn(ctx, &e);
}

}  // namespace

extern "C" {

void pbx_task_run(pbx_task* task) {
  if (task == nullptr) return;
  try {
    task->fn();
  } catch (...) {
    // A callback's C++ side (copying a change) failed: nothing can reach the host from here.
  }
  delete task;
  Untrack();
}

void pbx_replica_options_init(pbx_replica_options* options) {
  if (options == nullptr) return;
  const postbox::sync::ReplicaOptions d;
  *options = pbx_replica_options{};
  pbx_client_options_init(&options->client);
  options->durability = PBX_DURABLE;
  options->poll_interval_ms = static_cast<uint32_t>(d.poll_interval.count());
  options->retry_initial_ms = static_cast<uint32_t>(d.retry_initial.count());
  options->retry_max_ms = static_cast<uint32_t>(d.retry_max.count());
  options->start = d.start ? 1 : 0;
}

int pbx_replica_open(const pbx_replica_options* options, pbx_replica** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (options == nullptr || out == nullptr || options->folder == nullptr) {
      return Bad("pbx_replica_open: options, options->folder and out are required");
    }
    POSTBOX_RETURN_IF_ERROR(CheckClientOptions(options->client));
    if (options->durability != PBX_DURABLE && options->durability != PBX_RELAXED) {
      return Bad("pbx_replica_open: durability must be PBX_DURABLE or PBX_RELAXED");
    }
    postbox::sync::ReplicaOptions o;
    o.folder = options->folder;
    o.client = ToClientOptions(options->client);
    o.durability = options->durability == PBX_RELAXED ? postbox::Durability::kRelaxed
                                                      : postbox::Durability::kDurable;
    o.poll_interval = std::chrono::milliseconds(options->poll_interval_ms);
    o.retry_initial = std::chrono::milliseconds(options->retry_initial_ms);
    o.retry_max = std::chrono::milliseconds(options->retry_max_ms);
    o.start = options->start != 0;
    void* ctx = options->callback_context;
    if (options->on_change != nullptr) {
      o.on_change = [fn = options->on_change, ctx](const postbox::sync::ReplicaChange& c) {
        CallChange(fn, ctx, c);
      };
    }
    if (options->on_outbox != nullptr) {
      o.on_outbox = [fn = options->on_outbox, ctx](const postbox::sync::OutboxOutcome& c) {
        CallOutbox(fn, ctx, c);
      };
    }
    if (options->on_error != nullptr) {
      o.on_error = [fn = options->on_error, ctx](const Status& s) { CallError(fn, ctx, s); };
    }
    if (options->executor != nullptr) {
      o.executor = [fn = options->executor,
                    ectx = options->executor_context](std::function<void()> task) {
        auto* t = new pbx_task{std::move(task)};
        Track();
        fn(ectx, t);
      };
    }
    auto r = postbox::sync::Replica::Open(std::move(o));
    if (!r) return r.error();
    auto h = std::make_unique<pbx_replica>();
    h->replica = std::move(r).value();
    *out = h.release();
    Track();
    return Status::Ok();
  });
}

void pbx_replica_close(pbx_replica* replica) {
  if (!Valid(replica)) return;
  try {
    replica->replica.reset();
  } catch (...) {
    // The destructor does not throw; the handle is released anyway.
  }
  replica->magic = 0;
  delete replica;
  Untrack();
}

int pbx_replica_start(pbx_replica* replica, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica)) return Bad("pbx_replica_start: not a pbx_replica handle");
    replica->replica->Start();
    return Status::Ok();
  });
}

int pbx_replica_sync(pbx_replica* replica, uint32_t timeout_ms, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica)) return Bad("pbx_replica_sync: not a pbx_replica handle");
    return replica->replica->Sync(std::chrono::milliseconds(timeout_ms));
  });
}

int pbx_replica_pending_count(pbx_replica* replica, uint64_t* out, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || out == nullptr)
      return Bad("pbx_replica_pending_count: a replica and out are required");
    *out = replica->replica->state().pending;
    return Status::Ok();
  });
}

int pbx_replica_inbox(pbx_replica* replica, const pbx_id* start_after, size_t limit,
                      pbx_message_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica) || out == nullptr)
      return Bad("pbx_replica_inbox: a replica and out are required");
    std::optional<postbox::MessageId> after;
    if (start_after != nullptr) after = ToMsgId(start_after);
    auto v = replica->replica->Inbox(after, limit);
    if (!v) return v.error();
    return NewMessageList(*v, out);
  });
}

int pbx_replica_sent(pbx_replica* replica, const pbx_id* start_after, size_t limit,
                     pbx_message_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica) || out == nullptr)
      return Bad("pbx_replica_sent: a replica and out are required");
    std::optional<postbox::MessageId> after;
    if (start_after != nullptr) after = ToMsgId(start_after);
    auto v = replica->replica->Sent(after, limit);
    if (!v) return v.error();
    return NewMessageList(*v, out);
  });
}

int pbx_replica_get_message(pbx_replica* replica, const pbx_id* id, pbx_message** out,
                            pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica) || id == nullptr || out == nullptr) {
      return Bad("pbx_replica_get_message: a replica, id and out are required");
    }
    auto m = replica->replica->GetMessage(ToMsgId(id));
    if (!m) return m.error();
    auto* msg = static_cast<pbx_message*>(std::calloc(1, sizeof(pbx_message)));
    if (msg == nullptr) throw std::bad_alloc();
    try {
      FillReplicaMessage(msg, *m);
    } catch (...) {
      std::free(msg);
      throw;
    }
    Track();
    *out = msg;
    return Status::Ok();
  });
}

int pbx_replica_get_entry(pbx_replica* replica, const char* key, pbx_entry** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica) || key == nullptr || out == nullptr) {
      return Bad("pbx_replica_get_entry: a replica, key and out are required");
    }
    auto e = replica->replica->GetEntry(key);
    if (!e) return e.error();
    *out = NewEntry(*e);
    return Status::Ok();
  });
}

int pbx_replica_list_entries(pbx_replica* replica, const char* prefix, const char* start_after,
                             size_t limit, pbx_entry_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica) || out == nullptr)
      return Bad("pbx_replica_list_entries: a replica and out are required");
    auto r = replica->replica->ListEntries(prefix != nullptr ? prefix : "",
                                           start_after != nullptr ? start_after : "", limit);
    if (!r) return r.error();
    auto* list = NewList(*r, FillEntry, &pbx_entry_list_free);
    list->more = (limit != 0 && r->size() == limit) ? 1 : 0;
    *out = list;
    return Status::Ok();
  });
}

int pbx_replica_connections(pbx_replica* replica, pbx_connection_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica) || out == nullptr)
      return Bad("pbx_replica_connections: a replica and out are required");
    auto r = replica->replica->Connections();
    if (!r) return r.error();
    *out = NewConnectionList(*r, false);
    return Status::Ok();
  });
}

int pbx_replica_get_state(pbx_replica* replica, pbx_replica_state* out, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || out == nullptr)
      return Bad("pbx_replica_get_state: a replica and out are required");
    const auto s = replica->replica->state();
    *out = pbx_replica_state{};
    out->connected = s.connected ? 1 : 0;
    out->cursor = s.cursor;
    out->pending = s.pending;
    out->packets_applied = s.packets_applied;
    out->sessions = s.sessions;
    out->last_error_code = s.last_error.ok() ? PBX_OK : -static_cast<int>(s.last_error.code());
    return Status::Ok();
  });
}

int pbx_replica_pending(pbx_replica* replica, pbx_outbox_list** out, pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica) || out == nullptr)
      return Bad("pbx_replica_pending: a replica and out are required");
    auto r = replica->replica->Pending();
    if (!r) return r.error();
    *out = NewList(*r, FillOutboxItem, &pbx_outbox_list_free);
    return Status::Ok();
  });
}

void pbx_outbox_list_free(pbx_outbox_list* list) {
  if (list == nullptr) return;
  for (size_t i = 0; i < list->count; ++i) std::free(list->items[i].key);
  std::free(list->items);
  std::free(list);
  Untrack();
}

int pbx_replica_cancel(pbx_replica* replica, uint64_t item, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica)) return Bad("pbx_replica_cancel: not a pbx_replica handle");
    return replica->replica->Cancel(item);
  });
}

int pbx_replica_update_status(pbx_replica* replica, const pbx_id* id, int status, uint64_t* item,
                              pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || id == nullptr)
      return Bad("pbx_replica_update_status: a replica and id are required");
    if (!ValidStatus(status)) return Bad("pbx_replica_update_status: status must be 1, 2 or 3");
    return ItemOf(
        replica->replica->UpdateStatus(ToMsgId(id), static_cast<postbox::MessageStatus>(status)),
        item);
  });
}

int pbx_replica_put_entry(pbx_replica* replica, const char* key, const void* value,
                          size_t value_len, uint64_t version, uint64_t* item, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || key == nullptr || !BytesOk(value, value_len)) {
      return Bad(
          "pbx_replica_put_entry: a replica, key and value (NULL only with length 0) are required");
    }
    return ItemOf(replica->replica->PutEntry(key, Bytes(value, value_len), version), item);
  });
}

int pbx_replica_delete_entry(pbx_replica* replica, const char* key, uint64_t version,
                             uint64_t* item, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || key == nullptr)
      return Bad("pbx_replica_delete_entry: a replica and key are required");
    return ItemOf(replica->replica->DeleteEntry(key, version), item);
  });
}

int pbx_replica_add_connection(pbx_replica* replica, const pbx_id* peer, uint64_t* item,
                               pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || peer == nullptr)
      return Bad("pbx_replica_add_connection: a replica and peer are required");
    return ItemOf(replica->replica->AddConnection(ToKey(peer)), item);
  });
}

int pbx_replica_remove_connection(pbx_replica* replica, const pbx_id* peer, uint64_t* item,
                                  pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || peer == nullptr)
      return Bad("pbx_replica_remove_connection: a replica and peer are required");
    return ItemOf(replica->replica->RemoveConnection(ToKey(peer)), item);
  });
}

int pbx_replica_register_push(pbx_replica* replica, int platform, const char* token, uint64_t* item,
                              pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || token == nullptr)
      return Bad("pbx_replica_register_push: a replica and token are required");
    if (!ValidPlatform(platform))
      return Bad("pbx_replica_register_push: platform must be a pbx_platform");
    return ItemOf(replica->replica->RegisterPush(static_cast<postbox::Platform>(platform), token),
                  item);
  });
}

int pbx_replica_post(pbx_replica* replica, const pbx_id* to, const void* bytes, size_t len,
                     const char* topic, const void* meta, size_t meta_len, const pbx_id* id,
                     pbx_id* id_out, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || to == nullptr || topic == nullptr || !BytesOk(bytes, len) ||
        !BytesOk(meta, meta_len)) {
      return Bad(
          "pbx_replica_post: a replica, to, topic, and bytes and meta (NULL only with "
          "length 0) are required");
    }
    std::optional<postbox::MessageId> mid;
    if (id != nullptr) mid = ToMsgId(id);
    auto r = replica->replica->Post(ToKey(to), std::string(Bytes(bytes, len)), topic,
                                    Bytes(meta, meta_len), mid);
    if (!r) return r.error();
    if (id_out != nullptr) *id_out = ToC(*r);
    return Status::Ok();
  });
}

int pbx_replica_request_blob(pbx_replica* replica, const pbx_id* id, pbx_error* err) {
  return Guard(err, [&] {
    if (!Valid(replica) || id == nullptr)
      return Bad("pbx_replica_request_blob: a replica and id are required");
    return replica->replica->RequestBlob(ToMsgId(id));
  });
}

int pbx_replica_read_blob(pbx_replica* replica, const pbx_id* id, uint8_t** out, size_t* out_len,
                          pbx_error* err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    if (!Valid(replica) || id == nullptr || out == nullptr || out_len == nullptr) {
      return Bad("pbx_replica_read_blob: a replica, id, out and out_len are required");
    }
    auto b = replica->replica->ReadBlob(ToMsgId(id));
    if (!b) return b.error();
    *out = NewBuffer(*b);
    *out_len = b->size();
    return Status::Ok();
  });
}

}  // extern "C"
