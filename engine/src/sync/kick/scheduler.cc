#include "sync/kick/scheduler.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <random>

#include "sync/kick/kick_util.h"

namespace postbox::sync::kick {
namespace {

// Sends in flight at once, whatever the driver: bounds the scheduler's memory
// and lets a slow driver's queue refuse no more than this.
constexpr size_t kMaxInFlight = 4096;
// The window of feed changes a payload is derived from (the newest ones).
constexpr uint64_t kPayloadWindow = 64;

// The kick_sent event of one send of `kick` that ended with `status` (`o`).
void RecordKick(EventSink* events, const PendingKick& kick, Platform platform, const Status& status,
                Outcome o, uint32_t max_attempts) {
  KickSentEvent e;
  e.mkey = kick.mkey;
  e.platform = platform;
  e.attempt = kick.attempts + 1;
  // KickCore::Finished drops a transient failure that used the last attempt.
  if (o == Outcome::kDelivered) {
    e.outcome = KickOutcome::kDelivered;
  } else if (o == Outcome::kPermanent) {
    e.outcome = KickOutcome::kDropped;
  } else {
    e.outcome = e.attempt >= max_attempts ? KickOutcome::kGaveUp : KickOutcome::kRetry;
  }
  if (!status.ok()) e.error = status.ToString();
  events->Record(Event{std::chrono::system_clock::now(), std::move(e)});
}

}  // namespace

// What the writer, the loops, the driver's callbacks and the scheduler's
// thread share; callbacks hold it by shared_ptr, so a late one after Stop is
// harmless.
struct Scheduler::Shared {
  explicit Shared(const CoreOptions& o) : core(o) {}
  std::mutex mu;
  std::condition_variable cv;
  KickCore core;  // guarded by mu
  struct Result {
    PendingKick kick;
    uint64_t covered = 0;
    KickResult result;
    Platform platform = Platform::kNone;  // the registration it went to (the event log's)
  };
  std::vector<Result> results;        // guarded by mu
  std::vector<MailboxKey> cancels;    // guarded by mu: first sessions of pending mailboxes
  std::vector<KickUpdate> unwritten;  // guarded by mu: updates a failed write left
  bool stop = false;                  // guarded by mu
};

Scheduler::Scheduler(DB* db, const SchedulerOptions& options)
    : db_(db), options_(options), shared_(std::make_shared<Shared>(options.core)) {}

Result<std::unique_ptr<Scheduler>> Scheduler::Start(DB* db, const SchedulerOptions& options) {
  if (!options.driver) return Status::InvalidArgument("kick scheduler needs a driver");
  if (options.delay.count() < 0 || options.core.retry_initial.count() <= 0 ||
      options.core.retry_max < options.core.retry_initial || options.core.max_attempts == 0) {
    return Status::InvalidArgument(
        "kick_delay must be ≥ 0, kick_retry_initial positive, kick_retry_max ≥ "
        "kick_retry_initial and kick_max_attempts ≥ 1");
  }
  std::unique_ptr<Scheduler> s(new Scheduler(db, options));
  std::optional<MailboxKey> after;
  size_t loaded = 0;
  for (;;) {
    POSTBOX_ASSIGN_OR_RETURN(auto page, db->ListPendingKicks(after, 1024));
    for (const auto& k : page) s->shared_->core.Armed(k);
    loaded += page.size();
    if (page.size() < 1024) break;
    after = page.back().mkey;
  }
  if (loaded != 0) spdlog::info("kicks: {} pending kick(s) loaded from the store", loaded);
  s->thread_ = std::thread([p = s.get()] { p->Main(); });
  return s;
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Stop() {
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->stop && !thread_.joinable()) return;
    shared_->stop = true;
  }
  shared_->cv.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    options_.driver->Stop();
  }
}

