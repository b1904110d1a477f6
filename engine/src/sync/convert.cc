#include "sync/convert.h"

#include <cstring>
#include <string_view>

namespace postbox::sync {
namespace {

template <typename Tag>
wire::Bytes16 IdToWire(const Id16<Tag>& id) {
  wire::Bytes16 b;
  std::memcpy(b.data(), id.bytes.data(), b.size());
  return b;
}

template <typename Tag>
Id16<Tag> IdFromWire(const wire::Bytes16& b) {
  Id16<Tag> id;
  std::memcpy(id.bytes.data(), b.data(), b.size());
  return id;
}

}  // namespace

Digest128 DigestFromWire(const wire::Bytes16& b) {
  Digest128 d;
  std::memcpy(d.data(), b.data(), d.size());
  return d;
}

wire::Bytes16 DigestToWire(const Digest128& d) {
  wire::Bytes16 b;
  std::memcpy(b.data(), d.data(), b.size());
  return b;
}

wire::Bytes16 ToWire(const MailboxKey& k) { return IdToWire(k); }
wire::Bytes16 ToWire(const MessageId& id) { return IdToWire(id); }
MailboxKey MailboxKeyFromWire(const wire::Bytes16& b) { return IdFromWire<MailboxKeyTag>(b); }
MessageId MessageIdFromWire(const wire::Bytes16& b) { return IdFromWire<MessageIdTag>(b); }

wire::Platform ToWire(Platform p) {
  switch (p) {
    case Platform::kNone:
      return wire::Platform::kNone;
    case Platform::kIos:
      return wire::Platform::kIos;
    case Platform::kAndroid:
      return wire::Platform::kAndroid;
    case Platform::kWeb:
      return wire::Platform::kWeb;
  }
  return wire::Platform::kNone;
}

wire::ConnectionState ToWire(ConnectionState s) { return static_cast<wire::ConnectionState>(s); }

ConnectionState FromWire(wire::ConnectionState s) {
  switch (s) {
    case wire::ConnectionState::kRequested:
      return ConnectionState::kRequested;
    case wire::ConnectionState::kConnected:
      return ConnectionState::kConnected;
    case wire::ConnectionState::kNone:
      break;
  }
  return ConnectionState::kNone;
}

wire::ConnectionListKind ToWire(ConnectionListKind k) {
  return static_cast<wire::ConnectionListKind>(k);
}

Result<ConnectionListKind> FromWire(wire::ConnectionListKind k) {
  switch (k) {
    case wire::ConnectionListKind::kConnected:
      return ConnectionListKind::kConnected;
    case wire::ConnectionListKind::kRequested:
      return ConnectionListKind::kRequested;
    case wire::ConnectionListKind::kIncoming:
      return ConnectionListKind::kIncoming;
  }
  return Status::InvalidArgument("unknown connection list kind " +
                                 std::to_string(static_cast<int>(k)) +
                                 "; expected connected(0), requested(1) or incoming(2)");
}

Result<Platform> FromWire(wire::Platform p) {
  switch (p) {
    case wire::Platform::kNone:
      return Platform::kNone;
    case wire::Platform::kIos:
      return Platform::kIos;
    case wire::Platform::kAndroid:
      return Platform::kAndroid;
    case wire::Platform::kWeb:
      return Platform::kWeb;
  }
  return Status::InvalidArgument("unknown platform " + std::to_string(static_cast<int>(p)) +
                                 "; expected none(0), ios(1), android(2) or web(3)");
}

wire::MessageStatus ToWire(MessageStatus s) {
  switch (s) {
    case MessageStatus::kUploaded:
      return wire::MessageStatus::kUploaded;
    case MessageStatus::kDownloaded:
      return wire::MessageStatus::kDownloaded;
    case MessageStatus::kViewed:
      return wire::MessageStatus::kViewed;
  }
  return wire::MessageStatus::kUnset;
}

Result<MessageStatus> FromWire(wire::MessageStatus s) {
  switch (s) {
    case wire::MessageStatus::kUploaded:
      return MessageStatus::kUploaded;
    case wire::MessageStatus::kDownloaded:
      return MessageStatus::kDownloaded;
    case wire::MessageStatus::kViewed:
      return MessageStatus::kViewed;
    case wire::MessageStatus::kUnset:
      break;
  }
  return Status::InvalidArgument("message status " + std::to_string(static_cast<int>(s)) +
                                 " is not one of uploaded(1), downloaded(2), viewed(3)");
}

wire::MessageInfo ToWire(const MessageInfo& m) {
  wire::MessageInfo w;
  w.id = ToWire(m.id);
  w.from = ToWire(m.from);
  w.to = ToWire(m.to);
  w.topic = m.topic;
  w.meta = m.meta;
  w.length = m.length;
  w.digest = DigestToWire(m.digest);
  w.status = ToWire(m.status);
  w.created_ms = m.created_ms;
  w.seq = m.seq;
  return w;
}

wire::Entry ToWire(const EntryInfo& e) { return {e.key, e.value, e.version, e.seq}; }

Result<wire::Tombstone> ToWire(const Tombstone& t) {
  wire::Tombstone w;
  w.version = t.version;
  w.seq = t.seq;
  switch (t.kind) {
    case TombstoneKind::kMessage: {
      if (t.key.size() != 16) {
        return Status::InvalidArgument("a message tombstone's key must be the 16 id bytes, got " +
                                       std::to_string(t.key.size()));
      }
      w.kind = wire::TombstoneKind::kMessage;
      std::memcpy(w.id.data(), t.key.data(), 16);
      return w;
    }
    case TombstoneKind::kEntry:
      w.kind = wire::TombstoneKind::kEntry;
      w.key = t.key;
      return w;
  }
  return Status::InvalidArgument("unknown tombstone kind " +
                                 std::to_string(static_cast<int>(t.kind)));
}

Result<MessageInfo> FromWire(const wire::MessageInfo& w) {
  MessageInfo m;
  m.id = MessageIdFromWire(w.id);
  m.from = MailboxKeyFromWire(w.from);
  m.to = MailboxKeyFromWire(w.to);
  m.topic = std::string(w.topic);
  m.meta = std::string(w.meta);
  m.length = w.length;
  m.digest = DigestFromWire(w.digest);
  POSTBOX_ASSIGN_OR_RETURN(m.status, FromWire(w.status));
  m.created_ms = w.created_ms;
  m.seq = w.seq;
  return m;
}

EntryInfo FromWire(const wire::Entry& e) {
  return {std::string(e.key), std::string(e.value), e.version, e.seq};
}

Result<Tombstone> FromWire(const wire::Tombstone& w) {
  Tombstone t;
  t.version = w.version;
  t.seq = w.seq;
  switch (w.kind) {
    case wire::TombstoneKind::kMessage:
      t.kind = TombstoneKind::kMessage;
      t.key.assign(reinterpret_cast<const char*>(w.id.data()), w.id.size());
      return t;
    case wire::TombstoneKind::kEntry:
      t.kind = TombstoneKind::kEntry;
      t.key = std::string(w.key);
      return t;
  }
  return Status::InvalidArgument("unknown tombstone kind " +
                                 std::to_string(static_cast<int>(w.kind)) +
                                 "; expected message(0) or entry(1)");
}

Status ToWire(const InfoPacket& p, wire::InfoPacket* out) {
  out->cursor = p.cursor;
  out->reset = p.reset;
  out->more = p.more;
  out->since = p.since;
  out->incoming.clear();
  out->outgoing.clear();
  out->entries.clear();
  out->tombstones.clear();
  for (const auto& m : p.incoming) out->incoming.push_back(ToWire(m));
  for (const auto& m : p.outgoing) out->outgoing.push_back(ToWire(m));
  for (const auto& e : p.entries) out->entries.push_back(ToWire(e));
  for (const auto& t : p.tombstones) {
    POSTBOX_ASSIGN_OR_RETURN(auto w, ToWire(t));
    out->tombstones.push_back(w);
  }
  return Status::Ok();
}

Result<InfoPacket> FromWire(const wire::InfoPacket& w) {
  InfoPacket p;
  p.cursor = w.cursor;
  p.reset = w.reset;
  p.more = w.more;
  p.since = w.since;
  p.incoming.reserve(w.incoming.size());
  for (const auto& m : w.incoming) {
    POSTBOX_ASSIGN_OR_RETURN(auto v, FromWire(m));
    p.incoming.push_back(std::move(v));
  }
  p.outgoing.reserve(w.outgoing.size());
  for (const auto& m : w.outgoing) {
    POSTBOX_ASSIGN_OR_RETURN(auto v, FromWire(m));
    p.outgoing.push_back(std::move(v));
  }
  p.entries.reserve(w.entries.size());
  for (const auto& e : w.entries) p.entries.push_back(FromWire(e));
  p.tombstones.reserve(w.tombstones.size());
  for (const auto& t : w.tombstones) {
    POSTBOX_ASSIGN_OR_RETURN(auto v, FromWire(t));
    p.tombstones.push_back(std::move(v));
  }
  return p;
}

wire::ErrorReply ToWireError(const Status& s) {
  wire::ErrorReply e;
  e.code = static_cast<uint16_t>(HttpCode(s.code()));
  e.message = s.message();
  return e;
}

Status FromWireError(const wire::ErrorReply& e) {
  switch (e.code) {
    case 400:
      return Status::InvalidArgument(e.message);
    case 401:
      return Status::Unauthenticated(e.message);
    case 403:
      return Status::PermissionDenied(e.message);
    case 404:
      return Status::NotFound(e.message);
    case 409:
      return Status::Conflict(e.message);
    case 410:
      return Status::Gone(e.message);
    case 413:
      return Status::TooLarge(e.message);
    case 422:
      return Status::DigestMismatch(e.message);
    case 426:
      return Status(Code::kProtocolUnsupported,
                    std::string(e.message) + " (server supports protocol versions " +
                        std::to_string(e.min_version) + ".." + std::to_string(e.max_version) + ")");
    case 429:
      return Status(Code::kBackOff, e.message);
    case 500:
      return Status::Internal(e.message);
    case 503:
      return Status::Unavailable(e.message);
    default:
      return Status::Internal("server answered with unknown error code " + std::to_string(e.code) +
                              ": " + std::string(e.message));
  }
}

Status FromWireCodecError(const wire::Error& e) {
  switch (wire::HttpCode(e.code())) {
    case 0:
      return Status::Ok();
    case 413:
      return Status::TooLarge(e.ToString());
    case 500:
      return Status::Internal(e.ToString());
    default:
      return Status::InvalidArgument(e.ToString());
  }
}

}  // namespace postbox::sync
