// The replica's tables, records and the one-item recomputation of what the app
// sees (see mirror.h and docs/replica.md "Local store").
#include "sync/replica/mirror.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <unordered_set>

#include "postbox/push.h"
#include "store/codec.h"

namespace postbox::sync::replica {
namespace {

using store::AppendBE64;
using store::ReadBE64;
using store::RecordReader;
using store::RecordWriter;
using store::Txn;

constexpr uint8_t kRecordVersion = 1;
constexpr uint8_t kIncomingDir = 1;
constexpr uint8_t kOutgoingDir = 2;

// Limits checked locally before a write is queued: the server's defaults
// (options.h); the server's own verdict still comes through on_outbox.
constexpr size_t kMaxKey = 256;
constexpr size_t kMaxValue = 64 * 1024;
constexpr size_t kMaxTopic = 64;
constexpr size_t kMaxMeta = 1024;
constexpr size_t kMaxToken = 4096;

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Status Corrupt(std::string_view what) {
  return Status::Internal(std::string("replica store: unreadable ") + std::string(what) +
                          " record");
}

// `tag` followed by `rest`, built by appending: GCC 12 at -O3 (the release
// preset) reports a false -Wrestrict for "m" + std::string(...), which
// -Werror turns into a build failure.
std::string Tagged(char tag, std::string_view rest) {
  std::string s(1, tag);
  s.append(rest);
  return s;
}

std::string BE64(uint64_t v) {
  std::string s;
  AppendBE64(s, v);
  return s;
}

// ---- messages ----

// A message as stored: its fields (the server's once synced, else the pending
// post's), the synced status (0: not synced), the visible status.
struct MsgRec {
  bool incoming = false;
  bool has_base = false;
  uint8_t base_status = 0;
  bool pending = false;
  MessageInfo info;  // info.status: the visible status

  std::string Encode() const {
    std::string out;
    RecordWriter w(&out);
    w.U8(kRecordVersion)
        .U8(incoming ? 1 : 0)
        .U8(has_base ? 1 : 0)
        .U8(base_status)
        .U8(pending ? 1 : 0)
        .U8(static_cast<uint8_t>(info.status))
        .Fixed(info.id.AsBytes())
        .Fixed(info.from.AsBytes())
        .Fixed(info.to.AsBytes())
        .Bytes16(info.topic)
        .Bytes16(info.meta)
        .U64(info.length)
        .Fixed(std::string_view(reinterpret_cast<const char*>(info.digest.data()), 16))
        .U64(info.created_ms)
        .U64(info.seq);
    return out;
  }
  static Result<MsgRec> Decode(std::string_view v) {
    RecordReader r(v);
    MsgRec m;
    if (r.U8() != kRecordVersion) return Corrupt("message");
    m.incoming = r.U8() != 0;
    m.has_base = r.U8() != 0;
    m.base_status = r.U8();
    m.pending = r.U8() != 0;
    m.info.status = static_cast<MessageStatus>(r.U8());
    auto id = MessageId::FromBytes(r.Fixed(16));
    auto from = MailboxKey::FromBytes(r.Fixed(16));
    auto to = MailboxKey::FromBytes(r.Fixed(16));
    m.info.topic = std::string(r.Bytes16());
    m.info.meta = std::string(r.Bytes16());
    m.info.length = r.U64();
    std::string_view digest = r.Fixed(16);
    m.info.created_ms = r.U64();
    m.info.seq = r.U64();
    if (!r.ok() || !r.done() || !id || !from || !to) return Corrupt("message");
    m.info.id = *id;
    m.info.from = *from;
    m.info.to = *to;
    std::copy(digest.begin(), digest.end(), m.info.digest.begin());
    return m;
  }
  ReplicaMessage View() const { return ReplicaMessage{info, incoming, base_status, pending}; }
};

std::string OrderKey(bool incoming, uint64_t created_ms, const MessageId& id) {
  std::string k(1, static_cast<char>(incoming ? kIncomingDir : kOutgoingDir));
  AppendBE64(k, created_ms);
  k.append(id.AsBytes());
  return k;
}

// ---- entries ----

struct EntryRec {
  std::optional<EntryState> base;
  uint64_t base_seq = 0;
  std::optional<EntryState> visible;
  bool pending = false;

