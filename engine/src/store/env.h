// The LMDB boundary: opening the environment and its tables, transactions,
// map growth, and the one place MDB_* codes become Status. Nothing above this
// file sees an LMDB error code.
#ifndef POSTBOX_STORE_ENV_H_
#define POSTBOX_STORE_ENV_H_

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>

#include "postbox/options.h"
#include "postbox/result.h"
#include "postbox/status.h"

namespace postbox::store {

// Translates an LMDB (or errno) return code into a Status naming the call and
// the original code. MDB_MAP_FULL and MDB_TXN_FULL become ResourceExhausted.
Status LmdbError(int rc, std::string_view what);

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
  MDB_dbi upload_tail = 0;    // staged bytes of an upload's incomplete last piece
  MDB_dbi conn_requests = 0;  // connection requests awaiting the peer's consent
};

// A transaction's table access. Views returned by Get and the cursor are valid
// until the transaction ends or the same key is written.
class Txn {
 public:
  Txn(MDB_txn* txn, const Tables& t) : txn_(txn), t_(t) {}
  MDB_txn* raw() const { return txn_; }
  const Tables& t() const { return t_; }

  // nullopt when absent.
  Result<std::optional<std::string_view>> Get(MDB_dbi dbi, std::string_view key) const;
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value);
  // Reserves `size` bytes for `key` and returns where to write them.
  Result<char*> Reserve(MDB_dbi dbi, std::string_view key, size_t size);
  // OK whether or not the key existed.
  Status Del(MDB_dbi dbi, std::string_view key);

  // True once a write in this transaction failed with MDB_MAP_FULL (the cue
  // for Env::Write to grow the map and run the transaction again).
  bool map_full() const { return map_full_; }

  // Visits keys >= `from` that start with `prefix` in order, until `fn` returns
  // false. The key/value views are valid during the call only.
  Status Scan(MDB_dbi dbi, std::string_view prefix, std::string_view from,
              const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // Deletes every key starting with `prefix`; returns how many.
  Result<size_t> DelPrefix(MDB_dbi dbi, std::string_view prefix);

 private:
  // The Status for a failed write's `rc`, remembering MDB_MAP_FULL.
  Status WriteError(int rc, std::string_view what);

  MDB_txn* txn_;
  const Tables& t_;
  bool map_full_ = false;
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
  ReadTxn(std::shared_lock<std::shared_mutex> gate, MDB_txn* raw, const Tables& t)
      : gate_(std::move(gate)), raw_(raw), txn_(raw, t) {}
  std::shared_lock<std::shared_mutex> gate_;
  MDB_txn* raw_;
  Txn txn_;
};

class Env {
 public:
  static Result<std::unique_ptr<Env>> Open(const std::string& path, const Options& options);
  ~Env();

  const Tables& tables() const { return tables_; }

  // Runs `fn` in a read-only transaction. Safe from any thread, concurrently.
  Status Read(const std::function<Status(Txn&)>& fn) const;
  // Opens a read-only transaction that lives as long as the returned object.
  Result<std::unique_ptr<ReadTxn>> BeginRead() const;

  // Runs `fn` in the write transaction and commits (synced in durable mode).
  // When the map fills, the transaction is aborted, the map doubled (up to
  // max_map_size) and `fn` run again from the start, so `fn` must reset any
  // state it produced. If `fn` returns non-OK the transaction is aborted.
  // Serialized: one writer at a time in this process (LMDB serializes processes).
  Status Write(const std::function<Status(Txn&)>& fn);

  uint64_t map_size() const;
  uint64_t used_bytes() const;
  std::string data_file() const { return path_ + "/data.mdb"; }

 private:
  Env() = default;
  Status BeginTxn(unsigned flags, MDB_txn** txn) const;
  Status Grow();
  void SyncLoop();

  MDB_env* env_ = nullptr;
  Tables tables_;
  Options options_;
  std::string path_;
  // Taken shared for the life of every transaction and exclusively to change the
  // map size, which LMDB allows only with no transaction active in the process.
  mutable std::shared_mutex gate_;
  std::mutex writer_;
  static constexpr uint64_t kReaderCheckEvery = 1024;
  uint64_t writes_ = 0;  // guarded by writer_
  // Relaxed mode's periodic sync.
  std::thread sync_thread_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool stopping_ = false;
};

}  // namespace postbox::store

#endif  // POSTBOX_STORE_ENV_H_
