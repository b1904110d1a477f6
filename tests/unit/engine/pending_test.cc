// Deferred writes (store/pending.h): every transaction reads exactly the
// tables as its snapshot would hold them had every write gone in place —
// checked against a plain in-memory model by a RapidCheck property over
// deferred writes, plain writes, folds, reopenings and read transactions
// held open across them; plus another process appending and folding under
// this one, and the record's codec.
#include "store/pending.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/env.h"
#include "tests/unit/engine/test_util.h"

namespace postbox::store {
namespace {

// The model: (table index, key) -> value. Two tables, so a change in one
// never shows in the other.
using Model = std::map<std::pair<int, std::string>, std::string>;

Options PendingOptions(uint64_t pending_bytes) {
  Options o;
  o.durability = Durability::kRelaxed;  // no fsync per commit: not about durability
  o.relaxed_sync_interval = std::chrono::hours(1);
  o.max_map_size = uint64_t{64} << 20;
  o.pending_bytes = pending_bytes;
  return o;
}

MDB_dbi TableOf(const Env& env, int table) {
  return table == 0 ? env.tables().entries : env.tables().feed;
}

// Everything `t` reads of both tables, through Scan; and each key's Get and
// each table's Count agree with it.
Model ReadAll(Txn& t, const Env& env) {
  Model seen;
  for (int table : {0, 1}) {
    const MDB_dbi dbi = TableOf(env, table);
    Status s = t.Scan(dbi, "", "", [&](std::string_view k, std::string_view v) {
      seen[{table, std::string(k)}] = std::string(v);
      return true;
    });
    RC_ASSERT(s.ok());
    auto count = t.Count(dbi);
    RC_ASSERT(count.ok());
    uint64_t in_table = 0;
    for (const auto& [key, value] : seen) in_table += key.first == table ? 1 : 0;
    RC_ASSERT(*count == in_table);
  }
  for (const auto& [key, value] : seen) {
    auto got = t.Get(TableOf(env, key.first), key.second);
    RC_ASSERT(got.ok());
    RC_ASSERT(got->has_value());
    RC_ASSERT(std::string(**got) == value);
  }
  return seen;
}

// What a Scan of `table` from `from` under `prefix`, stopping after `limit`
// keys, returns in `model`.
std::vector<std::pair<std::string, std::string>> ModelScan(const Model& model, int table,
                                                           const std::string& prefix,
                                                           const std::string& from, size_t limit) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : model) {
    if (key.first != table || !key.second.starts_with(prefix) || key.second < from) continue;
    if (out.size() == limit) break;
    out.emplace_back(key.second, value);
  }
  return out;
}

void CheckScan(Txn& t, const Env& env, const Model& model, int table, const std::string& prefix,
               const std::string& from, size_t limit) {
  std::vector<std::pair<std::string, std::string>> got;
  Status s = t.Scan(TableOf(env, table), prefix, from, [&](std::string_view k, std::string_view v) {
    if (got.size() == limit) return false;
    got.emplace_back(std::string(k), std::string(v));
    return true;
  });
  RC_ASSERT(s.ok());
  RC_ASSERT(got == ModelScan(model, table, prefix, from, limit));
}

struct Change {
  int table = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: delete
  bool read_first = false;           // Get the key just before writing it
};

enum class Kind { kDeferred, kPlain, kFold, kBeginRead, kCheckRead, kEndRead, kReopen };

struct Command {
  Kind kind = Kind::kDeferred;
  std::vector<Change> changes;
  bool fail = false;         // the write's fn fails at its end: nothing may stay
  bool nested_fail = false;  // its last change runs in a nested transaction that fails
  size_t reader = 0;
  std::string prefix, from;
  size_t limit = 0;
};

rc::Gen<std::string> SmallKey() {
  // Few distinct keys, so changes meet the same keys and prefixes.
  return rc::gen::exec([] {
    const auto n = *rc::gen::inRange<size_t>(1, 4);
    return *rc::gen::container<std::string>(n, rc::gen::element('a', 'b', 'c'));
  });
}

rc::Gen<Command> Commands() {
  return rc::gen::exec([] {
    Command c;
    c.kind = *rc::gen::weightedElement<Kind>({{6, Kind::kDeferred},
                                              {2, Kind::kPlain},
                                              {1, Kind::kFold},
                                              {2, Kind::kBeginRead},
                                              {3, Kind::kCheckRead},
                                              {1, Kind::kEndRead},
                                              {1, Kind::kReopen}});
    const size_t n = *rc::gen::inRange<size_t>(1, 8);
    for (size_t i = 0; i < n; ++i) {
      Change ch;
      ch.table = *rc::gen::inRange(0, 2);
      ch.key = *SmallKey();
      if (*rc::gen::inRange(0, 4) != 0) {
        // Now and then a value above what a deferred transaction keeps of
        // its reads (4 KiB), stored by LMDB in overflow pages.
        const auto size =
            *rc::gen::inRange(0, 10) == 0 ? size_t{5000} : *rc::gen::inRange<size_t>(0, 40);
        ch.value = *rc::gen::container<std::string>(size, rc::gen::arbitrary<char>());
      }
      ch.read_first = *rc::gen::arbitrary<bool>();
      c.changes.push_back(std::move(ch));
    }
    c.fail = *rc::gen::inRange(0, 8) == 0;
    c.nested_fail = *rc::gen::inRange(0, 6) == 0;
    c.reader = *rc::gen::inRange<size_t>(0, 3);
    c.prefix = *rc::gen::element<std::string>("", "a", "b", "ab", "c");
    c.from = *rc::gen::element<std::string>("", "a", "b", "bb", "ca");
    c.limit = *rc::gen::element<size_t>(1, 2, 5, 1000);
    return c;
  });
}