  static void Put(RecordWriter& w, const std::optional<EntryState>& s) {
    w.U8(s ? 1 : 0);
    if (s) w.U64(s->version).U8(s->deleted ? 1 : 0).Bytes32(s->value);
  }
  static std::optional<EntryState> Get(RecordReader& r) {
    if (r.U8() == 0) return std::nullopt;
    EntryState s;
    s.version = r.U64();
    s.deleted = r.U8() != 0;
    s.value = std::string(r.Bytes32());
    return s;
  }
  std::string Encode() const {
    std::string out;
    RecordWriter w(&out);
    w.U8(kRecordVersion);
    Put(w, base);
    w.U64(base_seq);
    Put(w, visible);
    w.U8(pending ? 1 : 0);
    return out;
  }
  static Result<EntryRec> Decode(std::string_view v) {
    RecordReader r(v);
    EntryRec e;
    if (r.U8() != kRecordVersion) return Corrupt("entry");
    e.base = Get(r);
    e.base_seq = r.U64();
    e.visible = Get(r);
    e.pending = r.U8() != 0;
    if (!r.ok() || !r.done()) return Corrupt("entry");
    return e;
  }
};

// ---- outbox items ----

std::string EncodeItem(const OutboxItem& i) {
  std::string out;
  RecordWriter w(&out);
  w.U8(kRecordVersion)
      .U8(static_cast<uint8_t>(i.kind))
      .U64(i.created_ms)
      .Fixed(i.message.AsBytes())
      .U8(static_cast<uint8_t>(i.status))
      .Bytes16(i.key)
      .Bytes32(i.value)
      .U64(i.version)
      .Fixed(i.peer.AsBytes())
      .U8(static_cast<uint8_t>(i.platform))
      .U64(i.length)
      .Bytes16(i.path)
      .Fixed(std::string_view(reinterpret_cast<const char*>(i.digest.data()), 16))
      .U8(i.owned ? 1 : 0);
  return out;
}

Result<OutboxItem> DecodeItem(uint64_t id, std::string_view v) {
  RecordReader r(v);
  OutboxItem i;
  i.id = id;
  if (r.U8() != kRecordVersion) return Corrupt("outbox");
  i.kind = static_cast<OutboxKind>(r.U8());
  i.created_ms = r.U64();
  auto message = MessageId::FromBytes(r.Fixed(16));
  i.status = static_cast<MessageStatus>(r.U8());
  i.key = std::string(r.Bytes16());
  i.value = std::string(r.Bytes32());
  i.version = r.U64();
  auto peer = MailboxKey::FromBytes(r.Fixed(16));
  i.platform = static_cast<Platform>(r.U8());
  i.length = r.U64();
  i.path = std::string(r.Bytes16());
  std::string_view digest = r.Fixed(16);
  i.owned = r.U8() != 0;
  if (!r.ok() || !r.done() || !message || !peer) return Corrupt("outbox");
  i.message = *message;
  i.peer = *peer;
  std::copy(digest.begin(), digest.end(), i.digest.begin());
  return i;
}

// Dependency keys are length-delimited so that one key is never a prefix of another.
std::string MessageDep(const MessageId& id) { return Tagged('m', id.AsBytes()); }
std::string EntryDep(std::string_view key) {
  std::string k = "e";
  RecordWriter(&k).Bytes16(key);
  return k;
}
std::string ConnDep(const MailboxKey& peer) { return Tagged('c', peer.AsBytes()); }
const std::string kPushDep = "p";

// ---- blobs ----

struct BlobRec {
  BlobState state = BlobState::kWanted;
  std::string path;
  bool owned = false;
  uint64_t length = 0;
  std::string Encode() const {
    std::string out;
    RecordWriter(&out)
        .U8(kRecordVersion)
        .U8(static_cast<uint8_t>(state))
        .Bytes16(path)
        .U8(owned ? 1 : 0)
        .U64(length);
    return out;
  }
  static Result<BlobRec> Decode(std::string_view v) {
    RecordReader r(v);
    BlobRec b;
    if (r.U8() != kRecordVersion) return Corrupt("blob");
    b.state = static_cast<BlobState>(r.U8());
    b.path = std::string(r.Bytes16());
    b.owned = r.U8() != 0;
    b.length = r.U64();
    if (!r.ok() || !r.done()) return Corrupt("blob");
    return b;
  }
};

// An ended item's outcome: the answer, then the item's own record.
std::string EncodeOutcome(const OutboxOutcome& o) {
  std::string out;
  RecordWriter(&out)
      .U8(kRecordVersion)
      .U32(static_cast<uint32_t>(o.status.code()))
      .Bytes16(o.status.message().substr(0, 4096))
      .U8(o.applied ? 1 : 0)
      .U8(o.cancelled ? 1 : 0);
  out += EncodeItem(o.item);
  return out;
}

Result<OutboxOutcome> DecodeOutcome(uint64_t id, std::string_view v) {
  RecordReader r(v);
  if (r.U8() != kRecordVersion) return Corrupt("outcome");
  const uint32_t code = r.U32();
  std::string_view message = r.Bytes16();
  const bool applied = r.U8() != 0;
  const bool cancelled = r.U8() != 0;
  if (!r.ok()) return Corrupt("outcome");
  POSTBOX_ASSIGN_OR_RETURN(OutboxItem item, DecodeItem(id, r.Rest()));
  OutboxOutcome o;
  o.item = std::move(item);
  o.status = code == 0 ? Status::Ok() : Status(static_cast<Code>(code), message);
  o.applied = applied;
  o.cancelled = cancelled;
  return o;
}

std::string EncodePush(const PushRegistration& p) {
  std::string out;
  RecordWriter(&out).U8(static_cast<uint8_t>(p.platform)).Bytes16(p.token);
  return out;
}
Result<PushRegistration> DecodePush(std::string_view v) {
  RecordReader r(v);
  PushRegistration p;
  p.platform = static_cast<Platform>(r.U8());
  p.token = std::string(r.Bytes16());
  if (!r.ok() || !r.done()) return Corrupt("push");
  return p;
}

// The transaction-scoped operations on the tables.
class Ops {
 public:
  Ops(Txn& t, const MirrorTables& tables, const MailboxKey& self, ReplicaChange* change)
      : t_(t), tb_(tables), self_(self), change_(change) {}

  Result<uint64_t> MetaU64(std::string_view key) const {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t_.Get(tb_.meta, key));
    if (!v) return uint64_t{0};
    RecordReader r(*v);
    const uint64_t x = r.U64();
    if (!r.ok() || !r.done()) return Corrupt("meta");
    return x;
  }
  Status SetMetaU64(std::string_view key, uint64_t value) {
    std::string out;
    RecordWriter(&out).U64(value);
    return t_.Put(tb_.meta, key, out);
  }

