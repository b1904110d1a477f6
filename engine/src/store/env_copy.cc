// The parts of the LMDB boundary that backup, restore and changing the
// remembered settings need: a compacting copy, the checks that a data file
// (a copy, say) is whole, and who else has a store open (LMDB's lock file,
// and a registry of this process's own open stores).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "store/env.h"

namespace postbox::store {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}
std::multiset<std::pair<uint64_t, uint64_t>>& Registry() {
  static auto* open = new std::multiset<std::pair<uint64_t, uint64_t>>;
  return *open;
}

std::optional<std::pair<uint64_t, uint64_t>> FolderId(const std::string& folder) {
  struct stat st {};
  if (stat(folder.c_str(), &st) != 0) return std::nullopt;
  return std::pair<uint64_t, uint64_t>{st.st_dev, st.st_ino};
}

// LMDB keeps a shared fcntl lock on byte 0 of lock.mdb in every process that
// has the environment open (the first one holds it exclusively while it sets
// the lock file up), and reader slots lock the byte at their pid. F_GETLK
// reports a lock of another process that would block an exclusive lock on
// byte 0; this process's own locks never conflict with it.
Result<int64_t> ProbeLock(int fd, const std::string& folder) {
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 0;
  probe.l_len = 1;
  if (fcntl(fd, F_GETLK, &probe) != 0) {
    return Status::Unavailable("cannot test the lock of the store in " + folder + ": " +
                               std::strerror(errno));
  }
  if (probe.l_type == F_UNLCK) return int64_t{0};
  return probe.l_pid > 0 ? int64_t{probe.l_pid} : int64_t{-1};
}

int OpenLockFile(const std::string& folder) {
  return open((folder + "/lock.mdb").c_str(), O_RDONLY | O_CLOEXEC);
}

}  // namespace

// How many pages in [first, last] LMDB's free list holds. Each free-list
// record is an IDL (lmdb's midl.h): a count, then that many page numbers, each
// an MDB_ID (a size_t in LMDB 0.9), stored without alignment.
static Result<uint64_t> FreePagesFrom(MDB_env* env, uint64_t first, uint64_t last) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return LmdbError(rc, "mdb_txn_begin(free list)");
  MDB_cursor* cur = nullptr;
  rc = mdb_cursor_open(txn, 0 /* FREE_DBI */, &cur);
  uint64_t count = 0;
  MDB_val k, v;
  while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
    const auto* bytes = static_cast<const char*>(v.mv_data);
    const size_t words = v.mv_size / sizeof(size_t);
    size_t n = 0;
    if (words > 0) std::memcpy(&n, bytes, sizeof n);
    for (size_t i = 1; i <= n && i < words; ++i) {
      size_t pgno;
      std::memcpy(&pgno, bytes + i * sizeof(size_t), sizeof pgno);
      if (pgno >= first && pgno <= last) ++count;
    }
  }
  if (cur != nullptr) mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  if (rc != MDB_NOTFOUND) return LmdbError(rc, "reading the free list");
  return count;
}

// Internal unless the data file holds every page its newest meta page counts:
// reading a page past the end of a truncated file (a partial copy) through
// the map would kill the process with SIGBUS instead of failing.
Status CheckFileSize(MDB_env* env, const std::string& path) {
  MDB_envinfo info{};
  MDB_stat st{};
  int rc = mdb_env_info(env, &info);
  if (rc == 0) rc = mdb_env_stat(env, &st);
  if (rc != 0) return LmdbError(rc, "mdb_env_info");
  int fd = -1;
  rc = mdb_env_get_fd(env, &fd);
  if (rc != 0) return LmdbError(rc, "mdb_env_get_fd");
  struct stat file {};
  if (fstat(fd, &file) != 0) return LmdbError(errno, "fstat(data.mdb)");
  const uint64_t needed = (uint64_t{info.me_last_pgno} + 1) * st.ms_psize;
  if (static_cast<uint64_t>(file.st_size) >= needed) return Status();
  const uint64_t file_pages = static_cast<uint64_t>(file.st_size) / st.ms_psize;
  // LMDB may number pages past the end of the file that it never wrote: a
  // page a transaction took at the end and freed again before committing is
  // not written, yet it stays counted (mdb_env_copy stops at the file's end
  // for the same reason). Such a file is whole when every page past its end
  // is free. The free list (FREE_DBI) is in use, so within a whole file.
  POSTBOX_ASSIGN_OR_RETURN(const uint64_t free_past_end,
                           FreePagesFrom(env, file_pages, info.me_last_pgno));
  if (free_past_end == info.me_last_pgno + 1 - file_pages) return Status();
  return Status::Internal("data.mdb in " + path + " is truncated: " + std::to_string(file.st_size) +
                          " bytes, but its last page ends at " + std::to_string(needed) +
                          " (an incomplete copy?)");
}

