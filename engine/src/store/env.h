// The LMDB boundary: opening the environment and its tables, transactions,
// the space check, syncing, and the one place MDB_* codes become Status.
// Nothing above this file sees an LMDB error code.
#ifndef POSTBOX_STORE_ENV_H_
#define POSTBOX_STORE_ENV_H_

#include <lmdb.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "postbox/options.h"
#include "postbox/result.h"
#include "postbox/status.h"
#include "store/pending.h"

namespace postbox::store {

// Translates an LMDB (or errno) return code into a Status naming the call and
// the original code. MDB_MAP_FULL and MDB_TXN_FULL become ResourceExhausted.
Status LmdbError(int rc, std::string_view what);

// The error of a failed write or commit in the store in `folder`: as
// LmdbError, except that an I/O error (LMDB turns a short pwrite into EIO)
// while the file system has less than `reserve` bytes free is reported as
// ResourceExhausted "disk full".
Status WriteFailure(int rc, std::string_view what, const std::string& folder, uint64_t reserve);

// The storage reserve in effect for `options` (Options::storage_reserve, or
// its default when unset).
uint64_t StorageReserve(const Options& options);

// A reader-writer lock that prefers writers: once a thread waits to take it
// exclusively, new shared takers wait too, so a steady stream of readers
// cannot starve it (glibc's default rwlock, under std::shared_mutex, prefers
// readers). Not recursive: a thread that holds it shared and asks again while
// an exclusive taker waits blocks until that taker gives up (TryLockFor).
// Shared holds may be released on another thread than the one that took them.
class Gate {
 public:
  Gate();
  ~Gate();
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  void LockShared();
  void UnlockShared();
  // Takes the gate exclusively, waiting at most `timeout`; false if it could not.
  bool TryLockFor(std::chrono::milliseconds timeout);
  void Unlock();

 private:
  pthread_rwlock_t lock_;
};

// Holds a Gate shared for its lifetime (or until Release); movable.
class SharedGate {
 public:
  explicit SharedGate(Gate* gate) : gate_(gate) { gate_->LockShared(); }
  ~SharedGate() { Release(); }
  SharedGate(SharedGate&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
  SharedGate(const SharedGate&) = delete;
  SharedGate& operator=(const SharedGate&) = delete;
  SharedGate& operator=(SharedGate&&) = delete;
  void Release() {
    if (gate_ != nullptr) gate_->UnlockShared();
    gate_ = nullptr;
  }

 private:
  Gate* gate_;
};

inline MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// The named tables (LMDB sub-databases); the layout is in KEY_LAYOUT.md.
struct Tables {
  MDB_dbi meta = 0;
  MDB_dbi mailboxes = 0;
  MDB_dbi conns = 0;
  MDB_dbi push = 0;
  MDB_dbi entries = 0;
  MDB_dbi messages = 0;
  MDB_dbi message_state = 0;
  MDB_dbi slots = 0;
  MDB_dbi blobs = 0;
  MDB_dbi gone = 0;
  MDB_dbi feed = 0;
  MDB_dbi tombs = 0;
  MDB_dbi uploads = 0;
  MDB_dbi upload_ttl = 0;
  MDB_dbi upload_tail = 0;        // staged bytes of an upload's incomplete last piece
  MDB_dbi conn_requests = 0;      // connection requests awaiting the peer's consent
  MDB_dbi endpoints = 0;          // Web Push endpoints by token
  MDB_dbi mailbox_endpoints = 0;  // a mailbox's live endpoints
  MDB_dbi endpoint_revoked = 0;   // revoked endpoints by time, for the purge
  MDB_dbi kicks = 0;              // the sync server's pending kicks
  MDB_dbi entry_ttl = 0;          // entries that expire (Web Push notifications), by time
  MDB_dbi pending = 0;            // deferred writes (pending.h); 0 in a read-only store without it

