#include "store/env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "store/codec.h"
#include "store/records.h"

namespace postbox::store {

Status LmdbError(int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += mdb_strerror(rc);
  switch (rc) {
    case MDB_MAP_FULL:
      return Status::ResourceExhausted(msg + " (MDB_MAP_FULL: storage full)");
    case MDB_TXN_FULL:
      return Status::ResourceExhausted(msg + " (MDB_TXN_FULL: transaction too large)");
    case MDB_READERS_FULL:
      return Status::Unavailable(msg + " (MDB_READERS_FULL)");
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Status::Internal(msg + " (store corrupted or of another format)");
    case ENOSPC:
      return Status::ResourceExhausted(msg + " (ENOSPC: disk full)");
    default:
      return Status::Unavailable(msg);
  }
}

Result<std::optional<std::string_view>> Txn::RawGet(MDB_dbi dbi, std::string_view key) const {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return Failed(LmdbError(rc, "mdb_get"));
  return std::optional<std::string_view>(View(v));
}

Status Txn::Failed(Status s) const {
  if (error_.ok()) error_ = s;
  return s;
}

Status Txn::WriteError(int rc, std::string_view what) const {
  if (space_ == nullptr || space_->folder == nullptr) return Failed(LmdbError(rc, what));
  return Failed(WriteFailure(rc, what, *space_->folder, space_->reserve));
}

const Status& Txn::growth() const {
  static const Status kOk;
  return space_ != nullptr ? space_->growth : kOk;
}

Status Txn::RawPut(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  return rc == 0 ? Status() : WriteError(rc, "mdb_put");
}

Status Txn::RawDel(MDB_dbi dbi, std::string_view key) {
  MDB_val k = Val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == 0 || rc == MDB_NOTFOUND) return Status();
  return WriteError(rc, "mdb_del");
}

Status Txn::RawScan(MDB_dbi dbi, std::string_view prefix, std::string_view from,
                    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn_, dbi, &cur);
  if (rc != 0) return Failed(LmdbError(rc, "mdb_cursor_open"));
  std::string_view start = from < prefix ? prefix : from;
  MDB_val k = Val(start), v;
  // LMDB refuses an empty key for MDB_SET_RANGE; an empty start means the first key.
  rc = mdb_cursor_get(cur, &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key = View(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, View(v))) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return Failed(LmdbError(rc, "mdb_cursor_get"));
  return Status();
}

Result<uint64_t> Txn::RawCount(MDB_dbi dbi) const {
  MDB_stat st{};
  const int rc = mdb_stat(txn_, dbi, &st);
  if (rc != 0) return Failed(LmdbError(rc, "mdb_stat"));
  return uint64_t{st.ms_entries};
}

Result<size_t> Txn::DelPrefix(MDB_dbi dbi, std::string_view prefix) {
  std::vector<std::string> keys;
  POSTBOX_RETURN_IF_ERROR(Scan(dbi, prefix, prefix, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  }));
  for (const auto& k : keys) POSTBOX_RETURN_IF_ERROR(Del(dbi, k));
  return keys.size();
}

