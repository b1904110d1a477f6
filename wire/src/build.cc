// Message value -> FlatBuffers table. Children (strings, vectors, sub-tables)
// are created before their parent, as FlatBuffers builds back to front.
#include "build.h"

#include <vector>

namespace postbox::wire::internal {
namespace {

using flatbuffers::Offset;
using flatbuffers::Vector;
using internal::ToFb;  // The Bytes16 overload, beside the enum ones below.

fb::Platform ToFb(Platform p) { return static_cast<fb::Platform>(p); }
fb::Verdict ToFb(Verdict v) { return static_cast<fb::Verdict>(v); }
fb::MessageStatus ToFb(MessageStatus s) { return static_cast<fb::MessageStatus>(s); }
fb::TombstoneKind ToFb(TombstoneKind k) { return static_cast<fb::TombstoneKind>(k); }

Offset<fb::MessageInfo> BuildChild(Builder& b, const MessageInfo& m) {
  auto topic = BytesField(b, m.topic);
  auto meta = BytesField(b, m.meta);
  const fb::Bytes16 id = ToFb(m.id), from = ToFb(m.from), to = ToFb(m.to);
  const fb::Bytes16 digest = ToFb(m.digest);
  return fb::CreateMessageInfo(b, &id, &from, &to, topic, meta, m.length, &digest, ToFb(m.status),
                               m.created_ms, m.seq);
}

Offset<fb::Entry> BuildChild(Builder& b, const Entry& e) {
  auto key = BytesField(b, e.key);
  auto value = BytesField(b, e.value);
  return fb::CreateEntry(b, key, value, e.version, e.seq);
}

Offset<fb::Tombstone> BuildChild(Builder& b, const Tombstone& t) {
  auto key = BytesField(b, t.key);
  // Entry tombstones leave the id out rather than carry 16 zero bytes.
  const fb::Bytes16 id = ToFb(t.id);
  const bool has_id = t.kind != TombstoneKind::kEntry || t.id != Bytes16{};
  return fb::CreateTombstone(b, ToFb(t.kind), has_id ? &id : nullptr, key, t.version, t.seq);
}

Offset<fb::Endpoint> BuildChild(Builder& b, const Endpoint& e) {
  auto token = StringField(b, e.token);
  auto app_id = StringField(b, e.app_id);
  auto key = BytesField(b, e.vapid_public_key);
  auto url = StringField(b, e.url);
  return fb::CreateEndpoint(b, token, app_id, key, e.created_ms, url);
}

// Builds each item as a child table, then the vector of their offsets. The
// offsets go through ctx.offsets (reused), not a fresh std::vector, and an
// empty list is left out of the parent altogether.
template <class T>
auto TableVector(BuildContext& ctx, const std::vector<T>& items)
    -> Offset<Vector<decltype(BuildChild(ctx.fbb, items.front()))>> {
  if (items.empty()) return 0;
  const size_t first = ctx.offsets.size();
  for (const T& item : items) ctx.offsets.push_back(BuildChild(ctx.fbb, item).Union());
  ctx.fbb.StartVector(items.size(), sizeof(flatbuffers::uoffset_t));
  for (size_t i = ctx.offsets.size(); i > first;) ctx.fbb.PushElement(ctx.offsets[--i]);
  ctx.offsets.resize(first);
  return ctx.fbb.EndVector(items.size());
}

}  // namespace

Offset<void> Build(BuildContext& ctx, const Hello& m) {
  auto secret = StringField(ctx.fbb, m.secret);
  auto app_version = StringField(ctx.fbb, m.app_version);
  // An empty list is left out, as for table vectors.
  auto dictionaries = m.zstd_dictionaries.empty() ? 0 : ctx.fbb.CreateVector(m.zstd_dictionaries);
  const fb::Bytes16 mkey = ToFb(m.mkey);
  return fb::CreateHello(ctx.fbb, m.protocol_version, &mkey, secret, ToFb(m.platform), app_version,
                         m.schema_version, m.accept_zstd, dictionaries)
      .Union();
}

Offset<void> Build(BuildContext& ctx, const HelloReply& m) {
  auto detail = StringField(ctx.fbb, m.detail);
  return fb::CreateHelloReply(ctx.fbb, ToFb(m.verdict), m.protocol_version, detail, m.zstd,
                              m.zstd_dictionary)
      .Union();
}

Offset<void> Build(BuildContext& ctx, const Poll& m) {
  return fb::CreatePoll(ctx.fbb, m.since, m.limit).Union();
}

Offset<void> Build(BuildContext& ctx, const InfoPacket& m) {
  auto incoming = TableVector(ctx, m.incoming);
  auto outgoing = TableVector(ctx, m.outgoing);
  auto entries = TableVector(ctx, m.entries);
  auto tombstones = TableVector(ctx, m.tombstones);
  return fb::CreateInfoPacket(ctx.fbb, m.cursor, m.reset, m.more, incoming, outgoing, entries,
                              tombstones, m.since)
      .Union();
}

Offset<void> Build(BuildContext& ctx, const Ack& m) {
  return fb::CreateAck(ctx.fbb, m.cursor).Union();
}

Offset<void> Build(BuildContext& ctx, const UploadBegin& m) {
  auto topic = BytesField(ctx.fbb, m.topic);
  auto meta = BytesField(ctx.fbb, m.meta);
  const fb::Bytes16 id = ToFb(m.id), to = ToFb(m.to), digest = ToFb(m.digest);
  return fb::CreateUploadBegin(ctx.fbb, &id, &to, topic, meta, m.length, &digest).Union();
}

Offset<void> Build(BuildContext& ctx, const UploadChunk& m) {
  auto data = BytesField(ctx.fbb, m.data);
  const fb::Bytes16 id = ToFb(m.id);
  return fb::CreateUploadChunk(ctx.fbb, &id, m.offset, data).Union();
}

Offset<void> Build(BuildContext& ctx, const UploadQueryOffset& m) {
  const fb::Bytes16 id = ToFb(m.id);
  return fb::CreateUploadQueryOffset(ctx.fbb, &id).Union();
}

Offset<void> Build(BuildContext& ctx, const UploadOffset& m) {
  const fb::Bytes16 id = ToFb(m.id);
  return fb::CreateUploadOffset(ctx.fbb, &id, m.committed, m.length).Union();
}

Offset<void> Build(BuildContext& ctx, const UploadCommit& m) {
  const fb::Bytes16 id = ToFb(m.id);
  return fb::CreateUploadCommit(ctx.fbb, &id).Union();
}

Offset<void> Build(BuildContext& ctx, const UploadAbort& m) {
  const fb::Bytes16 id = ToFb(m.id);
  return fb::CreateUploadAbort(ctx.fbb, &id).Union();
}

Offset<void> Build(BuildContext& ctx, const DownloadRequest& m) {
  const fb::Bytes16 id = ToFb(m.id);
  return fb::CreateDownloadRequest(ctx.fbb, &id, m.offset, m.length).Union();
}

Offset<void> Build(BuildContext& ctx, const DownloadChunk& m) {
  auto data = BytesField(ctx.fbb, m.data);
  const fb::Bytes16 id = ToFb(m.id);
  const fb::Bytes16 digest = ToFb(m.digest.value_or(Bytes16{}));
  return fb::CreateDownloadChunk(ctx.fbb, &id, m.offset, m.total_length, data, m.xxh3_64,
                                 m.digest ? &digest : nullptr)
      .Union();
}

Offset<void> Build(BuildContext& ctx, const StatusUpdate& m) {
  const fb::Bytes16 id = ToFb(m.id);
  return fb::CreateStatusUpdate(ctx.fbb, &id, ToFb(m.status)).Union();
}

Offset<void> Build(BuildContext& ctx, const EntryGet& m) {
  auto key = BytesField(ctx.fbb, m.key);
  return fb::CreateEntryGet(ctx.fbb, key).Union();
}

Offset<void> Build(BuildContext& ctx, const EntryPut& m) {
  auto key = BytesField(ctx.fbb, m.key);
  auto value = BytesField(ctx.fbb, m.value);
  return fb::CreateEntryPut(ctx.fbb, key, value, m.version).Union();
}

Offset<void> Build(BuildContext& ctx, const EntryDelete& m) {
  auto key = BytesField(ctx.fbb, m.key);
  return fb::CreateEntryDelete(ctx.fbb, key, m.version).Union();
}

Offset<void> Build(BuildContext& ctx, const EntryList& m) {
  auto prefix = BytesField(ctx.fbb, m.prefix);
  auto start_after = BytesField(ctx.fbb, m.start_after);
  return fb::CreateEntryList(ctx.fbb, prefix, start_after, m.limit).Union();
}

Offset<void> Build(BuildContext& ctx, const EntryListReply& m) {
  auto entries = TableVector(ctx, m.entries);
  return fb::CreateEntryListReply(ctx.fbb, entries, m.more).Union();
}

Offset<void> Build(BuildContext& ctx, const EntryValue& m) {
  auto entry = BuildChild(ctx.fbb, m.entry);
  return fb::CreateEntryValue(ctx.fbb, entry).Union();
}

Offset<void> Build(BuildContext& ctx, const ConnectionAdd& m) {
  const fb::Bytes16 peer = ToFb(m.peer);
  return fb::CreateConnectionAdd(ctx.fbb, &peer).Union();
}

Offset<void> Build(BuildContext& ctx, const ConnectionRemove& m) {
  const fb::Bytes16 peer = ToFb(m.peer);
  return fb::CreateConnectionRemove(ctx.fbb, &peer).Union();
}

Offset<void> Build(BuildContext& ctx, const ConnectionList& m) {
  const fb::Bytes16 start_after = ToFb(m.start_after.value_or(Bytes16{}));
  return fb::CreateConnectionList(ctx.fbb, m.start_after ? &start_after : nullptr, m.limit,
                                  static_cast<fb::ConnectionListKind>(m.kind))
      .Union();
}

Offset<void> Build(BuildContext& ctx, const ConnectionListReply& m) {
  Offset<Vector<const fb::Bytes16*>> peers = 0;
  if (!m.peers.empty()) {
    // std::array<uint8_t, 16> is 16 contiguous bytes, the struct's layout.
    static_assert(sizeof(Bytes16) == sizeof(fb::Bytes16));
    ctx.fbb.StartVector(m.peers.size() * sizeof(fb::Bytes16), 1);
    ctx.fbb.PushBytes(reinterpret_cast<const uint8_t*>(m.peers.data()),
                      m.peers.size() * sizeof(fb::Bytes16));
    peers = ctx.fbb.EndVector(m.peers.size());
  }
  return fb::CreateConnectionListReply(ctx.fbb, peers, m.more).Union();
}

Offset<void> Build(BuildContext& ctx, const PushRegister& m) {
  auto token = BytesField(ctx.fbb, m.push_token);
  return fb::CreatePushRegister(ctx.fbb, ToFb(m.platform), token).Union();
}

Offset<void> Build(BuildContext& ctx, const EndpointRegister& m) {
  auto app_id = StringField(ctx.fbb, m.app_id);
  auto key = BytesField(ctx.fbb, m.vapid_public_key);
  return fb::CreateEndpointRegister(ctx.fbb, app_id, key).Union();
}

Offset<void> Build(BuildContext& ctx, const EndpointReply& m) {
  auto endpoint = BuildChild(ctx.fbb, m.endpoint);
  return fb::CreateEndpointReply(ctx.fbb, endpoint).Union();
}

Offset<void> Build(BuildContext& ctx, const EndpointList& m) {
  auto start_after = StringField(ctx.fbb, m.start_after);
  return fb::CreateEndpointList(ctx.fbb, start_after, m.limit).Union();
}

Offset<void> Build(BuildContext& ctx, const EndpointListReply& m) {
  auto endpoints = TableVector(ctx, m.endpoints);
  return fb::CreateEndpointListReply(ctx.fbb, endpoints, m.more).Union();
}

Offset<void> Build(BuildContext& ctx, const EndpointRevoke& m) {
  auto token = StringField(ctx.fbb, m.token);
  return fb::CreateEndpointRevoke(ctx.fbb, token).Union();
}

Offset<void> Build(BuildContext& ctx, const Ping& m) {
  return fb::CreatePing(ctx.fbb, m.nonce).Union();
}

Offset<void> Build(BuildContext& ctx, const Pong& m) {
  return fb::CreatePong(ctx.fbb, m.nonce).Union();
}

Offset<void> Build(BuildContext& ctx, const ErrorReply& m) {
  auto message = StringField(ctx.fbb, m.message);
  return fb::CreateError(ctx.fbb, m.code, message, m.min_version, m.max_version).Union();
}

Offset<void> Build(BuildContext& ctx, const Ok& m) {
  return fb::CreateOk(ctx.fbb, m.version, ToFb(m.status),
                      static_cast<fb::ConnectionState>(m.connection), m.applied)
      .Union();
}

}  // namespace postbox::wire::internal