  Result<std::optional<MsgRec>> LoadMsg(const MessageId& id) const {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t_.Get(tb_.msgs, id.AsBytes()));
    if (!v) return std::optional<MsgRec>();
    POSTBOX_ASSIGN_OR_RETURN(MsgRec m, MsgRec::Decode(*v));
    return std::optional<MsgRec>(std::move(m));
  }
  Result<std::optional<EntryRec>> LoadEntry(std::string_view key) const {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t_.Get(tb_.entries, key));
    if (!v) return std::optional<EntryRec>();
    POSTBOX_ASSIGN_OR_RETURN(EntryRec e, EntryRec::Decode(*v));
    return std::optional<EntryRec>(std::move(e));
  }

  // The pending items with dependency key `dep`, in order.
  Result<std::vector<OutboxItem>> PendingOn(const std::string& dep) const {
    std::vector<uint64_t> ids;
    POSTBOX_RETURN_IF_ERROR(t_.Scan(tb_.deps, dep, dep, [&](std::string_view k, std::string_view) {
      if (k.size() == dep.size() + 8) ids.push_back(ReadBE64(k.substr(dep.size())));
      return true;
    }));
    std::vector<OutboxItem> items;
    for (uint64_t id : ids) {
      POSTBOX_ASSIGN_OR_RETURN(auto v, t_.Get(tb_.outbox, BE64(id)));
      if (!v) return Corrupt("outbox index");
      POSTBOX_ASSIGN_OR_RETURN(OutboxItem item, DecodeItem(id, *v));
      items.push_back(std::move(item));
    }
    return items;
  }

  // Stores `m` (nullopt: removes it), keeping the order index, and notes the change.
  Status StoreMsg(const MessageId& id, const std::optional<MsgRec>& before,
                  const std::optional<MsgRec>& after) {
    if (before && (!after || before->info.created_ms != after->info.created_ms ||
                   before->incoming != after->incoming)) {
      POSTBOX_RETURN_IF_ERROR(
          t_.Del(tb_.order, OrderKey(before->incoming, before->info.created_ms, id)));
    }
    if (!after) {
      POSTBOX_RETURN_IF_ERROR(t_.Del(tb_.msgs, id.AsBytes()));
      if (before) Note(&change_->messages_removed, 'r', id.AsBytes(), id);
      return Status::Ok();
    }
    POSTBOX_RETURN_IF_ERROR(t_.Put(tb_.msgs, id.AsBytes(), after->Encode()));
    POSTBOX_RETURN_IF_ERROR(
        t_.Put(tb_.order, OrderKey(after->incoming, after->info.created_ms, id), ""));
    if (!before || before->View() != after->View()) Note(&change_->messages, 'm', id.AsBytes(), id);
    return Status::Ok();
  }

  // Recomputes what the app sees of message `id` from its synced state (in
  // `rec`, has_base) and the pending posts and status raises on it.
  Status RecomputeMsg(const MessageId& id, std::optional<MsgRec> before,
                      std::optional<MsgRec> base) {
    POSTBOX_ASSIGN_OR_RETURN(auto pending, PendingOn(MessageDep(id)));
    std::optional<MsgRec> after;
    if (base && base->has_base) {
      after = base;
      after->info.status = static_cast<MessageStatus>(base->base_status);
    }
    for (const auto& item : pending) {
      if (item.kind == OutboxKind::kPost && !after) {
        MsgRec m;
        m.incoming = false;
        m.info.id = id;
        m.info.from = self_;
        m.info.to = item.peer;
        m.info.topic = item.key;
        m.info.meta = item.value;
        m.info.length = item.length;
        m.info.digest = item.digest;
        m.info.created_ms = item.created_ms;
        m.info.status = MessageStatus::kUploaded;
        after = std::move(m);
      }
    }
    if (after) {
      after->pending = false;
      for (const auto& item : pending) {
        if (item.kind == OutboxKind::kPost && !after->has_base) after->pending = true;
        if (item.kind == OutboxKind::kStatus && item.status > after->info.status) {
          after->info.status = item.status;
          after->pending = true;
        }
      }
    }
    return StoreMsg(id, before, after);
  }

  Status RecomputeMsg(const MessageId& id) {
    POSTBOX_ASSIGN_OR_RETURN(auto rec, LoadMsg(id));
    return RecomputeMsg(id, rec, rec);
  }

  // Sets (or, with nullopt, clears) the synced state of message `id`.
  Status SetBaseMsg(const MessageId& id, const std::optional<MsgRec>& base) {
    POSTBOX_ASSIGN_OR_RETURN(auto rec, LoadMsg(id));
    return RecomputeMsg(id, rec, base);
  }

  Status RecomputeEntry(std::string_view key, std::optional<EntryRec> before,
                        std::optional<EntryRec> rec) {
    POSTBOX_ASSIGN_OR_RETURN(auto pending, PendingOn(EntryDep(key)));
    EntryRec after;
    if (rec) {
      after.base = rec->base;
      after.base_seq = rec->base_seq;
    }
    after.visible = after.base;
    for (const auto& item : pending) {
      EntryState s{item.version, item.kind == OutboxKind::kDeleteEntry,
                   item.kind == OutboxKind::kDeleteEntry ? std::string() : item.value};
      after.visible = after.visible ? MergeEntry(*after.visible, s) : s;
      after.pending = true;
    }
    const bool was_live = before && before->visible && !before->visible->deleted;
    const bool is_live = after.visible && !after.visible->deleted;
    if (!after.base && !after.visible) {
      POSTBOX_RETURN_IF_ERROR(t_.Del(tb_.entries, key));
    } else {
      POSTBOX_RETURN_IF_ERROR(t_.Put(tb_.entries, key, after.Encode()));
    }
    if (was_live && !is_live) Note(&change_->entries_removed, 'x', key, std::string(key));
    if (is_live && (!was_live || before->visible->value != after.visible->value ||
                    before->visible->version != after.visible->version)) {
      Note(&change_->entries, 'e', key, std::string(key));
    }
    return Status::Ok();
  }

  Status SetBaseEntry(std::string_view key, std::optional<EntryState> base, uint64_t seq,
                      bool merge) {
    POSTBOX_ASSIGN_OR_RETURN(auto rec, LoadEntry(key));
    EntryRec next;
    if (rec) next = *rec;
    if (base && merge && next.base) base = MergeEntry(*next.base, *base);
    next.base = base;
    next.base_seq = base ? std::max(seq, next.base_seq) : 0;
    return RecomputeEntry(key, rec, next);
  }

  Status RecomputeEntry(std::string_view key) {
    POSTBOX_ASSIGN_OR_RETURN(auto rec, LoadEntry(key));
    return RecomputeEntry(key, rec, rec);
  }

  // Connections: base state, visible state.
  Result<std::pair<ConnectionState, ConnectionState>> LoadConn(const MailboxKey& peer) const {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t_.Get(tb_.conns, peer.AsBytes()));
    if (!v) return std::pair{ConnectionState::kNone, ConnectionState::kNone};
    if (v->size() != 2) return Corrupt("connection");
    return std::pair{static_cast<ConnectionState>((*v)[0]), static_cast<ConnectionState>((*v)[1])};
  }
  Status RecomputeConn(const MailboxKey& peer, std::optional<ConnectionState> new_base) {
    POSTBOX_ASSIGN_OR_RETURN(auto cur, LoadConn(peer));
    const ConnectionState base = new_base.value_or(cur.first);
    POSTBOX_ASSIGN_OR_RETURN(auto pending, PendingOn(ConnDep(peer)));
    ConnectionState visible = base;
    for (const auto& item : pending) {
      if (item.kind == OutboxKind::kAddConnection) {
        visible = std::max(visible, ConnectionState::kRequested);
      } else if (item.kind == OutboxKind::kRemoveConnection) {
        visible = ConnectionState::kNone;
      }
    }
    if (base == ConnectionState::kNone && visible == ConnectionState::kNone) {
      POSTBOX_RETURN_IF_ERROR(t_.Del(tb_.conns, peer.AsBytes()));
    } else {
      const char v[2] = {static_cast<char>(base), static_cast<char>(visible)};
      POSTBOX_RETURN_IF_ERROR(t_.Put(tb_.conns, peer.AsBytes(), std::string_view(v, 2)));
    }
    if (visible != cur.second) Note(&change_->connections, 'c', peer.AsBytes(), peer);
    return Status::Ok();
  }

  Status RecomputePush(std::optional<PushRegistration> new_base) {
    if (new_base) POSTBOX_RETURN_IF_ERROR(t_.Put(tb_.meta, "push_base", EncodePush(*new_base)));
    PushRegistration visible;
    POSTBOX_ASSIGN_OR_RETURN(auto b, t_.Get(tb_.meta, "push_base"));
    if (b) {
      POSTBOX_ASSIGN_OR_RETURN(visible, DecodePush(*b));
    }
    POSTBOX_ASSIGN_OR_RETURN(auto pending, PendingOn(kPushDep));
    for (const auto& item : pending) visible = PushRegistration{item.platform, item.value};
    return t_.Put(tb_.meta, "push", EncodePush(visible));
  }

  // Recomputes everything `item` has an effect on.
  Status RecomputeFor(const OutboxItem& item) {
    switch (item.kind) {
      case OutboxKind::kStatus:
      case OutboxKind::kPost:
        return RecomputeMsg(item.message);
      case OutboxKind::kPutEntry:
      case OutboxKind::kDeleteEntry:
        return RecomputeEntry(item.key);
      case OutboxKind::kAddConnection:
      case OutboxKind::kRemoveConnection:
        return RecomputeConn(item.peer, std::nullopt);
      case OutboxKind::kRegisterPush:
        return RecomputePush(std::nullopt);
    }
    return Status::Ok();
  }

  Status RemoveItem(const OutboxItem& item) {
    POSTBOX_RETURN_IF_ERROR(t_.Del(tb_.outbox, BE64(item.id)));
    for (const auto& dep : Mirror::DepKeys(item)) {
      POSTBOX_RETURN_IF_ERROR(t_.Del(tb_.deps, dep + BE64(item.id)));
    }
    return Status::Ok();
  }

  // Drops the blob record of `id` and its file (the message is gone).
  Status DropBlob(const MessageId& id, std::vector<MessageId>* gone) {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t_.Get(tb_.blobs, id.AsBytes()));
    if (!v) return Status::Ok();
    POSTBOX_ASSIGN_OR_RETURN(BlobRec b, BlobRec::Decode(*v));
    POSTBOX_RETURN_IF_ERROR(t_.Del(tb_.blobs, id.AsBytes()));
    std::error_code ec;
    std::filesystem::remove(b.path, ec);
    if (b.owned) std::filesystem::remove(b.path + ".part", ec);
    if (gone != nullptr) gone->push_back(id);
    return Status::Ok();
  }

 private:
  // Adds `x` to a list of `change_` once per transaction (`list` and `key`
  // name it): packets of hundreds of items stay linear.
  template <class T>
  void Note(std::vector<T>* v, char list, std::string_view key, const T& x) {
    std::string k(1, list);
    k.append(key);
    if (noted_.insert(std::move(k)).second) v->push_back(x);
  }

  Txn& t_;
  const MirrorTables& tb_;
  MailboxKey self_;
  ReplicaChange* change_;
  std::unordered_set<std::string> noted_;
};