uint64_t Scheduler::Now() const {
  if (db_->options().clock) return db_->options().clock();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::shared_ptr<KickWork> Scheduler::AddMarkOp(WriteBatch* batch) {
  auto work = std::make_shared<KickWork>();
  work->delay_ms = static_cast<uint64_t>(options_.delay.count());
  // Runs inside the write transaction, on the writer thread: one lock and a
  // map lookup per changed mailbox.
  work->offline = [shared = shared_](const MailboxKey& m) {
    std::lock_guard lock(shared->mu);
    return !shared->core.Online(m);
  };
  WriteBatch::Op op;
  op.kind = WriteBatch::Op::Kind::kKicks;
  op.kicks = work;
  batch->Add(std::move(op));
  return work;
}

void Scheduler::Committed(WriteBatch* batch, const Status& write,
                          const std::shared_ptr<KickWork>& work) {
  const OpResult& r = batch->results().empty() ? OpResult{} : batch->results().back();
  const bool ok = write.ok() && batch->results().size() == batch->size() && r.status.ok();
  if (!write.ok() || !r.status.ok()) {
    if (!r.status.ok() && write.ok()) {
      spdlog::error("kicks: recording pending kicks failed: {}", r.status.ToString());
    }
  }
  WriteBatch::Op::DropLast(batch);
  if (!ok || work->armed.empty()) return;
  {
    std::lock_guard lock(shared_->mu);
    for (const auto& k : work->armed) shared_->core.Armed(k);
  }
  shared_->cv.notify_one();
}

void Scheduler::SessionOpened(const MailboxKey& m) {
  bool cancel;
  {
    std::lock_guard lock(shared_->mu);
    cancel = shared_->core.SessionOpened(m);
    if (cancel) shared_->cancels.push_back(m);
  }
  if (cancel) shared_->cv.notify_one();
}

void Scheduler::SessionClosed(const MailboxKey& m) {
  std::lock_guard lock(shared_->mu);
  shared_->core.SessionClosed(m);
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(shared_->mu);
  const CoreStats& c = shared_->core.stats();
  return {.pending = shared_->core.pending(),
          .sent = c.sent,
          .retried = c.retried,
          .dropped = c.dropped};
}

void Scheduler::Main() {
  std::unique_lock lock(shared_->mu);
  while (!shared_->stop) {
    const auto next = shared_->core.NextDue();
    const bool work_waiting =
        !shared_->results.empty() || !shared_->cancels.empty() || shared_->core.has_updates();
    if (!work_waiting) {
      const uint64_t now = Now();
      if (!next || *next > now || shared_->core.in_flight() >= kMaxInFlight) {
        // At most a second: a failed store write is retried, and a clock that
        // jumped is noticed.
        const uint64_t wait_ms = next && *next > now ? std::min<uint64_t>(*next - now, 1000) : 1000;
        shared_->cv.wait_for(lock, std::chrono::milliseconds(wait_ms));
        continue;
      }
    }
    lock.unlock();
    Round();
    lock.lock();
  }
}

void Scheduler::Round() {
  Shared& sh = *shared_;
  std::vector<MailboxKey> cancels;
  std::vector<Shared::Result> results;
  {
    std::lock_guard lock(sh.mu);
    cancels.swap(sh.cancels);
    results.swap(sh.results);
  }
  // A session connected: its pending kick is cancelled as of the feed
  // cursor now (changes after it, while the session is gone again, re-arm).
  for (const MailboxKey& m : cancels) {
    auto info = db_->GetMailbox(m);
    std::lock_guard lock(sh.mu);
    if (sh.core.Online(m)) sh.core.Cancel(m, info ? info->seq : 0);
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  std::vector<KickUpdate> updates;
  {
    std::lock_guard lock(sh.mu);
    const uint64_t now = Now();
    for (const auto& r : results) {
      Outcome o = r.result.status.ok()         ? Outcome::kDelivered
                  : Transient(r.result.status) ? Outcome::kTransient
                                               : Outcome::kPermanent;
      if (o == Outcome::kPermanent) {
        spdlog::warn("kicks: {} dropped: {}", DedupId(r.kick.mkey, r.kick.since),
                     r.result.status.ToString());
      }
      if (options_.events) {  // event log
        RecordKick(options_.events.get(), r.kick, r.platform, r.result.status, o,
                   options_.core.max_attempts);
      }
      sh.core.Finished(r.kick, o, r.covered, now,
                       static_cast<uint64_t>(std::max<int64_t>(r.result.retry_after.count(), 0)),
                       jitter(rng));
    }
    updates.swap(sh.unwritten);
    for (auto& u : sh.core.TakeUpdates()) updates.push_back(std::move(u));
  }
  if (!updates.empty()) {
    WriteBatch batch;
    auto work = std::make_shared<KickWork>();
    work->updates = updates;
    work->delay_ms = static_cast<uint64_t>(options_.delay.count());  // for re-armed kicks
    WriteBatch::Op op;
    op.kind = WriteBatch::Op::Kind::kKicks;
    op.kicks = work;
    batch.Add(std::move(op));
    Status s = db_->Write(&batch);
    if (s.ok()) s = batch.results()[0].status;
    std::lock_guard lock(sh.mu);
    if (!s.ok()) {
      spdlog::warn("kicks: writing {} outcome(s) failed (retried): {}", updates.size(),
                   s.ToString());
      sh.unwritten = std::move(updates);
    } else {
      for (const auto& k : work->armed) sh.core.Armed(k);
    }
  }
  // What is due now.
  std::vector<PendingKick> due;
  {
    std::lock_guard lock(sh.mu);
    const size_t room = kMaxInFlight - std::min(kMaxInFlight, sh.core.in_flight());
    // All that fits: the outcomes of one round are written in one transaction.
    due = sh.core.TakeDue(Now(), room);
  }
  for (const PendingKick& k : due) {
    const auto finish_now = [&](Outcome o, uint64_t covered) {
      std::lock_guard lock(sh.mu);
      sh.core.Finished(k, o, covered, Now(), 0, jitter(rng));
    };
    auto info = db_->GetMailbox(k.mkey);
    if (!info) {
      finish_now(info.error().Is(Code::kNotFound) ? Outcome::kGone : Outcome::kTransient, 0);
      continue;
    }
    const uint64_t seq = info->seq;
    bool online;
    {
      std::lock_guard lock(sh.mu);
      online = sh.core.Online(k.mkey);
    }
    if (info->platform == Platform::kNone) {
      finish_now(Outcome::kGone, seq);
      continue;
    }
    if (online || seq <= k.since) {
      finish_now(Outcome::kCancelled, seq);
      continue;
    }
    uint64_t from =
        std::max({k.since, seq > kPayloadWindow ? seq - kPayloadWindow : 0, info->purged_seq});
    auto window = db_->Changes(k.mkey, from, 0);
    if (!window) {
      finish_now(Outcome::kTransient, seq);
      continue;
    }
    auto payload = DerivePayload(*window, seq - k.since);
    if (!payload) {
      finish_now(Outcome::kCancelled, seq);
      continue;
    }
    Kick kick{.mkey = k.mkey,
              .registration = {info->platform, std::move(info->push_token)},
              .dedup_id = DedupId(k.mkey, k.since),
              .payload_json = std::move(*payload),
              .attempt = k.attempts + 1};
    options_.driver->Send(
        kick, [shared = shared_, k, seq, platform = kick.registration.platform](KickResult result) {
          {
            std::lock_guard lock(shared->mu);
            shared->results.push_back({k, seq, std::move(result), platform});
          }
          shared->cv.notify_one();
        });
  }
}

}  // namespace postbox::sync::kick
