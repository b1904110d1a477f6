// A plain in-memory model of resumable uploads and one-shot messages, written
// from docs/engine.md ("Errors and their order", "Messages and slots",
// "Resumable uploads and range reads") for upload_model_test.cc. It knows four
// parties: A and B (connected), C (a mailbox connected to no one) and U (a key
// no mailbox has), and a small pool of message ids shared by uploads and posts
// so that the two collide. Every call returns the code the store must answer
// and, on success, the value; a failing call changes nothing (the docs' rule)
// except a commit whose digest does not match, which discards the upload.
#ifndef POSTBOX_TESTS_PROPERTY_ENGINE_UPLOAD_MODEL_H_
#define POSTBOX_TESTS_PROPERTY_ENGINE_UPLOAD_MODEL_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "postbox/blob.h"
#include "postbox/status.h"
#include "postbox/types.h"

namespace postbox::upload_model {

enum Party { kA = 0, kB = 1, kC = 2, kUnknown = 3 };
constexpr int kParties = 4;
constexpr int kIds = 5;

// The limits the test opens the store with. Chunk and blob limits vary by
// run (tiny ones so a handful of bytes crosses every limit; piece-sized ones
// so chunks cross the store's 256 KiB pieces); these do not.
constexpr size_t kMaxTopic = 4;
constexpr uint64_t kTtlMs = 10'000;
struct Limits {
  size_t max_chunk;
  uint64_t max_blob;
};
// The store's piece size (KEY_LAYOUT.md): the model predicts how many pieces
// an upload or a message holds, which the test checks against the store.
constexpr uint64_t kPieceSize = 256 * 1024;

// A call's predicted outcome: the code, and the value when it is kOk.
template <typename T>
struct Out {
  Code code = Code::kOk;
  T value{};
};
template <typename T>
Out<T> Fail(Code code) {
  return Out<T>{code, T{}};
}

class Model {
 public:
  Model(uint32_t slot_depth, Limits limits, std::array<MailboxKey, kParties> keys,
        std::array<MessageId, kIds> ids, uint64_t now)
      : depth_(std::max<uint32_t>(slot_depth, 1)),
        limits_(limits),
        keys_(keys),
        ids_(ids),
        now_(now) {}

  uint64_t now() const { return now_; }
  void Advance(uint64_t ms) { now_ += ms; }

  // The committed offset of the upload at `id`, if there is one: where a
  // client resumes (the test aims most chunks there so uploads progress).
  std::optional<uint64_t> Offset(int id) const {
    auto it = uploads_.find(id);
    if (it == uploads_.end()) return std::nullopt;
    return it->second.stored.size();
  }
  // The ids being uploaded, and an upload's sender: most upload calls aim at
  // a real upload as its sender, or nearly all of them would be 404.
  std::vector<int> UploadIds() const {
    std::vector<int> out;
    for (const auto& [id, u] : uploads_) out.push_back(id);
    return out;
  }
  int Sender(int id) const { return uploads_.at(id).from; }
  // The blob the upload at `id` was begun for (-1 if none): chunks send it.
  int IntendedBlob(int id) const {
    auto it = uploads_.find(id);
    return it == uploads_.end() ? -1 : it->second.blob;
  }

  // `blob` is remembered only so the test can send that blob's bytes.
  Out<UploadState> BeginUpload(int from, int to, int id, const std::string& topic, uint64_t length,
                               const Digest128& digest, int blob) {
    Out<bool> check = CheckNew(from, to, id, topic, length, digest);
    if (check.code != Code::kOk) return Fail<UploadState>(check.code);
    if (check.value) return {Code::kOk, UploadState{ids_[id], length, length, true}};
    auto it = uploads_.find(id);
    if (it != uploads_.end()) {
      const Upload& u = it->second;
      const bool same = u.from == from && u.to == to && u.topic == topic && u.length == length &&
                        u.digest == digest;
      if (!same) return Fail<UploadState>(Code::kConflict);
      return {Code::kOk, State(id, u)};
    }
    Upload u{from, to, topic, length, digest, "", now_, blob};
    uploads_[id] = u;
    return {Code::kOk, State(id, u)};
  }

  Out<UploadState> WriteChunk(int actor, int id, uint64_t offset, const std::string& bytes) {
    // A chunk's size is its form: checked before anything is looked up.
    if (bytes.size() > limits_.max_chunk) return Fail<UploadState>(Code::kTooLarge);
    auto it = uploads_.find(id);
    if (it == uploads_.end()) return Fail<UploadState>(NoUpload(actor, id));
    Upload& u = it->second;
    if (u.from != actor) return Fail<UploadState>(NotSender(actor));
    if (offset > u.length || bytes.size() > u.length - offset) {
      return Fail<UploadState>(Code::kTooLarge);
    }
    if (offset > u.stored.size()) return Fail<UploadState>(Code::kConflict);
    const uint64_t overlap = std::min<uint64_t>(u.stored.size() - offset, bytes.size());
    if (u.stored.compare(offset, overlap, bytes, 0, overlap) != 0) {
      return Fail<UploadState>(Code::kConflict);
    }
    if (offset + bytes.size() > u.stored.size()) u.stored.append(bytes.substr(overlap));
    return {Code::kOk, State(id, u)};
  }