bool PolicyWants(const DownloadPolicy& p, const MessageInfo& m) {
  if (!p.automatic || m.length > p.max_size) return false;
  return p.topics.empty() || std::find(p.topics.begin(), p.topics.end(), m.topic) != p.topics.end();
}

}  // namespace

std::vector<std::string> Mirror::DepKeys(const OutboxItem& item) {
  switch (item.kind) {
    case OutboxKind::kStatus:
      return {MessageDep(item.message)};
    case OutboxKind::kPost:
      return {MessageDep(item.message), ConnDep(item.peer)};
    case OutboxKind::kPutEntry:
    case OutboxKind::kDeleteEntry:
      return {EntryDep(item.key)};
    case OutboxKind::kAddConnection:
    case OutboxKind::kRemoveConnection:
      return {ConnDep(item.peer)};
    case OutboxKind::kRegisterPush:
      return {kPushDep};
  }
  return {};
}

Result<std::unique_ptr<Mirror>> Mirror::Open(const std::string& folder, const MailboxKey& mkey,
                                             Durability durability, uint64_t max_map_size) {
  std::unique_ptr<Mirror> m(new Mirror());
  m->folder_ = folder;
  m->mkey_ = mkey;
  Options options;
  options.durability = durability;
  options.max_map_size = max_map_size;
  // The replica is small next to a server store: a 1/8 reserve at most.
  options.storage_reserve = std::min<uint64_t>(uint64_t{64} << 20, max_map_size / 8);
  POSTBOX_ASSIGN_OR_RETURN(m->env_, store::Env::Open(folder + "/store", options));
  struct Named {
    const char* name;
    MDB_dbi* dbi;
  } names[] = {{"r_meta", &m->t_.meta},   {"r_msgs", &m->t_.msgs},
               {"r_order", &m->t_.order}, {"r_entries", &m->t_.entries},
               {"r_conns", &m->t_.conns}, {"r_outbox", &m->t_.outbox},
               {"r_deps", &m->t_.deps},   {"r_stale", &m->t_.stale},
               {"r_blobs", &m->t_.blobs}, {"r_ended", &m->t_.ended}};
  for (auto& n : names) {
    POSTBOX_ASSIGN_OR_RETURN(*n.dbi, m->env_->OpenTable(n.name));
  }
  std::error_code ec;
  std::filesystem::create_directories(folder + "/blobs", ec);
  if (ec) return Status::Unavailable("cannot create " + folder + "/blobs: " + ec.message());
  std::filesystem::create_directories(folder + "/outbox", ec);
  if (ec) return Status::Unavailable("cannot create " + folder + "/outbox: " + ec.message());
  POSTBOX_RETURN_IF_ERROR(m->Write([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(auto stored, t.Get(m->t_.meta, "mkey"));
    if (!stored) return t.Put(m->t_.meta, "mkey", mkey.AsBytes());
    if (*stored != mkey.AsBytes()) {
      auto other = MailboxKey::FromBytes(*stored);
      return Status::Conflict("the replica in " + folder + " is of mailbox " +
                              (other ? other->ToHex() : std::string("?")) + ", not " +
                              mkey.ToHex());
    }
    return Status::Ok();
  }));
  return m;
}

Status Mirror::Write(const std::function<Status(Txn&)>& fn) { return env_->Write(fn); }
Status Mirror::Read(const std::function<Status(Txn&)>& fn) const { return env_->Read(fn); }

