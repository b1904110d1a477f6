#include "fuzz/session/replies.h"

#include <map>
#include <set>

#include "fuzz/session/input.h"
#include "postbox/wire/codec.h"
#include "postbox/wire/frame.h"

namespace postbox::fuzz {

std::string CheckReplies(std::string_view sent, const std::vector<Received>& received) {
  struct Balance {
    int64_t owed = 0;   // requests minus replies
    std::string types;  // of the requests, for the message
  };
  std::map<uint64_t, Balance> balance;
  std::set<uint64_t> skip = {0};
  wire::FrameDecoder decoder({.max_payload = kMaxFramePayload});
  decoder.Feed({reinterpret_cast<const uint8_t*>(sent.data()), sent.size()});
  wire::Frame frame;
  wire::AnyMessage message;
  while (decoder.Next(&frame) == wire::FrameDecoder::Progress::kFrame) {
    const wire::MessageType t = frame.type();
    // The server answers a frame it cannot read with an Error and closes.
    const bool readable = wire::DecodeAny(frame, &message).ok();
    if (t == wire::MessageType::kDownloadRequest) {
      skip.insert(frame.request_id());
    } else if (t != wire::MessageType::kAck && t != wire::MessageType::kPong) {
      Balance& b = balance[frame.request_id()];
      b.types += std::string(b.types.empty() ? "" : ", ") + wire::MessageTypeName(t);
      ++b.owed;
    }
    if (!readable) break;
  }
  if (decoder.failed()) {
    // The frame the server could not read is answered with an Error that
    // carries its request id (wire/PROTOCOL.md §1 "Receiving").
    Balance& b = balance[decoder.error_request_id()];
    b.types += std::string(b.types.empty() ? "" : ", ") + "a malformed frame";
    ++b.owed;
  }
  for (const Received& r : received) {
    if (!skip.contains(r.request_id)) --balance[r.request_id].owed;
  }
  for (const auto& [rid, b] : balance) {
    if (skip.contains(rid) || b.owed == 0) continue;
    return "request id " + std::to_string(rid) + " (" + (b.types.empty() ? "never sent" : b.types) +
           ") got " +
           (b.owed > 0 ? std::to_string(b.owed) + " reply(ies) too few"
                       : std::to_string(-b.owed) + " reply(ies) too many");
  }
  return "";
}

std::optional<uint64_t> UnreadableFrameId(std::string_view sent) {
  wire::FrameDecoder decoder({.max_payload = kMaxFramePayload});
  decoder.Feed({reinterpret_cast<const uint8_t*>(sent.data()), sent.size()});
  wire::Frame frame;
  wire::AnyMessage message;
  for (;;) {
    const auto p = decoder.Next(&frame);
    if (p == wire::FrameDecoder::Progress::kFailed) return decoder.error_request_id();
    if (p == wire::FrameDecoder::Progress::kNeedMore) return std::nullopt;
    if (!wire::DecodeAny(frame, &message).ok()) return frame.request_id();
  }
}

}  // namespace postbox::fuzz
