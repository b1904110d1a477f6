#include "fuzz/session/replies.h"

#include <map>
#include <set>

#include "fuzz/session/input.h"
#include "postbox/wire/frame.h"

namespace postbox::fuzz {

std::string CheckReplies(std::string_view sent, const std::vector<Received>& received) {
  struct Balance {
    int64_t owed = 0;  // requests minus replies
    wire::MessageType first = wire::MessageType::kPing;
  };
  std::map<uint64_t, Balance> balance;
  std::set<uint64_t> skip = {0};
  wire::FrameDecoder decoder({.max_payload = kMaxFramePayload});
  decoder.Feed({reinterpret_cast<const uint8_t*>(sent.data()), sent.size()});
  wire::Frame frame;
  while (decoder.Next(&frame) == wire::FrameDecoder::Progress::kFrame) {
    const wire::MessageType t = frame.type();
    if (t == wire::MessageType::kDownloadRequest) {
      skip.insert(frame.request_id());
    } else if (t != wire::MessageType::kAck && t != wire::MessageType::kPong) {
      auto [it, fresh] = balance.try_emplace(frame.request_id());
      if (fresh) it->second.first = t;
      ++it->second.owed;
    }
  }
  for (const Received& r : received) {
    if (!skip.contains(r.request_id)) --balance[r.request_id].owed;
  }
  for (const auto& [rid, b] : balance) {
    if (skip.contains(rid) || b.owed == 0) continue;
    return "request id " + std::to_string(rid) + " (first sent with " +
           wire::MessageTypeName(b.first) + ") got " +
           (b.owed > 0 ? std::to_string(b.owed) + " reply(ies) too few"
                       : std::to_string(-b.owed) + " reply(ies) too many");
  }
  return "";
}

}  // namespace postbox::fuzz
