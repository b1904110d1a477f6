// Reading and editing the tables of a closed store with LMDB itself, for tests
// that check the key layout (KEY_LAYOUT.md) or plant a damaged record. The
// store must be closed: LMDB allows one environment per file in a process.
#ifndef POSTBOX_TESTS_UNIT_ENGINE_LMDB_TABLES_H_
#define POSTBOX_TESTS_UNIT_ENGINE_LMDB_TABLES_H_

#include <gtest/gtest.h>
#include <lmdb.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace postbox::test {

// Runs fn(txn, dbi) in a transaction on table `name` of the store at `path`
// (read-only unless `write`), committing a write transaction.
template <typename Fn>
void WithTable(const std::string& path, const char* name, bool write, Fn&& fn) {
  MDB_env* env = nullptr;
  EXPECT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 32);
  const unsigned flags = MDB_NOTLS | (write ? 0 : MDB_RDONLY);
  EXPECT_EQ(mdb_env_open(env, path.c_str(), flags, 0644), 0);
  MDB_txn* txn = nullptr;
  EXPECT_EQ(mdb_txn_begin(env, nullptr, write ? 0 : MDB_RDONLY, &txn), 0);
  MDB_dbi dbi = 0;
  EXPECT_EQ(mdb_dbi_open(txn, name, 0, &dbi), 0);
  fn(txn, dbi);
  if (write) {
    EXPECT_EQ(mdb_txn_commit(txn), 0);
  } else {
    mdb_txn_abort(txn);
  }
  mdb_env_close(env);
}

// Every key → value of table `name` whose key starts with `prefix`.
inline std::map<std::string, std::string> Table(const std::string& path, const char* name,
                                                std::string_view prefix = {}) {
  std::map<std::string, std::string> out;
  WithTable(path, name, false, [&](MDB_txn* txn, MDB_dbi dbi) {
    MDB_cursor* cur = nullptr;
    EXPECT_EQ(mdb_cursor_open(txn, dbi, &cur), 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      std::string key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (key.compare(0, prefix.size(), prefix) != 0) continue;
      out.emplace(std::move(key), std::string(static_cast<const char*>(v.mv_data), v.mv_size));
    }
    mdb_cursor_close(cur);
  });
  return out;
}

// Stores key → value in table `name`.
inline void PutRow(const std::string& path, const char* name, std::string_view key,
                   std::string_view value) {
  WithTable(path, name, true, [&](MDB_txn* txn, MDB_dbi dbi) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    EXPECT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  });
}

inline std::string BE64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

}  // namespace postbox::test

#endif  // POSTBOX_TESTS_UNIT_ENGINE_LMDB_TABLES_H_
