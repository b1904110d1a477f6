// Harness: one real DB (LMDB in a fresh temp folder) and one Model side by
// side. Every method runs the same operation on both and returns "" when they
// agree, or a description of the divergence. The stateful RapidCheck test and
// the fuzzer drive the engine only through it, so both check the same things.
//
// Operations name mailboxes, message ids and pool strings by small integers
// ("refs") because mailbox keys are random and only exist once the engine made
// them: mailbox ref r is the (r mod n)-th mailbox ever created (deleted ones
// included, to reach the 404 paths); -1, or any ref before the first mailbox
// exists, is a key no store has ever issued; -2 and -3 name the recipient and
// the sender of the op's message id. EnsureMailbox, which makes a mailbox with
// a key the caller chooses, reads its ref differently (see Op::a).
// Not thread-safe.
#ifndef POSTBOX_TESTS_PROPERTY_ENGINE_HARNESS_H_
#define POSTBOX_TESTS_PROPERTY_ENGINE_HARNESS_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/property/engine/model.h"

namespace postbox::model {

struct HarnessConfig {
  uint32_t slot_depth = 1;
  PostingPolicy policy = PostingPolicy::kConnected;
  // kRelaxed by default: a durable commit costs an fsync (~0.5 ms and far more
  // under ASan on a shared CI disk), which would dominate a suite of thousands
  // of small writes; durability itself is checked by the reopen property.
  Durability durability = Durability::kRelaxed;
};

// The tiny limits of the tests, so that every 413 is reachable with inputs a
// few bytes long. The pools below straddle each limit.
inline constexpr size_t kMaxKey = 4;
inline constexpr size_t kMaxValue = 6;
inline constexpr size_t kMaxTopic = 4;
inline constexpr size_t kMaxMeta = 4;
inline constexpr size_t kMaxToken = 8;
inline constexpr uint64_t kMaxBlob = 16;
inline constexpr uint64_t kHorizonMs = 10'000;
inline constexpr uint64_t kStartMs = 1'700'000'000'000;

// Pools the refs index into (taken modulo their size).
const std::vector<std::string>& EntryKeyPool();
const std::vector<std::string>& ValuePool();
const std::vector<std::string>& TopicPool();
const std::vector<std::string>& MetaPool();
const std::vector<std::string>& TokenPool();
const std::vector<std::string>& BlobPool();
// EnsureMailbox's secrets: "" (keep it, or a mailbox nobody can log in as),
// two short ones, and the longest allowed (256 bytes) and one byte over.
const std::vector<std::string>& SecretPool();
inline constexpr int kIdPool = 6;
// Keys EnsureMailbox may create that no mailbox has before it does; once
// made, such a mailbox joins the refs like one from CreateMailbox.
inline constexpr int kFreshKeys = 3;
// Mailbox refs with a meaning of their own (see Harness::Actor).
inline constexpr int kRecipientRef = -2;
inline constexpr int kSenderRef = -3;

// One write operation, in refs. Single ops go through the DB's own methods;
// a vector of them goes through one WriteBatch.
struct Op {
  enum Kind {
    kCreateMailbox,
    kDeleteMailbox,
    kConnect,
    kDisconnect,
    kRegisterPush,
    kPutEntry,
    kDeleteEntry,
    kPostMessage,
    kAdvanceStatus,
    kRequestConnection,
    kEnsureMailbox,   // through a WriteBatch, also as a single op
    kRetractMessage,  // through a WriteBatch, also as a single op
  };
  Kind kind = kCreateMailbox;
  // The mailbox acted on, the sender, or the actor. For kEnsureMailbox a ref
  // r >= 0 names a mailbox ever created (a deleted one is made again) and
  // r < 0 the fresh key (-r - 1) mod kFreshKeys, never the stranger's key.
  int a = 0;
  int b = 0;      // the other mailbox (connections, recipient)
  int key = 0;    // entry key / topic / push token / secret ref
  int value = 0;  // value / meta ref
  int blob = 0;   // blob ref
  int id = 0;     // message id ref
  // The id ref names the (id mod n)-th of the n live messages (in id order)
  // when there are any, so ops on messages reach live ids often.
  bool live_id = false;
  uint64_t version = 0;
  int status = 1;  // raw status (0 and 4 are invalid on purpose)
  int platform = 0;
};
std::string ShowOp(const Op& op);

class Harness {
 public:
  explicit Harness(const HarnessConfig& config);
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // Non-empty if the store could not be opened (the checks then all fail).
  const std::string& open_error() const { return open_error_; }