namespace {

// meta["pending_folded"]: u64, the last pending sequence a fold applied (a
// new record's sequence is above it, also after the table was emptied).
constexpr std::string_view kPendingFolded = "pending_folded";

// Checks meta["format"] in the open-time transaction `txn`: OK for this
// format and for format 4 (kOldestFormat: it lacks only the settings record,
// which DB::Open then writes; stamped with this format unless read-only), and
// for a store without data (stamped with this format unless read-only;
// *created is set). Internal naming both formats otherwise. No other
// migration exists: stores were pre-release before format 4.
Status CheckFormat(MDB_txn* txn, const std::string& path, bool read_only, bool* created) {
  *created = false;
  MDB_dbi meta = 0;
  int rc = mdb_dbi_open(txn, "meta", read_only ? 0 : MDB_CREATE, &meta);
  if (rc == MDB_NOTFOUND) return Status::NotFound("no postbox store in " + path);
  if (rc != 0) return LmdbError(rc, "mdb_dbi_open(meta)");
  std::string value;
  RecordWriter(&value).U32(kFormatVersion);
  MDB_val key = Val(kFormatName), val = Val(value);
  MDB_val k = Val(kFormatName), v;
  rc = mdb_get(txn, meta, &k, &v);
  if (rc == 0) {
    RecordReader r(View(v));
    const uint32_t stored = r.U32();
    if (!r.ok() || !r.done()) {
      return Status::Internal("store in " + path + " has an unreadable format record");
    }
    if (stored == kFormatVersion) return Status();
    if (stored >= kOldestFormat && stored < kFormatVersion) {
      if (read_only) return Status();
      rc = mdb_put(txn, meta, &key, &val, 0);
      return rc == 0 ? Status() : LmdbError(rc, "mdb_put(meta)");
    }
    return Status::Internal("store in " + path + " has format " + std::to_string(stored) +
                            "; this build reads formats " + std::to_string(kOldestFormat) + " to " +
                            std::to_string(kFormatVersion) +
                            " only (no migration: recreate the store)");
  }
  if (rc != MDB_NOTFOUND) return LmdbError(rc, "mdb_get(meta)");
  // A store holding keys in any table but `meta` and no format record is of
  // format 1, which did not write one (kTableList has every format's tables).
  for (const TableName& table : kTableList) {
    if (table.dbi == &Tables::meta) continue;
    const char* name = table.name;
    MDB_dbi dbi = 0;
    rc = mdb_dbi_open(txn, name, 0, &dbi);
    if (rc == MDB_NOTFOUND) continue;
    if (rc != 0) return LmdbError(rc, std::string("mdb_dbi_open(") + name + ")");
    MDB_stat st{};
    rc = mdb_stat(txn, dbi, &st);
    if (rc != 0) return LmdbError(rc, std::string("mdb_stat(") + name + ")");
    if (st.ms_entries != 0) {
      return Status::Internal("store in " + path +
                              " has format 1 (it holds data but no format record); this build "
                              "reads formats " +
                              std::to_string(kOldestFormat) + " to " +
                              std::to_string(kFormatVersion) +
                              " only (no migration: recreate the store)");
    }
  }
  *created = true;
  if (read_only) return Status();  // empty: nothing to misread
  rc = mdb_put(txn, meta, &key, &val, 0);
  if (rc != 0) return LmdbError(rc, "mdb_put(meta)");
  return Status();
}

}  // namespace

Gate::Gate() {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  // Without this, glibc lets new readers in while a writer waits.
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&lock_, &attr);
  pthread_rwlockattr_destroy(&attr);
}

Gate::~Gate() { pthread_rwlock_destroy(&lock_); }

void Gate::LockShared() { pthread_rwlock_rdlock(&lock_); }
void Gate::UnlockShared() { pthread_rwlock_unlock(&lock_); }
void Gate::Unlock() { pthread_rwlock_unlock(&lock_); }

