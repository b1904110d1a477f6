// Names and protocol codes for wire errors and message types.
#include "postbox/wire/error.h"

#include "postbox/wire/messages.h"

namespace postbox::wire {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kBadHeader:
      return "bad header";
    case ErrorCode::kOversize:
      return "oversize";
    case ErrorCode::kUnknownType:
      return "unknown message type";
    case ErrorCode::kBadFlags:
      return "bad flags";
    case ErrorCode::kVerifyFailed:
      return "verification failed";
    case ErrorCode::kDecompressFailed:
      return "decompression failed";
    case ErrorCode::kDecompressBomb:
      return "decompression bomb";
    case ErrorCode::kTypeMismatch:
      return "type mismatch";
    case ErrorCode::kEncodeTooLarge:
      return "encoded payload too large";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown error";
}

uint16_t HttpCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 0;
    case ErrorCode::kOversize:
    case ErrorCode::kDecompressBomb:
    case ErrorCode::kEncodeTooLarge:
      return 413;
    case ErrorCode::kInternal:
      return 500;
    default:
      return 400;
  }
}

std::string Error::ToString() const {
  if (ok()) return "ok";
  std::string s = ErrorCodeName(code_);
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kHello:
      return "Hello";
    case MessageType::kHelloReply:
      return "HelloReply";
    case MessageType::kPoll:
      return "Poll";
    case MessageType::kInfoPacket:
      return "InfoPacket";
    case MessageType::kAck:
      return "Ack";
    case MessageType::kUploadBegin:
      return "UploadBegin";
    case MessageType::kUploadChunk:
      return "UploadChunk";
    case MessageType::kUploadQueryOffset:
      return "UploadQueryOffset";
    case MessageType::kUploadOffset:
      return "UploadOffset";
    case MessageType::kUploadCommit:
      return "UploadCommit";
    case MessageType::kUploadAbort:
      return "UploadAbort";
    case MessageType::kDownloadRequest:
      return "DownloadRequest";
    case MessageType::kDownloadChunk:
      return "DownloadChunk";
    case MessageType::kStatusUpdate:
      return "StatusUpdate";
    case MessageType::kEntryGet:
      return "EntryGet";
    case MessageType::kEntryPut:
      return "EntryPut";
    case MessageType::kEntryDelete:
      return "EntryDelete";
    case MessageType::kEntryList:
      return "EntryList";
    case MessageType::kEntryListReply:
      return "EntryListReply";
    case MessageType::kEntryValue:
      return "EntryValue";
    case MessageType::kConnectionAdd:
      return "ConnectionAdd";
    case MessageType::kConnectionRemove:
      return "ConnectionRemove";
    case MessageType::kConnectionList:
      return "ConnectionList";
    case MessageType::kConnectionListReply:
      return "ConnectionListReply";
    case MessageType::kPushRegister:
      return "PushRegister";
    case MessageType::kEndpointRegister:
      return "EndpointRegister";
    case MessageType::kEndpointReply:
      return "EndpointReply";
    case MessageType::kEndpointList:
      return "EndpointList";
    case MessageType::kEndpointListReply:
      return "EndpointListReply";
    case MessageType::kEndpointRevoke:
      return "EndpointRevoke";
    case MessageType::kPing:
      return "Ping";
    case MessageType::kPong:
      return "Pong";
    case MessageType::kError:
      return "Error";
    case MessageType::kOk:
      return "Ok";
  }
  return "?";
}

bool IsKnownMessageType(uint16_t type) { return type >= 1 && type <= kMaxMessageType; }

}  // namespace postbox::wire
