// The stateful model-based test of resumable uploads (issue 3): random
// sequences of BeginUpload / WriteChunk / UploadOffset / CommitUpload /
// AbortUpload interleaved with one-shot posts of the same ids, reads, Sweep,
// clock steps and restarts, run against a real store and against the plain
// model of upload_model.h. Every answer (code and value) must match, and after
// each step so must every pool id's UploadOffset and GetMessage as A and B see
// them, so a change that a call made silently (or failed to make) shows up at
// once, not only when a later call happens to touch it.
//
// Two sizes of the same test: tiny limits (8-byte chunks, 32-byte blobs), so
// a handful of bytes crosses every limit; and piece-sized ones (chunks up to
// 256 KiB, blobs of up to two pieces and a bit), so small unaligned chunks,
// resends that overlap staged bytes, and aborts, sweeps and commits with a
// piece still staged all meet the store's 256 KiB pieces. After every step
// the store's count of pieces must be the model's, and at every restart the
// layout itself (KEY_LAYOUT.md: pieces in `blobs`, the staged rows of an
// incomplete piece in `upload_tail`) is read back with LMDB and compared
// byte for byte.
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
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
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
#include "tests/unit/engine/lmdb_tables.h"

namespace postbox::upload_model {
namespace {

// A run's limits and the blobs and chunks it sends. Blobs by role: empty, one
// byte, one small chunk's worth, several chunks (crossing a piece in the
// large run), exactly max_blob_size, and one byte over it.
struct Config {
  Limits limits;
  std::vector<std::string> blobs;
  size_t small_chunk;                // the "small chunk" class draws 1..small_chunk bytes
  std::vector<uint64_t> backs;       // how far before the committed offset a resend starts
  std::vector<int> class_weights;    // of the ChunkClass values, in their order
  std::vector<int> command_weights;  // of the commands, in RunSequence's order
};

// Deterministic bytes, so a misplaced byte is seen (runs of one letter hide it).
std::string Noise(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>('a' + gen() % 26);
  return out;
}

const Config& Tiny() {
  static const Config c{
      {8, 32},
      {"", "x", "01234567", "a blob of 20 bytes..", std::string(32, 'q'), std::string(33, 'z')},
      8,
      {1, 3, 8},
      {1, 4, 0, 4, 1, 0, 0},
      {8, 18, 1, 5, 2, 4, 1, 2, 2, 2, 1}};
  return c;
}

const Config& Pieced() {
  constexpr uint64_t kMaxBlob = 2 * kPieceSize + 1000;
  static const Config c{{kPieceSize, kMaxBlob},
                        {"", "x", Noise(3000, 1), Noise(kPieceSize + 3, 2), Noise(kMaxBlob, 3),
                         Noise(kMaxBlob + 1, 4)},
                        3000,
                        {1, 1000, kPieceSize / 2, kPieceSize + 7},
                        // Small chunks, and enough large ones that uploads
                        // cross pieces within a sequence.
                        {1, 4, 3, 2, 1, 1, 2},
                        // More chunks, fewer posts and clock steps, so that
                        // uploads grow past a piece before they end.
                        {6, 30, 1, 5, 3, 2, 1, 2, 1, 1, 2}};
  return c;
}

// Chunk size classes, drawn by the run's weights; resolved against its limits.
enum ChunkClass { kEmpty, kSmall, kAny, kMax, kOver, kMaxLess1, kHalfPlus1 };
// The class whose share of the run's weights holds `pick` (0..999).
int ClassOf(const Config& c, size_t pick) {
  int total = 0;
  for (int w : c.class_weights) total += w;
  int at = static_cast<int>(pick % 1000) * total / 1000;
  for (size_t i = 0; i < c.class_weights.size(); ++i) {
    if (at < c.class_weights[i]) return static_cast<int>(i);
    at -= c.class_weights[i];
  }
  return kEmpty;
}
size_t ChunkSize(const Config& c, int cls, size_t pick) {
  const size_t max = c.limits.max_chunk;
  switch (cls) {
    case kEmpty:
      return 0;
    case kSmall:
      return 1 + pick % c.small_chunk;
    case kAny:
      return 1 + pick % max;
    case kMax:
      return max;
    case kOver:
      return max + 1;
    case kMaxLess1:
      return max - 1;
    default:
      return max / 2 + 1;
  }
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
// Short strings as they are; long ones by size and a digest prefix.
std::string Show(const std::string& s) {
  if (s.size() <= 40) return "'" + s + "'";
  const Digest128 d = ComputeDigest128(s);
  char hex[9];
  std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", d[0], d[1], d[2], d[3]);
  return "<" + std::to_string(s.size()) + " bytes, digest " + hex + "...>";
}
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
  Sut(uint32_t slot_depth, const Config& config)
      : config_(config), clock_(std::make_shared<std::atomic<uint64_t>>(kStartMs)) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "postbox-upm-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
    dir_ = tmpl;
    options_.durability = Durability::kRelaxed;
    options_.slot_depth = slot_depth;
    options_.max_chunk_size = config.limits.max_chunk;
    options_.max_blob_size = config.limits.max_blob;
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
    model_.emplace(slot_depth, config.limits, keys, ids, kStartMs);
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

  // Closes the store, checks its layout with LMDB itself, and opens it again.
  void Reopen() {
    db_.reset();
    CheckLayout();
    Open();
  }
  void Advance(uint64_t ms) {
    clock_->fetch_add(ms);
    model_->Advance(ms);
  }

  DB& db() { return *db_; }
  Model& model() { return *model_; }
  const Config& config() const { return config_; }
  const std::string& blob(int i) const { return config_.blobs[i]; }
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
    // No piece leaks and none is missing: every discarded upload's are gone.
    Result<StoreStats> stats = db_->Stats();
    RC_ASSERT(stats.ok());
    if (stats->blob_chunks != model_->Pieces()) {
      RC_FAIL("after the step, the store holds " + std::to_string(stats->blob_chunks) +
              " pieces, the model " + std::to_string(model_->Pieces()));
    }
  }