Result<uint64_t> Mirror::Cursor() const {
  uint64_t cursor = 0;
  ReplicaChange unused;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(cursor, Ops(t, t_, mkey_, &unused).MetaU64("cursor"));
    return Status::Ok();
  }));
  return cursor;
}

Result<ApplyResult> Mirror::Apply(const InfoPacket& p, const DownloadPolicy& policy,
                                  ReplicaChange* change, std::vector<MessageId>* gone) {
  ApplyResult result = ApplyResult::kApplied;
  ReplicaChange c;
  std::vector<MessageId> dropped;
  Status s = Write([&](Txn& t) -> Status {
    c = ReplicaChange{};
    dropped.clear();
    Ops ops(t, t_, mkey_, &c);
    POSTBOX_ASSIGN_OR_RETURN(const uint64_t cursor, ops.MetaU64("cursor"));
    POSTBOX_ASSIGN_OR_RETURN(uint64_t snapshot, ops.MetaU64("snapshot"));
    if (!p.reset && p.since != cursor) {
      result = ApplyResult::kNotContiguous;
      return Status::Ok();
    }
    if (p.reset) {
      // A full snapshot begins: every synced item is stale until a page of it
      // names the item; what is still stale when it ends is gone.
      POSTBOX_RETURN_IF_ERROR(t.DelPrefix(t_.stale, "").status());
      std::vector<std::string> keys;
      POSTBOX_RETURN_IF_ERROR(t.Scan(t_.msgs, "", "", [&](std::string_view k, std::string_view v) {
        auto m = MsgRec::Decode(v);
        if (m && m->has_base) keys.push_back(Tagged('m', k));
        return true;
      }));
      POSTBOX_RETURN_IF_ERROR(
          t.Scan(t_.entries, "", "", [&](std::string_view k, std::string_view v) {
            auto e = EntryRec::Decode(v);
            if (e && e->base) keys.push_back(Tagged('e', k));
            return true;
          }));
      for (const auto& k : keys) POSTBOX_RETURN_IF_ERROR(t.Put(t_.stale, k, ""));
      snapshot = 1;
    }
    const bool merge = snapshot == 0;  // a snapshot replaces; a delta joins
    auto apply_msg = [&](const MessageInfo& m, bool incoming) -> Status {
      POSTBOX_ASSIGN_OR_RETURN(auto rec, ops.LoadMsg(m.id));
      MsgRec base;
      base.incoming = incoming;
      base.has_base = true;
      base.info = m;
      base.base_status = static_cast<uint8_t>(m.status);
      if (merge && rec && rec->has_base)
        base.base_status = std::max(base.base_status, rec->base_status);
      if (snapshot != 0) POSTBOX_RETURN_IF_ERROR(t.Del(t_.stale, Tagged('m', m.id.AsBytes())));
      if (incoming && (!rec || !rec->has_base) && PolicyWants(policy, m)) {
        POSTBOX_ASSIGN_OR_RETURN(auto blob, t.Get(t_.blobs, m.id.AsBytes()));
        if (!blob) {
          BlobRec b;
          b.path = BlobPath(m.id);
          b.owned = true;
          POSTBOX_RETURN_IF_ERROR(t.Put(t_.blobs, m.id.AsBytes(), b.Encode()));
        }
      }
      return ops.RecomputeMsg(m.id, rec, base);
    };
    for (const auto& m : p.incoming) POSTBOX_RETURN_IF_ERROR(apply_msg(m, true));
    for (const auto& m : p.outgoing) POSTBOX_RETURN_IF_ERROR(apply_msg(m, false));
    for (const auto& e : p.entries) {
      if (snapshot != 0) POSTBOX_RETURN_IF_ERROR(t.Del(t_.stale, Tagged('e', e.key)));
      POSTBOX_RETURN_IF_ERROR(
          ops.SetBaseEntry(e.key, EntryState{e.version, false, e.value}, e.seq, merge));
    }
    for (const auto& tomb : p.tombstones) {
      if (tomb.kind == TombstoneKind::kMessage) {
        auto id = MessageId::FromBytes(tomb.key);
        if (!id) continue;  // FromWire checked the length already
        if (snapshot != 0) POSTBOX_RETURN_IF_ERROR(t.Del(t_.stale, Tagged('m', tomb.key)));
        POSTBOX_RETURN_IF_ERROR(ops.SetBaseMsg(*id, std::nullopt));
        POSTBOX_RETURN_IF_ERROR(ops.DropBlob(*id, &dropped));
      } else {
        if (snapshot != 0) POSTBOX_RETURN_IF_ERROR(t.Del(t_.stale, Tagged('e', tomb.key)));
        POSTBOX_RETURN_IF_ERROR(
            ops.SetBaseEntry(tomb.key, EntryState{tomb.version, true, ""}, tomb.seq, merge));
      }
    }
    if (snapshot != 0 && !p.more) {
      std::vector<std::string> stale;
      POSTBOX_RETURN_IF_ERROR(t.Scan(t_.stale, "", "", [&](std::string_view k, std::string_view) {
        stale.emplace_back(k);
        return true;
      }));
      for (const auto& k : stale) {
        if (k[0] == 'm') {
          auto id = MessageId::FromBytes(std::string_view(k).substr(1));
          if (!id) return Corrupt("stale");
          POSTBOX_RETURN_IF_ERROR(ops.SetBaseMsg(*id, std::nullopt));
          POSTBOX_RETURN_IF_ERROR(ops.DropBlob(*id, &dropped));
        } else {
          POSTBOX_RETURN_IF_ERROR(
              ops.SetBaseEntry(std::string_view(k).substr(1), std::nullopt, 0, false));
        }
      }
      POSTBOX_RETURN_IF_ERROR(t.DelPrefix(t_.stale, "").status());
      snapshot = 0;
      c.reset = true;
    }
    POSTBOX_RETURN_IF_ERROR(ops.SetMetaU64("snapshot", snapshot));
    POSTBOX_RETURN_IF_ERROR(ops.SetMetaU64("cursor", p.cursor));
    c.cursor = p.cursor;
    return Status::Ok();
  });
  POSTBOX_RETURN_IF_ERROR(s);
  if (change != nullptr) *change = std::move(c);
  if (gone != nullptr) *gone = std::move(dropped);
  return result;
}