bool Gate::TryLockFor(std::chrono::milliseconds timeout) {
  timespec deadline{};
  clock_gettime(CLOCK_REALTIME, &deadline);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  deadline.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
  deadline.tv_nsec += static_cast<long>(ns % 1'000'000'000);
  if (deadline.tv_nsec >= 1'000'000'000) {
    deadline.tv_nsec -= 1'000'000'000;
    ++deadline.tv_sec;
  }
  return pthread_rwlock_timedwrlock(&lock_, &deadline) == 0;
}

Result<std::unique_ptr<Env>> Env::Open(const std::string& path, const Options& options,
                                       const OpenHooks& hooks) {
  std::unique_ptr<Env> env(new Env());
  env->options_ = options;
  env->reserve_ = StorageReserve(options);
  env->path_ = path;
  std::error_code ec;
  if (!options.read_only) std::filesystem::create_directories(path, ec);
  if (ec) return Status::Unavailable("cannot create store folder " + path + ": " + ec.message());
  if (!std::filesystem::is_directory(path, ec)) {
    return Status::Unavailable("store folder " + path + " does not exist");
  }

  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) return LmdbError(rc, "mdb_env_create");
  // Closed by ~Env from here on, also when opening fails.
  env->env_ = raw;
  rc = mdb_env_set_maxdbs(raw, Tables::kMaxTables);
  if (rc != 0) return LmdbError(rc, "mdb_env_set_maxdbs");
  rc = mdb_env_set_maxreaders(raw, 1022);
  if (rc != 0) return LmdbError(rc, "mdb_env_set_maxreaders");
  // The whole map is reserved now, so it never has to grow (which needs every
  // transaction in the process to end). Without MDB_WRITEMAP this is address
  // space only: the file grows as pages are written.
  rc = mdb_env_set_mapsize(raw, options.max_map_size);
  if (rc != 0) return LmdbError(rc, "mdb_env_set_mapsize");
  // MDB_NOTLS: read transactions are not tied to threads (loop threads and
  // callers may move them). MDB_NOMETASYNC in relaxed mode: each commit still
  // syncs its data pages but not the meta page that points at them, so the
  // store is consistent after any crash; SyncLoop syncs the meta page.
  unsigned flags = MDB_NOTLS;
  if (options.read_only) flags |= MDB_RDONLY;
  if (hooks.no_lock && options.read_only) flags |= MDB_NOLOCK;
  if (options.durability == Durability::kRelaxed) flags |= MDB_NOMETASYNC;
  rc = mdb_env_open(raw, path.c_str(), flags, 0644);
  if (rc != 0) return LmdbError(rc, "mdb_env_open(" + path + ")");
  env->opened_ = true;
  env->registered_ = RegisterOpenStore(path);
  POSTBOX_RETURN_IF_ERROR(CheckFileSize(raw, path));
  // A process killed inside a read transaction leaves its reader slot behind,
  // and LMDB then keeps every page freed after that snapshot: clear such slots.
  POSTBOX_RETURN_IF_ERROR(env->ClearDeadReaders().status());

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(raw, nullptr, options.read_only ? MDB_RDONLY : 0, &txn);
  if (rc != 0) return LmdbError(rc, "mdb_txn_begin");
  // Before any other table is opened (or created): a store of another format
  // must fail here, not be misread (or gain tables) further on.
  bool created = false;
  Status format = CheckFormat(txn, path, options.read_only, &created);
  if (!format.ok()) {
    mdb_txn_abort(txn);
    return format;
  }
  Tables& tables = env->tables_;
  tables.code_of.fill(Tables::kNoTable);
  for (size_t code = 0; code < std::size(kTableList); ++code) {
    const TableName& n = kTableList[code];
    // A read-only open of a store from before format 6 finds no pending
    // table: nothing is pending there.
    const bool optional = options.read_only && n.dbi == &Tables::pending;
    rc = mdb_dbi_open(txn, n.name, options.read_only ? 0 : MDB_CREATE, &(tables.*n.dbi));
    if (rc == MDB_NOTFOUND && optional) continue;
    if (rc != 0) {
      mdb_txn_abort(txn);
      if (rc == MDB_NOTFOUND) return Status::NotFound("no postbox store in " + path);
      return LmdbError(rc, std::string("mdb_dbi_open(") + n.name + ")");
    }
    // The meta record and the pending table itself are never deferred.
    if (n.dbi != &Tables::meta && n.dbi != &Tables::pending) {
      tables.code_of.at(tables.*n.dbi) = static_cast<TableCode>(code);
    }
  }
  if (hooks.on_open) {
    Txn t(txn, env->tables_);
    Status s = hooks.on_open(t, created);
    if (s.ok()) s = t.error();
    if (!s.ok()) {
      mdb_txn_abort(txn);
      return s;
    }
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbError(rc, "mdb_txn_commit");

  if (options.durability == Durability::kRelaxed && !options.read_only) {
    env->sync_thread_ = std::thread([e = env.get()] { e->SyncLoop(); });
  }
  return env;
}

Result<MDB_dbi> Env::OpenTable(const std::string& name) {
  std::optional<SharedGate> gate;
  MDB_txn* txn = nullptr;
  POSTBOX_RETURN_IF_ERROR(BeginTxn(options_.read_only ? MDB_RDONLY : 0, &gate, &txn));
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn, name.c_str(), options_.read_only ? 0 : MDB_CREATE, &dbi);
  if (rc != 0) {
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) return Status::NotFound("no table " + name + " in " + path_);
    return LmdbError(rc, "mdb_dbi_open(" + name + ")");
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbError(rc, "mdb_txn_commit");
  return dbi;
}