Status Apply(Txn& t, const Env& env, const Change& ch) {
  const MDB_dbi dbi = TableOf(env, ch.table);
  return ch.value ? t.Put(dbi, ch.key, *ch.value) : t.Del(dbi, ch.key);
}

void ApplyToModel(Model& m, const Change& ch) {
  if (ch.value) {
    m[{ch.table, ch.key}] = *ch.value;
  } else {
    m.erase({ch.table, ch.key});
  }
}

RC_GTEST_PROP(PendingProperty, ReadsSeeTheirSnapshotAsIfWrittenInPlace, ()) {
  test::TempDir dir;
  const std::string path = dir.Sub("db");
  const uint64_t pending_bytes = *rc::gen::element<uint64_t>(0, 100, 600, 1 << 20);
  const auto count = *rc::gen::inRange<size_t>(1, 60);
  const auto commands = *rc::gen::container<std::vector<Command>>(count, Commands());
  auto opened = Env::Open(path, PendingOptions(pending_bytes));
  RC_ASSERT(opened.ok());
  std::unique_ptr<Env> env = std::move(opened).value();
  Model model;
  // Open read transactions with the model as their snapshot held it.
  std::map<size_t, std::pair<std::unique_ptr<ReadTxn>, Model>> readers;
  for (const Command& c : commands) {
    switch (c.kind) {
      case Kind::kDeferred:
      case Kind::kPlain: {
        Model working = model;
        const auto fn = [&](Txn& t) -> Status {
          for (size_t i = 0; i < c.changes.size(); ++i) {
            const Change& ch = c.changes[i];
            if (c.nested_fail && i + 1 == c.changes.size()) {
              // A nested transaction that fails leaves nothing behind.
              Status s = t.Nested([&](Txn& child) -> Status {
                RC_ASSERT(Apply(child, *env, ch).ok());
                return Status::Internal("the nested op failed");
              });
              RC_ASSERT(s.Is(Code::kInternal));
              continue;
            }
            // A read before the write (a deferred transaction keeps what it
            // read of its snapshot, and Defer takes whether the key existed
            // from it): the value as this transaction sees it so far.
            if (ch.read_first) {
              auto before = t.Get(TableOf(*env, ch.table), ch.key);
              RC_ASSERT(before.ok());
              const auto want = working.find({ch.table, ch.key});
              RC_ASSERT(before->has_value() == (want != working.end()));
              if (want != working.end()) RC_ASSERT(std::string(**before) == want->second);
            }
            RC_ASSERT(Apply(t, *env, ch).ok());
            ApplyToModel(working, ch);
            // The transaction reads its own writes over everything pending.
            CheckScan(t, *env, working, ch.table, c.prefix, c.from, c.limit);
          }
          RC_ASSERT(ReadAll(t, *env) == working);
          return c.fail ? Status::InvalidArgument("the batch failed") : Status();
        };
        Status s = c.kind == Kind::kDeferred ? env->WriteDeferred(fn) : env->Write(fn);
        RC_ASSERT(s.ok() == !c.fail);
        if (s.ok()) model = std::move(working);
        break;
      }
      case Kind::kFold:
        RC_ASSERT(env->Fold().ok());
        RC_ASSERT(env->pending_bytes() == 0u);
        break;
      case Kind::kBeginRead: {
        auto r = env->BeginRead();
        RC_ASSERT(r.ok());
        readers[c.reader] = {std::move(r).value(), model};
        break;
      }
      case Kind::kCheckRead: {
        auto it = readers.find(c.reader);
        if (it == readers.end()) break;
        Txn& t = it->second.first->txn();
        RC_ASSERT(ReadAll(t, *env) == it->second.second);
        for (int table : {0, 1})
          CheckScan(t, *env, it->second.second, table, c.prefix, c.from, c.limit);
        break;
      }
      case Kind::kEndRead:
        readers.erase(c.reader);
        break;
      case Kind::kReopen:
        readers.clear();
        env.reset();  // a clean close folds
        {
          auto again = Env::Open(path, PendingOptions(pending_bytes));
          if (!again.ok()) RC_FAIL("reopening failed: " + again.error().ToString());
          env = std::move(again).value();
        }
        RC_ASSERT(env->pending_bytes() == 0u);
        break;
    }
    // A fresh read sees everything committed so far.
    auto fresh = env->BeginRead();
    RC_ASSERT(fresh.ok());
    RC_ASSERT(ReadAll((*fresh)->txn(), *env) == model);
  }
  readers.clear();
}

