// Byte encoding helpers for keys (big-endian, so LMDB's bytewise order is
// numeric order) and records (little-endian fixed-width fields). Pure functions.
#ifndef POSTBOX_STORE_CODEC_H_
#define POSTBOX_STORE_CODEC_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace postbox::store {

inline void AppendBE64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i, v >>= 8) b[i] = static_cast<char>(v & 0xff);
  out.append(b, 8);
}
inline void AppendBE32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 3; i >= 0; --i, v >>= 8) b[i] = static_cast<char>(v & 0xff);
  out.append(b, 4);
}
inline uint64_t ReadBE64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(s[i]);
  return v;
}

// Appends fixed-width little-endian fields and length-prefixed byte strings.
class RecordWriter {
 public:
  explicit RecordWriter(std::string* out) : out_(out) {}
  RecordWriter& U8(uint8_t v) {
    out_->push_back(static_cast<char>(v));
    return *this;
  }
  RecordWriter& U16(uint16_t v) { return Raw(&v, 2); }
  RecordWriter& U32(uint32_t v) { return Raw(&v, 4); }
  RecordWriter& U64(uint64_t v) { return Raw(&v, 8); }
  RecordWriter& Fixed(std::string_view b) {
    out_->append(b);
    return *this;
  }
  RecordWriter& Bytes16(std::string_view b) {
    U16(static_cast<uint16_t>(b.size()));
    return Fixed(b);
  }
  RecordWriter& Bytes32(std::string_view b) {
    U32(static_cast<uint32_t>(b.size()));
    return Fixed(b);
  }

 private:
  RecordWriter& Raw(const void* p, size_t n) {
    out_->append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string* out_;
};

// Reads what RecordWriter wrote. A short record sets ok() to false and yields
// zeros / empty views from then on, so decoders check ok() once at the end.
class RecordReader {
 public:
  explicit RecordReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  uint8_t U8() {
    uint8_t v = 0;
    Raw(&v, 1);
    return v;
  }
  uint16_t U16() {
    uint16_t v = 0;
    Raw(&v, 2);
    return v;
  }
  uint32_t U32() {
    uint32_t v = 0;
    Raw(&v, 4);
    return v;
  }
  uint64_t U64() {
    uint64_t v = 0;
    Raw(&v, 8);
    return v;
  }
  std::string_view Fixed(size_t n) {
    if (!Need(n)) return {};
    std::string_view v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  std::string_view Bytes16() { return Fixed(U16()); }
  std::string_view Bytes32() { return Fixed(U32()); }
  std::string_view Rest() { return Fixed(in_.size() - pos_); }

 private:
  bool Need(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  void Raw(void* p, size_t n) {
    if (Need(n)) {
      std::memcpy(p, in_.data() + pos_, n);
      pos_ += n;
    }
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace postbox::store

#endif  // POSTBOX_STORE_CODEC_H_
