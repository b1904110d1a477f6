// Status rises waiting to be folded into the tables (docs/durability.md
// "Durable writes at depth 1", the design; issue 17). A commit of rises
// appends one PendingRise per rise to the `pending` table (keyed by an
// ascending pending sequence) instead of rewriting the message's state, both
// mailboxes' records and both feeds; a later fold applies them in one
// transaction. Until then every read merges them over the folded tables.
//
// PendingIndex is those records in memory, for the reads of the process that
// writes them. The table is the truth: a read takes the range of pending
// sequences the table holds in its own snapshot, and uses the index only if
// the index covers that range (Covers), else builds an index from the table
// in its transaction (at most the fold's bound of records). So a read that
// began before a fold, or one that sees a commit the writer has not added
// yet, still sees exactly its snapshot.
//
// Internal. Thread-safety: PendingIndex is safe to share (the writer adds
// and drops, readers query); PendingRise is a plain value.
#ifndef POSTBOX_STORE_PENDING_H_
#define POSTBOX_STORE_PENDING_H_

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/result.h"
#include "postbox/types.h"

namespace postbox::store {

// What one status rise decided.
struct PendingRise {
  MessageId id;
  MailboxKey from, to;
  MessageStatus status = MessageStatus::kUploaded;  // the message's new status
  uint64_t seq_from = 0;                            // its new position in the sender's feed
  uint64_t seq_to = 0;                              // its new position in the recipient's feed
  uint64_t post_seq = 0;  // with `to`, the key of its message_state record
  bool operator==(const PendingRise&) const = default;

  std::string Encode() const;
  static Result<PendingRise> Decode(std::string_view in);
  // The message's position in `m`'s feed after this rise (0: not a party).
  uint64_t SeqIn(const MailboxKey& m) const;
};

// A range of pending sequences, [lo, hi]; empty when lo > hi.
struct PendingRange {
  uint64_t lo = 1, hi = 0;
  bool empty() const { return lo > hi; }
};

class PendingIndex {
 public:
  // Records the rise the table holds at `pseq` (ascending from call to call).
  void Add(uint64_t pseq, PendingRise rise);
  // A fold removed the records up to `pseq` from the table.
  void DropThrough(uint64_t pseq);

  // Whether the index holds every record of `r` (a read's range): nothing
  // of it dropped, nothing past what was added.
  bool Covers(PendingRange r) const;

  // The message's latest rise in `r`, if any (a message with one has left
  // its stored feed positions).
  std::optional<PendingRise> Latest(const MessageId& id, PendingRange r) const;
  // The highest position a rise in `r` gave mailbox `m` (0: none).
  uint64_t MailboxSeq(const MailboxKey& m, PendingRange r) const;

  // A message where a rise in `r` last put it in `m`'s feed.
  struct Item {
    uint64_t seq = 0;
    MessageId id;
    bool outgoing = false;  // m is the sender (else the recipient)
    MessageStatus status = MessageStatus::kUploaded;
    bool operator==(const Item&) const = default;
  };
  // `m`'s items from rises in `r` at positions after `since`, ascending.
  std::vector<Item> ItemsAfter(const MailboxKey& m, uint64_t since, PendingRange r) const;

  size_t size() const;

 private:
  std::optional<PendingRise> LatestLocked(const MessageId& id, PendingRange r) const;

  mutable std::shared_mutex mu_;
  std::map<uint64_t, PendingRise> records_;                 // by pending sequence
  std::map<MessageId, std::vector<uint64_t>> by_message_;   // ascending
  std::map<MailboxKey, std::vector<uint64_t>> by_mailbox_;  // ascending
  uint64_t added_through_ = 0;                              // the last Add's pseq
  uint64_t dropped_through_ = 0;                            // the last DropThrough's
};

}  // namespace postbox::store

#endif  // POSTBOX_STORE_PENDING_H_
