// Relay::Impl: one upstream Replica per relayed mailbox, and a thread that
// reconciles each mailbox's items between the relay's store and its replica
// (relay.h, docs/relay.md). Items to look at come from the relay store's feed
// (read from cursor 0 when the relay starts, so everything is looked at once)
// and from the replicas' change callbacks.
#include "postbox/sync/relay.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "postbox/merge.h"
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
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    boxes_.clear();  // each replica stops before the relay's state goes
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
    for (auto& box : boxes_) {
      Box* b = box.get();
      ReplicaOptions r;
      r.folder = o_.folder + "/" + b->creds.mkey.ToHex();
      r.client.host = o_.upstream_host;
      r.client.port = o_.upstream_port;
      r.client.mkey = b->creds.mkey;
      r.client.secret = b->creds.secret;
      r.client.request_timeout = o_.request_timeout;
      r.durability = o_.durability;
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
          if (c.reset) b->full = true;
          work_ = true;
        }
        cv_.notify_all();
      };
      r.on_outbox = [this, b](const OutboxOutcome& out) {
        if (out.status.ok() || out.cancelled || out.item.kind != OutboxKind::kPost) return;
        {
          std::lock_guard<std::mutex> lock(mu_);
          b->refused.push_back(out);
          work_ = true;
        }
        cv_.notify_all();
      };
      r.on_error = [this](const Status& s) {
        if (o_.on_error) o_.on_error(s);
      };
      POSTBOX_ASSIGN_OR_RETURN(b->up, Replica::Open(std::move(r)));
    }
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  Status Sync(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
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
            if (upstream == 0) return Status::Ok();
          }
        }
      }
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
    bool full = true;  // look at everything upstream holds
    std::vector<OutboxOutcome> refused;
    // The relay thread's own.
    uint64_t local_cursor = 0;
    std::map<std::string, EntryState> local_entries;  // the relay store's, from its feed
    std::set<MessageId> forwarded;                    // posted upstream by this relay
    std::set<MessageId> awaiting;                     // blobs being fetched from upstream
    std::set<MessageId> gone_up;                      // removed upstream, to remove here
  };

  void Fail(const Status& s) {
    if (o_.on_error) o_.on_error(s);
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait_for(lock, o_.scan_interval, [this] { return stop_ || work_; });
      if (stop_) return;
      work_ = false;
      const uint64_t requested = pass_requested_;
      lock.unlock();
      uint64_t actions = 0;
      for (auto& b : boxes_) actions += Pass(*b);
      lock.lock();
      last_pass_actions_ = actions;
      pass_done_ = requested;
      pass_cv_.notify_all();
      // Blobs being fetched are looked at again on the next scan.
    }
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
  void EnsureConnected(const MailboxKey& mkey, const MailboxKey& peer) {
    if (!known_.count(peer)) {
      WriteBatch batch;
      batch.EnsureMailbox(peer, "");
      if (Status s = db_->Write(&batch); !s.ok() || !batch.results()[0].status.ok()) {
        return Fail(s.ok() ? batch.results()[0].status : s);
      }
      known_.insert(peer);
    }
    auto connected = db_->IsConnected(mkey, peer);
    if (connected.ok() && !*connected) {
      if (Status s = db_->Connect(mkey, peer); !s.ok()) Fail(s);
    }
  }

  // One pass over a mailbox; returns how many things it did or still waits
  // for (0: the two sides agree, as far as this pass saw).
  uint64_t Pass(Box& b) {
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
      conns = b.conns_dirty || b.full;
      full = b.full;
      b.conns_dirty = b.full = false;
    }
    uint64_t actions = 0;
    if (conns) {
      auto list = b.up->Connections();
      if (list.ok()) {
        for (const auto& [peer, state] : *list) {
          if (state == ConnectionState::kConnected) EnsureConnected(m, peer);
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
    for (const auto& id : msgs) {
      uint64_t at = 0;
      if (auto u = b.up->GetMessage(id); u.ok()) at = u->info.created_ms;
      order.emplace_back(at, id);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [at, id] : order) actions += Message(b, id);
    for (const auto& key : keys) actions += Entry(b, key);
    for (const auto& o : refused) actions += Refused(b, o);
    // Blobs still being fetched: the mailboxes do not agree yet.
    return actions + b.awaiting.size();
  }

  uint64_t Message(Box& b, const MessageId& id) {
    const MailboxKey& m = b.creds.mkey;
    auto local = db_->GetMessage(m, id);
    auto up = b.up->GetMessage(id);
    if (local.ok() && up.ok()) {
      if (up->info.status > local->status) {
        WriteBatch batch;
        batch.AdvanceStatus(up->incoming ? m : up->info.to, id, up->info.status);
        if (WriteLocal(&batch) && batch.results()[0].status.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.statuses_down;
          return 1;
        }
      } else if (local->status > up->info.status && up->incoming) {
        if (b.up->UpdateStatus(id, local->status).ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.statuses_up;
          return 1;
        }
      }
      return 0;
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
      b.forwarded.insert(id);
      auto bytes = db_->ReadBlob(m, id);
      if (!bytes.ok()) {
        Fail(bytes.status());
        return 0;
      }
      auto posted = b.up->Post(local->to, std::move(*bytes), local->topic, local->meta, id);
      if (!posted.ok()) return 0;  // Conflict: upstream has it already
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
    EnsureConnected(m, other);
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

  uint64_t Entry(Box& b, const std::string& key) {
    const MailboxKey& m = b.creds.mkey;
    std::optional<EntryState> local, up;
    if (auto it = b.local_entries.find(key); it != b.local_entries.end()) local = it->second;
    if (auto u = b.up->GetEntryState(key); u.ok()) up = *u;
    if (local && (!up || EntryRanksAbove(*local, *up))) {
      auto r = local->deleted ? b.up->DeleteEntry(key, local->version)
                              : b.up->PutEntry(key, local->value, local->version);
      if (!r.ok()) return 0;
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.entries_up;
      return 1;
    }
    if (up && (!local || EntryRanksAbove(*up, *local))) {
      WriteBatch batch;
      if (up->deleted) {
        batch.DeleteEntry(m, key, up->version);
      } else {
        batch.PutEntry(m, key, up->value, up->version);
      }
      if (!WriteLocal(&batch) || !batch.results()[0].status.ok()) return 0;
      // Known now, before the feed says it: the next pass must not send it back.
      b.local_entries[key] = *up;
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.entries_down;
      return 1;
    }
    return 0;
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
  std::set<MailboxKey> known_;  // mailboxes the relay's store has (relay thread)
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
