// Show: short human-readable renderings of engine values, so a divergence
// between the engine and the model names exactly what differed. Test-only.
#ifndef POSTBOX_TESTS_PROPERTY_ENGINE_SHOW_H_
#define POSTBOX_TESTS_PROPERTY_ENGINE_SHOW_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/types.h"

namespace postbox::model {

// Printable bytes: ASCII as is, everything else as \xNN.
inline std::string Quote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + "\"";
}

// A secret as it is up to 16 bytes, longer ones by their length and first bytes
// (EnsureMailbox's pool straddles the 256-byte limit).
inline std::string ShowSecret(std::string_view s) {
  if (s.size() <= 16) return Quote(s);
  return Quote(s.substr(0, 4)) + "..(" + std::to_string(s.size()) + " bytes)";
}

// Keys and ids are random; their first 8 hex digits are enough to tell them apart.
template <typename Tag>
std::string Show(const Id16<Tag>& id) {
  return id.ToHex().substr(0, 8);
}
inline std::string Show(bool b) { return b ? "true" : "false"; }
inline std::string Show(uint64_t n) { return std::to_string(n); }
inline std::string Show(const std::string& s) { return Quote(s); }
inline std::string Show(MessageStatus s) { return std::to_string(static_cast<int>(s)); }
inline std::string Show(ConnectionState s) { return std::to_string(static_cast<int>(s)); }
inline std::string Show(const Status& s) {
  return s.ok() ? "OK"
                : std::to_string(static_cast<int>(s.code())) + " " + std::string(s.message());
}
inline std::string Show(const MailboxInfo& m) {
  return "{mkey=" + Show(m.mkey) + " created=" + Show(m.created_ms) + " seq=" + Show(m.seq) +
         " purged=" + Show(m.purged_seq) +
         " platform=" + std::to_string(static_cast<int>(m.platform)) +
         " token=" + Quote(m.push_token) + "}";
}
inline std::string Show(const MailboxCredentials& c) {
  return "{mkey=" + Show(c.mkey) + " secret=" + ShowSecret(c.secret) + "}";
}
inline std::string Show(const PushRegistration& p) {
  return "{platform=" + std::to_string(static_cast<int>(p.platform)) + " token=" + Quote(p.token) +
         "}";
}
inline std::string Show(const EntryPutResult& r) {
  return "{applied=" + Show(r.applied) + " version=" + Show(r.version) + "}";
}
inline std::string Show(const EntryInfo& e) {
  return "{key=" + Quote(e.key) + " value=" + Quote(e.value) + " v=" + Show(e.version) +
         " seq=" + Show(e.seq) + "}";
}
inline std::string Show(const MessageInfo& m) {
  std::string digest(reinterpret_cast<const char*>(m.digest.data()), 4);
  return "{id=" + Show(m.id) + " from=" + Show(m.from) + " to=" + Show(m.to) +
         " topic=" + Quote(m.topic) + " meta=" + Quote(m.meta) + " len=" + Show(m.length) +
         " digest=" + Quote(digest) + ".. status=" + Show(m.status) +
         " created=" + Show(m.created_ms) + " seq=" + Show(m.seq) + "}";
}
inline std::string Show(const Tombstone& t) {
  std::string key = t.kind == TombstoneKind::kMessage && t.key.size() == 16
                        ? MessageId::FromBytes(t.key).value().ToHex().substr(0, 8)
                        : Quote(t.key);
  return std::string(t.kind == TombstoneKind::kMessage ? "{msg " : "{entry ") + key +
         " v=" + Show(t.version) + " seq=" + Show(t.seq) + "}";
}
template <typename T>
std::string Show(const std::vector<T>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + Show(v[i]);
  return out + "]";
}
inline std::string Show(const InfoPacket& p) {
  return "{cursor=" + Show(p.cursor) + " since=" + Show(p.since) + " reset=" + Show(p.reset) +
         " more=" + Show(p.more) + "\n   incoming=" + Show(p.incoming) +
         "\n   outgoing=" + Show(p.outgoing) + "\n   entries=" + Show(p.entries) +
         "\n   tombstones=" + Show(p.tombstones) + "}";
}

template <typename T>
std::string Show(const Result<T>& r) {
  return r.ok() ? Show(*r) : Show(r.error());
}

// "" when both agree (same code, and the same value when OK); otherwise what
// the engine said and what the model expected, prefixed with `what`.
template <typename T>
std::string Diff(const std::string& what, const Result<T>& engine, const Result<T>& model) {
  const Code engine_code = engine.ok() ? Code::kOk : engine.error().code();
  const Code model_code = model.ok() ? Code::kOk : model.error().code();
  if (engine_code == model_code && (!engine.ok() || *engine == *model)) return "";
  return what + ":\n  engine: " + Show(engine) + "\n  model:  " + Show(model);
}

inline std::string Diff(const std::string& what, const Status& engine, const Status& model) {
  if (engine.code() == model.code()) return "";
  return what + ":\n  engine: " + Show(engine) + "\n  model:  " + Show(model);
}

}  // namespace postbox::model

#endif  // POSTBOX_TESTS_PROPERTY_ENGINE_SHOW_H_
