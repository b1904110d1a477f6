// DB: opens the environment, runs each public call in a transaction and
// applies write batches (group commit) through the one writer.
#include "postbox/db.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "store/batch_op.h"
#include "store/codec.h"
#include "store/db_impl.h"
#include "store/env.h"
#include "store/settings.h"
#include "store/store.h"

namespace postbox {

using store::Env;
using store::Txn;
using store::WriteCtx;

void DB::Impl::ApplyOne(WriteCtx& w, const WriteBatch::Op& op, OpResult& r) const {
  using Kind = WriteBatch::Op::Kind;
  auto keep = [&](auto result, auto assign) -> Status {
    if (!result) return result.error();
    assign(std::move(result).value());
    return Status();
  };
  Status s;
  switch (op.kind) {
    case Kind::kCreateMailbox:
      s = keep(store_.CreateMailbox(w), [&](auto v) { r.credentials = std::move(v); });
      break;
    case Kind::kDeleteMailbox:
      s = store_.DeleteMailbox(w, op.a);
      break;
    case Kind::kConnect:
      s = store_.Connect(w, op.a, op.b);
      break;
    case Kind::kDisconnect:
      s = store_.Disconnect(w, op.a, op.b);
      break;
    case Kind::kRequestConnection:
      s = keep(store_.RequestConnection(w, op.a, op.b), [&](auto v) { r.connection = v; });
      break;
    case Kind::kRegisterPush:
      s = store_.RegisterPush(w, op.a, op.platform, op.key);
      break;
    case Kind::kPutEntry:
    case Kind::kDeleteEntry:
      s = keep(
          store_.MergeEntry(w, op.a, op.key, op.value, op.version, op.kind == Kind::kDeleteEntry,
                            op.kind == Kind::kPutEntry ? op.at_ms : 0),
          [&](auto v) { r.entry = v; });
      break;
    case Kind::kPostMessage: {
      MessageCommit commit;
      WriteCtx wc{w.txn, w.now_ms, w.changed, &commit};
      s = keep(store_.PostMessage(wc, op.post.from, op.post.to, op.post.id, op.post.topic,
                                  op.post.meta, op.post.bytes, op.digest),
               [&](auto v) { r.message = std::move(v); });
      if (s.ok() && commit.seq != 0) r.commit = std::move(commit);  // not a retry
      break;
    }
    case Kind::kAdvanceStatus:
      s = keep(store_.AdvanceStatus(w, op.a, op.id, op.status, &r.status_applied),
               [&](auto v) { r.message_status = v; });
      break;
    case Kind::kBeginUpload:
      s = keep(store_.BeginUpload(w, op.upload), [&](auto v) { r.upload = v; });
      break;
    case Kind::kWriteChunk:
      s = keep(store_.WriteChunk(w, op.a, op.id, op.offset, op.value),
               [&](auto v) { r.upload = v; });
      break;
    case Kind::kCommitUpload: {
      MessageCommit commit;
      WriteCtx wc{w.txn, w.now_ms, w.changed, &commit};
      s = keep(store_.CommitUpload(wc, op.a, op.id), [&](auto v) { r.message = std::move(v); });
      if (s.ok() && commit.seq != 0) r.commit = std::move(commit);  // not a retry
      // SPEC §4: a mismatched digest discards the upload. The store's commit
      // wrote nothing; the discard is this op's one write (write_batch.h).
      if (s.Is(Code::kDigestMismatch)) {
        if (Status d = store_.AbortUpload(w, op.a, op.id); !d.ok()) s = d;
      }
      break;
    }
    case Kind::kAbortUpload:
      s = store_.AbortUpload(w, op.a, op.id);
      break;
    case Kind::kSweep:
    case Kind::kPurgeTombstones:
      s = Maintain(w, op, r);
      break;
    case Kind::kEnsureMailbox:
      s = keep(store_.EnsureMailbox(w, op.a, op.key),
               [&](auto v) { r.credentials = std::move(v); });
      break;
    case Kind::kRetractMessage:
      s = store_.RetractMessage(w, op.a, op.id);
      break;
    case Kind::kRegisterEndpoint:
      s = keep(store_.RegisterEndpoint(w, op.a, op.key, op.value),
               [&](auto v) { r.endpoint = std::move(v); });
      break;
    case Kind::kRevokeEndpoint:
      s = store_.RevokeEndpoint(w, op.a, op.key);
      break;
    case Kind::kKicks:
      s = op.kicks ? store_.ApplyKicks(w, *w.changed, *op.kicks)
                   : Status::InvalidArgument("a kicks op without its work");
      break;
  }
  r.status = s;
}

// Whether `dbi`, keyed by a big-endian time first (upload_ttl, tombs), holds a
// key from before `cutoff_ms`.
static Result<bool> HasKeyBefore(Txn& t, MDB_dbi dbi, uint64_t cutoff_ms) {
  bool found = false;
  POSTBOX_RETURN_IF_ERROR(t.Scan(dbi, "", "", [&](std::string_view k, std::string_view) {
    found = k.size() >= 8 && store::ReadBE64(k) < cutoff_ms;
    return false;
  }));
  return found;
}

Status DB::Impl::Maintain(WriteCtx& w, const WriteBatch::Op& op, OpResult& r) const {
  Txn& t = w.txn;
  if (op.kind == WriteBatch::Op::Kind::kSweep) {
    const uint64_t at = op.at_ms != 0 ? op.at_ms : w.now_ms;
    // Entries past their expiry (PutExpiringEntry), then stale uploads.
    POSTBOX_ASSIGN_OR_RETURN(r.sweep.entries, store_.ExpireEntries(w, at, op.limit));
    POSTBOX_ASSIGN_OR_RETURN(bool entries_left, HasKeyBefore(t, t.t().entry_ttl, at));
    r.sweep.more = entries_left;
    const auto ttl = static_cast<uint64_t>(store_.options().upload_ttl.count());
    if (at < ttl) return Status();  // no upload can be that old
    const uint64_t entries = r.sweep.entries;
    POSTBOX_ASSIGN_OR_RETURN(r.sweep, store_.SweepUploads(w, at - ttl, op.limit));
    r.sweep.entries = entries;
    POSTBOX_ASSIGN_OR_RETURN(bool uploads_left, HasKeyBefore(t, t.t().upload_ttl, at - ttl));
    r.sweep.more = entries_left || uploads_left;
    return Status();
  }
  const auto horizon = static_cast<uint64_t>(store_.options().tombstone_horizon.count());
  if (w.now_ms < horizon) return Status();
  POSTBOX_ASSIGN_OR_RETURN(r.purge.tombstones, store_.PurgeTombstones(w, op.limit));
  POSTBOX_RETURN_IF_ERROR(store_.PurgeRevokedEndpoints(w, op.limit).status());
  // A stale index key left behind counts as "more": the next op finds it.
  POSTBOX_ASSIGN_OR_RETURN(bool tombs, HasKeyBefore(t, t.t().tombs, w.now_ms - horizon));
  POSTBOX_ASSIGN_OR_RETURN(bool revoked,
                           HasKeyBefore(t, t.t().endpoint_revoked, w.now_ms - horizon));
  r.purge.more = tombs || revoked;
  return Status();
}

// An op's validation failure is its own result and has written nothing (store
// operations validate with reads before they write). These instead mean the
// op failed part-way (map full, I/O, a corrupted record), so what it wrote
// must be undone.
static bool FailedPartWay(const Status& s) {
  return s.Is(Code::kResourceExhausted) || s.Is(Code::kUnavailable) || s.Is(Code::kInternal);
}

// Refuses `op` up front when it would grow a full store; true if it did.
static bool Refused(const Txn& t, const WriteBatch::Op& op, OpResult& r) {
  if (t.growth().ok() || !GrowsStore(op)) return false;
  r.status = t.growth();
  return true;
}

// Whether `batch`'s writes may be deferred (Env::WriteDeferred): a small
// batch whose every op makes small changes to many places, so its commit
// would otherwise write a page for each change. A large batch's changes share
// pages already (deferring them only adds the record and the index: measured
// 0.5x at 2,000 ops a batch); posts (blobs), deletions and maintenance write
// the tables directly.
static bool Deferrable(const std::vector<WriteBatch::Op>& ops) {
  using Kind = WriteBatch::Op::Kind;
  constexpr size_t kMostDeferredOps = 256;
  return ops.size() <= kMostDeferredOps &&
         std::all_of(ops.begin(), ops.end(), [](const WriteBatch::Op& op) {
           return op.kind == Kind::kAdvanceStatus || op.kind == Kind::kPutEntry ||
                  op.kind == Kind::kDeleteEntry || op.kind == Kind::kKicks;
         });
}

// Every op fails alone. The batch first runs in one transaction, which costs
// nothing extra. If an op fails part-way, that transaction is aborted and the
// batch runs once more with each op in a nested transaction, so a failing
// op's writes are undone alone while the others commit. Nested transactions
// are kept off the common path: LMDB allocates a dirty list for each (about
// +11 µs an op measured on a 1000-op batch, +55% of its CPU time).
Status DB::Impl::Apply(WriteBatch* batch) {
  const uint64_t now = store_.Now();
  const size_t n = batch->ops_.size();
  store::ChangedMailboxes changed;
  bool replay = false;
  const auto write = Deferrable(batch->ops_) ? &Env::WriteDeferred : &Env::Write;
  Status s = (env_.get()->*write)([&](Txn& t) -> Status {
    batch->results_.assign(n, OpResult{});
    WriteCtx w{t, now, &changed};
    for (size_t i = 0; i < n; ++i) {
      OpResult& r = batch->results_[i];
      if (Refused(t, batch->ops_[i], r)) continue;
      ApplyOne(w, batch->ops_[i], r);
      if (FailedPartWay(r.status) || !t.error().ok()) {
        replay = true;
        return FailedPartWay(r.status) ? r.status : t.error();
      }
    }
    return Status();
  });
  if (replay) {
    s = env_->Write([&](Txn& t) -> Status {
      changed.clear();
      batch->results_.assign(n, OpResult{});
      for (size_t i = 0; i < n; ++i) {
        OpResult& r = batch->results_[i];
        if (Refused(t, batch->ops_[i], r)) continue;
        store::ChangedMailboxes op_changed;
        // A kKicks op marks what the ops before it changed.
        if (batch->ops_[i].kind == WriteBatch::Op::Kind::kKicks) op_changed = changed;
        Status op = t.Nested([&](Txn& child) -> Status {
          WriteCtx w{child, now, &op_changed};
          ApplyOne(w, batch->ops_[i], r);
          return FailedPartWay(r.status) ? r.status : Status();
        });
        if (op.ok()) {
          changed.merge(op_changed);
        } else {
          r = OpResult{};  // also when beginning or committing the nested transaction failed
          r.status = op;
        }
      }
      return Status();
    });
  }
  if (!s.ok()) {
    batch->results_.assign(n, OpResult{});
    for (auto& r : batch->results_) r.status = s;
    batch->changed_.clear();
    return s;
  }
  batch->changed_.clear();
  for (const auto& [m, seq] : changed) batch->changed_.push_back(m);
  return Status();
}

DB::DB(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DB::~DB() = default;

Result<std::unique_ptr<DB>> DB::Open(const std::string& path, const Options& options) {
  POSTBOX_ASSIGN_OR_RETURN(auto impl, Impl::Open(path, options, /*no_lock=*/false));
  return std::unique_ptr<DB>(new DB(std::move(impl)));
}

Result<std::unique_ptr<DB::Impl>> DB::Impl::Open(const std::string& path, const Options& options,
                                                 bool no_lock) {
  if (path.empty()) return Status::InvalidArgument("store path is empty");
  if (options.slot_depth < 1) return Status::InvalidArgument("slot_depth must be at least 1");
  if (options.max_map_size < (1u << 20)) {
    return Status::InvalidArgument("max_map_size must be at least 1 MiB");
  }
  if (options.storage_reserve && *options.storage_reserve >= options.max_map_size) {
    return Status::InvalidArgument("storage_reserve must be below max_map_size");
  }
  POSTBOX_RETURN_IF_ERROR(store::ValidateSettings(options));
  Options in_force = options;
  std::string note;
  store::OpenHooks hooks;
  hooks.no_lock = no_lock;
  hooks.on_open = [&](Txn& t, bool created) {
    return store::CheckSettings(t, options, created, options.read_only, path, &in_force, &note);
  };
  POSTBOX_ASSIGN_OR_RETURN(auto env, Env::Open(path, options, hooks));
  auto impl = std::make_unique<Impl>(std::move(env), in_force);
  impl->settings_note_ = std::move(note);
  return impl;
}

const Options& DB::options() const { return impl_->store().options(); }

const std::string& DB::settings_note() const { return impl_->settings_note(); }

Status DB::Write(WriteBatch* batch) { return impl_->Apply(batch); }

Status DB::Sync() { return impl_->env().Sync(); }

Status DB::Checkpoint() { return impl_->env().Fold(); }

uint64_t DB::pending_bytes() const { return impl_->env().pending_bytes(); }

namespace {
// Runs a one-op batch and hands back its result.
template <typename Fill>
OpResult WriteOne(DB& db, Fill fill) {
  WriteBatch batch;
  fill(batch);
  (void)db.Write(&batch);
  return batch.results().front();
}
}  // namespace

Result<MailboxCredentials> DB::CreateMailbox() {
  OpResult r = WriteOne(*this, [](WriteBatch& b) { b.CreateMailbox(); });
  if (!r.status.ok()) return r.status;
  return std::move(*r.credentials);
}

Status DB::Authenticate(const MailboxKey& mkey, std::string_view secret) const {
  return impl_->env().Read([&](Txn& t) { return impl_->store().Authenticate(t, mkey, secret); });
}

Status DB::DeleteMailbox(const MailboxKey& mkey) {
  return WriteOne(*this, [&](WriteBatch& b) { b.DeleteMailbox(mkey); }).status;
}

Result<MailboxInfo> DB::GetMailbox(const MailboxKey& mkey) const {
  return impl_->Read<MailboxInfo>([&](Txn& t) { return impl_->store().GetMailbox(t, mkey); });
}

Result<std::vector<MailboxInfo>> DB::ListMailboxes(std::optional<MailboxKey> start_after,
                                                   size_t limit) const {
  return impl_->Read<std::vector<MailboxInfo>>(
      [&](Txn& t) { return impl_->store().ListMailboxes(t, start_after, limit); });
}

Result<uint64_t> DB::CountMailboxes() const {
  return impl_->Read<uint64_t>([&](Txn& t) { return t.Count(t.t().mailboxes); });
}

Status DB::Connect(const MailboxKey& a, const MailboxKey& b) {
  return WriteOne(*this, [&](WriteBatch& w) { w.Connect(a, b); }).status;
}

Status DB::Disconnect(const MailboxKey& a, const MailboxKey& b) {
  return WriteOne(*this, [&](WriteBatch& w) { w.Disconnect(a, b); }).status;
}

Result<ConnectionState> DB::RequestConnection(const MailboxKey& actor, const MailboxKey& peer) {
  OpResult r = WriteOne(*this, [&](WriteBatch& w) { w.RequestConnection(actor, peer); });
  if (!r.status.ok()) return r.status;
  return r.connection;
}

Result<bool> DB::IsConnected(const MailboxKey& a, const MailboxKey& b) const {
  return impl_->Read<bool>([&](Txn& t) { return impl_->store().IsConnected(t, a, b); });
}

Result<std::vector<MailboxKey>> DB::ListConnections(const MailboxKey& mkey,
                                                    std::optional<MailboxKey> start_after,
                                                    size_t limit, ConnectionListKind kind) const {
  return impl_->Read<std::vector<MailboxKey>>(
      [&](Txn& t) { return impl_->store().ListConnections(t, mkey, start_after, limit, kind); });
}

Status DB::RegisterPush(const MailboxKey& mkey, Platform platform, std::string_view token) {
  return WriteOne(*this, [&](WriteBatch& b) { b.RegisterPush(mkey, platform, std::string(token)); })
      .status;
}

Result<EndpointInfo> DB::RegisterEndpoint(const MailboxKey& mkey, std::string_view app_id,
                                          std::string_view vapid_public_key) {
  OpResult r = WriteOne(*this, [&](WriteBatch& b) {
    b.RegisterEndpoint(mkey, std::string(app_id), std::string(vapid_public_key));
  });
  if (!r.status.ok()) return r.status;
  return std::move(*r.endpoint);
}

Status DB::RevokeEndpoint(const MailboxKey& mkey, std::string_view token) {
  return WriteOne(*this, [&](WriteBatch& b) { b.RevokeEndpoint(mkey, std::string(token)); }).status;
}

Result<std::vector<EndpointInfo>> DB::ListEndpoints(const MailboxKey& mkey,
                                                    std::string_view start_after,
                                                    size_t limit) const {
  return impl_->Read<std::vector<EndpointInfo>>(
      [&](Txn& t) { return impl_->store().ListEndpoints(t, mkey, start_after, limit); });
}

Result<EndpointInfo> DB::GetEndpoint(std::string_view token) const {
  return impl_->Read<EndpointInfo>([&](Txn& t) { return impl_->store().GetEndpoint(t, token); });
}

Result<PushRegistration> DB::GetPush(const MailboxKey& mkey) const {
  return impl_->Read<PushRegistration>([&](Txn& t) -> Result<PushRegistration> {
    POSTBOX_RETURN_IF_ERROR(impl_->store().RequireMailbox(t, mkey).status());
    return impl_->store().GetPush(t, mkey);
  });
}

Result<EntryPutResult> DB::PutEntry(const MailboxKey& mkey, std::string_view key,
                                    std::string_view value, uint64_t version) {
  OpResult r = WriteOne(*this, [&](WriteBatch& b) {
    b.PutEntry(mkey, std::string(key), std::string(value), version);
  });
  if (!r.status.ok()) return r.status;
  return r.entry;
}

Result<EntryPutResult> DB::DeleteEntry(const MailboxKey& mkey, std::string_view key,
                                       uint64_t version) {
  OpResult r =
      WriteOne(*this, [&](WriteBatch& b) { b.DeleteEntry(mkey, std::string(key), version); });
  if (!r.status.ok()) return r.status;
  return r.entry;
}

Result<EntryInfo> DB::GetEntry(const MailboxKey& mkey, std::string_view key) const {
  return impl_->Read<EntryInfo>([&](Txn& t) { return impl_->store().GetEntry(t, mkey, key); });
}

Result<std::vector<EntryInfo>> DB::ListEntries(const MailboxKey& mkey, std::string_view prefix,
                                               std::string_view start_after, size_t limit) const {
  return impl_->Read<std::vector<EntryInfo>>(
      [&](Txn& t) { return impl_->store().ListEntries(t, mkey, prefix, start_after, limit); });
}

Result<MessageInfo> DB::PostMessage(const PostRequest& request) {
  OpResult r = WriteOne(*this, [&](WriteBatch& b) { b.PostMessage(request); });
  if (!r.status.ok()) return r.status;
  return std::move(*r.message);
}

Result<MessageInfo> DB::GetMessage(const MailboxKey& actor, const MessageId& id) const {
  return impl_->Read<MessageInfo>([&](Txn& t) -> Result<MessageInfo> {
    POSTBOX_ASSIGN_OR_RETURN(
        auto msg, impl_->store().RequireMessage(t, actor, id, store::Store::Party::kEither));
    return msg.ToInfo(id, 0);
  });
}

Result<std::string> DB::ReadBlob(const MailboxKey& actor, const MessageId& id, uint64_t offset,
                                 uint64_t length) const {
  return impl_->Read<std::string>(
      [&](Txn& t) { return impl_->store().ReadBlob(t, actor, id, offset, length); });
}

Result<MessageStatus> DB::AdvanceStatus(const MailboxKey& actor, const MessageId& id,
                                        MessageStatus status) {
  OpResult r = WriteOne(*this, [&](WriteBatch& b) { b.AdvanceStatus(actor, id, status); });
  if (!r.status.ok()) return r.status;
  return r.message_status;
}

Result<UploadState> DB::BeginUpload(const UploadRequest& request) {
  OpResult r = WriteOne(*this, [&](WriteBatch& b) { b.BeginUpload(request); });
  if (!r.status.ok()) return r.status;
  return r.upload;
}

Result<UploadState> DB::WriteChunk(const MailboxKey& actor, const MessageId& id, uint64_t offset,
                                   std::string_view bytes) {
  OpResult r = WriteOne(*this, [&](WriteBatch& b) { b.WriteChunk(actor, id, offset, bytes); });
  if (!r.status.ok()) return r.status;
  return r.upload;
}

Result<UploadState> DB::UploadOffset(const MailboxKey& actor, const MessageId& id) const {
  return impl_->Read<UploadState>(
      [&](Txn& t) { return impl_->store().UploadOffset(t, actor, id); });
}

Result<std::vector<UploadInfo>> DB::ListUploads(std::optional<MessageId> start_after,
                                                size_t limit) const {
  return impl_->Read<std::vector<UploadInfo>>(
      [&](Txn& t) { return impl_->store().ListUploads(t, start_after, limit); });
}

Result<MessageInfo> DB::CommitUpload(const MailboxKey& actor, const MessageId& id) {
  OpResult r = WriteOne(*this, [&](WriteBatch& b) { b.CommitUpload(actor, id); });
  if (!r.status.ok()) return r.status;
  return std::move(*r.message);
}

Status DB::AbortUpload(const MailboxKey& actor, const MessageId& id) {
  return WriteOne(*this, [&](WriteBatch& b) { b.AbortUpload(actor, id); }).status;
}

namespace {
// A BlobView that owns the read transaction its chunks point into.
class LmdbBlobView final : public BlobView {
 public:
  LmdbBlobView(std::unique_ptr<store::ReadTxn> txn, MessageInfo message,
               std::vector<BlobChunk> chunks)
      : txn_(std::move(txn)) {
    message_ = std::move(message);
    chunks_ = std::move(chunks);
  }

 private:
  std::unique_ptr<store::ReadTxn> txn_;
};
}  // namespace

Result<std::unique_ptr<BlobView>> DB::ViewBlob(const MailboxKey& actor, const MessageId& id,
                                               uint64_t offset, uint64_t length) const {
  POSTBOX_ASSIGN_OR_RETURN(auto read, impl_->env().BeginRead());
  const store::Store& s = impl_->store();
  POSTBOX_ASSIGN_OR_RETURN(auto msg,
                           s.RequireMessage(read->txn(), actor, id, store::Store::Party::kEither));
  POSTBOX_ASSIGN_OR_RETURN(auto chunks,
                           s.PieceViews(read->txn(), id, msg.rec.length, offset, length, true));
  return std::unique_ptr<BlobView>(
      new LmdbBlobView(std::move(read), msg.ToInfo(id, 0), std::move(chunks)));
}

Result<SweepResult> DB::Sweep(uint64_t now_ms, size_t batch) {
  SweepResult total;
  for (;;) {
    WriteBatch b;
    b.Add(WriteBatch::Op{.kind = WriteBatch::Op::Kind::kSweep,
                         .limit = std::max<size_t>(batch, 1),
                         .at_ms = now_ms});
    POSTBOX_RETURN_IF_ERROR(Write(&b));
    const OpResult& r = b.results().front();
    if (!r.status.ok()) return r.status;
    total.uploads += r.sweep.uploads;
    total.bytes += r.sweep.bytes;
    total.entries += r.sweep.entries;
    if (!r.sweep.more) return total;
  }
}

Result<InfoPacket> DB::Changes(const MailboxKey& mkey, uint64_t since, size_t limit) const {
  return impl_->Read<InfoPacket>(
      [&](Txn& t) { return impl_->store().Changes(t, mkey, since, limit); });
}

Result<size_t> DB::PurgeTombstones(size_t max_items) {
  OpResult r = WriteOne(*this, [&](WriteBatch& b) { b.PurgeTombstones(max_items); });
  if (!r.status.ok()) return r.status;
  return static_cast<size_t>(r.purge.tombstones);
}

Result<std::vector<PendingKick>> DB::ListPendingKicks(std::optional<MailboxKey> start_after,
                                                      size_t limit) const {
  return impl_->Read<std::vector<PendingKick>>(
      [&](Txn& t) { return impl_->store().ListKicks(t, start_after, limit); });
}

Result<StoreStats> DB::Stats() const {
  return impl_->Read<StoreStats>([&](Txn& t) -> Result<StoreStats> {
    StoreStats s;
    POSTBOX_ASSIGN_OR_RETURN(s.mailboxes, t.Count(t.t().mailboxes));
    POSTBOX_ASSIGN_OR_RETURN(s.messages, t.Count(t.t().messages));
    POSTBOX_ASSIGN_OR_RETURN(s.entries, t.Count(t.t().entries));
    POSTBOX_ASSIGN_OR_RETURN(s.blob_chunks, t.Count(t.t().blobs));
    POSTBOX_ASSIGN_OR_RETURN(s.feed_records, t.Count(t.t().feed));
    POSTBOX_ASSIGN_OR_RETURN(s.uploads, t.Count(t.t().uploads));
    s.map_size = impl_->env().map_size();
    s.used_bytes = impl_->env().used_bytes();
    std::error_code ec;
    s.file_bytes = std::filesystem::file_size(impl_->env().data_file(), ec);
    POSTBOX_ASSIGN_OR_RETURN(s.mailbox_deletions, impl_->store().MailboxDeletions(t));
    s.sync_failures = impl_->env().sync_failures();
    return s;
  });
}

}  // namespace postbox