namespace {

// The checks of an outbox write that need no transaction.
Status CheckItem(const OutboxItem& item, const MailboxKey& self) {
  switch (item.kind) {
    case OutboxKind::kPutEntry:
    case OutboxKind::kDeleteEntry:
      if (item.key.empty()) return Status::InvalidArgument("an entry key must not be empty");
      if (item.key.size() > kMaxKey) return Status::TooLarge("entry key over 256 bytes");
      if (item.value.size() > kMaxValue) return Status::TooLarge("entry value over 64 KiB");
      if (item.kind == OutboxKind::kPutEntry && IsReservedEntryKey(item.key)) {
        return Status::PermissionDenied("entry '" + item.key +
                                        "': keys under postbox/push/ and postbox/simplepush/ are "
                                        "written by the server only (a client may delete them)");
      }
      break;
    case OutboxKind::kPost:
      if (item.peer == self) return Status::InvalidArgument("a mailbox cannot post to itself");
      if (item.key.size() > kMaxTopic) return Status::TooLarge("topic over 64 bytes");
      if (item.value.size() > kMaxMeta) return Status::TooLarge("meta over 1024 bytes");
      break;
    case OutboxKind::kAddConnection:
    case OutboxKind::kRemoveConnection:
      if (item.peer == self) return Status::InvalidArgument("a mailbox cannot connect to itself");
      break;
    case OutboxKind::kRegisterPush:
      if (item.value.size() > kMaxToken) return Status::TooLarge("push token over 4096 bytes");
      break;
    case OutboxKind::kStatus:
      break;
  }
  return Status::Ok();
}

}  // namespace

Result<OutboxItem> Mirror::Enqueue(OutboxItem item, ReplicaChange* change) {
  std::vector<OutboxItem> one;
  one.push_back(std::move(item));
  POSTBOX_ASSIGN_OR_RETURN(auto stored, EnqueueAll(std::move(one), change));
  return std::move(stored[0]);
}

Result<std::vector<Result<OutboxItem>>> Mirror::EnqueueAll(std::vector<OutboxItem> items,
                                                           ReplicaChange* change) {
  const uint64_t now = NowMs();
  for (auto& item : items) item.created_ms = now;
  ReplicaChange c;
  std::vector<Result<OutboxItem>> out;
  Status s = Write([&](Txn& t) -> Status {
    c = ReplicaChange{};
    out.clear();
    Ops ops(t, t_, mkey_, &c);
    POSTBOX_ASSIGN_OR_RETURN(uint64_t next, ops.MetaU64("next"));
    for (OutboxItem item : items) {
      // What the app got wrong fails that write alone; a store error fails all.
      Status check = CheckItem(item, mkey_);
      if (check.ok() && item.kind == OutboxKind::kStatus) {
        POSTBOX_ASSIGN_OR_RETURN(auto rec, ops.LoadMsg(item.message));
        if (!rec) {
          check = Status::NotFound("no message " + item.message.ToHex() + " in the replica");
        } else if (!rec->incoming) {
          check = Status::PermissionDenied("only the recipient raises a status; " +
                                           item.message.ToHex() + " was sent by this mailbox");
        }
      }
      if (check.ok() && item.kind == OutboxKind::kPost) {
        POSTBOX_ASSIGN_OR_RETURN(auto rec, ops.LoadMsg(item.message));
        if (rec) check = Status::Conflict("message id " + item.message.ToHex() + " is in use");
      }
      if (!check.ok()) {
        out.emplace_back(std::move(check));
        continue;
      }
      if ((item.kind == OutboxKind::kPutEntry || item.kind == OutboxKind::kDeleteEntry) &&
          item.version == 0) {
        // Resolved now and sent explicitly: a resend then merges as the same write.
        POSTBOX_ASSIGN_OR_RETURN(auto rec, ops.LoadEntry(item.key));
        item.version = (rec && rec->visible ? rec->visible->version : 0) + 1;
      }
      item.id = ++next;
      POSTBOX_RETURN_IF_ERROR(t.Put(t_.outbox, BE64(item.id), EncodeItem(item)));
      for (const auto& dep : DepKeys(item))
        POSTBOX_RETURN_IF_ERROR(t.Put(t_.deps, dep + BE64(item.id), ""));
      POSTBOX_RETURN_IF_ERROR(ops.RecomputeFor(item));
      out.emplace_back(std::move(item));
    }
    return ops.SetMetaU64("next", next);
  });
  POSTBOX_RETURN_IF_ERROR(s);
  POSTBOX_ASSIGN_OR_RETURN(c.cursor, Cursor());
  if (change != nullptr) *change = std::move(c);
  return out;
}