std::optional<std::pair<uint64_t, uint64_t>> RegisterOpenStore(const std::string& folder) {
  auto id = FolderId(folder);
  if (!id) return std::nullopt;
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry().insert(*id);
  return id;
}

void UnregisterOpenStore(const std::pair<uint64_t, uint64_t>& id) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto it = Registry().find(id);
  if (it != Registry().end()) Registry().erase(it);
}

size_t OpenInThisProcess(const std::string& folder) {
  auto id = FolderId(folder);
  if (!id) return 0;
  std::lock_guard<std::mutex> lock(RegistryMutex());
  return Registry().count(*id);
}

Result<int64_t> OtherProcessHolding(const std::string& folder) {
  const int fd = OpenLockFile(folder);
  if (fd < 0) {
    if (errno == ENOENT) return int64_t{0};  // never opened since it was made or copied
    return Status::Unavailable("cannot open the lock file of the store in " + folder + ": " +
                               std::strerror(errno));
  }
  auto holder = ProbeLock(fd, folder);
  close(fd);
  return holder;
}

Result<int64_t> Env::OtherProcessHolding() const {
  std::lock_guard<std::mutex> lock(probe_mu_);
  if (probe_fd_ < 0) {
    probe_fd_ = OpenLockFile(path_);
    if (probe_fd_ < 0) {
      return Status::Unavailable("cannot open the lock file of the store in " + path_ + ": " +
                                 std::strerror(errno));
    }
  }
  return ProbeLock(probe_fd_, path_);
}

Status Env::CopyTo(int fd, const std::string& dest_folder) const {
  for (;;) {
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
      return WriteFailure(errno, "truncating the copy", dest_folder, reserve_);
    }
    // The copy's read transaction is one of this process's: it holds the
    // gate like every other, so a map adoption waits for it.
    std::optional<SharedGate> gate;
    gate.emplace(&gate_);
    const int rc = mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT);
    gate.reset();
    if (rc == 0) return Status();
    if (rc != MDB_MAP_RESIZED) return WriteFailure(rc, "mdb_env_copyfd2", dest_folder, reserve_);
    POSTBOX_RETURN_IF_ERROR(AdoptMapSize());  // another process's data reaches past our map
  }
}

Status Env::WalkTables() const {
  return Read([&](Txn& t) -> Status {
    for (const TableName& table : kTableList) {
      const MDB_dbi dbi = tables_.*table.dbi;
      if (dbi == 0) continue;  // a pending table a read-only open did not find
      MDB_stat st{};
      int rc = mdb_stat(t.raw(), dbi, &st);
      if (rc != 0) return LmdbError(rc, std::string("mdb_stat(") + table.name + ")");
      // Keys only: a value's overflow pages are not read, so a damaged
      // length there cannot send the walk past the file.
      uint64_t walked = 0;
      // The tables as stored: pending writes are not merged here.
      POSTBOX_RETURN_IF_ERROR(t.RawScan(dbi, "", "", [&](std::string_view, std::string_view) {
        ++walked;
        return true;
      }));
      if (walked != st.ms_entries) {
        return Status::Internal("table " + std::string(table.name) + " in " + path_ + " walks " +
                                std::to_string(walked) + " keys but counts " +
                                std::to_string(st.ms_entries) + " (a damaged copy?)");
      }
    }
    return Status();
  });
}

}  // namespace postbox::store