Env::~Env() {
  if (sync_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(sync_mu_);
      stopping_ = true;
    }
    sync_cv_.notify_all();
    sync_thread_.join();
  }
  if (env_ != nullptr) {
    // Best effort: a destructor has no one to tell. DB::Sync reports. A
    // clean close leaves the tables whole (pending writes folded); if the
    // fold fails they stay pending, as durable, and the next writer folds.
    if (opened_ && !options_.read_only && pending_.bytes() > 0) (void)Fold();
    if (opened_ && !options_.read_only) (void)Sync();
    mdb_env_close(env_);
  }
  // Only now: closing any descriptor of lock.mdb drops this process's locks on it.
  if (probe_fd_ >= 0) close(probe_fd_);
  if (registered_) UnregisterOpenStore(*registered_);
}

void Env::SyncLoop() {
  std::unique_lock<std::mutex> lock(sync_mu_);
  while (!stopping_) {
    sync_cv_.wait_for(lock, options_.relaxed_sync_interval, [this] { return stopping_; });
    // A failure is recorded, and fails writes until a sync succeeds.
    (void)Sync();
  }
}

Status Env::Sync() {
  if (options_.read_only) return Status();  // nothing of ours to sync
  const int rc = mdb_env_sync(env_, 1);
  if (rc == 0) {
    if (sync_failed_.load()) {
      std::lock_guard<std::mutex> lock(sync_error_mu_);
      sync_error_ = Status();
      sync_failed_ = false;
    }
    return Status();
  }
  Status s = WriteFailure(rc, "mdb_env_sync", path_, reserve_);
  ++sync_failures_;
  std::lock_guard<std::mutex> lock(sync_error_mu_);
  sync_error_ = s;
  sync_failed_ = true;
  return s;
}

Status Env::SyncBarrier() {
  if (!sync_failed_.load()) return Status();
  // Try again now: the cause (a full disk, say) may be gone.
  Status retry = Sync();
  if (retry.ok()) return Status();
  return Status::Unavailable(
      "writes are refused until the store syncs again: a sync of its committed writes failed (" +
      retry.ToString() + ")");
}

Result<int> Env::ClearDeadReaders() {
  int dead = 0;
  const int rc = mdb_reader_check(env_, &dead);
  if (rc != 0) return LmdbError(rc, "mdb_reader_check");
  return dead;
}

// How long adopting another process's map size waits for this process's
// transactions to end before it gives up with Unavailable (a thread holding a
// BlobView while it asks for another transaction would otherwise wait forever).
constexpr std::chrono::seconds kAdoptTimeout{30};

Status Env::AdoptMapSize() const {
  if (!gate_.TryLockFor(kAdoptTimeout)) {
    return Status::Unavailable(
        "another process enlarged the store's map, and transactions open in this process "
        "(BlobViews held while asking for another) kept it from adopting the new size for " +
        std::to_string(kAdoptTimeout.count()) + " s");
  }
  // Size 0 adopts the size the other process persisted (LMDB rounds it up to
  // the pages in use).
  const int rc = mdb_env_set_mapsize(env_, 0);
  gate_.Unlock();
  if (rc != 0) return LmdbError(rc, "mdb_env_set_mapsize(adopt)");
  return Status();
}

Status Env::BeginTxn(unsigned flags, std::optional<SharedGate>* gate, MDB_txn** txn) const {
  for (;;) {
    gate->emplace(&gate_);
    const int rc = mdb_txn_begin(env_, nullptr, flags, txn);
    if (rc == 0) return Status();
    gate->reset();
    if (rc != MDB_MAP_RESIZED) return LmdbError(rc, "mdb_txn_begin");
    // Another process's data reaches past this process's map.
    POSTBOX_RETURN_IF_ERROR(AdoptMapSize());
  }
}