  // Tables an environment may hold: the store's and those others open in it
  // (Env::OpenTable, e.g. a replica's mirror).
  static constexpr unsigned kMaxTables = 32;
  // A table's code in pending records (kNoTable: never deferred), by handle.
  static constexpr TableCode kNoTable = 0xff;
  TableCode CodeOf(MDB_dbi dbi) const { return dbi < code_of.size() ? code_of[dbi] : kNoTable; }
  // LMDB keeps handles 0 and 1 for itself: the tables get 2 .. kMaxTables + 1.
  std::array<TableCode, kMaxTables + 2> code_of{};  // Env::Open fills it
};

// Every table of the store. A table's index here is its code in pending
// records, so the list only grows at its end (KEY_LAYOUT.md).
struct TableName {
  const char* name;
  MDB_dbi Tables::*dbi;
};
inline constexpr TableName kTableList[] = {{"meta", &Tables::meta},
                                           {"mailboxes", &Tables::mailboxes},
                                           {"conns", &Tables::conns},
                                           {"push", &Tables::push},
                                           {"entries", &Tables::entries},
                                           {"messages", &Tables::messages},
                                           {"message_state", &Tables::message_state},
                                           {"slots", &Tables::slots},
                                           {"blobs", &Tables::blobs},
                                           {"gone", &Tables::gone},
                                           {"feed", &Tables::feed},
                                           {"tombs", &Tables::tombs},
                                           {"uploads", &Tables::uploads},
                                           {"upload_ttl", &Tables::upload_ttl},
                                           {"upload_tail", &Tables::upload_tail},
                                           {"conn_requests", &Tables::conn_requests},
                                           {"endpoints", &Tables::endpoints},
                                           {"mailbox_endpoints", &Tables::mailbox_endpoints},
                                           {"endpoint_revoked", &Tables::endpoint_revoked},
                                           {"kicks", &Tables::kicks},
                                           {"entry_ttl", &Tables::entry_ttl},
                                           {"pending", &Tables::pending}};

// Where a write transaction stands: the store's folder and storage reserve
// (to tell a full disk from another I/O error) and whether ops that grow the
// store may run.
struct WriteSpace {
  const std::string* folder = nullptr;
  uint64_t reserve = 0;
  // OK, or the ResourceExhausted ("storage full: ...") that ops growing the
  // store get instead of running.
  Status growth;
};

// A transaction's table access. Views returned by Get and the cursor are valid
// until the transaction ends or the same key is written.
//
// Reads merge the pending writes the transaction's snapshot holds (pending.h)
// over the tables; a deferred write transaction (Env::WriteDeferred) also
// gathers its own writes in memory and reads them back.
class Txn {
 public:
  Txn(MDB_txn* txn, const Tables& t, const WriteSpace* space = nullptr);
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  MDB_txn* raw() const { return txn_; }
  const Tables& t() const { return t_; }

  // OK when ops that grow the store may run in this (write) transaction;
  // otherwise the ResourceExhausted they answer with.
  const Status& growth() const;

  // Runs `fn` in a transaction nested in this write transaction: committed
  // into this one if `fn` returns OK and no LMDB call in it failed, aborted
  // (undoing whatever it wrote, and leaving this transaction usable)
  // otherwise. Returns `fn`'s error, the failed call's, or the error of
  // beginning or committing the nested transaction.
  Status Nested(const std::function<Status(Txn&)>& fn);

  // The first error of an LMDB call in this transaction (OK if none). LMDB
  // marks a transaction unusable after most failures, so a caller that turned
  // such an error into another answer must still not commit it.
  const Status& error() const { return error_; }

  // nullopt when absent.
  Result<std::optional<std::string_view>> Get(MDB_dbi dbi, std::string_view key) const;
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value);
  // Reserves `size` bytes for `key` and returns where to write them.
  Result<char*> Reserve(MDB_dbi dbi, std::string_view key, size_t size);
  // OK whether or not the key existed.
  Status Del(MDB_dbi dbi, std::string_view key);

