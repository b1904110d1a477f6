// Verification of a payload against the root table its frame type names.
#include "fb_util.h"

namespace postbox::wire::internal {
namespace {

template <class T>
bool VerifyAs(const uint8_t* data, size_t size, const DecoderOptions& options) {
  flatbuffers::Verifier::Options opts;
  opts.max_depth = options.max_depth;
  opts.max_tables = options.max_tables;
  // Alignment is checked relative to the payload start, which the decoder
  // keeps 8-byte aligned in memory, so in-place scalar reads are aligned.
  opts.check_alignment = true;
  opts.check_nested_flatbuffers = true;
  flatbuffers::Verifier verifier(data, size, opts);
  return verifier.VerifyBuffer<T>(nullptr);
}

}  // namespace

bool VerifyPayload(MessageType type, const uint8_t* data, size_t size,
                   const DecoderOptions& options) {
  // A root offset and a vtable offset at least; the Verifier also checks this,
  // but an empty span would otherwise be a null pointer.
  if (size < 8 || data == nullptr) return false;
  switch (type) {
    case MessageType::kHello:
      return VerifyAs<fb::Hello>(data, size, options);
    case MessageType::kHelloReply:
      return VerifyAs<fb::HelloReply>(data, size, options);
    case MessageType::kPoll:
      return VerifyAs<fb::Poll>(data, size, options);
    case MessageType::kInfoPacket:
      return VerifyAs<fb::InfoPacket>(data, size, options);
    case MessageType::kAck:
      return VerifyAs<fb::Ack>(data, size, options);
    case MessageType::kUploadBegin:
      return VerifyAs<fb::UploadBegin>(data, size, options);
    case MessageType::kUploadChunk:
      return VerifyAs<fb::UploadChunk>(data, size, options);
    case MessageType::kUploadQueryOffset:
      return VerifyAs<fb::UploadQueryOffset>(data, size, options);
    case MessageType::kUploadOffset:
      return VerifyAs<fb::UploadOffset>(data, size, options);
    case MessageType::kUploadCommit:
      return VerifyAs<fb::UploadCommit>(data, size, options);
    case MessageType::kUploadAbort:
      return VerifyAs<fb::UploadAbort>(data, size, options);
    case MessageType::kDownloadRequest:
      return VerifyAs<fb::DownloadRequest>(data, size, options);
    case MessageType::kDownloadChunk:
      return VerifyAs<fb::DownloadChunk>(data, size, options);
    case MessageType::kStatusUpdate:
      return VerifyAs<fb::StatusUpdate>(data, size, options);
    case MessageType::kEntryGet:
      return VerifyAs<fb::EntryGet>(data, size, options);
    case MessageType::kEntryPut:
      return VerifyAs<fb::EntryPut>(data, size, options);
    case MessageType::kEntryDelete:
      return VerifyAs<fb::EntryDelete>(data, size, options);
    case MessageType::kEntryList:
      return VerifyAs<fb::EntryList>(data, size, options);
    case MessageType::kEntryListReply:
      return VerifyAs<fb::EntryListReply>(data, size, options);
    case MessageType::kEntryValue:
      return VerifyAs<fb::EntryValue>(data, size, options);
    case MessageType::kConnectionAdd:
      return VerifyAs<fb::ConnectionAdd>(data, size, options);
    case MessageType::kConnectionRemove:
      return VerifyAs<fb::ConnectionRemove>(data, size, options);
    case MessageType::kConnectionList:
      return VerifyAs<fb::ConnectionList>(data, size, options);
    case MessageType::kConnectionListReply:
      return VerifyAs<fb::ConnectionListReply>(data, size, options);
    case MessageType::kPushRegister:
      return VerifyAs<fb::PushRegister>(data, size, options);
    case MessageType::kEndpointRegister:
      return VerifyAs<fb::EndpointRegister>(data, size, options);
    case MessageType::kEndpointReply:
      return VerifyAs<fb::EndpointReply>(data, size, options);
    case MessageType::kEndpointList:
      return VerifyAs<fb::EndpointList>(data, size, options);
    case MessageType::kEndpointListReply:
      return VerifyAs<fb::EndpointListReply>(data, size, options);
    case MessageType::kEndpointRevoke:
      return VerifyAs<fb::EndpointRevoke>(data, size, options);
    case MessageType::kPing:
      return VerifyAs<fb::Ping>(data, size, options);
    case MessageType::kPong:
      return VerifyAs<fb::Pong>(data, size, options);
    case MessageType::kError:
      return VerifyAs<fb::Error>(data, size, options);
    case MessageType::kOk:
      return VerifyAs<fb::Ok>(data, size, options);
  }
  return false;
}

}  // namespace postbox::wire::internal
