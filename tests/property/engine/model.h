// Model: a plain in-memory engine that follows docs/engine.md and SPEC §2–§3
// literally, so the property tests and the fuzzer can compare the real LMDB
// store against it op by op. It has no persistence, no limits on scale and no
// cleverness: every structure is a std::map, every rule is spelled out in the
// order docs/engine.md gives it. Mailbox keys and secrets are random in the
// engine, so the model takes them from the engine's CreateMailbox results.
// Not thread-safe.
//
// The fuzzer has no access to this directory's other objects, so it
// #includes model.cc directly; keep model.cc free of gtest and rapidcheck.
#ifndef POSTBOX_TESTS_PROPERTY_ENGINE_MODEL_H_
#define POSTBOX_TESTS_PROPERTY_ENGINE_MODEL_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "postbox/merge.h"
#include "postbox/options.h"
#include "postbox/result.h"
#include "postbox/types.h"
#include "postbox/write_batch.h"

namespace postbox::model {

class Model {
 public:
  // Only the limits, slot_depth, posting_policy and tombstone_horizon of
  // `options` matter; the clock is passed to each writing call instead.
  explicit Model(const Options& options) : options_(options) {}

  // ---- Mailboxes ----
  // Records a mailbox the engine created at `now_ms` with these credentials.
  void CreateMailbox(const MailboxCredentials& credentials, uint64_t now_ms);
  // WriteBatch::EnsureMailbox (for relays): 400 for a secret over 256 bytes;
  // else makes `mkey` exist, created at `now_ms` if it did not, with `secret`
  // as its secret, or with none anyone can use if `secret` is empty; an
  // existing mailbox keeps all it has and takes `secret` unless it is empty.
  // The credentials hold `mkey` and `secret` (the engine may add a random
  // secret for a new mailbox made without one; the model knows none).
  Result<MailboxCredentials> EnsureMailbox(const MailboxKey& mkey, std::string_view secret,
                                           uint64_t now_ms);
  Status Authenticate(const MailboxKey& mkey, std::string_view secret) const;
  Status DeleteMailbox(const MailboxKey& mkey, uint64_t now_ms);
  Result<MailboxInfo> GetMailbox(const MailboxKey& mkey) const;
  std::vector<MailboxInfo> ListMailboxes(std::optional<MailboxKey> start_after, size_t limit) const;
  uint64_t CountMailboxes() const { return mailboxes_.size(); }
  // Every mailbox ever created and not deleted, in mkey order.
  std::vector<MailboxKey> LiveMailboxes() const;

  // ---- Connections and push ----
  // Consent (docs/engine.md "Connections"): Connect is the operator's.
  Status Connect(const MailboxKey& a, const MailboxKey& b);
  Result<ConnectionState> RequestConnection(const MailboxKey& actor, const MailboxKey& peer);
  Status Disconnect(const MailboxKey& actor, const MailboxKey& peer);
  Result<bool> IsConnected(const MailboxKey& a, const MailboxKey& b) const;
  Result<std::vector<MailboxKey>> ListConnections(
      const MailboxKey& mkey, std::optional<MailboxKey> start_after, size_t limit,
      ConnectionListKind kind = ConnectionListKind::kConnected) const;
  Status RegisterPush(const MailboxKey& mkey, Platform platform, std::string_view token);
  Result<PushRegistration> GetPush(const MailboxKey& mkey) const;

  // ---- Entries ----
  Result<EntryPutResult> PutEntry(const MailboxKey& mkey, std::string_view key,
                                  std::string_view value, uint64_t version, uint64_t now_ms);
  Result<EntryPutResult> DeleteEntry(const MailboxKey& mkey, std::string_view key, uint64_t version,
                                     uint64_t now_ms);
  Result<EntryInfo> GetEntry(const MailboxKey& mkey, std::string_view key) const;
  Result<std::vector<EntryInfo>> ListEntries(const MailboxKey& mkey, std::string_view prefix,
                                             std::string_view start_after, size_t limit) const;

  // ---- Messages ----
  Result<MessageInfo> PostMessage(const PostRequest& request, uint64_t now_ms);
  Result<MessageInfo> GetMessage(const MailboxKey& actor, const MessageId& id) const;
  Result<std::string> ReadBlob(const MailboxKey& actor, const MessageId& id, uint64_t offset,
                               uint64_t length) const;
  Result<MessageStatus> AdvanceStatus(const MailboxKey& actor, const MessageId& id,
                                      MessageStatus status);
  // WriteBatch::RetractMessage (for relays): the sender removes a live message
  // as a supersession does. The errors of AdvanceStatus with "party" meaning
  // the sender only: 404 for an unknown actor, 403 for anyone else (for a
  // live and a removed id alike), 410 for the sender of a removed id, 404 for
  // an unknown id.
  Status RetractMessage(const MailboxKey& sender, const MessageId& id, uint64_t now_ms);