  // ---- Writes ----
  std::string Apply(const Op& op);
  std::string ApplyBatch(const std::vector<Op>& ops);
  // Moves the injected clock forward, then purges with a large batch size.
  std::string Purge(uint64_t advance_ms);
  // Purges in batches of `batch` until nothing is left; the end state must be
  // the one a single large purge gives.
  std::string PurgeInBatches(uint64_t advance_ms, size_t batch);
  void AdvanceClock(uint64_t ms) { *clock_ += ms; }
  // Closes the DB and opens the folder again; everything must still be there.
  std::string Reopen();

  // ---- Reads ----
  // With the mailbox's current secret as the harness last set it (a mailbox
  // made without one has none: "" is tried), or with a wrong one.
  std::string Authenticate(int mbox, bool right_secret) const;
  // With SecretPool()[secret] (mod its size), or with the secret CreateMailbox
  // gave the mailbox when `secret` < 0 (rotated away by EnsureMailbox, maybe).
  std::string AuthenticateWith(int mbox, int secret) const;
  std::string GetMessage(int actor, int id) const;
  std::string ReadBlob(int actor, int id, uint64_t offset, uint64_t length) const;
  std::string GetEntry(int mbox, int key) const;
  std::string ListEntries(int mbox, int prefix, int start_after, size_t limit) const;
  // `since_hint` is reduced modulo (the feed's seq + 3), so it reaches 0, the
  // middle, the current seq and past it; then the feed is paged to the end.
  std::string Changes(int mbox, uint64_t since_hint, size_t limit) const;
  std::string ListMailboxes(int start_after, size_t limit) const;
  std::string Connections(int mbox, int start_after, size_t limit) const;
  // Every observable of every mailbox, id, pool key and secret, and the stats.
  std::string CheckAll() const;
  // Changes(0, 0) and GetMailbox of every mailbox: the cheap per-step check.
  std::string CheckFeeds() const;

  DB& db() { return *db_; }
  const Options& options() const { return options_; }
  const Model& model() const { return model_; }
  MailboxKey Mailbox(int ref) const;
  // Mailbox(ref), except that kRecipientRef and kSenderRef name a party of
  // message `id` (live or superseded), so status advances and reads reach
  // past the 403/404 checks often.
  MailboxKey Actor(int ref, int id) const;
  static MessageId Id(int ref);
  // The key of fresh ref k (see kFreshKeys).
  static MailboxKey FreshKey(int k);

 private:
  // The message id an op names (Op::live_id), against the model's state now.
  MessageId IdOf(const Op& op) const;
  // Actor(ref, ...) for an id already resolved.
  MailboxKey ActorOf(int ref, const MessageId& id) const;
  // The mailbox an op acts on: Op::a resolved as its kind reads it.
  MailboxKey Target(const Op& op, const MessageId& id) const;
  // Checks an EnsureMailbox result against the model's; on success records
  // the mailbox (a new one joins `added`) and its secret.
  std::string EnsureResult(const std::string& what, const MailboxKey& mkey,
                           const std::string& secret, const OpResult& r, uint64_t now,
                           std::vector<MailboxCredentials>* added);

  Options options_;
  std::shared_ptr<std::atomic<uint64_t>> clock_;
  std::filesystem::path dir_;
  std::unique_ptr<DB> db_;
  std::string open_error_;
  Model model_;
  std::vector<MailboxCredentials> created_;  // every mailbox ever created, in order
  // The secret each mailbox was last given (by CreateMailbox or EnsureMailbox),
  // "" for one made without a usable secret.
  std::map<MailboxKey, std::string> secrets_;
};

}  // namespace postbox::model

#endif  // POSTBOX_TESTS_PROPERTY_ENGINE_HARNESS_H_