  // Visits keys >= `from` that start with `prefix` in order, until `fn` returns
  // false. The key/value views are valid during the call only.
  Status Scan(MDB_dbi dbi, std::string_view prefix, std::string_view from,
              const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // Deletes every key starting with `prefix`; returns how many.
  Result<size_t> DelPrefix(MDB_dbi dbi, std::string_view prefix);
  // How many keys `dbi` holds.
  Result<uint64_t> Count(MDB_dbi dbi) const;

 private:
  friend class Env;
  struct Layer;  // pending writes merged into reads (txn_layer.cc)

  // The table operations on LMDB alone.
  Result<std::optional<std::string_view>> RawGet(MDB_dbi dbi, std::string_view key) const;
  Status RawPut(MDB_dbi dbi, std::string_view key, std::string_view value);
  Status RawDel(MDB_dbi dbi, std::string_view key);
  Status RawScan(MDB_dbi dbi, std::string_view prefix, std::string_view from,
                 const std::function<bool(std::string_view, std::string_view)>& fn) const;
  Result<uint64_t> RawCount(MDB_dbi dbi) const;

  // Merges the pending writes of `range` into this transaction's reads;
  // `deferred`: its writes are gathered too (TakeDeferred).
  void AttachPending(PendingIndex* index, PendingRange range, bool deferred);
  void DetachPending();
  bool deferred() const;
  // The deferred writes, as the pending record to append.
  PendingRecord TakeDeferred();
  // The pending writes this transaction's snapshot holds, from `index` when
  // it covers them (catching up with the table if it can), else from an
  // index of this transaction's own read from the table. Calls `fn` with the
  // index; `fn` returns false when the index no longer covers them.
  Status WithPending(const std::function<bool(const PendingIndex&)>& fn) const;
  // Brings `index` up to this snapshot's pending records in `range`, reading
  // those it lacks from the table (PendingIndex::CatchUp).
  Result<bool> CatchUpPending(PendingIndex& index, PendingRange range) const;
  // A deferred write of `key` (nullopt: a deletion); the buffered value.
  Result<std::string*> Defer(MDB_dbi dbi, std::string_view key, std::optional<std::string> value);

  // Records `s` as the transaction's error (the first one) and returns it.
  Status Failed(Status s) const;
  // The Status for a failed write's `rc` (a full disk named as such), recorded.
  Status WriteError(int rc, std::string_view what) const;

  MDB_txn* txn_;
  const Tables& t_;
  const WriteSpace* space_;  // null in read transactions
  mutable Status error_;
  std::unique_ptr<Layer> layer_;  // null: no pending writes to merge
};

class Env;

// A read-only transaction held open by its owner (a zero-copy BlobView). It
// keeps the map-size gate shared for its whole life.
class ReadTxn {
 public:
  ~ReadTxn();
  Txn& txn() { return txn_; }