  // ---- Feed ----
  Result<InfoPacket> Changes(const MailboxKey& mkey, uint64_t since, size_t limit) const;
  // Removes every tombstone and gone record created more than the horizon
  // before `now_ms`. Returns the number of feed tombstones removed; the gone
  // records that go with them are not counted separately.
  size_t PurgeTombstones(uint64_t now_ms);

  // ---- Bookkeeping for the checks ----
  // Mailboxes whose feed moved since the last ClearChanged (for WriteBatch).
  const std::set<MailboxKey>& changed() const { return changed_; }
  void ClearChanged() { changed_.clear(); }
  // Live messages, live or tombstoned entries, and feed records, as in StoreStats.
  uint64_t LiveMessageCount() const { return messages_.size(); }
  // The live messages' ids, in id order.
  std::vector<MessageId> LiveMessageIds() const;
  uint64_t EntryCount() const;
  uint64_t FeedRecordCount() const;
  // Every id the model has ever seen (live, gone or purged), for full checks.
  const std::set<MessageId>& known_ids() const { return known_ids_; }
  // The stored state of an entry, tombstones included (nullopt if none).
  std::optional<EntryState> EntryStateOf(const MailboxKey& mkey, std::string_view key) const;
  const Options& options() const { return options_; }
  // (from, to) of a live or superseded message, nullopt for an unknown id.
  std::optional<std::pair<MailboxKey, MailboxKey>> PartiesOf(const MessageId& id) const;

 private:
  // A feed item: a message (by id) or an entry (by key) of one mailbox.
  struct ItemKey {
    bool is_entry = false;
    std::string key;  // the entry key or the 16 id bytes
    auto operator<=>(const ItemKey&) const = default;
  };
  struct FeedRecord {
    uint64_t seq = 0;
    bool tombstone = false;
    uint64_t tombstone_ms = 0;  // when the tombstone was written (for purging)
  };
  struct StoredEntry {
    EntryState state;
    uint64_t deleted_ms = 0;  // when the tombstone was written
  };
  struct Mailbox {
    MailboxInfo info;                   // seq and purged_seq live here
    std::optional<std::string> secret;  // none: nobody can log in as this mailbox
    std::set<MailboxKey> connections;
    std::set<MailboxKey> requested;  // asked to connect, not (yet) connected; may not exist
    std::set<MailboxKey> declined;   // whose request this mailbox declined (hidden from it)
    std::map<std::string, StoredEntry> entries;
    std::map<ItemKey, FeedRecord> feed;
    std::map<uint64_t, ItemKey> by_seq;
  };
  struct Message {
    MessageInfo info;  // seq is always 0 here
    std::string bytes;
  };
  struct GoneRecord {
    MailboxKey from;
    MailboxKey to;
    uint64_t gone_ms = 0;
  };
  using SlotKey = std::tuple<MailboxKey, MailboxKey, std::string>;

  Mailbox* Find(const MailboxKey& mkey);
  const Mailbox* Find(const MailboxKey& mkey) const;
  Result<EntryPutResult> MergeInto(const MailboxKey& mkey, std::string_view key,
                                   std::string_view value, uint64_t version, bool deleted,
                                   uint64_t now_ms);
  // Who may act on a message: either party, its recipient, or its sender.
  enum class Party { kEither, kRecipient, kSender };
  // The live message `actor` may touch, or the error docs/engine.md gives.
  Result<const Message*> RequireMessage(const MailboxKey& actor, const MessageId& id,
                                        Party party) const;
  // Moves `item` of `mailbox`'s feed to the next seq.
  void Bump(Mailbox& mailbox, const ItemKey& item, bool tombstone, uint64_t now_ms);
  // Deletes a live message like a supersession: gone record, slot, tombstones
  // in the feeds of both parties except `skip` (a mailbox being deleted).
  void RemoveMessage(const MessageId& id, uint64_t now_ms, const MailboxKey* skip);

  Options options_;
  std::map<MailboxKey, Mailbox> mailboxes_;
  std::map<MessageId, Message> messages_;
  std::map<MessageId, GoneRecord> gone_;
  std::map<SlotKey, std::deque<MessageId>> slots_;  // commit order, oldest first
  std::set<MessageId> known_ids_;
  std::set<MailboxKey> changed_;
};

}  // namespace postbox::model

#endif  // POSTBOX_TESTS_PROPERTY_ENGINE_MODEL_H_
