#include "store/records.h"

#include <cstring>

#include "store/codec.h"

namespace postbox::store {
namespace {

Status Corrupt(std::string_view what) {
  return Status::Internal(std::string("corrupted ") + std::string(what) + " record");
}

template <typename T>
void CopyTo(std::string_view in, T* out) {
  if (in.size() == out->size()) std::memcpy(out->data(), in.data(), out->size());
}

template <typename Id>
Id IdFrom(std::string_view in) {
  Id id;
  CopyTo(in, &id.bytes);
  return id;
}

}  // namespace

std::string MailboxKeyBytes(const MailboxKey& m) { return std::string(m.AsBytes()); }

std::string ConnKey(const MailboxKey& a, const MailboxKey& b) {
  std::string k(a.AsBytes());
  k.append(b.AsBytes());
  return k;
}

std::string ConnRequestKey(const MailboxKey& owner, uint8_t kind, const MailboxKey& peer) {
  std::string k(owner.AsBytes());
  k.push_back(static_cast<char>(kind));
  k.append(peer.AsBytes());
  return k;
}

std::string EntryKey(const MailboxKey& m, std::string_view key) {
  std::string k(m.AsBytes());
  k.append(key);
  return k;
}

std::string EntryTtlKey(uint64_t expires_ms, std::string_view entry_key) {
  std::string k;
  AppendBE64(k, expires_ms);
  k.append(entry_key);
  return k;
}

std::string MessageKey(const MessageId& id) { return std::string(id.AsBytes()); }

std::string MessageStateKey(const MailboxKey& to, uint64_t post_seq) {
  std::string k(to.AsBytes());
  AppendBE64(k, post_seq);
  return k;
}

std::string SlotPrefix(const MailboxKey& from, const MailboxKey& to, std::string_view topic) {
  std::string k(from.AsBytes());
  k.append(to.AsBytes());
  k.push_back(static_cast<char>(topic.size()));  // topics are ≤ 255 bytes: prefix-free
  k.append(topic);
  return k;
}

std::string SlotKey(std::string_view slot_prefix, uint64_t order) {
  std::string k(slot_prefix);
  AppendBE64(k, order);
  return k;
}

std::string BlobKey(const MessageId& id, uint32_t piece) {
  std::string k(id.AsBytes());
  AppendBE32(k, piece);
  return k;
}

std::string FeedKey(const MailboxKey& m, uint64_t seq) {
  std::string k(m.AsBytes());
  AppendBE64(k, seq);
  return k;
}

std::string TombKey(uint64_t created_ms, const MailboxKey& m, uint64_t seq) {
  std::string k;
  AppendBE64(k, created_ms);
  k.append(m.AsBytes());
  AppendBE64(k, seq);
  return k;
}

std::string GoneTombKey(uint64_t gone_ms, const MessageId& id) {
  std::string k;
  AppendBE64(k, gone_ms);
  k.append(id.AsBytes());
  AppendBE64(k, 0);
  return k;
}

std::string UploadTtlKey(uint64_t created_ms, const MessageId& id) {
  std::string k;
  AppendBE64(k, created_ms);
  k.append(id.AsBytes());
  return k;
}

std::string UploadTailKey(const MessageId& id, uint64_t offset) {
  std::string k(id.AsBytes());
  AppendBE64(k, offset);
  return k;
}

std::string UploadRecord::Encode() const {
  std::string out;
  RecordWriter(&out)
      .Fixed(from.AsBytes())
      .Fixed(to.AsBytes())
      .U64(created_ms)
      .U64(length)
      .U64(offset)
      .Fixed({reinterpret_cast<const char*>(digest.data()), digest.size()})
      .Bytes16(topic)
      .Bytes16(meta)
      .Bytes16(hash_state);
  return out;
}

Result<UploadRecord> UploadRecord::Decode(std::string_view in) {
  RecordReader r(in);
  UploadRecord u;
  u.from = IdFrom<MailboxKey>(r.Fixed(16));
  u.to = IdFrom<MailboxKey>(r.Fixed(16));
  u.created_ms = r.U64();
  u.length = r.U64();
  u.offset = r.U64();
  CopyTo(r.Fixed(16), &u.digest);
  u.topic = std::string(r.Bytes16());
  u.meta = std::string(r.Bytes16());
  u.hash_state = std::string(r.Bytes16());
  if (!r.ok() || !r.done()) return Corrupt("upload");
  return u;
}

std::string MailboxRecord::Encode() const {
  std::string out;
  RecordWriter w(&out);
  w.Fixed({reinterpret_cast<const char*>(salt.data()), salt.size()})
      .Fixed({reinterpret_cast<const char*>(hash.data()), hash.size()})
      .U64(created_ms)
      .U64(seq)
      .U64(purged_seq);
  return out;
}

Result<MailboxRecord> MailboxRecord::Decode(std::string_view in) {
  RecordReader r(in);
  MailboxRecord m;
  CopyTo(r.Fixed(16), &m.salt);
  CopyTo(r.Fixed(32), &m.hash);
  m.created_ms = r.U64();
  m.seq = r.U64();
  m.purged_seq = r.U64();
  if (!r.ok()) return Corrupt("mailbox");
  return m;
}

std::string EntryRecord::Encode() const {
  std::string out;
  out.reserve(17 + value.size());
  RecordWriter w(&out);
  w.U64(version).U64(seq).U8(deleted ? 1 : 0).Fixed(value);
  return out;
}

Result<EntryRecord> EntryRecord::Decode(std::string_view in) {
  RecordReader r(in);
  EntryRecord e;
  e.version = r.U64();
  e.seq = r.U64();
  e.deleted = r.U8() != 0;
  e.value = std::string(r.Rest());
  if (!r.ok()) return Corrupt("entry");
  return e;
}

std::string MessageRecord::Encode() const {
  std::string out;
  RecordWriter w(&out);
  w.Fixed(from.AsBytes())
      .Fixed(to.AsBytes())
      .U64(created_ms)
      .U64(length)
      .Fixed({reinterpret_cast<const char*>(digest.data()), digest.size()})
      .U64(post_seq)
      .Bytes16(topic)
      .Bytes16(meta);
  return out;
}

Result<MessageRecord> MessageRecord::Decode(std::string_view in) {
  RecordReader r(in);
  MessageRecord m;
  m.from = IdFrom<MailboxKey>(r.Fixed(16));
  m.to = IdFrom<MailboxKey>(r.Fixed(16));
  m.created_ms = r.U64();
  m.length = r.U64();
  CopyTo(r.Fixed(16), &m.digest);
  m.post_seq = r.U64();
  m.topic = std::string(r.Bytes16());
  m.meta = std::string(r.Bytes16());
  if (!r.ok() || !r.done()) return Corrupt("message");
  return m;
}

std::string MessageState::Encode() const {
  std::string out;
  RecordWriter(&out).U8(static_cast<uint8_t>(status)).U64(seq_from).U64(seq_to);
  return out;
}

Result<MessageState> MessageState::Decode(std::string_view in) {
  RecordReader r(in);
  MessageState s;
  const uint8_t status = r.U8();
  s.seq_from = r.U64();
  s.seq_to = r.U64();
  if (!r.ok() || !r.done() || status < 1 || status > 3) return Corrupt("message state");
  s.status = static_cast<MessageStatus>(status);
  return s;
}

MessageInfo Message::ToInfo(const MessageId& id, uint64_t seq) const {
  MessageInfo info;
  info.id = id;
  info.from = rec.from;
  info.to = rec.to;
  info.topic = rec.topic;
  info.meta = rec.meta;
  info.length = rec.length;
  info.digest = rec.digest;
  info.status = state.status;
  info.created_ms = rec.created_ms;
  info.seq = seq;
  return info;
}

std::string GoneRecord::Encode() const {
  std::string out;
  RecordWriter(&out).Fixed(from.AsBytes()).Fixed(to.AsBytes()).U64(gone_ms);
  return out;
}

Result<GoneRecord> GoneRecord::Decode(std::string_view in) {
  RecordReader r(in);
  GoneRecord g;
  g.from = IdFrom<MailboxKey>(r.Fixed(16));
  g.to = IdFrom<MailboxKey>(r.Fixed(16));
  g.gone_ms = r.U64();
  if (!r.ok()) return Corrupt("gone");
  return g;
}

std::string FeedRecord::Encode() const {
  std::string out;
  RecordWriter w(&out);
  w.U8(static_cast<uint8_t>(kind));
  if (kind == FeedKind::kEntryTombstone) w.U64(version);
  w.Fixed(item);
  return out;
}

Result<FeedRecord> FeedRecord::Decode(std::string_view in) {
  RecordReader r(in);
  FeedRecord f;
  uint8_t kind = r.U8();
  if (kind < 1 || kind > 5) return Corrupt("feed");
  f.kind = static_cast<FeedKind>(kind);
  if (f.kind == FeedKind::kEntryTombstone) f.version = r.U64();
  f.item = std::string(r.Rest());
  if (!r.ok()) return Corrupt("feed");
  return f;
}

}  // namespace postbox::store