 private:
  friend class Env;
  ReadTxn(SharedGate gate, MDB_txn* raw, const Tables& t)
      : raw_(raw), txn_(raw, t), gate_(std::move(gate)) {}
  MDB_txn* raw_;
  Txn txn_;
  SharedGate gate_;  // released after the transaction ends (members die in reverse)
};

// What Env::Open does besides opening.
struct OpenHooks {
  // Runs in the open transaction (a write transaction unless read-only) once
  // the tables are open, before it commits; `created` says the store was new
  // (it had no data and was stamped with the current format just now). An
  // error aborts the open. DB::Open reads and writes the settings here.
  std::function<Status(Txn& txn, bool created)> on_open;
  // LMDB's MDB_NOLOCK: no lock file is made or used. Only for a read-only
  // look at a copy no other process uses (a backup being checked).
  bool no_lock = false;
};

// Internal unless the data file of the open `env` holds every page its
// newest meta page counts: reading a page past the end of a truncated file (a
// partial copy) through the map would kill the process with SIGBUS instead of
// failing. Env::Open runs it. env_copy.cc.
Status CheckFileSize(MDB_env* env, const std::string& path);

// Whether a process other than this one has the store in `folder` open, by
// LMDB's lock: every process with the environment open holds a shared fcntl
// lock on byte 0 of lock.mdb. The pid of one such process, or 0. Never call it
// for a folder this process has open (OpenInThisProcess): closing the
// descriptor it uses would drop this process's own LMDB locks.
Result<int64_t> OtherProcessHolding(const std::string& folder);
// How many Envs of this process have the store in `folder` open.
size_t OpenInThisProcess(const std::string& folder);
// The registry behind OpenInThisProcess (env_copy.cc): Env::Open registers
// its folder's identity (device, inode), ~Env unregisters it.
std::optional<std::pair<uint64_t, uint64_t>> RegisterOpenStore(const std::string& folder);
void UnregisterOpenStore(const std::pair<uint64_t, uint64_t>& id);

class Env {
 public:
  static Result<std::unique_ptr<Env>> Open(const std::string& path, const Options& options,
                                           const OpenHooks& hooks = {});
  // Stops the periodic sync, then syncs once more (best effort: a failure
  // there is lost; a host that must know calls Sync first) and closes.
  ~Env();

  const Tables& tables() const { return tables_; }

  // Runs `fn` in a read-only transaction. Safe from any thread, concurrently.
  Status Read(const std::function<Status(Txn&)>& fn) const;
  // Opens a read-only transaction that lives as long as the returned object.
  Result<std::unique_ptr<ReadTxn>> BeginRead() const;

  // Runs `fn` in the write transaction and commits it (each commit synced in
  // kDurable mode; its data pages in kRelaxed mode). Before it begins, the
  // space check decides whether ops that grow the store may run (Txn::growth).
  // If `fn` returns non-OK the transaction is aborted and that error returned;
  // a failed commit returns its error and nothing was written. While a sync
  // has failed and no later one succeeded, fails with Unavailable naming it.
  // Serialized: one writer at a time in this process (LMDB serializes processes).
  // Pending writes (pending.h) are folded into the tables first, in the same
  // transaction, so `fn` writes the tables themselves.
  Status Write(const std::function<Status(Txn&)>& fn);
  // As Write, except that `fn`'s writes are deferred (pending.h): committed
  // as one record in the pending table, read back merged by every later
  // transaction, and folded into the tables later. It runs as Write instead
  // (folding first) once the pending records reach Options::pending_bytes, or
  // when this process cannot see them all (another process folded meanwhile
  // under a reader of this one). For transactions of small writes to many
  // places (status rises, entries), whose commits would otherwise write a
  // page for each. `fn` must not keep a value it wrote beyond the transaction.
  Status WriteDeferred(const std::function<Status(Txn&)>& fn);
  // Folds the pending writes into the tables now; writes nothing (no commit,
  // no sync) when the table holds none.
  Status Fold();
  // The encoded bytes of the pending records this process knows of.
  uint64_t pending_bytes() const { return pending_.bytes(); }

  // Forces the store's pages to disk. OK, or the sync's error (also recorded:
  // writes fail until a sync succeeds).
  Status Sync();
  // How many syncs (relaxed mode's periodic ones and Sync calls) have failed.
  uint64_t sync_failures() const { return sync_failures_.load(); }

  // Opens (creating it unless the store is read-only) a named table besides
  // the server's, for a store that keeps tables of its own in the same folder
  // (the app-side replica, engine/src/sync/replica/). Call it before the
  // handle is used by concurrent transactions; opening a name twice returns
  // the same handle. At most 16 such tables.
  Result<MDB_dbi> OpenTable(const std::string& name);

  // Clears the reader slots of dead processes (which pin freed pages); returns
  // how many it cleared.
  Result<int> ClearDeadReaders();

