// Pieces the blob and transfer benchmarks share: fresh store folders on a
// disk-backed filesystem (durable figures must include real syncs), a median,
// a deterministic random blob and a raw LMDB environment for the baselines.
#ifndef POSTBOX_BENCH_BENCH_UTIL_H_
#define POSTBOX_BENCH_BENCH_UTIL_H_

#include <errno.h>
#include <linux/magic.h>
#include <lmdb.h>
#include <stdlib.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"

namespace postbox::bench {

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline bool IsMemoryBacked(const std::string& dir) {
  struct statfs fs;
  if (statfs(dir.c_str(), &fs) != 0) return false;
  return fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
}

// $POSTBOX_BENCH_DIR if set, else /var/tmp, else the current folder; never
// tmpfs.
inline const std::string& BenchRoot() {
  static const std::string root = [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("POSTBOX_BENCH_DIR")) candidates.push_back(env);
    candidates.push_back("/var/tmp");
    candidates.push_back(".");
    for (const auto& c : candidates) {
      std::error_code ec;
      if (std::filesystem::is_directory(c, ec) && !IsMemoryBacked(c)) return c;
    }
    return std::string(".");
  }();
  return root;
}

// The Folders alive now, which Fail() removes too.
inline std::vector<std::string>& LiveFolders() {
  static std::vector<std::string> folders;
  return folders;
}

// A set-up failure ends the run (numbers from a half-built fixture would
// mislead): prints `what` after the program's name, removes the live Folders
// and exits 1 without running destructors (they would close stores whose
// folders are gone).
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  for (const std::string& dir : LiveFolders()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::_Exit(1);
}

inline void Check(const Status& s, const char* what) {
  if (!s.ok()) Fail(std::string(what) + ": " + s.ToString());
}

template <typename T>
T Unwrap(Result<T> r, const char* what) {
  if (!r.ok()) Fail(std::string(what) + ": " + r.error().ToString());
  return std::move(r).value();
}

// A fresh folder under `root` (BenchRoot() by default), removed with its
// contents when the object goes (or by Fail()).
class Folder {
 public:
  explicit Folder(std::string_view tag = "bench", const std::string& root = BenchRoot()) {
    std::string tmpl = root + "/postbox-" + std::string(tag) + "-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      Fail("cannot create a folder in " + root + ": " + std::strerror(errno));
    }
    path_ = tmpl;
    LiveFolders().push_back(path_);
  }
  ~Folder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    std::erase(LiveFolders(), path_);
  }
  Folder(const Folder&) = delete;
  Folder& operator=(const Folder&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `bytes` pseudo-random bytes (incompressible, like media), the same every run.
inline std::string RandomBlob(size_t bytes, uint64_t seed = 42) {
  std::mt19937_64 gen(seed);
  std::string b(bytes, '\0');
  for (size_t i = 0; i + 8 <= b.size(); i += 8) {
    const uint64_t v = gen();
    std::memcpy(&b[i], &v, 8);
  }
  return b;
}

// wchar of /proc/self/io: bytes this process has passed to write-family calls
// (LMDB writes its pages and meta pages with pwrite/pwritev).
inline uint64_t WrittenBytes() {
  FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) std::abort();
  unsigned long long wchar = 0;
  char line[128];
  bool found = false;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "wchar: %llu", &wchar) == 1) {
      found = true;
      break;
    }
  }
  std::fclose(f);
  if (!found) std::abort();
  return wchar;
}

// One LMDB environment with one named table, opened as the engine opens its
// own (MDB_NOTLS; durable unless `nosync`).
class RawEnv {
 public:
  RawEnv(const std::string& path, bool nosync, size_t map_size = size_t{512} << 20) {
    Check(mdb_env_create(&env_), "mdb_env_create");
    Check(mdb_env_set_mapsize(env_, map_size), "mdb_env_set_mapsize");
    Check(mdb_env_set_maxdbs(env_, 4), "mdb_env_set_maxdbs");
    Check(mdb_env_open(env_, path.c_str(), MDB_NOTLS | (nosync ? MDB_NOSYNC : 0), 0644),
          "mdb_env_open");
    MDB_txn* txn;
    Check(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    Check(mdb_dbi_open(txn, "blobs", MDB_CREATE, &dbi_), "mdb_dbi_open");
    Check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  ~RawEnv() { mdb_env_close(env_); }
  RawEnv(const RawEnv&) = delete;
  RawEnv& operator=(const RawEnv&) = delete;

  // One put in its own (durable) transaction.
  void PutOne(std::string_view key, std::string_view value) {
    MDB_txn* txn;
    Check(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    Check(mdb_put(txn, dbi_, &k, &v, 0), "mdb_put");
    Check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  MDB_env* env() const { return env_; }
  MDB_dbi dbi() const { return dbi_; }

  static void Check(int rc, const char* what) {
    if (rc != 0) {
      std::fprintf(stderr, "%s: %s\n", what, mdb_strerror(rc));
      std::abort();
    }
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

}  // namespace postbox::bench

#endif  // POSTBOX_BENCH_BENCH_UTIL_H_