  Out<UploadState> UploadOffset(int actor, int id) const {
    auto it = uploads_.find(id);
    if (it == uploads_.end()) {
      const Code why = NoUpload(actor, id);
      // The sender of a committed id learns that nothing is left to send.
      if (why != Code::kConflict) return Fail<UploadState>(why);
      const uint64_t n = live_.at(id).bytes.size();
      return {Code::kOk, UploadState{ids_[id], n, n, true}};
    }
    if (it->second.from != actor) return Fail<UploadState>(NotSender(actor));
    return {Code::kOk, State(id, it->second)};
  }

  Out<MessageInfo> CommitUpload(int actor, int id) {
    auto it = uploads_.find(id);
    if (it == uploads_.end()) {
      const Code why = NoUpload(actor, id);
      // A retry whose acknowledgement was lost gets the message.
      if (why != Code::kConflict) return Fail<MessageInfo>(why);
      return {Code::kOk, Info(id, live_.at(id))};
    }
    const Upload u = it->second;
    if (u.from != actor) return Fail<MessageInfo>(NotSender(actor));
    if (u.stored.size() < u.length) return Fail<MessageInfo>(Code::kConflict);
    uploads_.erase(it);
    if (ComputeDigest128(u.stored) != u.digest) return Fail<MessageInfo>(Code::kDigestMismatch);
    // A and B stay connected, so the re-check of parties and policy passes.
    return {Code::kOk, Commit(id, Message{u.from, u.to, u.topic, u.stored, u.digest, now_})};
  }

  Code AbortUpload(int actor, int id) {
    auto it = uploads_.find(id);
    if (it == uploads_.end()) return NoUpload(actor, id);
    if (it->second.from != actor) return NotSender(actor);
    uploads_.erase(it);
    return Code::kOk;
  }

  Out<MessageInfo> PostMessage(int from, int to, int id, const std::string& topic,
                               const std::string& bytes, const Digest128& digest) {
    Out<bool> check = CheckNew(from, to, id, topic, bytes.size(), digest);
    if (check.code != Code::kOk) return Fail<MessageInfo>(check.code);
    if (check.value) return {Code::kOk, Info(id, live_.at(id))};
    if (uploads_.count(id) != 0) return Fail<MessageInfo>(Code::kConflict);  // in use by an upload
    return {Code::kOk, Commit(id, Message{from, to, topic, bytes, digest, now_})};
  }

  Out<MessageInfo> GetMessage(int actor, int id) const {
    const Code c = RequireMessage(actor, id);
    if (c != Code::kOk) return Fail<MessageInfo>(c);
    return {Code::kOk, Info(id, live_.at(id))};
  }

  Out<std::string> ReadBlob(int actor, int id, uint64_t offset, uint64_t length) const {
    const Code c = RequireMessage(actor, id);
    if (c != Code::kOk) return Fail<std::string>(c);
    const std::string& b = live_.at(id).bytes;
    if (offset > b.size()) return Fail<std::string>(Code::kInvalidArgument);
    return {Code::kOk, b.substr(offset, length)};
  }

  // What the store must hold of id `i` (KEY_LAYOUT.md): an upload's bytes so
  // far and its declared length, or a live message's bytes (length = size).
  struct Held {
    std::string bytes;
    uint64_t length = 0;
    bool upload = false;
  };
  std::optional<Held> HeldAt(int id) const {
    if (auto it = uploads_.find(id); it != uploads_.end()) {
      return Held{it->second.stored, it->second.length, true};
    }
    if (auto it = live_.find(id); it != live_.end()) {
      return Held{it->second.bytes, it->second.bytes.size(), false};
    }
    return std::nullopt;
  }
  // The `blobs` pieces the store must hold in all: every live message's, and
  // every upload's whole pieces (its last one once it reached its length).
  uint64_t Pieces() const {
    uint64_t n = 0;
    for (int id = 0; id < kIds; ++id) {
      const auto held = HeldAt(id);
      if (!held) continue;
      const uint64_t size = held->bytes.size();
      const uint64_t in_pieces = size == held->length ? size : size - size % kPieceSize;
      n += (in_pieces + kPieceSize - 1) / kPieceSize;
    }
    return n;
  }

  // Uploads begun more than the TTL before `now_ms` go, with their bytes.
  SweepResult Sweep(uint64_t now_ms) {
    SweepResult r;
    if (now_ms < kTtlMs) return r;
    for (auto it = uploads_.begin(); it != uploads_.end();) {
      if (it->second.created_ms < now_ms - kTtlMs) {
        ++r.uploads;
        r.bytes += it->second.stored.size();
        it = uploads_.erase(it);
      } else {
        ++it;
      }
    }
    return r;
  }

