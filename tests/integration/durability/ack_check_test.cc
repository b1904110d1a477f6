// The checker of ack_check.h, first on hand-made traces, then on the real
// traces of raw LMDB commits in its three sync modes: a durable commit passes,
// and MDB_NOMETASYNC and MDB_NOSYNC commits are caught, each for its reason.
#include "tests/integration/durability/ack_check.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <string>
#include <vector>

#include "tests/integration/durability/io_trace.h"
#include "tests/integration/sync/sync_test_util.h"

namespace postbox::durability {
namespace {

using postbox::sync::testing::RandomBytes;
using postbox::sync::testing::TempDir;

IoEvent Write(uint64_t start, uint64_t end, std::vector<size_t> markers) {
  IoEvent e;
  e.kind = IoKind::kDataWrite;
  e.offset = 1 << 20;
  e.start = start;
  e.end = end;
  e.markers = std::move(markers);
  return e;
}
IoEvent Sync(uint64_t start, uint64_t end) {
  IoEvent e;
  e.kind = IoKind::kSync;
  e.start = start;
  e.end = end;
  return e;
}
IoEvent Meta(uint64_t start, uint64_t end, bool dsync) {
  IoEvent e;
  e.kind = IoKind::kMetaWrite;
  e.dsync = dsync;
  e.start = start;
  e.end = end;
  return e;
}

TEST(AckCheckTest, DurableCommitBeforeTheAckPasses) {
  const std::vector<IoEvent> ev = {Write(2, 3, {0}), Sync(4, 5), Meta(6, 7, true)};
  EXPECT_EQ(CheckAck(ev, {"put", 0, 1, 8}), Violation::kNone);
}

TEST(AckCheckTest, AckWhileTheSyncRunsIsCaught) {
  // The ack arrived (tick 5) before the sync returned (tick 6).
  const std::vector<IoEvent> ev = {Write(2, 3, {0}), Sync(4, 6), Meta(7, 8, true)};
  EXPECT_EQ(CheckAck(ev, {"put", 0, 1, 5}), Violation::kNoDataSync);
}

TEST(AckCheckTest, AckBeforeTheMetaPageIsCaught) {
  const std::vector<IoEvent> ev = {Write(2, 3, {0}), Sync(4, 5), Meta(6, 8, true)};
  EXPECT_EQ(CheckAck(ev, {"put", 0, 1, 7}), Violation::kNoDurableMeta);
}

TEST(AckCheckTest, SyncThatStartedBeforeTheWriteEndedDoesNotCover) {
  const std::vector<IoEvent> ev = {Sync(2, 5), Write(3, 4, {0}), Meta(6, 7, true)};
  EXPECT_EQ(CheckAck(ev, {"put", 0, 1, 8}), Violation::kNoDataSync);
}

TEST(AckCheckTest, PlainMetaWriteNeedsASyncAfterIt) {
  // MDB_NOMETASYNC: the meta page goes through the plain descriptor.
  const std::vector<IoEvent> unsynced = {Write(2, 3, {0}), Sync(4, 5), Meta(6, 7, false)};
  EXPECT_EQ(CheckAck(unsynced, {"put", 0, 1, 8}), Violation::kNoDurableMeta);
  // A sync after it (an explicit mdb_env_sync) makes it durable.
  std::vector<IoEvent> synced = unsynced;
  synced.push_back(Sync(8, 9));
  EXPECT_EQ(CheckAck(synced, {"put", 0, 1, 10}), Violation::kNone);
}

TEST(AckCheckTest, OnlyWritesCarryingTheMarkerAfterTheRequestCount) {
  // The marker's write came before the request (another write's), and the
  // write inside the window carries another marker.
  const std::vector<IoEvent> ev = {Write(1, 2, {0}), Write(4, 5, {1}), Sync(6, 7),
                                   Meta(8, 9, true)};
  EXPECT_EQ(CheckAck(ev, {"put", 0, 3, 10}), Violation::kNoWrite);
  EXPECT_EQ(CheckAck(ev, {"put", 1, 3, 10}), Violation::kNone);
}

TEST(AckCheckTest, AnyDurableCommitOfTheMarkerCovers) {
  // A second commit wrote the marker's bytes again (a fold of a deferred
  // write, an upload's hash state) and was unsynced at the acknowledgement:
  // the first commit made them durable.
  const std::vector<IoEvent> ev = {Write(2, 3, {0}), Sync(4, 5), Meta(6, 7, true),
                                   Write(8, 9, {0})};
  EXPECT_EQ(CheckAck(ev, {"put", 0, 1, 10}), Violation::kNone);
  // Neither durable: the mildest violation is named (the first was synced
  // but its meta page was not durable; the second never synced).
  const std::vector<IoEvent> neither = {Write(2, 3, {0}), Sync(4, 5), Meta(6, 7, false),
                                        Write(8, 9, {0})};
  EXPECT_EQ(CheckAck(neither, {"put", 0, 1, 10}), Violation::kNoDurableMeta);
  EXPECT_EQ(CheckAck({Write(2, 3, {0}), Write(8, 9, {0})}, {"put", 0, 1, 10}),
            Violation::kNoDataSync);
}

// Raw LMDB, opened with `flags`: puts in their own transactions, each
// "acknowledged" when mdb_txn_commit returns. Returns the violations.
std::vector<Violation> RawLmdbCommits(unsigned flags) {
  TempDir dir;
  MDB_env* env = nullptr;
  EXPECT_EQ(mdb_env_create(&env), 0);
  EXPECT_EQ(mdb_env_set_mapsize(env, size_t{64} << 20), 0);
  EXPECT_EQ(mdb_env_open(env, dir.path().c_str(), MDB_NOTLS | flags, 0644), 0);
  EXPECT_GE(IoTrace::OpenDataFiles(), 1) << "LMDB's open() did not go through the interposer";
  MDB_dbi dbi = 0;
  MDB_txn* txn = nullptr;
  EXPECT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  EXPECT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
  EXPECT_EQ(mdb_txn_commit(txn), 0);

  IoTrace::Start(std::chrono::milliseconds(20));
  std::vector<Ack> acks;
  for (int i = 0; i < 4; ++i) {
    const std::string marker = RandomBytes(32, 1000 + i);
    std::string key = "key" + std::to_string(i), value = "value " + marker;
    Ack a{key, IoTrace::AddMarker(marker), IoTrace::Tick(), 0};
    EXPECT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
    EXPECT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    EXPECT_EQ(mdb_txn_commit(txn), 0);
    a.acked = IoTrace::Tick();
    acks.push_back(a);
  }
  const auto events = IoTrace::Stop();
  mdb_env_close(env);
  std::vector<Violation> out;
  for (const auto& a : acks) out.push_back(CheckAck(events, a));
  return out;
}

TEST(AckCheckTest, RawLmdbDurableCommitsPass) {
  for (Violation v : RawLmdbCommits(0)) EXPECT_EQ(v, Violation::kNone) << ViolationName(v);
}

TEST(AckCheckTest, RawLmdbNoMetaSyncCommitsAreCaught) {
  for (Violation v : RawLmdbCommits(MDB_NOMETASYNC)) {
    EXPECT_EQ(v, Violation::kNoDurableMeta) << ViolationName(v);
  }
}

TEST(AckCheckTest, RawLmdbNoSyncCommitsAreCaught) {
  for (Violation v : RawLmdbCommits(MDB_NOSYNC)) {
    EXPECT_EQ(v, Violation::kNoDataSync) << ViolationName(v);
  }
}

}  // namespace
}  // namespace postbox::durability
