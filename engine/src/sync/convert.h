// Conversions between the engine's value types (postbox/types.h, Status) and
// the wire protocol's message structs (postbox/wire/messages.h), both ways.
//
// This is the one boundary where the two enum numberings meet (the engine's
// TombstoneKind starts at 1, the wire's at 0; the wire's MessageStatus has an
// extra kUnset), so nothing else in the sync layer translates by hand.
// Engine → wire results borrow the engine object's strings: keep the source
// alive until the message is encoded. Wire → engine results own their bytes.
// Pure functions; safe from any thread.
#ifndef POSTBOX_SYNC_CONVERT_H_
#define POSTBOX_SYNC_CONVERT_H_

#include <string>

#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/types.h"
#include "postbox/wire/error.h"
#include "postbox/wire/messages.h"

namespace postbox::sync {

// ---- 16-byte identifiers ----
wire::Bytes16 ToWire(const MailboxKey& k);
wire::Bytes16 ToWire(const MessageId& id);
MailboxKey MailboxKeyFromWire(const wire::Bytes16& b);
MessageId MessageIdFromWire(const wire::Bytes16& b);
// A blob's XXH3-128 (Digest128 is a byte array: no byte-order question).
wire::Bytes16 DigestToWire(const Digest128& d);
Digest128 DigestFromWire(const wire::Bytes16& b);

// ---- enums ----
wire::Platform ToWire(Platform p);
// InvalidArgument for a value this build does not know.
Result<Platform> FromWire(wire::Platform p);
wire::MessageStatus ToWire(MessageStatus s);
// InvalidArgument for kUnset or an unknown value.
Result<MessageStatus> FromWire(wire::MessageStatus s);

// The engine's and the wire's numbering are the same; these name the crossing.
wire::ConnectionState ToWire(ConnectionState s);
ConnectionState FromWire(wire::ConnectionState s);  // an unknown value reads as kNone
wire::ConnectionListKind ToWire(ConnectionListKind k);
// InvalidArgument for a value this build does not know.
Result<ConnectionListKind> FromWire(wire::ConnectionListKind k);

// ---- feed items ----
// The views in the result borrow `m`'s strings.
wire::MessageInfo ToWire(const MessageInfo& m);
wire::Entry ToWire(const EntryInfo& e);
// A message tombstone whose key is not 16 bytes cannot be expressed on the wire:
// InvalidArgument (the store never makes one).
Result<wire::Tombstone> ToWire(const Tombstone& t);

Result<MessageInfo> FromWire(const wire::MessageInfo& m);
EntryInfo FromWire(const wire::Entry& e);
Result<Tombstone> FromWire(const wire::Tombstone& t);

// Fills *out (cleared first, capacity kept) from `p`; the views borrow `p`.
Status ToWire(const InfoPacket& p, wire::InfoPacket* out);
Result<InfoPacket> FromWire(const wire::InfoPacket& p);

// ---- errors ----
// The protocol reply for a non-OK status: code HttpCode(s.code()), the status
// message (borrowed from `s`). For Code::kProtocolUnsupported the caller fills
// the version range.
wire::ErrorReply ToWireError(const Status& s);
// The Status a client reports for an Error reply: the code maps back to the
// engine's Code (503 → Unavailable; a code this build does not know →
// Internal, naming the code), keeping the server's message.
Status FromWireError(const wire::ErrorReply& e);
// A codec failure as a Status: 413-class causes → TooLarge, internal → Internal,
// everything else → InvalidArgument; the message keeps the codec's cause name.
Status FromWireCodecError(const wire::Error& e);

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_CONVERT_H_