// Another process appends pending records and folds them while this one
// holds a read transaction from before, and this one's index held records
// the other folded: every read still sees its snapshot, and this process's
// next deferred write takes a sequence above all of them.
TEST(PendingTest, AnotherProcessAppendsAndFolds) {
  test::TempDir dir;
  const std::string path = dir.Sub("db");
  auto opened = Env::Open(path, PendingOptions(1 << 20));
  ASSERT_OK(opened);
  Env& env = **opened;
  const MDB_dbi entries = env.tables().entries;
  const auto put = [&](Env& e, std::string_view k, std::string_view v, bool deferred) {
    const auto fn = [&](Txn& t) { return t.Put(e.tables().entries, k, v); };
    return deferred ? e.WriteDeferred(fn) : e.Write(fn);
  };
  ASSERT_OK(put(env, "x", "1", true));
  EXPECT_GT(env.pending_bytes(), 0u);
  auto old_read = env.BeginRead();
  ASSERT_OK(old_read);

  const pid_t child = fork();
  if (child == 0) {
    // The other process: catches up with "x", appends "y", folds everything
    // with a plain write of "z", appends "w", and ends without closing (its
    // close would fold "w" too).
    auto other = Env::Open(path, PendingOptions(1 << 20));
    bool ok = other.ok() && put(**other, "y", "2", true).ok() &&
              put(**other, "z", "3", false).ok() && put(**other, "w", "4", true).ok() &&
              (*other)->Sync().ok();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  const auto get = [&](Txn& t, std::string_view k) -> std::string {
    auto v = t.Get(entries, k);
    if (!v.ok()) return "error: " + v.error().ToString();
    return *v ? std::string(**v) : "<none>";
  };
  // A new read catches up with the record appended after the fold (and this
  // index forgets "x", folded by the other process).
  {
    auto fresh = env.BeginRead();
    ASSERT_OK(fresh);
    EXPECT_EQ(get((*fresh)->txn(), "x"), "1");
    EXPECT_EQ(get((*fresh)->txn(), "y"), "2");
    EXPECT_EQ(get((*fresh)->txn(), "z"), "3");
    EXPECT_EQ(get((*fresh)->txn(), "w"), "4");
  }
  // The read from before still sees its snapshot: "x" pending, nothing else.
  EXPECT_EQ(get((*old_read)->txn(), "x"), "1");
  EXPECT_EQ(get((*old_read)->txn(), "y"), "<none>");
  EXPECT_EQ(get((*old_read)->txn(), "w"), "<none>");
  old_read->reset();
  // This process appends after the other's record, then folds all.
  ASSERT_OK(put(env, "v", "5", true));
  ASSERT_OK(put(env, "w", "6", true));
  {
    auto fresh = env.BeginRead();
    ASSERT_OK(fresh);
    EXPECT_EQ(get((*fresh)->txn(), "v"), "5");
    EXPECT_EQ(get((*fresh)->txn(), "w"), "6");
  }
  ASSERT_OK(env.Fold());
  auto fresh = env.BeginRead();
  ASSERT_OK(fresh);
  for (auto [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"x", "1"}, {"y", "2"}, {"z", "3"}, {"w", "6"}, {"v", "5"}}) {
    EXPECT_EQ(get((*fresh)->txn(), k), v) << k;
  }
  auto count = (*fresh)->txn().Count(entries);
  ASSERT_OK(count);
  EXPECT_EQ(*count, 5u);
}

TEST(PendingRecordTest, RoundTripsAndRefusesDamage) {
  PendingRecord rec;
  rec.writes.push_back({3, "key", std::string("value")});
  rec.writes.push_back({4, std::string("k\0y", 3), std::nullopt});
  rec.writes.push_back({4, "empty", std::string()});
  rec.counts = {{3, 1}, {4, -2}};
  const std::string encoded = rec.Encode();
  auto back = PendingRecord::Decode(encoded);
  ASSERT_OK(back);
  EXPECT_EQ(*back, rec);
  for (size_t cut = 0; cut < encoded.size(); ++cut) {
    EXPECT_CODE(PendingRecord::Decode(encoded.substr(0, cut)), kInternal) << cut;
  }
  EXPECT_CODE(PendingRecord::Decode(encoded + "x"), kInternal);
  std::string bad_kind = encoded;
  bad_kind[2 + 2 * 9 + 4 + 1] = 7;  // the first write's kind
  EXPECT_CODE(PendingRecord::Decode(bad_kind), kInternal);
}

}  // namespace
}  // namespace postbox::store
