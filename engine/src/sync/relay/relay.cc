// Relay::Impl: one upstream Replica per relayed mailbox, and a thread that
// reconciles each mailbox's items between the relay's store and its replica
// (relay.h, docs/relay.md). Items to look at come from the relay store's feed
// (read from cursor 0 when the relay starts, so everything is looked at once)
// and from the replicas' change callbacks.
#include "postbox/sync/relay.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "postbox/merge.h"
#include "postbox/push.h"
#include "postbox/sync/replica.h"

namespace postbox::sync {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kRefusedPrefix = "postbox/relay/refused/";

}  // namespace

class Relay::Impl {
 public:
  Impl(DB* db, Server* server, RelayOptions o) : db_(db), server_(server), o_(std::move(o)) {}

  ~Impl() {
    if (listener_ != 0) server_->RemoveCommitListener(listener_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    // Each replica stops (and runs its last callbacks, which write to its
    // box) while every box is whole; only then do the boxes go.
    for (auto& b : boxes_) b->up.reset();
    boxes_.clear();
  }

  Status Init() {
    WriteBatch batch;
    for (const auto& c : o_.mailboxes) batch.EnsureMailbox(c.mkey, c.secret);
    POSTBOX_RETURN_IF_ERROR(db_->Write(&batch));
    for (const auto& r : batch.results()) POSTBOX_RETURN_IF_ERROR(r.status);
    for (const auto& c : o_.mailboxes) {
      auto box = std::make_unique<Box>();
      box->creds = c;
      known_.insert(c.mkey);

      boxes_.push_back(std::move(box));
    }
    for (auto& box : boxes_) relayed_.emplace(box->creds.mkey, box.get());
    for (auto& box : boxes_) {
      Box* b = box.get();
      ReplicaOptions r;
      r.folder = o_.folder + "/" + b->creds.mkey.ToHex();
      r.client.host = o_.upstream_host;
      r.client.port = o_.upstream_port;
      r.client.tls = o_.upstream_tls;
      r.client.mkey = b->creds.mkey;
      r.client.secret = b->creds.secret;
      r.client.request_timeout = o_.request_timeout;
      r.durability = o_.replica_durability;
      r.retry_max = std::max(o_.retry_max, r.retry_initial);
      r.poll_interval = o_.poll_interval;
      r.on_change = [this, b](const ReplicaChange& c) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          b->dirty_msgs.insert(c.messages.begin(), c.messages.end());
          b->dirty_msgs.insert(c.messages_removed.begin(), c.messages_removed.end());
          b->removed_up.insert(c.messages_removed.begin(), c.messages_removed.end());
          b->dirty_keys.insert(c.entries.begin(), c.entries.end());
          b->dirty_keys.insert(c.entries_removed.begin(), c.entries_removed.end());
          if (!c.connections.empty()) b->conns_dirty = true;
          b->woken = true;
          if (c.reset) b->full = true;
          work_ = true;
        }
        cv_.notify_all();
      };
      r.on_outbox = [this, b](const OutboxOutcome& out) {
        if (out.status.ok() || out.cancelled) return;
        const OutboxItem& item = out.item;
        if (item.kind != OutboxKind::kPost) {
          // Not sent again (Box::sent_*); the relay's store keeps its state
          // until a newer write wins on either side. A raise of a message
          // upstream replaced meanwhile (410) is no one's error: the removal
          // comes down as any other.
          if (item.kind == OutboxKind::kStatus && out.status.Is(Code::kGone)) return;
          const std::string what =
              item.kind == OutboxKind::kStatus
                  ? "the status raise of " + item.message.ToHex()
                  : "the write of entry '" + item.key + "' version " + std::to_string(item.version);
          Fail(Status(out.status.code(), "upstream refused " + what + " for mailbox " +
                                             b->creds.mkey.ToHex() + ": " +
                                             std::string(out.status.message())));
          return;
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          b->refused.push_back(out);
          b->woken = true;
          work_ = true;
        }
        cv_.notify_all();
      };
      r.on_error = [this](const Status& s) {
        if (o_.on_error) o_.on_error(s);
      };
      POSTBOX_ASSIGN_OR_RETURN(b->up, Replica::Open(std::move(r)));
    }
    // The relay's own server wakes it when a relayed mailbox changes there (a
    // client's write); the scan interval is the safety net.
    listener_ = server_->AddCommitListener([this](std::span<const MailboxKey> changed) {
      bool ours = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& m : changed) {
          if (auto it = relayed_.find(m); it != relayed_.end()) {
            it->second->woken = true;
            ours = true;
          }
        }
        work_ = work_ || ours;
      }
      if (ours) cv_.notify_all();
    });
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  Status Sync(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    // Agreement must be seen twice running: an outbox item can end between a
    // replica's Sync and the count of pending items, with its outcome's
    // callback (a refusal, say) not run yet; the next round's replica Sync
    // runs it.
    bool agreed = false;
    for (;;) {
      for (auto& b : boxes_) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) break;
        POSTBOX_RETURN_IF_ERROR(b->up->Sync(left));
      }
      // Two passes after the replicas settled: the first acts on what they
      // brought; a second that finds nothing to do means both sides agree.
      uint64_t target = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        target = ++pass_requested_;
        work_ = true;
        cv_.notify_all();
        if (!pass_cv_.wait_until(lock, deadline, [&] { return stop_ || pass_done_ >= target; })) {
          break;
        }
        bool agree = false;
        if (last_pass_actions_ == 0) {
          bool pending = false;
          for (auto& b : boxes_) {
            pending =
                pending || !b->dirty_msgs.empty() || !b->dirty_keys.empty() || !b->refused.empty();
          }
          if (!pending) {
            lock.unlock();
            size_t upstream = 0;
            for (auto& b : boxes_) upstream += b->up->state().pending;
            agree = upstream == 0;
          }
        }
        if (agree && agreed) return Status::Ok();
        agreed = agree;
      }
      if (agreed) continue;  // at once: the check, not a wait
      if (Clock::now() >= deadline) break;
      std::this_thread::sleep_for(o_.scan_interval);  // a blob download, say, takes a while
    }
    return Status::Unavailable("the relay and its upstream did not agree in time");
  }

  RelayStats Stats() const {
    RelayStats s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      s = stats_;
    }
    for (const auto& b : boxes_) s.pending_upstream += b->up->state().pending;
    return s;
  }

 private:
  struct Box {
    MailboxCredentials creds;
    std::unique_ptr<Replica> up;
    // Guarded by mu_ (the replica's callbacks add, the relay thread takes).
    std::set<MessageId> dirty_msgs;
    std::set<std::string> dirty_keys;
    std::set<MessageId> removed_up;  // upstream removed them (superseded, retracted)
    bool conns_dirty = true;
    bool woken = true;  // look at it in the next round
    bool full = true;   // look at everything upstream holds
    std::vector<OutboxOutcome> refused;
    // The relay thread's own.
    // What this relay sent upstream and upstream does not show yet: a write
    // sent once is not sent again, so one upstream refused for good (which
    // upstream then does not show) is not repeated forever.
    std::map<MessageId, MessageStatus> sent_statuses;
    std::map<std::string, uint64_t> sent_entries;
    uint64_t local_cursor = 0;
    std::map<std::string, EntryState> local_entries;  // the relay store's, from its feed
    std::set<MessageId> forwarded;                    // posted upstream by this relay
    // Looked at again every round: blobs being fetched from upstream, posts
    // that could not be forwarded yet.
    std::set<MessageId> awaiting;
    std::set<MessageId> gone_up;  // removed upstream, to remove here
  };

  // The status and entry writes of one pass, made together at its end: one
  // local transaction in the replica (one sync), and one batch at the relay
  // for all the mailboxes of a round.
  struct DownOp {
    MailboxKey actor;
    MessageId id;  // a status raise
    MessageStatus status = MessageStatus::kUploaded;
    std::optional<std::pair<std::string, EntryState>> entry;  // else an entry write
  };
  struct Writes {
    ReplicaBatch up;
    std::vector<DownOp> down;
  };

  void Fail(const Status& s) {
    if (o_.on_error) o_.on_error(s);
  }

  // Each round passes over the mailboxes that were woken (by their replica or
  // by the relay's server), those waiting for a blob, and every mailbox once
  // per scan interval or when Sync asks. The passes run in parallel (each
  // replica syncs its own store), and their writes to the relay's store go
  // in one batch.
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    auto last_full = Clock::now();
    for (;;) {
      cv_.wait_for(lock, o_.scan_interval, [this] { return stop_ || work_; });
      if (stop_) return;
      work_ = false;
      const uint64_t requested = pass_requested_;
      const bool all = requested != pass_done_ || Clock::now() - last_full >= o_.scan_interval;
      if (all) last_full = Clock::now();
      std::vector<Box*> due;
      for (auto& b : boxes_) {
        if (all || b->woken || !b->awaiting.empty()) due.push_back(b.get());
        b->woken = false;
      }
      lock.unlock();
      std::vector<Writes> outs(due.size());
      std::vector<uint64_t> acts(due.size(), 0);
      // A round Sync asked for also compares every connection (a replica's
      // news of them may still be on its way to the callback).
      const bool thorough = requested != pass_done_;
      InParallel(due.size(), [&](size_t i) { acts[i] = Pass(*due[i], thorough, &outs[i]); });
      uint64_t actions = WriteDown(due, &outs);
      for (uint64_t a : acts) actions += a;
      lock.lock();
      last_pass_actions_ = actions;
      pass_done_ = requested;
      pass_cv_.notify_all();
    }
  }

  // Runs fn(0 .. n-1) on up to kWorkers threads (this one included).
  static void InParallel(size_t n, const std::function<void(size_t)>& fn) {
    constexpr size_t kWorkers = 8;
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next++; i < n; i = next++) fn(i);
    };
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < std::min(n, kWorkers); ++t) helpers.emplace_back(work);
    work();
    for (auto& t : helpers) t.join();
  }

  // Writes `batch` through the server (its sessions get pushes); the ops'
  // own errors are in its results.
  bool WriteLocal(WriteBatch* batch) {
    Status s = server_->Write(batch);
    if (!s.ok()) Fail(s);
    return s.ok();
  }

  // Makes `peer` a mailbox of the relay's store (without a usable secret) and
  // connects it with `mkey`, as upstream has them connected.
  // 1 if it had to connect them (or failed to).
  uint64_t EnsureConnected(const MailboxKey& mkey, const MailboxKey& peer) {
    bool known = false;
    {
      std::lock_guard<std::mutex> lock(known_mu_);
      known = known_.count(peer) > 0;
    }
    if (!known) {
      WriteBatch batch;
      batch.EnsureMailbox(peer, "");
      if (Status s = db_->Write(&batch); !s.ok() || !batch.results()[0].status.ok()) {
        Fail(s.ok() ? batch.results()[0].status : s);
        return 1;
      }
      std::lock_guard<std::mutex> lock(known_mu_);
      known_.insert(peer);
    }
    auto connected = db_->IsConnected(mkey, peer);
    if (connected.ok() && *connected) return 0;
    if (Status s = db_->Connect(mkey, peer); !s.ok()) Fail(s);
    return 1;
  }

  // One pass over a mailbox; returns how many things it did or still waits
  // for (0: the two sides agree, as far as this pass saw).
  uint64_t Pass(Box& b, bool thorough, Writes* out) {
    const MailboxKey& m = b.creds.mkey;
    std::set<MessageId> msgs;
    std::set<std::string> keys;
    std::vector<OutboxOutcome> refused;
    bool conns = false, full = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      msgs.swap(b.dirty_msgs);
      b.gone_up.insert(b.removed_up.begin(), b.removed_up.end());
      b.removed_up.clear();
      keys.swap(b.dirty_keys);
      refused.swap(b.refused);
      conns = b.conns_dirty || b.full || thorough;
      full = b.full;
      b.conns_dirty = b.full = false;
    }
    uint64_t actions = 0;
    if (conns) {
      auto list = b.up->Connections();
      if (list.ok()) {
        for (const auto& [peer, state] : *list) {
          if (state == ConnectionState::kConnected) actions += EnsureConnected(m, peer);
        }
      }
    }
    // The relay store's changes since the last pass.
    for (;;) {
      auto p = db_->Changes(m, b.local_cursor, 512);
      if (!p.ok()) {
        Fail(p.status());
        break;
      }
      for (const auto& x : p->incoming) msgs.insert(x.id);
      for (const auto& x : p->outgoing) msgs.insert(x.id);
      for (const auto& e : p->entries) {
        b.local_entries[e.key] = EntryState{e.version, false, e.value};
        keys.insert(e.key);
      }
      for (const auto& t : p->tombstones) {
        if (t.kind == TombstoneKind::kEntry) {
          b.local_entries[t.key] = EntryState{t.version, true, ""};
          keys.insert(t.key);
        } else if (auto id = MessageId::FromBytes(t.key)) {
          msgs.insert(*id);
        }
      }
      b.local_cursor = p->cursor;
      if (!p->more) break;
    }
    if (full) {
      for (bool incoming : {true, false}) {
        auto list = incoming ? b.up->Inbox() : b.up->Sent();
        if (list.ok()) {
          for (const auto& x : *list) msgs.insert(x.info.id);
        }
      }
      if (auto list = b.up->ListEntries(""); list.ok()) {
        for (const auto& e : *list) keys.insert(e.key);
      }
    }
    msgs.insert(b.awaiting.begin(), b.awaiting.end());
    // Oldest first, so that imports into one slot supersede in upstream's order.
    std::vector<std::pair<uint64_t, MessageId>> order;
    std::map<MessageId, Result<ReplicaMessage>> upstream;
    for (const auto& id : msgs) {
      auto u = b.up->GetMessage(id);
      order.emplace_back(u.ok() ? u->info.created_ms : 0, id);
      upstream.emplace(id, std::move(u));
    }
    std::sort(order.begin(), order.end());
    for (const auto& [at, id] : order) actions += Message(b, id, upstream.at(id), out);
    for (const auto& key : keys) Entry(b, key, out);
    actions += WriteUp(b, out);
    for (const auto& o : refused) actions += Refused(b, o);
    // Blobs still being fetched: the mailboxes do not agree yet.
    return actions + b.awaiting.size();
  }

  uint64_t WriteUp(Box& b, Writes* out) {
    if (out->up.empty()) return 0;
    auto r = b.up->Write(out->up);
    if (!r.ok()) {
      Fail(r.status());
      return 0;
    }
    uint64_t statuses = 0, entries = 0;
    for (size_t i = 0; i < r->size(); ++i) {
      if (!(*r)[i].ok()) continue;
      const OutboxItem& item = out->up.items()[i];
      if (item.kind == OutboxKind::kStatus) {
        b.sent_statuses[item.message] = item.status;
        ++statuses;
      } else {
        b.sent_entries[item.key] = item.version;
        ++entries;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.statuses_up += statuses;
    stats_.entries_up += entries;
    return statuses + entries;
  }

  uint64_t WriteDown(const std::vector<Box*>& boxes, std::vector<Writes>* outs) {
    WriteBatch batch;
    for (const auto& out : *outs) {
      for (const auto& op : out.down) {
        if (!op.entry) {
          batch.AdvanceStatus(op.actor, op.id, op.status);
        } else if (op.entry->second.deleted) {
          batch.DeleteEntry(op.actor, op.entry->first, op.entry->second.version);
        } else {
          batch.PutEntry(op.actor, op.entry->first, op.entry->second.value,
                         op.entry->second.version);
        }
      }
    }
    if (batch.size() == 0 || !WriteLocal(&batch)) return 0;
    uint64_t statuses = 0, entries = 0;
    size_t k = 0;
    for (size_t i = 0; i < boxes.size(); ++i) {
      for (auto& op : (*outs)[i].down) {
        if (!batch.results()[k++].status.ok()) continue;
        if (op.entry) {
          // Known now, before the feed says it: the next pass must not send it back.
          boxes[i]->local_entries[op.entry->first] = std::move(op.entry->second);
          ++entries;
        } else {
          ++statuses;
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.statuses_down += statuses;
    stats_.entries_down += entries;
    return statuses + entries;
  }

  uint64_t Message(Box& b, const MessageId& id, const Result<ReplicaMessage>& up, Writes* out) {
    const MailboxKey& m = b.creds.mkey;
    auto local = db_->GetMessage(m, id);
    if (local.ok() && up.ok()) {
      if (up->info.status > local->status) {
        out->down.push_back(DownOp{up->incoming ? m : up->info.to, id, up->info.status, {}});
      } else if (local->status > up->info.status && up->incoming) {
        auto sent = b.sent_statuses.find(id);
        if (sent == b.sent_statuses.end() || sent->second < local->status) {
          out->up.UpdateStatus(id, local->status);
        }
      } else if (!up->pending) {
        b.sent_statuses.erase(id);  // upstream confirmed it (or more)
      }
      return 0;  // counted when written
    }
    if (local.ok() && b.gone_up.count(id)) {
      // Upstream removed it (a post refused further up a chain of relays, an
      // operator's delete): so does the relay, in its sender's name.
      b.gone_up.erase(id);
      WriteBatch batch;
      batch.RetractMessage(local->from, id);
      if (!WriteLocal(&batch)) return 0;
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.retracted;
      return 1;
    }
    b.gone_up.erase(id);
    if (local.ok()) {
      // A post made at the relay that upstream does not know yet.
      if (local->from != m || b.forwarded.count(id)) return 0;
      // Not forwarded yet (a store error here or in the replica): looked at
      // again in the next round, and the mailboxes do not agree meanwhile.
      auto bytes = db_->ReadBlob(m, id);
      if (!bytes.ok()) {
        Fail(bytes.status());
        b.awaiting.insert(id);
        return 1;
      }
      auto posted = b.up->Post(local->to, std::move(*bytes), local->topic, local->meta, id);
      if (!posted.ok() && !posted.status().Is(Code::kConflict)) {
        Fail(posted.status());
        b.awaiting.insert(id);
        return 1;
      }
      b.awaiting.erase(id);
      b.forwarded.insert(id);  // in the replica's outbox (Conflict: it was already)
      if (!posted.ok()) return 0;
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.posted_upstream;
      return 1;
    }
    if (!up.ok() || up->pending || local.status().Is(Code::kGone)) {
      // Nowhere, not synced upstream yet, or superseded here (a newer one in
      // its slot is on its way up, and supersedes it there too).
      b.awaiting.erase(id);
      return 0;
    }
    // Upstream has it and the relay does not: import it once its blob is here.
    const MailboxKey other = up->incoming ? up->info.from : up->info.to;
    (void)EnsureConnected(m, other);
    auto blob = b.up->Blob(id);
    if (!blob.ok() || blob->state != BlobState::kDownloaded) {
      if (!blob.ok()) (void)b.up->RequestBlob(id);
      b.awaiting.insert(id);
      return 0;
    }
    auto bytes = b.up->ReadBlob(id);
    if (!bytes.ok()) return 0;
    WriteBatch batch;
    PostRequest r;
    r.from = up->info.from;
    r.to = up->info.to;
    r.id = id;
    r.topic = up->info.topic;
    r.meta = up->info.meta;
    r.bytes = *bytes;
    batch.PostMessage(std::move(r));
    if (up->info.status > MessageStatus::kUploaded) {
      batch.AdvanceStatus(up->incoming ? m : up->info.to, id, up->info.status);
    }
    if (!WriteLocal(&batch)) return 0;
    b.awaiting.erase(id);
    const Status& s = batch.results()[0].status;
    if (!s.ok()) {
      if (!s.Is(Code::kGone)) Fail(s);  // Gone: superseded here meanwhile
      return 0;
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.imported;
    return 1;
  }

  void Entry(Box& b, const std::string& key, Writes* out) {
    const MailboxKey& m = b.creds.mkey;
    std::optional<EntryState> local, up;
    if (auto it = b.local_entries.find(key); it != b.local_entries.end()) local = it->second;
    if (auto u = b.up->GetEntryState(key); u.ok()) up = *u;
    if (local && (!up || EntryRanksAbove(*local, *up))) {
      auto sent = b.sent_entries.find(key);
      if (sent != b.sent_entries.end() && sent->second >= local->version) return;
      if (local->deleted) {
        out->up.DeleteEntry(key, local->version);
      } else if (IsReservedEntryKey(key)) {
        // A notification an app server sent to this relay's own endpoint
        // stays here: only app servers write under these keys, and upstream
        // would refuse it (a consumed one's delete still goes up).
        return;
      } else {
        out->up.PutEntry(key, local->value, local->version);
      }
    } else if (up && (!local || EntryRanksAbove(*up, *local))) {
      // Upstream has a newer write: what was sent is overtaken.
      b.sent_entries.erase(key);
      out->down.push_back(DownOp{m, {}, MessageStatus::kUploaded, std::make_pair(key, *up)});
    }
  }

  // Upstream refused a post the relay had accepted: take it back here and say why.
  uint64_t Refused(Box& b, const OutboxOutcome& o) {
    const MailboxKey& m = b.creds.mkey;
    WriteBatch batch;
    batch.RetractMessage(m, o.item.message);
    batch.PutEntry(
        m, std::string(kRefusedPrefix) + o.item.message.ToHex(),
        std::to_string(HttpCode(o.status.code())) + " " + std::string(o.status.message()), 0);
    if (!WriteLocal(&batch)) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.refused;
    return 1;
  }

  DB* db_;
  Server* server_;
  RelayOptions o_;
  std::vector<std::unique_ptr<Box>> boxes_;
  std::mutex known_mu_;
  std::set<MailboxKey> known_;  // mailboxes the relay's store has
  // Set before the listener is added, then only read.
  std::map<MailboxKey, Box*> relayed_;
  uint64_t listener_ = 0;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable pass_cv_;
  bool stop_ = false;
  bool work_ = true;
  uint64_t pass_requested_ = 0;
  uint64_t pass_done_ = 0;
  uint64_t last_pass_actions_ = 1;
  RelayStats stats_;
};

Result<std::unique_ptr<Relay>> Relay::Start(DB* db, Server* server, RelayOptions options) {
  if (db == nullptr || server == nullptr)
    return Status::InvalidArgument("a relay needs a store and a server");
  if (options.mailboxes.empty()) return Status::InvalidArgument("a relay needs mailboxes to relay");
  if (options.folder.empty()) return Status::InvalidArgument("RelayOptions.folder is empty");
  if (options.scan_interval.count() <= 0 || options.request_timeout.count() <= 0 ||
      options.poll_interval.count() <= 0) {
    return Status::InvalidArgument(
        "scan_interval, request_timeout and poll_interval must be positive");
  }
  for (const auto& c : options.mailboxes) {
    if (c.secret.empty()) {
      return Status::InvalidArgument("relayed mailbox " + c.mkey.ToHex() + " has no secret");
    }
  }
  auto impl = std::make_unique<Impl>(db, server, std::move(options));
  POSTBOX_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Relay>(new Relay(std::move(impl)));
}

Relay::Relay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Relay::~Relay() = default;
Status Relay::Sync(std::chrono::milliseconds timeout) { return impl_->Sync(timeout); }
RelayStats Relay::stats() const { return impl_->Stats(); }

}  // namespace postbox::sync