ReadTxn::~ReadTxn() { mdb_txn_abort(raw_); }

Result<std::unique_ptr<ReadTxn>> Env::BeginRead() const {
  std::optional<SharedGate> gate;
  MDB_txn* txn = nullptr;
  POSTBOX_RETURN_IF_ERROR(BeginTxn(MDB_RDONLY, &gate, &txn));
  std::unique_ptr<ReadTxn> read(new ReadTxn(std::move(*gate), txn, tables_));
  POSTBOX_ASSIGN_OR_RETURN(const PendingRange pending, PendingIn(read->txn()));
  if (!pending.empty()) read->txn().AttachPending(&pending_, pending, /*deferred=*/false);
  return read;
}

Result<PendingRange> Env::PendingIn(const Txn& t) const {
  PendingRange r;
  if (tables_.pending == 0) return r;
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(t.raw(), tables_.pending, &cur);
  if (rc != 0) return LmdbError(rc, "mdb_cursor_open(pending)");
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  if (rc == 0 && k.mv_size == 8) {
    r.lo = ReadBE64(View(k));
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8) r.hi = ReadBE64(View(k));
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "mdb_cursor_get(pending)");
  return r;
}

Status Env::FoldInto(Txn& t, PendingRange r) {
  // The records of r as this transaction's reads would see them (from the
  // shared index, or one of its own): each key's latest change, in key order.
  t.AttachPending(&pending_, r, /*deferred=*/false);
  Status s;
  Status covered = t.WithPending([&](const PendingIndex& index) {
    return index.ForEachLatest(
        r, [&](TableCode code, std::string_view key, std::optional<std::string_view> value) {
          if (!s.ok()) return;
          const MDB_dbi dbi = tables_.*kTableList[code].dbi;
          s = value ? t.RawPut(dbi, key, *value) : t.RawDel(dbi, key);
        });
  });
  t.DetachPending();
  POSTBOX_RETURN_IF_ERROR(covered);
  POSTBOX_RETURN_IF_ERROR(s);
  const int rc = mdb_drop(t.raw(), tables_.pending, 0);
  if (rc != 0) return t.WriteError(rc, "mdb_drop(pending)");
  std::string folded;
  RecordWriter(&folded).U64(r.hi);
  return t.RawPut(tables_.meta, kPendingFolded, folded);
}

Status Env::Read(const std::function<Status(Txn&)>& fn) const {
  POSTBOX_ASSIGN_OR_RETURN(auto read, BeginRead());
  return fn(read->txn());
}

Status Env::Write(const std::function<Status(Txn&)>& fn) { return WriteTxn(fn, false); }

Status Env::Fold() {
  if (options_.read_only) return Status();  // a read-only open folds nothing
  bool pending = pending_.bytes() > 0;
  if (!pending) {  // another process's records, this one has not read yet?
    POSTBOX_RETURN_IF_ERROR(Read([&](Txn& t) -> Status {
      POSTBOX_ASSIGN_OR_RETURN(const PendingRange r, PendingIn(t));
      pending = !r.empty();
      return Status();
    }));
  }
  if (!pending) return Status();
  return Write([](Txn&) { return Status(); });  // a plain write folds first
}

Status Env::WriteDeferred(const std::function<Status(Txn&)>& fn) { return WriteTxn(fn, true); }