  uint64_t map_size() const;
  uint64_t used_bytes() const;
  std::string data_file() const { return path_ + "/data.mdb"; }
  const std::string& path() const { return path_; }

  // Writes a compacted copy of the environment (mdb_env_copyfd2 with
  // MDB_CP_COMPACT, through a read transaction of its own) to `fd`, from its
  // start; errors name `dest_folder`'s disk when it is full. env_copy.cc.
  Status CopyTo(int fd, const std::string& dest_folder) const;
  // As OtherProcessHolding, for this open store: probes through a descriptor
  // kept until the environment is closed (closing one earlier would drop this
  // process's LMDB locks). env_copy.cc.
  Result<int64_t> OtherProcessHolding() const;
  // Walks every key of every table in a read transaction and checks the count
  // against the table's own; Internal naming the table otherwise. A copy's
  // check that its trees are whole. env_copy.cc.
  Status WalkTables() const;

 private:
  Env() = default;
  // Begins a transaction under `gate` (held shared), adopting a map another
  // process enlarged (MDB_MAP_RESIZED) on the way.
  Status BeginTxn(unsigned flags, std::optional<SharedGate>* gate, MDB_txn** txn) const;
  // Adopts the map size another process persisted; needs no transaction open
  // in this process, so it takes the gate exclusively.
  Status AdoptMapSize() const;
  // OK when ops that grow the store may run now; ResourceExhausted naming the
  // limit otherwise (space.cc). Called by Write before its transaction begins,
  // with the gate held shared: it never takes the gate again.
  Status CheckSpace();
  // Pages on LMDB's freelist (free for reuse, or soon), walking it in a read
  // transaction begun under the gate the caller (Write) holds.
  Result<uint64_t> FreePages() const;
  // The error a write meets while an earlier sync failed, if none succeeded since.
  Status SyncBarrier();
  void RecordSync(int rc);
  // Write and WriteDeferred.
  Status WriteTxn(const std::function<Status(Txn&)>& fn, bool may_defer);
  // The pending sequences the pending table holds in `t`'s snapshot.
  Result<PendingRange> PendingIn(const Txn& t) const;
  // Applies the pending writes of `r` to the tables in the write transaction
  // `t` and empties the pending table; the index may drop them once `t` commits.
  Status FoldInto(Txn& t, PendingRange r);
  void SyncLoop();

  MDB_env* env_ = nullptr;
  bool opened_ = false;  // mdb_env_open succeeded
  // The folder's identity in the registry of open stores (OpenInThisProcess).
  std::optional<std::pair<uint64_t, uint64_t>> registered_;
  // OtherProcessHolding's descriptor on lock.mdb, closed after the environment.
  mutable std::mutex probe_mu_;
  mutable int probe_fd_ = -1;
  Tables tables_;
  Options options_;
  // The pending writes, for this process's transactions (pending.h).
  mutable PendingIndex pending_;
  uint64_t reserve_ = 0;
  std::string path_;
  // Taken shared for the life of every transaction and exclusively to adopt a
  // map size another process persisted, which LMDB allows only with no
  // transaction active in this process. The map itself never grows here: it is
  // reserved at max_map_size when the store opens.
  mutable Gate gate_;
  std::mutex writer_;
  static constexpr uint64_t kReaderCheckEvery = 1024;
  uint64_t writes_ = 0;  // guarded by writer_
  // The last failed sync's error, until a sync succeeds.
  std::atomic<bool> sync_failed_{false};
  std::atomic<uint64_t> sync_failures_{0};
  std::mutex sync_error_mu_;
  Status sync_error_;  // guarded by sync_error_mu_
  // Relaxed mode's periodic sync.
  std::thread sync_thread_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool stopping_ = false;
};

}  // namespace postbox::store

#endif  // POSTBOX_STORE_ENV_H_
