// The kick scheduler (docs/notifications.md): owned by the sync server when
// ServerOptions::kick_driver is set. The writer appends a kKicks op to every
// batch, so a change to a mailbox with no session and a push registration
// records its pending kick in the same transaction (AddMarkOp, Committed);
// the scheduler's thread sends what is due through the driver, retries
// transient failures with backoff, and writes the outcomes back to the store
// in small batches of its own. Pending kicks are loaded at start, so they
// survive a restart.
//
// Thread-safety: every method is thread-safe. AddMarkOp / Committed are the
// writer's, SessionOpened / SessionClosed the loops'; Stop must not be called
// from the driver's callback.
#ifndef POSTBOX_SYNC_KICK_SCHEDULER_H_
#define POSTBOX_SYNC_KICK_SCHEDULER_H_

#include <chrono>
#include <memory>
#include <thread>

#include "postbox/db.h"
#include "postbox/sync/events.h"
#include "postbox/sync/kick.h"
#include "postbox/write_batch.h"
#include "store/batch_op.h"
#include "sync/kick/kick_core.h"

namespace postbox::sync::kick {

struct SchedulerOptions {
  std::shared_ptr<KickDriver> driver;
  std::chrono::milliseconds delay{2000};
  CoreOptions core;
  // Each send's outcome is recorded here (a kick_sent event); may be null.
  std::shared_ptr<EventSink> events;
};

struct SchedulerStats {
  uint64_t pending = 0;
  uint64_t sent = 0;
  uint64_t retried = 0;
  uint64_t dropped = 0;
};

class Scheduler {
 public:
  // Loads the store's pending kicks and starts the thread. InvalidArgument
  // without a driver or with a negative delay or retry bound; the store's
  // error if the kicks cannot be read.
  static Result<std::unique_ptr<Scheduler>> Start(DB* db, const SchedulerOptions& options);
  ~Scheduler();  // Stop()

  // Ends the thread, then stops the driver. Kicks still pending stay in the
  // store for the next start. Idempotent.
  void Stop();

  // The writer: appends the kKicks op that marks the batch's changed
  // mailboxes without a session to `batch`, before DB::Write. Returns its
  // work for Committed.
  std::shared_ptr<KickWork> AddMarkOp(WriteBatch* batch);
  // The writer, right after DB::Write: takes the op out of `batch` again and,
  // if it committed, schedules the kicks it recorded.
  void Committed(WriteBatch* batch, const Status& write, const std::shared_ptr<KickWork>& work);

  // A session of `m` authenticated / closed (loop threads).
  void SessionOpened(const MailboxKey& m);
  void SessionClosed(const MailboxKey& m);

  SchedulerStats stats() const;

 private:
  struct Shared;
  Scheduler(DB* db, const SchedulerOptions& options);
  void Main();
  // One round on the scheduler's thread: cancels, results, store updates, sends.
  void Round();
  uint64_t Now() const;

  DB* db_;
  SchedulerOptions options_;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace postbox::sync::kick

#endif  // POSTBOX_SYNC_KICK_SCHEDULER_H_