 private:
  static constexpr uint64_t kStartMs = 1'700'000'000'000;

  // The closed store's `blobs` and `upload_tail` against the model, id by
  // id: a message's bytes are all in pieces; an upload's are in pieces up to
  // its last piece boundary (all of them once it reached its length) and the
  // rest in staged rows that tile the remainder in order; nothing else.
  void CheckLayout() {
    const std::string path = (dir_ / "db").string();
    const auto pieces = test::Table(path, "blobs");
    const auto staged = test::Table(path, "upload_tail");
    size_t seen_pieces = 0, seen_staged = 0;
    for (int i = 0; i < kIds; ++i) {
      const std::string who = "id" + std::to_string(i);
      const auto held = model_->HeldAt(i);
      const std::string prefix(ids_[i].AsBytes());
      std::string in_pieces, in_rows;
      uint64_t next_piece = 0;
      for (auto it = pieces.lower_bound(prefix);
           it != pieces.end() && it->first.starts_with(prefix); ++it, ++seen_pieces) {
        RC_ASSERT(it->first == prefix + test::BE64(next_piece).substr(4));
        RC_ASSERT(it->second.size() > 8);
        in_pieces += it->second.substr(0, it->second.size() - 8);
        ++next_piece;
      }
      for (auto it = staged.lower_bound(prefix);
           it != staged.end() && it->first.starts_with(prefix); ++it, ++seen_staged) {
        const uint64_t at = in_pieces.size() + in_rows.size();
        if (it->first != prefix + test::BE64(at) || it->second.empty()) {
          RC_FAIL(who + ": a staged row does not start where the stored bytes end (" +
                  std::to_string(at) + ")");
        }
        in_rows += it->second;
      }
      if (!held) {
        if (!in_pieces.empty() || !in_rows.empty()) RC_FAIL(who + ": bytes of nothing live");
        continue;
      }
      const uint64_t size = held->bytes.size();
      const uint64_t want_pieces = size == held->length ? size : size - size % kPieceSize;
      if (in_pieces.size() != want_pieces || in_rows.size() != size - want_pieces) {
        RC_FAIL(who + ": " + std::to_string(in_pieces.size()) + " bytes in pieces and " +
                std::to_string(in_rows.size()) + " staged; the model holds " +
                std::to_string(size) + " of " + std::to_string(held->length) +
                (held->upload ? " (an upload)" : " (a message)"));
      }
      RC_ASSERT(in_pieces + in_rows == held->bytes);
    }
    RC_ASSERT(seen_pieces == pieces.size());  // no rows of ids outside the pool
    RC_ASSERT(seen_staged == staged.size());
  }