Status Mirror::End(const std::vector<std::pair<uint64_t, Answer>>& answers,
                   const std::vector<uint64_t>& forget, ReplicaChange* change,
                   std::vector<Ended>* ended) {
  ReplicaChange c;
  std::vector<Ended> out;
  Status s = Write([&](Txn& t) -> Status {
    c = ReplicaChange{};
    out.clear();
    Ops ops(t, t_, mkey_, &c);
    for (uint64_t id : forget) POSTBOX_RETURN_IF_ERROR(t.Del(t_.ended, BE64(id)));
    for (const auto& [id, a] : answers) {
      POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.outbox, BE64(id)));
      if (!v) continue;  // cancelled meanwhile
      POSTBOX_ASSIGN_OR_RETURN(OutboxItem item, DecodeItem(id, *v));
      POSTBOX_RETURN_IF_ERROR(ops.RemoveItem(item));
      Ended e;
      e.outcome.item = item;
      e.outcome.status = a.status;
      e.outcome.applied = a.applied;
      e.outcome.cancelled = a.cancelled;
      if (item.kind == OutboxKind::kPost && item.owned) e.owned_file = item.path;
      POSTBOX_RETURN_IF_ERROR(t.Put(t_.ended, BE64(id), EncodeOutcome(e.outcome)));
      if (!a.status.ok()) {
        // Rolled back. A 410 also means the message is gone at the server:
        // its tombstone follows in the feed, but nothing should wait for it.
        if (a.status.Is(Code::kGone) &&
            (item.kind == OutboxKind::kStatus || item.kind == OutboxKind::kPost)) {
          POSTBOX_RETURN_IF_ERROR(ops.SetBaseMsg(item.message, std::nullopt));
        } else {
          POSTBOX_RETURN_IF_ERROR(ops.RecomputeFor(item));
        }
        out.push_back(std::move(e));
        continue;
      }
      switch (item.kind) {
        case OutboxKind::kStatus: {
          POSTBOX_ASSIGN_OR_RETURN(auto rec, ops.LoadMsg(item.message));
          std::optional<MsgRec> base = rec;
          if (base && base->has_base) {
            base->base_status = std::max(base->base_status, static_cast<uint8_t>(a.status_after));
          }
          POSTBOX_RETURN_IF_ERROR(ops.RecomputeMsg(item.message, rec, base));
          break;
        }
        case OutboxKind::kPost: {
          POSTBOX_ASSIGN_OR_RETURN(auto rec, ops.LoadMsg(item.message));
          std::optional<MsgRec> base = rec;
          if (base && !base->has_base) {
            // Committed: synced as posted until the feed brings the server's copy.
            base->has_base = true;
            base->base_status = static_cast<uint8_t>(MessageStatus::kUploaded);
          }
          POSTBOX_RETURN_IF_ERROR(ops.RecomputeMsg(item.message, rec, base));
          break;
        }
        case OutboxKind::kPutEntry:
        case OutboxKind::kDeleteEntry: {
          const bool del = item.kind == OutboxKind::kDeleteEntry;
          if (a.applied) {
            POSTBOX_RETURN_IF_ERROR(ops.SetBaseEntry(
                item.key, EntryState{a.version, del, del ? std::string() : item.value}, 0, true));
          } else {
            POSTBOX_ASSIGN_OR_RETURN(auto rec, ops.LoadEntry(item.key));
            e.fetch_entry = !rec || !rec->base || rec->base->version < a.version;
            POSTBOX_RETURN_IF_ERROR(ops.RecomputeEntry(item.key));
          }
          break;
        }
        case OutboxKind::kAddConnection:
          POSTBOX_RETURN_IF_ERROR(ops.RecomputeConn(item.peer, a.connection));
          break;
        case OutboxKind::kRemoveConnection:
          POSTBOX_RETURN_IF_ERROR(ops.RecomputeConn(item.peer, ConnectionState::kNone));
          break;
        case OutboxKind::kRegisterPush:
          POSTBOX_RETURN_IF_ERROR(ops.RecomputePush(PushRegistration{item.platform, item.value}));
          break;
      }
      out.push_back(std::move(e));
    }
    return Status::Ok();
  });
  POSTBOX_RETURN_IF_ERROR(s);
  POSTBOX_ASSIGN_OR_RETURN(c.cursor, Cursor());
  if (change != nullptr) *change = std::move(c);
  if (ended != nullptr) *ended = std::move(out);
  return Status::Ok();
}

Status Mirror::MergeFetchedEntry(const EntryInfo& entry, ReplicaChange* change) {
  ReplicaChange c;
  POSTBOX_RETURN_IF_ERROR(Write([&](Txn& t) -> Status {
    c = ReplicaChange{};
    return Ops(t, t_, mkey_, &c)
        .SetBaseEntry(entry.key, EntryState{entry.version, false, entry.value}, entry.seq, true);
  }));
  POSTBOX_ASSIGN_OR_RETURN(c.cursor, Cursor());
  if (change != nullptr) *change = std::move(c);
  return Status::Ok();
}

Result<std::vector<OutboxItem>> Mirror::Pending() const {
  std::vector<OutboxItem> items;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    Status err;
    POSTBOX_RETURN_IF_ERROR(t.Scan(t_.outbox, "", "", [&](std::string_view k, std::string_view v) {
      auto item = DecodeItem(ReadBE64(k), v);
      if (!item) {
        err = item.error();
        return false;
      }
      items.push_back(std::move(*item));
      return true;
    }));
    return err;
  }));
  return items;
}

Result<std::vector<OutboxOutcome>> Mirror::Unreported() const {
  std::vector<OutboxOutcome> out;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    Status err;
    POSTBOX_RETURN_IF_ERROR(t.Scan(t_.ended, "", "", [&](std::string_view k, std::string_view v) {
      auto o = DecodeOutcome(ReadBE64(k), v);
      if (!o) {
        err = o.error();
        return false;
      }
      out.push_back(std::move(*o));
      return true;
    }));
    return err;
  }));
  return out;
}

Status Mirror::Reported(const std::vector<uint64_t>& ids) {
  if (ids.empty()) return Status::Ok();
  return Write([&](Txn& t) -> Status {
    for (uint64_t id : ids) POSTBOX_RETURN_IF_ERROR(t.Del(t_.ended, BE64(id)));
    return Status::Ok();
  });
}

Result<std::optional<OutboxItem>> Mirror::GetItem(uint64_t id) const {
  std::optional<OutboxItem> item;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.outbox, BE64(id)));
    if (!v) return Status::Ok();
    POSTBOX_ASSIGN_OR_RETURN(item, DecodeItem(id, *v));
    return Status::Ok();
  }));
  return item;
}

Status Mirror::SetSyncedConnections(
    const std::vector<std::pair<MailboxKey, ConnectionState>>& conns, ReplicaChange* change) {
  ReplicaChange c;
  POSTBOX_RETURN_IF_ERROR(Write([&](Txn& t) -> Status {
    c = ReplicaChange{};
    Ops ops(t, t_, mkey_, &c);
    std::map<MailboxKey, ConnectionState> next(conns.begin(), conns.end());
    std::vector<MailboxKey> known;
    POSTBOX_RETURN_IF_ERROR(t.Scan(t_.conns, "", "", [&](std::string_view k, std::string_view) {
      if (auto peer = MailboxKey::FromBytes(k)) known.push_back(*peer);
      return true;
    }));
    for (const auto& peer : known) {
      if (!next.count(peer)) next[peer] = ConnectionState::kNone;
    }
    for (const auto& [peer, state] : next) POSTBOX_RETURN_IF_ERROR(ops.RecomputeConn(peer, state));
    return Status::Ok();
  }));
  POSTBOX_ASSIGN_OR_RETURN(c.cursor, Cursor());
  if (change != nullptr) *change = std::move(c);
  return Status::Ok();
}

std::string Mirror::BlobPath(const MessageId& id) const { return folder_ + "/blobs/" + id.ToHex(); }

Status Mirror::WantBlob(const MessageId& id, const std::string& path, bool owned) {
  return Write([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(auto msg, t.Get(t_.msgs, id.AsBytes()));
    if (!msg) return Status::NotFound("no message " + id.ToHex() + " in the replica");
    POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.blobs, id.AsBytes()));
    if (v) {
      POSTBOX_ASSIGN_OR_RETURN(BlobRec b, BlobRec::Decode(*v));
      if (b.path == path) return Status::Ok();  // already wanted or held
    }
    BlobRec b;
    b.path = path;
    b.owned = owned;
    return t.Put(t_.blobs, id.AsBytes(), b.Encode());
  });
}

