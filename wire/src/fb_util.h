// Internal: glue between the public message values and the generated
// FlatBuffers code, which only the library's own .cc files ever include.
#ifndef POSTBOX_WIRE_SRC_FB_UTIL_H_
#define POSTBOX_WIRE_SRC_FB_UTIL_H_

#include <cstring>
#include <string_view>

#include "flatbuffers/flatbuffers.h"
#include "postbox/wire/frame.h"
#include "postbox/wire/messages.h"
#include "postbox_generated.h"

namespace postbox::wire::internal {

using Builder = flatbuffers::FlatBufferBuilder;
using RawVector = flatbuffers::Offset<flatbuffers::Vector<uint8_t>>;

inline fb::Bytes16 ToFb(const Bytes16& b) {
  return fb::Bytes16(flatbuffers::span<const uint8_t, 16>(b.data(), 16));
}

inline Bytes16 FromFb(const fb::Bytes16* b) {
  Bytes16 out{};
  if (b != nullptr) std::memcpy(out.data(), b->v()->Data(), out.size());
  return out;
}

// Empty byte strings are left out of the table: an absent vector reads back
// as empty, and the frame is 8 bytes shorter per field.
inline RawVector BytesField(Builder& b, std::string_view s) {
  if (s.empty()) return 0;
  return b.CreateVector(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

inline flatbuffers::Offset<flatbuffers::String> StringField(Builder& b, std::string_view s) {
  if (s.empty()) return 0;
  return b.CreateString(s.data(), s.size());
}

inline std::string_view View(const flatbuffers::Vector<uint8_t>* v) {
  if (v == nullptr) return {};
  return {reinterpret_cast<const char*>(v->data()), v->size()};
}

inline std::string_view View(const flatbuffers::String* s) {
  if (s == nullptr) return {};
  return {s->c_str(), s->size()};
}

// Runs the FlatBuffers Verifier for the root table of `type`. The payload must
// be 8-byte aligned (FlatBuffers reads scalars in place). False on any failure.
bool VerifyPayload(MessageType type, const uint8_t* data, size_t size,
                   const DecoderOptions& options);

}  // namespace postbox::wire::internal

#endif  // POSTBOX_WIRE_SRC_FB_UTIL_H_