Status Env::WriteTxn(const std::function<Status(Txn&)>& fn, bool may_defer) {
  if (options_.read_only) return Status::PermissionDenied("store opened read-only");
  // The gate before the writer mutex, always: a thread holding a BlobView
  // (the gate, shared) may write, so the opposite order could deadlock.
  std::optional<SharedGate> gate;
  std::unique_lock<std::mutex> writer;
  std::optional<WriteSpace> space;
  MDB_txn* txn = nullptr;
  for (;;) {
    gate.emplace(&gate_);
    writer = std::unique_lock<std::mutex>(writer_);
    POSTBOX_RETURN_IF_ERROR(SyncBarrier());
    // Now and then, also before space runs short, clear dead readers' slots
    // (the scan costs a few µs per slot in use).
    if (++writes_ % kReaderCheckEvery == 0) POSTBOX_RETURN_IF_ERROR(ClearDeadReaders().status());
    space.emplace(WriteSpace{&path_, reserve_, CheckSpace()});
    if (!space->growth.ok() && !space->growth.Is(Code::kResourceExhausted)) return space->growth;
    const int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == 0) break;
    writer.unlock();
    gate.reset();
    if (rc != MDB_MAP_RESIZED) return LmdbError(rc, "mdb_txn_begin");
    POSTBOX_RETURN_IF_ERROR(AdoptMapSize());  // another process's data reaches past our map
  }
  Txn t(txn, tables_, &*space);
  uint64_t folded = 0;    // the pending sequence this transaction folds through
  uint64_t appended = 0;  // the pending record it appends
  Status s = [&]() -> Status {
    POSTBOX_ASSIGN_OR_RETURN(const PendingRange r, PendingIn(t));
    POSTBOX_ASSIGN_OR_RETURN(auto raw, t.RawGet(tables_.meta, kPendingFolded));
    uint64_t folded_before = 0;
    if (raw) {
      RecordReader in(*raw);
      folded_before = in.U64();
      if (!in.ok() || !in.done()) return Status::Internal("unreadable pending_folded record");
    }
    // Another process folded records this index still holds.
    if (folded_before > pending_.dropped_through()) pending_.DropThrough(folded_before);
    // Not while ops that grow the store are refused: deletes must then free
    // space in place, not append records (and a fold's transient growth is
    // bounded by the reserve below).
    bool defer =
        may_defer && space->growth.ok() && options_.pending_bytes > 0 && tables_.pending != 0;
    if (defer) {
      POSTBOX_ASSIGN_OR_RETURN(defer, t.CatchUpPending(pending_, r));
      // A fold writes the tables and frees the pending records in one
      // transaction: keep what it can add within a quarter of the reserve.
      defer = defer && pending_.bytes() < std::min(options_.pending_bytes, reserve_ / 4);
    }
    if (!defer && !r.empty()) {
      POSTBOX_RETURN_IF_ERROR(FoldInto(t, r));
      folded = r.hi;
    }
    if (defer) t.AttachPending(&pending_, r, /*deferred=*/true);
    POSTBOX_RETURN_IF_ERROR(fn(t));
    POSTBOX_RETURN_IF_ERROR(t.error());  // never commit a transaction LMDB marked unusable
    if (!defer) return Status();
    PendingRecord rec = t.TakeDeferred();
    if (rec.writes.empty()) return Status();
    const std::string value = rec.Encode();
    const uint64_t pseq = std::max({pending_.last(), folded_before, r.hi}) + 1;
    std::string key;
    AppendBE64(key, pseq);
    POSTBOX_RETURN_IF_ERROR(t.RawPut(tables_.pending, key, value));
    // Added before the commit: a reader sees it only once its snapshot holds it.
    pending_.Add(pseq, std::move(rec), value.size());
    appended = pseq;
    return Status();
  }();
  if (!s.ok()) {
    mdb_txn_abort(txn);
    if (appended != 0) pending_.RemoveLast(appended);
    return s;
  }
  const int rc = mdb_txn_commit(txn);  // frees the transaction also when it fails
  if (rc != 0) {
    if (appended != 0) pending_.RemoveLast(appended);
    return WriteFailure(rc, "mdb_txn_commit", path_, reserve_);
  }
  if (folded != 0) pending_.DropThrough(folded);
  return Status();
}

uint64_t Env::map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

uint64_t Env::used_bytes() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  MDB_stat st;
  mdb_env_stat(env_, &st);
  return (info.me_last_pgno + 1) * static_cast<uint64_t>(st.ms_psize);
}

}  // namespace postbox::store
