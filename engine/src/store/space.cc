// The space check: ops that grow the store stop short of the map's end and of
// a full disk, so that deletes, aborts, sweeps and purges (which need pages
// too: LMDB copies on write) always find room. See docs/engine.md, "Space".
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "store/env.h"

namespace postbox::store {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

// Bytes an unprivileged writer may still use on the file system holding
// `folder`; nullopt if statvfs fails (then the disk is not checked).
std::optional<uint64_t> FreeDiskBytes(const std::string& folder) {
  struct statvfs fs {};
  if (statvfs(folder.c_str(), &fs) != 0) return std::nullopt;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

}  // namespace

uint64_t StorageReserve(const Options& options) {
  if (options.storage_reserve) return *options.storage_reserve;
  // Above one group commit's growth (the sync server caps a group commit at
  // 64 MiB of payload; copy-on-write and the freelist can double that), and a
  // 32nd of the map beyond that, but never more than a quarter of a small map.
  const uint64_t scaled = std::max<uint64_t>(256 * kMiB, options.max_map_size / 32);
  return std::min<uint64_t>(scaled, options.max_map_size / 4);
}

Status WriteFailure(int rc, std::string_view what, const std::string& folder, uint64_t reserve) {
  if (rc == EIO || rc == ENOSPC) {
    const std::optional<uint64_t> free = FreeDiskBytes(folder);
    if (rc == ENOSPC || (free && *free < reserve)) {
      return Status::ResourceExhausted(
          std::string(what) + ": " + std::strerror(rc) + " (disk full: the file system holding " +
          folder + " has " + (free ? std::to_string(*free) : std::string("?")) +
          " bytes free; free space on it, or delete data in the store)");
    }
  }
  return LmdbError(rc, what);
}

Result<uint64_t> Env::FreePages() const {
  // The caller (Write) holds the gate shared already: taking it again here
  // would block behind a thread waiting to take it exclusively (the gate
  // prefers writers), which waits for this one — so the transaction begins
  // under the caller's hold.
  MDB_txn* raw = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &raw);
  // Another process's data reaches past this map: the write's own
  // transaction meets the same, adopts the map with the gate released and
  // checks the space again, so nothing is judged from this answer.
  if (rc == MDB_MAP_RESIZED) return uint64_t{0};
  if (rc != 0) return LmdbError(rc, "mdb_txn_begin(free pages)");
  struct Abort {
    MDB_txn* txn;
    ~Abort() { mdb_txn_abort(txn); }
  } abort{raw};
  MDB_cursor* cur = nullptr;
  // Table 0 is LMDB's freelist: txnid → the IDL of pages that transaction
  // freed, whose first word is the number of pages in it.
  rc = mdb_cursor_open(raw, 0, &cur);
  if (rc != 0) return LmdbError(rc, "mdb_cursor_open(freelist)");
  uint64_t pages = 0;
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == 0) {
    if (v.mv_size >= sizeof(size_t)) {
      size_t count;  // an MDB_ID (size_t in LMDB 0.9)
      std::memcpy(&count, v.mv_data, sizeof(count));
      pages += count;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return LmdbError(rc, "mdb_cursor_get(freelist)");
  return pages;
}

Status Env::CheckSpace() {
  MDB_stat st;
  int rc = mdb_env_stat(env_, &st);
  if (rc != 0) return LmdbError(rc, "mdb_env_stat");
  const uint64_t psize = st.ms_psize;
  MDB_envinfo info;
  rc = mdb_env_info(env_, &info);
  if (rc != 0) return LmdbError(rc, "mdb_env_info");
  if ((info.me_last_pgno + 1) * psize > info.me_mapsize) {
    // Another process wrote past this process's map. Adopting it takes the
    // gate exclusively, which the caller (Write) holds shared: nothing is
    // judged now; the write's transaction meets MDB_MAP_RESIZED, adopts the
    // map with the gate released, and checks again in the larger map.
    return Status();
  }
  // The map in effect: max_map_size, or more if another process enlarged it.
  const uint64_t map = info.me_mapsize;
  const uint64_t soft = map > reserve_ ? map - reserve_ : 0;
  const uint64_t file_pages = info.me_last_pgno + 1;
  const std::optional<uint64_t> disk = FreeDiskBytes(path_);
  const bool disk_low = disk && *disk < reserve_;
  // The common case: the file ends before the soft limit and the disk has
  // room, so pages in use (≤ the file's) cannot be past it either.
  if (file_pages * psize <= soft && !disk_low) return Status();

  // Dead processes' reader slots keep freed pages from being reused.
  POSTBOX_RETURN_IF_ERROR(ClearDeadReaders().status());
  POSTBOX_ASSIGN_OR_RETURN(uint64_t free_pages, FreePages());
  free_pages = std::min(free_pages, file_pages);
  const uint64_t used = (file_pages - free_pages) * psize;
  const std::string frees =
      "; until space is freed only ops that free it run (delete entries, messages or "
      "mailboxes, abort uploads, sweep, purge tombstones)";
  if (used > soft) {
    return Status::ResourceExhausted(
        "storage full: the store uses " + std::to_string(used) + " bytes of its " +
        std::to_string(map) + "-byte map (max_map_size), and the last " + std::to_string(reserve_) +
        " bytes (storage_reserve) are kept for ops that free space" + frees +
        ", or raise max_map_size");
  }
  // Free pages inside the file are reused before the file grows.
  const uint64_t room = *disk + free_pages * psize;
  if (disk_low && room < reserve_) {
    return Status::ResourceExhausted(
        "storage full: disk full: the file system holding " + path_ + " has " +
        std::to_string(*disk) + " bytes free and the store " + std::to_string(free_pages * psize) +
        " bytes of free pages, less than storage_reserve (" + std::to_string(reserve_) +
        " bytes, kept for ops that free space)" + frees + ", or free space on the disk");
  }
  return Status();
}

}  // namespace postbox::store
