#include "fuzz/session/stream.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "fuzz/session/input.h"
#include "postbox/wire/frame.h"

namespace postbox::fuzz {
namespace {

size_t CountOf(std::string_view s, std::string_view what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string_view::npos;
       at = s.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

// Each piece after a kFrame marker is a frame header without its length
// field, then the payload: the length written in front of it counts what
// will be sent, so kCut markers inside are not counted.
std::string FillFrameLengths(std::string_view body) {
  constexpr size_t kRestOfHeader = wire::kFrameHeaderSize - sizeof(uint32_t);
  std::string out;
  size_t at = body.find(kFrame);
  out.append(body.substr(0, at));
  while (at != std::string_view::npos) {
    at += kFrame.size();
    const size_t next = body.find(kFrame, at);
    const std::string_view piece =
        body.substr(at, next == std::string_view::npos ? next : next - at);
    const size_t sent = piece.size() - CountOf(piece, kCut) * kCut.size();
    const uint32_t length = static_cast<uint32_t>(sent > kRestOfHeader ? sent - kRestOfHeader : 0);
    char le[sizeof(length)];
    std::memcpy(le, &length, sizeof(le));
    out.append(le, sizeof(le));
    out.append(piece);
    at = next;
  }
  return out;
}

}  // namespace

void AppendBody(std::string_view body, bool framed, size_t write_size, const World& world,
                Stream* out) {
  std::string filled;
  if (framed) {
    filled = FillFrameLengths(body);
    body = filled;
  }
  for (size_t at = 0; at < body.size();) {
    size_t cut = body.find(kCut, at);
    if (cut == std::string_view::npos) cut = body.size();
    std::string segment(body.substr(at, cut - at));
    world.Substitute(&segment);
    for (size_t i = 0; i < segment.size();) {
      const size_t n =
          write_size == 0 ? segment.size() - i : std::min(write_size, segment.size() - i);
      out->Write(std::string_view(segment).substr(i, n));
      i += n;
    }
    at = cut == body.size() ? cut : cut + kCut.size();
  }
}

bool EndsOnFrameBoundary(std::string_view s) {
  uint64_t at = 0;
  while (at + wire::kFrameHeaderSize <= s.size()) {
    at += wire::kFrameHeaderSize +
          wire::ReadFrameHeader(reinterpret_cast<const uint8_t*>(s.data() + at)).length;
  }
  return at == s.size();
}

}  // namespace postbox::fuzz