  void Open() {
    auto r = DB::Open((dir_ / "db").string(), options_);
    if (!r.ok()) throw std::runtime_error("DB::Open: " + r.error().ToString());
    db_ = std::move(r).value();
  }

  const Config& config_;
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
  Digest128 digest(const Config& c) const {
    const std::string& b = c.blobs[blob];
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
    const std::string& b = s.blob(decl.blob);
    const Digest128 digest = decl.digest(s.config());
    UploadRequest r{s.key(from), s.key(to), s.id(id), Topics()[topic], "", b.size(), digest};
    Expect("BeginUpload", s.db().BeginUpload(r),
           s.model().BeginUpload(from, to, id, Topics()[topic], b.size(), digest, decl.blob));
    s.CheckAll();
  }
  void show(std::ostream& os) const override {
    os << "BeginUpload " << PartyName(from) << "->" << PartyName(to) << " id" << id << " topic"
       << topic << " " << decl.show();
  }
};

// A chunk of the blob the upload was begun for (any blob if there is no
// upload): mostly at the committed offset so uploads progress, sometimes a
// little or a lot before it (a resend overlapping stored bytes, staged or in
// pieces), sometimes anywhere in [0, length + 2], sometimes with one byte
// flipped. Past the blob's end the chunk is padded, so "past the declared
// length" is reached.
struct WriteChunk : Cmd {
  enum Where { kResume, kBack, kAnywhere };
  Target target;
  int where = *Full(rc::gen::weightedElement<int>({{6, kResume}, {2, kBack}, {2, kAnywhere}}));
  size_t back_pick = *Full(rc::gen::inRange<size_t>(0, 4));
  uint64_t offset_pick = *Full(rc::gen::inRange<uint64_t>(0, 1u << 20));
  size_t class_pick = *Full(rc::gen::inRange<size_t>(0, 1000));
  size_t size_pick = *Full(rc::gen::inRange<size_t>(0, 1u << 20));
  bool flip = *Full(rc::gen::inRange(0, 10)) == 0;
  int fallback_blob = *BlobIndex();
  void run(const GenState&, Sut& s) const override {
    const auto [actor, id] = target.Resolve(s.model());
    const int intended = s.model().IntendedBlob(id);
    const std::string& blob = s.blob(intended >= 0 ? intended : fallback_blob);
    const auto committed = s.model().Offset(id);
    const std::vector<uint64_t>& backs = s.config().backs;
    uint64_t offset = offset_pick % (blob.size() + 3);
    if (committed && where == kResume) offset = *committed;
    if (committed && where == kBack) {
      offset = *committed - std::min(*committed, backs[back_pick % backs.size()]);
    }
    const size_t size = ChunkSize(s.config(), ClassOf(s.config(), class_pick), size_pick);
    std::string bytes = offset < blob.size() ? blob.substr(offset, size) : "";
    bytes.resize(size, '#');
    if (flip && !bytes.empty()) bytes[offset_pick % bytes.size()] ^= 0x20;
    const std::string call =
        "WriteChunk " + Who(actor, id) + " at " + std::to_string(offset) + " " + Show(bytes);
    Expect(call, s.db().WriteChunk(s.key(actor), s.id(id), offset, bytes),
           s.model().WriteChunk(actor, id, offset, bytes));
    s.CheckAll();
  }
  void show(std::ostream& os) const override {
    static const char* const kWhere[] = {"resume", "back", "anywhere"};
    os << "WriteChunk " << target.show() << " " << kWhere[where] << " (back " << back_pick
       << ", pick " << offset_pick << ") size class pick " << class_pick << ", size pick "
       << size_pick << (flip ? " flipped" : "");
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
    const std::string& b = s.blob(blob);
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
  uint64_t offset_pick = *Full(rc::gen::inRange<uint64_t>(0, 1u << 20));
  bool to_end = *Full(rc::gen::inRange(0, 2)) == 0;
  uint64_t length_pick = *Full(rc::gen::inRange<uint64_t>(0, 1u << 20));
  void run(const GenState&, Sut& s) const override {
    const uint64_t span = s.config().limits.max_blob + 3;
    const uint64_t offset = offset_pick % span;
    const uint64_t length = to_end ? UINT64_MAX : length_pick % span;
    Expect("ReadBlob " + Who(actor, id) + " [" + std::to_string(offset) + ", +" +
               std::to_string(length) + ")",
           s.db().ReadBlob(s.key(actor), s.id(id), offset, length),
           s.model().ReadBlob(actor, id, offset, length));
  }
  void show(std::ostream& os) const override {
    os << "ReadBlob " << Who(actor, id) << " offset pick " << offset_pick << " length "
       << (to_end ? std::string("to the end") : "pick " + std::to_string(length_pick));
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

void RunSequence(uint32_t slot_depth, const Config& config) {
  Sut sut(slot_depth, config);
  const std::vector<int>& w = config.command_weights;
  rc::state::check(GenState{}, sut, [&w](const GenState&) {
    return rc::gen::weightedOneOf<std::shared_ptr<const Cmd>>({
        {w[0], rc::state::gen::execOneOfWithArgs<BeginUpload>()()},
        {w[1], rc::state::gen::execOneOfWithArgs<WriteChunk>()()},
        {w[2], rc::state::gen::execOneOfWithArgs<UploadOffset>()()},
        {w[3], rc::state::gen::execOneOfWithArgs<CommitUpload>()()},
        {w[4], rc::state::gen::execOneOfWithArgs<AbortUpload>()()},
        {w[5], rc::state::gen::execOneOfWithArgs<PostMessage>()()},
        {w[6], rc::state::gen::execOneOfWithArgs<GetMessage>()()},
        {w[7], rc::state::gen::execOneOfWithArgs<ReadBlob>()()},
        {w[8], rc::state::gen::execOneOfWithArgs<Sweep>()()},
        {w[9], rc::state::gen::execOneOfWithArgs<AdvanceClock>()()},
        {w[10], rc::state::gen::execOneOfWithArgs<Reopen>()()},
    });
  });
}

// 150 sequences of up to 50 commands per slot depth, each on a fresh store:
// about 3 s per property on a loaded 2-core machine.
POSTBOX_RC_PROP(UploadModel, SlotDepth1, 150, 50, ()) { RunSequence(1, Tiny()); }

POSTBOX_RC_PROP(UploadModel, SlotDepth2, 150, 50, ()) { RunSequence(2, Tiny()); }

// Chunks and blobs at the scale of the store's pieces: 300 sequences (about 9 s
// on a loaded 2-core machine), enough for a dozen piece completions from
// staged rows, resends over staged bytes, and aborts and reopens with bytes
// staged.
POSTBOX_RC_PROP(UploadModel, Pieces, 300, 50, ()) { RunSequence(1, Pieced()); }

}  // namespace
}  // namespace postbox::upload_model
