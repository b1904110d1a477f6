// The stateful model-based test of resumable uploads (issue 3): random
// sequences of BeginUpload / WriteChunk / UploadOffset / CommitUpload /
// AbortUpload interleaved with one-shot posts of the same ids, reads, Sweep,
// clock steps and restarts, run against a real store and against the plain
// model of upload_model.h. Every answer (code and value) must match, and after
// each step so must every pool id's UploadOffset and GetMessage as A and B see
// them, so a change that a call made silently (or failed to make) shows up at
// once, not only when a later call happens to touch it.
#include "tests/property/engine/upload_model.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>
#include <stdlib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "postbox/blob.h"
#include "postbox/db.h"
#include "postbox/options.h"
#include "postbox/types.h"
#include "tests/property/engine/prop_util.h"

namespace postbox::upload_model {
namespace {

// Blobs around the limits: empty, one byte, a single chunk's worth, several
// chunks, exactly max_blob_size, and one byte over it.
const std::vector<std::string>& Blobs() {
  static const std::vector<std::string> blobs = {"",
                                                 "x",
                                                 "01234567",
                                                 "a blob of 20 bytes..",
                                                 std::string(kMaxBlob, 'q'),
                                                 std::string(kMaxBlob + 1, 'z')};
  return blobs;
}
// Topics: the default slot, another slot, and one over max_topic_size.
const std::vector<std::string>& Topics() {
  static const std::vector<std::string> topics = {"", "t", std::string(kMaxTopic + 1, 'T')};
  return topics;
}

const char* PartyName(int p) { return p == kA ? "A" : p == kB ? "B" : p == kC ? "C" : "U"; }

std::string Show(const UploadState& s) {
  std::ostringstream os;
  os << "{length " << s.length << ", offset " << s.offset << ", committed " << s.committed << "}";
  return os.str();
}
std::string Show(const MessageInfo& m) {
  std::ostringstream os;
  os << "{from " << m.from.ToHex().substr(0, 6) << ", to " << m.to.ToHex().substr(0, 6)
     << ", topic '" << m.topic << "', length " << m.length << ", status "
     << static_cast<int>(m.status) << ", created " << m.created_ms << ", seq " << m.seq << "}";
  return os.str();
}
std::string Show(const std::string& s) { return "'" + s + "'"; }
std::string Show(const SweepResult& r) {
  return "{uploads " + std::to_string(r.uploads) + ", bytes " + std::to_string(r.bytes) + "}";
}

// Fails the property unless the store's answer is the model's, naming both.
template <typename T>
void Expect(const std::string& call, const Result<T>& got, const Out<T>& want) {
  const Code got_code = got.ok() ? Code::kOk : got.error().code();
  if (got_code != want.code) {
    RC_FAIL(call + ": store " + (got.ok() ? std::string("OK") : got.error().ToString()) +
            ", model " + std::string(CodeName(want.code)));
  }
  if (got.ok() && !(*got == want.value)) {
    RC_FAIL(call + ": store " + Show(*got) + ", model " + Show(want.value));
  }
}
void Expect(const std::string& call, const Status& got, Code want) {
  if (got.code() != want) {
    RC_FAIL(call + ": store " + got.ToString() + ", model " + std::string(CodeName(want)));
  }
}

// The system under test: the store (reopenable) and the model beside it. The
// model lives here, not in RapidCheck's generation state, because chunks
// resolve their bytes and offset against the upload as it stands when they run.
class Sut {
 public:
  explicit Sut(uint32_t slot_depth) : clock_(std::make_shared<std::atomic<uint64_t>>(kStartMs)) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "postbox-upm-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
    dir_ = tmpl;
    options_.durability = Durability::kRelaxed;
    options_.slot_depth = slot_depth;
    options_.max_chunk_size = kMaxChunk;
    options_.max_blob_size = kMaxBlob;
    options_.max_topic_size = kMaxTopic;
    options_.upload_ttl = std::chrono::milliseconds(kTtlMs);
    options_.clock = [clock = clock_] { return clock->load(); };
    Open();
    std::array<MailboxKey, kParties> keys;
    for (int p : {kA, kB, kC}) {
      auto m = db_->CreateMailbox();
      if (!m.ok()) throw std::runtime_error("CreateMailbox: " + m.error().ToString());
      keys[p] = m->mkey;
    }
    keys[kUnknown].bytes.fill(0xee);
    if (!db_->Connect(keys[kA], keys[kB]).ok()) throw std::runtime_error("Connect failed");
    std::array<MessageId, kIds> ids;
    for (MessageId& id : ids) id = MessageId::Random();
    model_.emplace(slot_depth, keys, ids, kStartMs);
    keys_ = keys;
    ids_ = ids;
  }
  ~Sut() {
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Sut(const Sut&) = delete;
  Sut& operator=(const Sut&) = delete;

  void Reopen() {
    db_.reset();
    Open();
  }
  void Advance(uint64_t ms) {
    clock_->fetch_add(ms);
    model_->Advance(ms);
  }

  DB& db() { return *db_; }
  Model& model() { return *model_; }
  const MailboxKey& key(int p) const { return keys_[p]; }
  const MessageId& id(int i) const { return ids_[i]; }

  // What the parties see of every id: uploads (A and B) and messages (A, B).
  void CheckAll() {
    for (int i = 0; i < kIds; ++i) {
      for (int p : {kA, kB}) {
        const std::string who = std::string(PartyName(p)) + " id" + std::to_string(i);
        Expect("after the step, UploadOffset by " + who, db_->UploadOffset(keys_[p], ids_[i]),
               model_->UploadOffset(p, i));
        Expect("after the step, GetMessage by " + who, db_->GetMessage(keys_[p], ids_[i]),
               model_->GetMessage(p, i));
      }
    }
  }

 private:
  static constexpr uint64_t kStartMs = 1'700'000'000'000;

  void Open() {
    auto r = DB::Open((dir_ / "db").string(), options_);
    if (!r.ok()) throw std::runtime_error("DB::Open: " + r.error().ToString());
    db_ = std::move(r).value();
  }

  std::shared_ptr<std::atomic<uint64_t>> clock_;
  std::filesystem::path dir_;
  Options options_;
  std::unique_ptr<DB> db_;
  std::optional<Model> model_;
  std::array<MailboxKey, kParties> keys_;
  std::array<MessageId, kIds> ids_;
};

struct GenState {};
using Cmd = rc::state::Command<GenState, Sut>;

// RapidCheck scales inRange (and the choices built on it) with the size, so
// short sequences would use only the first ids and blobs; the choices here
// are few and flat, so draw them at full size always.
template <typename T>
rc::Gen<T> Full(rc::Gen<T> g) {
  return rc::gen::resize(rc::kNominalSize, std::move(g));
}

// Mostly the connected pair, so that calls get past the mailbox checks.
rc::Gen<int> Actor() {
  return Full(rc::gen::weightedElement<int>({{6, kA}, {3, kB}, {1, kC}, {1, kUnknown}}));
}
rc::Gen<int> Recipient() {
  return Full(rc::gen::weightedElement<int>({{6, kB}, {2, kA}, {1, kC}, {1, kUnknown}}));
}
rc::Gen<int> IdIndex() { return Full(rc::gen::inRange(0, kIds)); }
rc::Gen<int> BlobIndex() {
  return Full(rc::gen::weightedElement<int>({{1, 0}, {2, 1}, {3, 2}, {3, 3}, {2, 4}, {1, 5}}));
}
rc::Gen<int> TopicIndex() { return Full(rc::gen::weightedElement<int>({{6, 0}, {3, 1}, {1, 2}})); }

// A declaration: the blob and, one time in five, a digest of other bytes.
struct Declared {
  int blob = *BlobIndex();
  bool wrong_digest = *Full(rc::gen::inRange(0, 5)) == 0;
  Digest128 digest() const {
    const std::string& b = Blobs()[blob];
    return ComputeDigest128(wrong_digest ? b + "!" : b);
  }
  std::string show() const {
    return "blob" + std::to_string(blob) + (wrong_digest ? " (wrong digest)" : "");
  }
};

std::string Who(int actor, int id) {
  return std::string(PartyName(actor)) + " id" + std::to_string(id);
}

// Who an upload call comes from and which id it names: three times in four
// the sender of an upload in progress (chosen when the call runs, since the
// uploads are known only then), otherwise any party and any pool id.
struct Target {
  int actor = *Actor(), id = *IdIndex();
  bool aimed = *Full(rc::gen::inRange(0, 4)) > 0;
  size_t pick = *Full(rc::gen::inRange<size_t>(0, 64));
  std::pair<int, int> Resolve(const Model& m) const {
    const std::vector<int> ids = m.UploadIds();
    if (!aimed || ids.empty()) return {actor, id};
    const int aimed_id = ids[pick % ids.size()];
    return {m.Sender(aimed_id), aimed_id};
  }
  std::string show() const {
    return aimed ? "an upload's sender (pick " + std::to_string(pick) + ")" : Who(actor, id);
  }
};

// Mostly the other one of A and B, so that most posts pass the party checks.
int RecipientFor(int from) {
  const int to = *Recipient();
  if (to == kB && from == kB) return kA;
  return to;
}

struct BeginUpload : Cmd {
  int from = *Actor(), to = RecipientFor(from), id = *IdIndex(), topic = *TopicIndex();
  Declared decl;
  void run(const GenState&, Sut& s) const override {
    const std::string& b = Blobs()[decl.blob];
    UploadRequest r{s.key(from), s.key(to), s.id(id), Topics()[topic], "", b.size(), decl.digest()};
    Expect(
        "BeginUpload", s.db().BeginUpload(r),
        s.model().BeginUpload(from, to, id, Topics()[topic], b.size(), decl.digest(), decl.blob));
    s.CheckAll();
  }
  void show(std::ostream& os) const override {
    os << "BeginUpload " << PartyName(from) << "->" << PartyName(to) << " id" << id << " topic"
       << topic << " " << decl.show();
  }
};

// A chunk of the blob the upload was begun for (any blob if there is no
// upload), mostly at the committed offset so uploads progress, sometimes
// anywhere in [0, length + 2], sometimes with one byte flipped. Past the
// blob's end the chunk is padded, so "past the declared length" is reached.
struct WriteChunk : Cmd {
  Target target;
  bool resume = *Full(rc::gen::inRange(0, 4)) > 0;
  uint64_t offset_pick = *Full(rc::gen::inRange<uint64_t>(0, 1000));
  size_t size = *Full(
      rc::gen::weightedElement<size_t>({{1, 0},
                                        {4, 1 + *Full(rc::gen::inRange<size_t>(0, kMaxChunk))},
                                        {4, kMaxChunk},
                                        {1, kMaxChunk + 1}}));
  bool flip = *Full(rc::gen::inRange(0, 10)) == 0;
  int fallback_blob = *BlobIndex();
  void run(const GenState&, Sut& s) const override {
    const auto [actor, id] = target.Resolve(s.model());
    const int intended = s.model().IntendedBlob(id);
    const std::string& blob = Blobs()[intended >= 0 ? intended : fallback_blob];
    const auto committed = s.model().Offset(id);
    const uint64_t offset = resume && committed ? *committed : offset_pick % (blob.size() + 3);
    std::string bytes = offset < blob.size() ? blob.substr(offset, size) : "";
    bytes.resize(size, '#');
    if (flip && !bytes.empty()) bytes[offset_pick % bytes.size()] ^= 0x20;
    const std::string call =
        "WriteChunk " + Who(actor, id) + " at " + std::to_string(offset) + " '" + bytes + "'";
    Expect(call, s.db().WriteChunk(s.key(actor), s.id(id), offset, bytes),
           s.model().WriteChunk(actor, id, offset, bytes));
    s.CheckAll();
  }
  void show(std::ostream& os) const override {
    os << "WriteChunk " << target.show() << (resume ? " resume" : " anywhere") << " pick "
       << offset_pick << " size " << size << (flip ? " flipped" : "");
  }
};

struct UploadOffset : Cmd {
  Target target;
  void run(const GenState&, Sut& s) const override {
    const auto [actor, id] = target.Resolve(s.model());
    Expect("UploadOffset " + Who(actor, id), s.db().UploadOffset(s.key(actor), s.id(id)),
           s.model().UploadOffset(actor, id));
  }
  void show(std::ostream& os) const override { os << "UploadOffset " << target.show(); }
};

struct CommitUpload : Cmd {
  Target target;
  void run(const GenState&, Sut& s) const override {
    const auto [actor, id] = target.Resolve(s.model());
    Expect("CommitUpload " + Who(actor, id), s.db().CommitUpload(s.key(actor), s.id(id)),
           s.model().CommitUpload(actor, id));
    s.CheckAll();
  }
  void show(std::ostream& os) const override { os << "CommitUpload " << target.show(); }
};

struct AbortUpload : Cmd {
  Target target;
  void run(const GenState&, Sut& s) const override {
    const auto [actor, id] = target.Resolve(s.model());
    Expect("AbortUpload " + Who(actor, id), s.db().AbortUpload(s.key(actor), s.id(id)),
           s.model().AbortUpload(actor, id));
    s.CheckAll();
  }
  void show(std::ostream& os) const override { os << "AbortUpload " << target.show(); }
};

// A one-shot post of a pool blob (the store computes its digest) to an id of
// the same pool the uploads use: it meets uploads (409), committed ids (a
// retry or 409) and superseded ids (410).
struct PostMessage : Cmd {
  int from = *Actor(), to = RecipientFor(from), id = *IdIndex(), topic = *TopicIndex();
  int blob = *BlobIndex();
  void run(const GenState&, Sut& s) const override {
    const std::string& b = Blobs()[blob];
    PostRequest r{s.key(from), s.key(to), s.id(id), Topics()[topic], "", b};
    Expect("PostMessage", s.db().PostMessage(r),
           s.model().PostMessage(from, to, id, Topics()[topic], b, ComputeDigest128(b)));
    s.CheckAll();
  }
  void show(std::ostream& os) const override {
    os << "PostMessage " << PartyName(from) << "->" << PartyName(to) << " id" << id << " topic"
       << topic << " blob" << blob;
  }
};

struct GetMessage : Cmd {
  int actor = *Actor(), id = *IdIndex();
  void run(const GenState&, Sut& s) const override {
    Expect("GetMessage " + Who(actor, id), s.db().GetMessage(s.key(actor), s.id(id)),
           s.model().GetMessage(actor, id));
  }
  void show(std::ostream& os) const override { os << "GetMessage " << Who(actor, id); }
};

// A range that may start inside, at the end of, or past the blob, and may
// run past its end (clipped).
struct ReadBlob : Cmd {
  int actor = *Actor(), id = *IdIndex();
  uint64_t offset = *Full(rc::gen::inRange<uint64_t>(0, kMaxBlob + 2));
  uint64_t length = *Full(rc::gen::weightedElement<uint64_t>(
      {{3, UINT64_MAX}, {3, *Full(rc::gen::inRange<uint64_t>(0, kMaxBlob + 2))}}));
  void run(const GenState&, Sut& s) const override {
    Expect("ReadBlob " + Who(actor, id) + " [" + std::to_string(offset) + ", +" +
               std::to_string(length) + ")",
           s.db().ReadBlob(s.key(actor), s.id(id), offset, length),
           s.model().ReadBlob(actor, id, offset, length));
  }
  void show(std::ostream& os) const override {
    os << "ReadBlob " << Who(actor, id) << " offset " << offset << " length " << length;
  }
};

// Sweep as of a moment around the TTL boundary of uploads begun now: just
// below it, exactly at it (not "more than" the TTL), and past it; in batches
// of 1 or 2 so that Sweep's loop over transactions runs.
struct Sweep : Cmd {
  uint64_t ahead = *Full(rc::gen::weightedElement<uint64_t>(
      {{3, 0}, {2, kTtlMs - 1}, {1, kTtlMs}, {1, kTtlMs + 1}, {1, 3 * kTtlMs}}));
  size_t batch = *Full(rc::gen::inRange<size_t>(1, 3));
  void run(const GenState&, Sut& s) const override {
    const uint64_t at = s.model().now() + ahead;
    Result<SweepResult> got = s.db().Sweep(at, batch);
    Expect("Sweep(now + " + std::to_string(ahead) + ")", got,
           Out<SweepResult>{Code::kOk, s.model().Sweep(at)});
    s.CheckAll();
  }
  void show(std::ostream& os) const override { os << "Sweep now+" << ahead << " batch " << batch; }
};

struct AdvanceClock : Cmd {
  uint64_t ms = *Full(rc::gen::weightedElement<uint64_t>(
      {{3, 1}, {3, 1000}, {2, kTtlMs / 2}, {1, kTtlMs}, {1, kTtlMs + 1}}));
  void run(const GenState&, Sut& s) const override { s.Advance(ms); }
  void show(std::ostream& os) const override { os << "AdvanceClock " << ms; }
};

// A restart: uploads (their offsets and bytes) and messages must survive it.
struct Reopen : Cmd {
  void run(const GenState&, Sut& s) const override {
    s.Reopen();
    s.CheckAll();
  }
  void show(std::ostream& os) const override { os << "Reopen"; }
};

void RunSequence(uint32_t slot_depth) {
  Sut sut(slot_depth);
  rc::state::check(GenState{}, sut, [](const GenState&) {
    return rc::gen::weightedOneOf<std::shared_ptr<const Cmd>>({
        {8, rc::state::gen::execOneOfWithArgs<BeginUpload>()()},
        {18, rc::state::gen::execOneOfWithArgs<WriteChunk>()()},
        {1, rc::state::gen::execOneOfWithArgs<UploadOffset>()()},
        {5, rc::state::gen::execOneOfWithArgs<CommitUpload>()()},
        {2, rc::state::gen::execOneOfWithArgs<AbortUpload>()()},
        {4, rc::state::gen::execOneOfWithArgs<PostMessage>()()},
        {1, rc::state::gen::execOneOfWithArgs<GetMessage>()()},
        {2, rc::state::gen::execOneOfWithArgs<ReadBlob>()()},
        {2, rc::state::gen::execOneOfWithArgs<Sweep>()()},
        {2, rc::state::gen::execOneOfWithArgs<AdvanceClock>()()},
        {1, rc::state::gen::execOneOfWithArgs<Reopen>()()},
    });
  });
}

// 150 sequences of up to 50 commands per slot depth, each on a fresh store:
// about 3 s per property on a loaded 2-core machine.
POSTBOX_RC_PROP(UploadModel, SlotDepth1, 150, 50, ()) { RunSequence(1); }

POSTBOX_RC_PROP(UploadModel, SlotDepth2, 150, 50, ()) { RunSequence(2); }

}  // namespace
}  // namespace postbox::upload_model
