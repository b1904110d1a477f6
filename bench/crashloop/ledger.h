// The crash loop's record of acknowledged writes (a call that returned OK),
// and the audit that checks a store against it: every acknowledged entry put
// is there with at least its version and the value written at the stored
// version, every acknowledged upload is a message of the right length and
// digest (its bytes re-hashed), every acknowledged status rise holds at least
// the acknowledged status. Thread-safe.
#ifndef POSTBOX_BENCH_CRASHLOOP_LEDGER_H_
#define POSTBOX_BENCH_CRASHLOOP_LEDGER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/db.h"
#include "postbox/types.h"

namespace postbox::crashloop {

// The value every put of `key` at `version` writes (version 0: the one
// auto-versioned put of a fresh key): recognisable text, then a filler of a
// length (0..1500 bytes) that the pair decides, so the audit can rebuild it.
std::string EntryValue(std::string_view key, uint64_t version);

struct AuditResult {
  uint64_t records = 0;             // acknowledged records checked
  uint64_t lost = 0;                // of them, missing or wrong now
  uint64_t blobs_hashed = 0;        // uploads whose bytes were read back and hashed
  std::vector<std::string> losses;  // the first few, described
};

class Ledger {
 public:
  explicit Ledger(std::vector<MailboxCredentials> mailboxes);

  // `mailbox` acknowledged a put of `key` that left the stored version at
  // `version`; `explicit_version` says the put named its version (the key
  // gets several), else it was the one auto-versioned put of a fresh key.
  void AckEntry(size_t mailbox, const std::string& key, bool explicit_version, uint64_t version);
  // An upload from `from` to `to` was acknowledged (Upload returned OK).
  void AckUpload(size_t from, size_t to, const MessageId& id, uint64_t length,
                 const Digest128& digest);
  // The recipient's status update on `id` was acknowledged with `status`.
  void AckStatus(const MessageId& id, MessageStatus status);

  // A message `mailbox` received whose status can still rise, with its
  // acknowledged status (taken out of the mailbox's queue: give it back with
  // ReturnRise). nullopt when there is none.
  std::optional<std::pair<MessageId, MessageStatus>> TakeRise(size_t mailbox);
  void ReturnRise(size_t mailbox, const MessageId& id);

  // The mailbox and key of the last acknowledged entry put (for --sabotage).
  std::optional<std::pair<MailboxKey, std::string>> LastEntry() const;

  // Calls that returned OK so far, and of them: entry puts, uploads, status rises.
  uint64_t acked_writes() const;
  struct Counts {
    uint64_t puts = 0, uploads = 0, rises = 0;
  };
  Counts acked_by_kind() const;
  // Records found missing or wrong by any audit so far (each counted once).
  uint64_t lost() const;

  // Checks every acknowledged write against `db`. Uploads are checked by
  // their stored length and digest each time; their bytes are read back and
  // hashed the first time, and every time when `rehash_all`.
  AuditResult Audit(const DB& db, bool rehash_all);

 private:
  struct Entry {
    size_t mailbox = 0;
    bool explicit_version = false;
    uint64_t version = 0;
  };
  struct Upload {
    size_t from = 0, to = 0;
    uint64_t length = 0;
    Digest128 digest{};
    MessageStatus status = MessageStatus::kUploaded;
    bool hashed = false;
  };

  const std::vector<MailboxCredentials> mailboxes_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::map<MessageId, Upload> uploads_;
  std::vector<std::deque<MessageId>> rises_;  // per recipient
  uint64_t acked_writes_ = 0;
  Counts by_kind_;
  std::string last_key_;
  std::set<std::string> lost_;  // "entry KEY" / "upload ID"
};

}  // namespace postbox::crashloop

#endif  // POSTBOX_BENCH_CRASHLOOP_LEDGER_H_
