// The kick scheduler's state, as a pure state machine (no clock, no threads,
// no I/O): what is pending per mailbox, which mailboxes have sessions, what
// is due, and what each driver outcome does. Scheduler (scheduler.h) feeds it
// the store's records and the driver's results and carries out what it asks
// for: sends and the store updates of store/batch_op.h. The model-based test
// (tests/property/kick) drives it against a plain model.
//
// Thread-safety: none; the Scheduler holds its mutex around every call.
#ifndef POSTBOX_SYNC_KICK_KICK_CORE_H_
#define POSTBOX_SYNC_KICK_KICK_CORE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "postbox/types.h"
#include "store/batch_op.h"

namespace postbox::sync::kick {

struct CoreOptions {
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{std::chrono::minutes(5)};
  uint32_t max_attempts = 10;  // failed sends after which a kick is dropped
};

// How a send ended.
enum class Outcome {
  kDelivered,  // the driver said OK
  kTransient,  // Unavailable / BackOff: retried later
  kPermanent,  // any other error: dropped
  kCancelled,  // not sent: a session is connected, or there is nothing to say
  kGone,       // not sent: the mailbox or its registration is gone
};

struct CoreStats {
  uint64_t sent = 0;
  uint64_t retried = 0;
  uint64_t dropped = 0;
};

class KickCore {
 public:
  explicit KickCore(const CoreOptions& options) : options_(options) {}

  // A record the store holds now (created by a commit's marking, re-armed by
  // a kDone / kCancel update, or loaded at start). Replaces what was known
  // of the mailbox unless that is a send in flight for the same record.
  void Armed(const PendingKick& kick);

  // Session accounting (the server calls these on Hello and on close).
  // Opening the first session of a mailbox cancels its pending kick: the
  // caller then reads the mailbox's feed cursor and calls Cancel.
  // Returns true when a pending kick should be cancelled.
  bool SessionOpened(const MailboxKey& m);
  void SessionClosed(const MailboxKey& m);
  bool Online(const MailboxKey& m) const;
  // Forgets the pending kick of `m` (if any, in flight or not) and queues a
  // kCancel update with `covered`.
  void Cancel(const MailboxKey& m, uint64_t covered);

  // The pending kicks due at `now_ms` that are not in flight, at most `max`,
  // earliest first; each is marked in flight. The caller sends each (or
  // decides not to) and reports with Finished.
  std::vector<PendingKick> TakeDue(uint64_t now_ms, size_t max);
  // The outcome of the send of `kick` (as TakeDue returned it); `covered` is
  // the feed cursor its payload covered, `retry_after_ms` the driver's, and
  // `jitter` a number in [0, 1) for the backoff. A result for a kick that is
  // no longer the mailbox's pending one (cancelled meanwhile) only counts.
  void Finished(const PendingKick& kick, Outcome outcome, uint64_t covered, uint64_t now_ms,
                uint64_t retry_after_ms, double jitter);

  // When the earliest pending kick not in flight is due; nullopt if none.
  std::optional<uint64_t> NextDue() const;
  // The store updates queued since the last call, in order.
  std::vector<KickUpdate> TakeUpdates();

  bool has_updates() const { return !updates_.empty(); }
  size_t pending() const { return pending_.size(); }
  size_t in_flight() const { return in_flight_; }
  const CoreStats& stats() const { return stats_; }
  // The pending kick of `m`, for tests.
  std::optional<PendingKick> Find(const MailboxKey& m) const;

 private:
  struct Entry {
    PendingKick kick;
    bool in_flight = false;
  };
  void Unschedule(const MailboxKey& m, const Entry& e);

  CoreOptions options_;
  std::map<MailboxKey, Entry> pending_;
  std::multimap<uint64_t, MailboxKey> due_;  // pending kicks not in flight, by due_ms
  std::map<MailboxKey, uint32_t> online_;    // sessions per mailbox
  std::vector<KickUpdate> updates_;
  size_t in_flight_ = 0;
  CoreStats stats_;
};

}  // namespace postbox::sync::kick

#endif  // POSTBOX_SYNC_KICK_KICK_CORE_H_