Result<std::vector<BlobTask>> Mirror::WantedBlobs() const {
  std::vector<BlobTask> tasks;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    return t.Scan(t_.blobs, "", "", [&](std::string_view k, std::string_view v) {
      auto b = BlobRec::Decode(v);
      auto id = MessageId::FromBytes(k);
      if (b && id && b->state == BlobState::kWanted) tasks.push_back({*id, b->path, b->owned});
      return true;
    });
  }));
  return tasks;
}

Status Mirror::BlobDone(const MessageId& id, bool ok, uint64_t length) {
  return Write([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.blobs, id.AsBytes()));
    if (!v) return Status::Ok();  // dropped meanwhile (superseded)
    POSTBOX_ASSIGN_OR_RETURN(BlobRec b, BlobRec::Decode(*v));
    if (!ok) {
      ReplicaChange unused;
      return Ops(t, t_, mkey_, &unused).DropBlob(id, nullptr);
    }
    b.state = BlobState::kDownloaded;
    b.length = length;
    return t.Put(t_.blobs, id.AsBytes(), b.Encode());
  });
}

Result<std::optional<ReplicaBlob>> Mirror::Blob(const MessageId& id) const {
  std::optional<ReplicaBlob> out;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.blobs, id.AsBytes()));
    if (!v) return Status::Ok();
    POSTBOX_ASSIGN_OR_RETURN(BlobRec b, BlobRec::Decode(*v));
    ReplicaBlob r;
    r.state = b.state;
    r.length = b.length;
    r.path = b.path;
    std::error_code ec;
    const std::string held =
        b.state == BlobState::kDownloaded || !b.owned ? b.path : b.path + ".part";
    const auto size = std::filesystem::file_size(held, ec);
    r.held = ec ? 0 : size;
    POSTBOX_ASSIGN_OR_RETURN(auto msg, t.Get(t_.msgs, id.AsBytes()));
    if (msg && r.length == 0) {
      POSTBOX_ASSIGN_OR_RETURN(MsgRec m, MsgRec::Decode(*msg));
      r.length = m.info.length;
    }
    out = std::move(r);
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<ReplicaMessage>> Mirror::Messages(bool incoming,
                                                     std::optional<MessageId> start_after,
                                                     size_t limit) const {
  std::vector<ReplicaMessage> out;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    const std::string prefix(1, static_cast<char>(incoming ? kIncomingDir : kOutgoingDir));
    std::string from = prefix;
    if (start_after) {
      POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.msgs, start_after->AsBytes()));
      if (!v)
        return Status::NotFound("start_after " + start_after->ToHex() + " is not in the replica");
      POSTBOX_ASSIGN_OR_RETURN(MsgRec m, MsgRec::Decode(*v));
      from = OrderKey(incoming, m.info.created_ms, *start_after) + std::string(1, '\0');
    }
    Status err;
    POSTBOX_RETURN_IF_ERROR(
        t.Scan(t_.order, prefix, from, [&](std::string_view k, std::string_view) {
          if (limit != 0 && out.size() >= limit) return false;
          auto v = t.Get(t_.msgs, k.substr(9));
          if (!v || !*v) {
            err = v ? Corrupt("order index") : v.error();
            return false;
          }
          auto m = MsgRec::Decode(**v);
          if (!m) {
            err = m.error();
            return false;
          }
          out.push_back(m->View());
          return true;
        }));
    return err;
  }));
  return out;
}

Result<std::optional<ReplicaMessage>> Mirror::Message(const MessageId& id) const {
  std::optional<ReplicaMessage> out;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.msgs, id.AsBytes()));
    if (!v) return Status::Ok();
    POSTBOX_ASSIGN_OR_RETURN(MsgRec m, MsgRec::Decode(*v));
    out = m.View();
    return Status::Ok();
  }));
  return out;
}

Result<std::optional<EntryState>> Mirror::VisibleEntry(std::string_view key) const {
  std::optional<EntryState> out;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.entries, key));
    if (!v) return Status::Ok();
    POSTBOX_ASSIGN_OR_RETURN(EntryRec e, EntryRec::Decode(*v));
    out = e.visible;
    return Status::Ok();
  }));
  return out;
}

Result<std::optional<EntryInfo>> Mirror::Entry(std::string_view key) const {
  std::optional<EntryInfo> out;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.entries, key));
    if (!v) return Status::Ok();
    POSTBOX_ASSIGN_OR_RETURN(EntryRec e, EntryRec::Decode(*v));
    if (e.visible && !e.visible->deleted) {
      out = EntryInfo{std::string(key), e.visible->value, e.visible->version, e.base_seq};
    }
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<EntryInfo>> Mirror::Entries(std::string_view prefix,
                                               std::string_view start_after, size_t limit) const {
  std::vector<EntryInfo> out;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    std::string from(prefix);
    if (!start_after.empty() && start_after >= prefix) from = std::string(start_after) + '\0';
    Status err;
    POSTBOX_RETURN_IF_ERROR(
        t.Scan(t_.entries, prefix, from, [&](std::string_view k, std::string_view v) {
          if (limit != 0 && out.size() >= limit) return false;
          auto e = EntryRec::Decode(v);
          if (!e) {
            err = e.error();
            return false;
          }
          if (e->visible && !e->visible->deleted) {
            out.push_back(
                EntryInfo{std::string(k), e->visible->value, e->visible->version, e->base_seq});
          }
          return true;
        }));
    return err;
  }));
  return out;
}

Result<std::vector<std::pair<MailboxKey, ConnectionState>>> Mirror::Connections() const {
  std::vector<std::pair<MailboxKey, ConnectionState>> out;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    return t.Scan(t_.conns, "", "", [&](std::string_view k, std::string_view v) {
      auto peer = MailboxKey::FromBytes(k);
      if (peer && v.size() == 2 && v[1] != 0) {
        out.emplace_back(*peer, static_cast<ConnectionState>(v[1]));
      }
      return true;
    });
  }));
  return out;
}

Result<PushRegistration> Mirror::Push() const {
  PushRegistration out;
  POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(auto v, t.Get(t_.meta, "push"));
    if (!v) return Status::Ok();
    POSTBOX_ASSIGN_OR_RETURN(out, DecodePush(*v));
    return Status::Ok();
  }));
  return out;
}

}  // namespace postbox::sync::replica
