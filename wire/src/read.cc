// Verified FlatBuffers table -> message value. Runs only on payloads the
// Verifier accepted (a Frame cannot be made otherwise), so every offset is in
// bounds and every required field present; absent optional fields read as
// their defaults.
#include <string>

#include "fb_util.h"
#include "message_list.h"
#include "postbox/wire/codec.h"

namespace postbox::wire {
namespace {

using namespace internal;  // NOLINT: the glue helpers and fb:: tables.

template <class T>
using FbVector = flatbuffers::Vector<flatbuffers::Offset<T>>;

void Read(const fb::MessageInfo& t, MessageInfo* m) {
  m->id = FromFb(t.id());
  m->from = FromFb(t.from());
  m->to = FromFb(t.to());
  m->topic = View(t.topic());
  m->meta = View(t.meta());
  m->length = t.length();
  m->digest = FromFb(t.digest());
  m->status = static_cast<MessageStatus>(t.status());
  m->created_ms = t.created_ms();
  m->seq = t.seq();
}

void Read(const fb::Entry& t, Entry* m) {
  m->key = View(t.key());
  m->value = View(t.value());
  m->version = t.version();
  m->seq = t.seq();
}

void Read(const fb::Tombstone& t, Tombstone* m) {
  m->kind = static_cast<TombstoneKind>(t.kind());
  m->id = FromFb(t.id());
  m->key = View(t.key());
  m->version = t.version();
  m->seq = t.seq();
}

void Read(const fb::Endpoint& t, Endpoint* m) {
  m->token = View(t.token());
  m->app_id = View(t.app_id());
  m->vapid_public_key = View(t.vapid_public_key());
  m->created_ms = t.created_ms();
  m->url = View(t.url());
}

// Read() assigns every field, so elements kept from a previous decode are
// overwritten rather than cleared and re-constructed.
template <class T, class M>
void ReadVector(const FbVector<T>* in, std::vector<M>* out) {
  if (in == nullptr) {
    out->clear();
    return;
  }
  out->resize(in->size());
  for (flatbuffers::uoffset_t i = 0; i < in->size(); ++i) Read(*in->Get(i), &(*out)[i]);
}

void Read(const fb::Hello& t, Hello* m) {
  m->protocol_version = t.protocol_version();
  m->mkey = FromFb(t.mkey());
  m->secret = View(t.secret());
  m->platform = static_cast<Platform>(t.platform());
  m->app_version = View(t.app_version());
  m->schema_version = t.schema_version();
  m->accept_zstd = t.accept_zstd();
  m->zstd_dictionaries.clear();
  if (const auto* ids = t.zstd_dictionaries()) {
    m->zstd_dictionaries.assign(ids->begin(), ids->end());
  }
}

void Read(const fb::HelloReply& t, HelloReply* m) {
  m->verdict = static_cast<Verdict>(t.verdict());
  m->protocol_version = t.protocol_version();
  m->detail = View(t.detail());
  m->zstd = t.zstd();
  m->zstd_dictionary = t.zstd_dictionary();
}

void Read(const fb::Poll& t, Poll* m) {
  m->since = t.since();
  m->limit = t.limit();
}

void Read(const fb::InfoPacket& t, InfoPacket* m) {
  m->cursor = t.cursor();
  m->reset = t.reset();
  m->more = t.more();
  ReadVector(t.incoming(), &m->incoming);
  ReadVector(t.outgoing(), &m->outgoing);
  ReadVector(t.entries(), &m->entries);
  ReadVector(t.tombstones(), &m->tombstones);
  m->since = t.since();
}

void Read(const fb::Ack& t, Ack* m) { m->cursor = t.cursor(); }

void Read(const fb::UploadBegin& t, UploadBegin* m) {
  m->id = FromFb(t.id());
  m->to = FromFb(t.to());
  m->topic = View(t.topic());
  m->meta = View(t.meta());
  m->length = t.length();
  m->digest = FromFb(t.digest());
}

void Read(const fb::UploadChunk& t, UploadChunk* m) {
  m->id = FromFb(t.id());
  m->offset = t.offset();
  m->data = View(t.data());
}

void Read(const fb::UploadQueryOffset& t, UploadQueryOffset* m) { m->id = FromFb(t.id()); }

void Read(const fb::UploadOffset& t, UploadOffset* m) {
  m->id = FromFb(t.id());
  m->committed = t.committed();
  m->length = t.length();
}

void Read(const fb::UploadCommit& t, UploadCommit* m) { m->id = FromFb(t.id()); }
void Read(const fb::UploadAbort& t, UploadAbort* m) { m->id = FromFb(t.id()); }

void Read(const fb::DownloadRequest& t, DownloadRequest* m) {
  m->id = FromFb(t.id());
  m->offset = t.offset();
  m->length = t.length();
}

void Read(const fb::DownloadChunk& t, DownloadChunk* m) {
  m->id = FromFb(t.id());
  m->offset = t.offset();
  m->total_length = t.total_length();
  m->data = View(t.data());
  m->xxh3_64 = t.xxh3_64();
  m->digest.reset();
  if (t.digest() != nullptr) m->digest = FromFb(t.digest());
}

void Read(const fb::StatusUpdate& t, StatusUpdate* m) {
  m->id = FromFb(t.id());
  m->status = static_cast<MessageStatus>(t.status());
}

void Read(const fb::EntryGet& t, EntryGet* m) { m->key = View(t.key()); }

void Read(const fb::EntryPut& t, EntryPut* m) {
  m->key = View(t.key());
  m->value = View(t.value());
  m->version = t.version();
}

void Read(const fb::EntryDelete& t, EntryDelete* m) {
  m->key = View(t.key());
  m->version = t.version();
}

void Read(const fb::EntryList& t, EntryList* m) {
  m->prefix = View(t.prefix());
  m->start_after = View(t.start_after());
  m->limit = t.limit();
}

void Read(const fb::EntryListReply& t, EntryListReply* m) {
  ReadVector(t.entries(), &m->entries);
  m->more = t.more();
}

void Read(const fb::EntryValue& t, EntryValue* m) { Read(*t.entry(), &m->entry); }

void Read(const fb::ConnectionAdd& t, ConnectionAdd* m) { m->peer = FromFb(t.peer()); }
void Read(const fb::ConnectionRemove& t, ConnectionRemove* m) { m->peer = FromFb(t.peer()); }

void Read(const fb::ConnectionList& t, ConnectionList* m) {
  m->start_after.reset();
  if (t.start_after() != nullptr) m->start_after = FromFb(t.start_after());
  m->limit = t.limit();
  m->kind = static_cast<ConnectionListKind>(t.kind());
}

void Read(const fb::ConnectionListReply& t, ConnectionListReply* m) {
  m->peers.clear();
  if (const auto* peers = t.peers(); peers != nullptr) {
    m->peers.resize(peers->size());
    for (flatbuffers::uoffset_t i = 0; i < peers->size(); ++i) {
      m->peers[i] = FromFb(peers->Get(i));
    }
  }
  m->more = t.more();
}

void Read(const fb::PushRegister& t, PushRegister* m) {
  m->platform = static_cast<Platform>(t.platform());
  m->push_token = View(t.push_token());
}

void Read(const fb::EndpointRegister& t, EndpointRegister* m) {
  m->app_id = View(t.app_id());
  m->vapid_public_key = View(t.vapid_public_key());
}

void Read(const fb::EndpointReply& t, EndpointReply* m) { Read(*t.endpoint(), &m->endpoint); }

void Read(const fb::EndpointList& t, EndpointList* m) {
  m->start_after = View(t.start_after());
  m->limit = t.limit();
}

void Read(const fb::EndpointListReply& t, EndpointListReply* m) {
  ReadVector(t.endpoints(), &m->endpoints);
  m->more = t.more();
}

void Read(const fb::EndpointRevoke& t, EndpointRevoke* m) { m->token = View(t.token()); }

void Read(const fb::Ping& t, Ping* m) { m->nonce = t.nonce(); }
void Read(const fb::Pong& t, Pong* m) { m->nonce = t.nonce(); }

void Read(const fb::Error& t, ErrorReply* m) {
  m->code = t.code();
  m->message = View(t.message());
  m->min_version = t.min_version();
  m->max_version = t.max_version();
}

void Read(const fb::Ok& t, Ok* m) {
  m->version = t.version();
  m->status = static_cast<MessageStatus>(t.status());
  m->connection = static_cast<ConnectionState>(t.connection());
  m->applied = t.applied();
}

template <class M>
struct FbTable;
#define POSTBOX_WIRE_TABLE_OF(M, T) \
  template <>                       \
  struct FbTable<M> {               \
    using Type = fb::T;             \
  };
POSTBOX_WIRE_FOR_EACH_MESSAGE(POSTBOX_WIRE_TABLE_OF)
#undef POSTBOX_WIRE_TABLE_OF

}  // namespace

template <class M>
Error Decode(const Frame& frame, M* out) {
  if (frame.type() != M::kType) {
    return Error(ErrorCode::kTypeMismatch, std::string("expected a ") + MessageTypeName(M::kType) +
                                               " frame, got " + MessageTypeName(frame.type()));
  }
  // A default-constructed Frame has no payload; only the decoder fills one.
  if (frame.payload().empty()) {
    return Error(ErrorCode::kVerifyFailed, "frame holds no verified payload");
  }
  Read(*flatbuffers::GetRoot<typename FbTable<M>::Type>(frame.payload().data()), out);
  return Error();
}

#define POSTBOX_WIRE_INSTANTIATE_DECODE(M, T) template Error Decode<M>(const Frame&, M*);
POSTBOX_WIRE_FOR_EACH_MESSAGE(POSTBOX_WIRE_INSTANTIATE_DECODE)
#undef POSTBOX_WIRE_INSTANTIATE_DECODE

Error DecodeAny(const Frame& frame, AnyMessage* out) {
  switch (frame.type()) {
#define POSTBOX_WIRE_DECODE_CASE(M, T) \
  case MessageType::k##T:              \
    return Decode(frame, &out->emplace<M>());
    POSTBOX_WIRE_FOR_EACH_MESSAGE(POSTBOX_WIRE_DECODE_CASE)
#undef POSTBOX_WIRE_DECODE_CASE
  }
  return Error(ErrorCode::kUnknownType, "unknown message type");
}

}  // namespace postbox::wire