 private:
  struct Upload {
    int from, to;
    std::string topic;
    uint64_t length;
    Digest128 digest;
    std::string stored;  // the contiguous bytes from 0: size() is the committed offset
    uint64_t created_ms;
    int blob;
  };
  struct Message {
    int from, to;
    std::string topic;
    std::string bytes;
    Digest128 digest;
    uint64_t created_ms;
  };

  static bool Exists(int p) { return p != kUnknown; }
  static bool Connected(int a, int b) { return (a == kA && b == kB) || (a == kB && b == kA); }

  UploadState State(int id, const Upload& u) const {
    return UploadState{ids_[id], u.length, u.stored.size(), false};
  }
  MessageInfo Info(int id, const Message& m) const {
    MessageInfo i;
    i.id = ids_[id];
    i.from = keys_[m.from];
    i.to = keys_[m.to];
    i.topic = m.topic;
    i.length = m.bytes.size();
    i.digest = m.digest;
    i.status = MessageStatus::kUploaded;
    i.created_ms = m.created_ms;
    return i;
  }

  // The posting checks in the docs' order; value = "live with the same
  // content" (an idempotent retry).
  Out<bool> CheckNew(int from, int to, int id, const std::string& topic, uint64_t length,
                     const Digest128& digest) const {
    if (topic.size() > kMaxTopic || length > limits_.max_blob) return Fail<bool>(Code::kTooLarge);
    if (from == to) return Fail<bool>(Code::kInvalidArgument);
    if (!Exists(from)) return Fail<bool>(Code::kNotFound);
    // An unknown recipient is not connected either (no probing).
    if (!Connected(from, to)) return Fail<bool>(Code::kPermissionDenied);
    auto live = live_.find(id);
    if (live != live_.end()) {
      const Message& m = live->second;
      const bool same = m.from == from && m.to == to && m.topic == topic &&
                        m.bytes.size() == length && m.digest == digest;
      if (same) return {Code::kOk, true};
      return Fail<bool>(Code::kConflict);
    }
    if (gone_.count(id) != 0) return Fail<bool>(Code::kGone);
    return {Code::kOk, false};
  }

  // Why `id` has no upload, as the upload calls answer: an unknown actor 404,
  // a committed id 409 to its sender (which UploadOffset / CommitUpload turn
  // into "committed") and 403 to anyone else, a superseded id 410 to its
  // parties and 403 to anyone else (as GetMessage), else 404.
  Code NoUpload(int actor, int id) const {
    if (!Exists(actor)) return Code::kNotFound;
    auto live = live_.find(id);
    if (live != live_.end()) {
      return live->second.from == actor ? Code::kConflict : Code::kPermissionDenied;
    }
    if (auto it = gone_.find(id); it != gone_.end()) {
      const bool party = it->second.first == actor || it->second.second == actor;
      return party ? Code::kGone : Code::kPermissionDenied;
    }
    return Code::kNotFound;
  }
  static Code NotSender(int actor) {
    return Exists(actor) ? Code::kPermissionDenied : Code::kNotFound;
  }

  Code RequireMessage(int actor, int id) const {
    if (!Exists(actor)) return Code::kNotFound;
    if (auto it = live_.find(id); it != live_.end()) {
      const bool party = actor == it->second.from || actor == it->second.to;
      return party ? Code::kOk : Code::kPermissionDenied;
    }
    if (auto it = gone_.find(id); it != gone_.end()) {
      const bool party = actor == it->second.first || actor == it->second.second;
      return party ? Code::kGone : Code::kPermissionDenied;
    }
    return Code::kNotFound;
  }

  // Slot order is commit order; a full slot supersedes its oldest message.
  MessageInfo Commit(int id, Message m) {
    std::deque<int>& slot = slots_[std::make_tuple(m.from, m.to, m.topic)];
    while (slot.size() >= depth_) {
      const int old = slot.front();
      slot.pop_front();
      gone_[old] = {live_.at(old).from, live_.at(old).to};
      live_.erase(old);
    }
    slot.push_back(id);
    live_[id] = std::move(m);
    return Info(id, live_.at(id));
  }

  uint32_t depth_;
  Limits limits_;
  std::array<MailboxKey, kParties> keys_;
  std::array<MessageId, kIds> ids_;
  uint64_t now_;
  std::map<int, Upload> uploads_;
  std::map<int, Message> live_;
  std::map<int, std::pair<int, int>> gone_;  // id → (from, to)
  std::map<std::tuple<int, int, std::string>, std::deque<int>> slots_;
};

}  // namespace postbox::upload_model

#endif  // POSTBOX_TESTS_PROPERTY_ENGINE_UPLOAD_MODEL_H_
