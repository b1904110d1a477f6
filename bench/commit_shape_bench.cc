// Commit shapes for durable status rises at depth 1 (docs/durability.md
// "Durable writes at depth 1"; issue 17). What one group commit of 32 status
// rises — what the server commits at depth 1 with 64 connections — costs on
// raw LMDB in the shapes the directions would give it, each on a fresh
// copy of the same store, all in one run:
//
//   BM_Shape/in_place        today's shape: one durable transaction updates the
//       32 messages' state records, bumps both mailboxes' sequences and moves
//       the message in both feeds (delete at the old sequence, insert at the
//       new). Random keys: each rise dirties its own leaves and their branches.
//   BM_Shape/one_sync        the same with MDB_NOMETASYNC: one fdatasync per
//       commit instead of two (the "acknowledge once a later sync covers the
//       meta page" direction has one sync per commit when busy); a final
//       sync, timed, makes the last commit durable too.
//   BM_Shape/pending         one durable transaction appends the 32 rises (100 B
//       each) at ascending keys to a pending table; every 64 commits one more
//       durable transaction folds the 2,048 pending rises into the tables as
//       in_place does and deletes them (an append-only log inside LMDB: LMDB's
//       own durability, and the B-tree work in large batches). The folds are
//       timed too: the same logical work as in_place.
//   BM_Shape/pending_fold_512, pending_fold_8192  the same with a fold every
//       16 and every 256 commits (512 and 8,192 rises): how the bound on
//       the pending table trades write cost against what reads must merge.
//   BM_Shape/journal         the 32 rises (100 B each) appended to a plain file
//       and fdatasync'd, then applied as in_place in an MDB_NOSYNC environment,
//       with an mdb_env_sync every 64 commits. NOT safe as measured (an
//       MDB_NOSYNC store can be torn by a power loss; docs/durability.md says
//       what would make it safe and what that costs): the ceiling of the
//       external-journal direction.
//   BM_Shape/fdatasync_4k    baseline: a 4 KiB append to a file and its
//       fdatasync — the physical floor of one durable group commit here.
//
// Counters: rises_per_s (32 per commit); kb_per_rise (bytes handed to write
// calls per rise, /proc/self/io wchar); vs_in_place (rises/s over in_place's
// in the same run; in_place runs first) for the shapes as durable and as safe
// as in_place, ceiling_vs_in_place for journal; syncs_per_s for fdatasync_4k.
//
// Stores go in fresh folders on a disk-backed filesystem (bench_util.h).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"

namespace {

using postbox::bench::RawEnv;
using postbox::bench::WrittenBytes;
using Clock = std::chrono::steady_clock;

constexpr size_t kPairs = 64;              // connections: one sender → recipient pair each
constexpr size_t kMessagesPerPair = 2657;  // as postbox-load's status supply at depth 1
constexpr size_t kRisesPerCommit = 32;     // a group commit at depth 1, 64 connections
constexpr size_t kCommits = 256;           // timed commits per shape
constexpr size_t kFoldEvery = 64;          // pending / journal: commits per fold or sync
                                           // (pending_fold_N: N rises per fold instead)
constexpr size_t kRecordBytes = 100;       // a rise as a log record

enum class Shape { kInPlace, kOneSync, kPending, kJournal, kFdatasync };

void Check(int rc, const char* what) { RawEnv::Check(rc, what); }

// A store shaped like the server's hot tables, and the rises applied to it.
class Store {
 public:
  Store(const std::string& dir, unsigned flags) {
    Check(mdb_env_create(&env_), "mdb_env_create");
    Check(mdb_env_set_mapsize(env_, size_t{4} << 30), "mdb_env_set_mapsize");
    Check(mdb_env_set_maxdbs(env_, 8), "mdb_env_set_maxdbs");
    Check(mdb_env_open(env_, dir.c_str(), MDB_NOTLS | flags, 0644), "mdb_env_open");
    MDB_txn* txn;
    Check(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    Check(mdb_dbi_open(txn, "state", MDB_CREATE, &state_), "state");
    Check(mdb_dbi_open(txn, "mbox", MDB_CREATE, &mbox_), "mbox");
    Check(mdb_dbi_open(txn, "feed", MDB_CREATE, &feed_), "feed");
    Check(mdb_dbi_open(txn, "pending", MDB_CREATE, &pending_), "pending");
    Check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  ~Store() { mdb_env_close(env_); }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Every pair's messages, each in both mailboxes' feeds; then one sync.
  void Populate() {
    std::mt19937_64 rng(1);
    msgs_.resize(kPairs * kMessagesPerPair);
    MDB_txn* txn;
    Check(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    for (size_t p = 0; p < kPairs; ++p) {
      for (size_t i = 0; i < kMessagesPerPair; ++i) {
        Msg& m = msgs_[p * kMessagesPerPair + i];
        for (auto& b : m.id) b = static_cast<uint8_t>(rng());
        m.pair = p;
        m.seq_from = ++seq_[Sender(p)];
        m.seq_to = ++seq_[Recipient(p)];
        PutState(txn, m);
        PutFeed(txn, Sender(p), m.seq_from, m);
        PutFeed(txn, Recipient(p), m.seq_to, m);
      }
    }
    for (size_t b = 0; b < 2 * kPairs; ++b) PutMbox(txn, b);
    Check(mdb_txn_commit(txn), "mdb_txn_commit");
    Check(mdb_env_sync(env_, 1), "mdb_env_sync");
  }

  // One rise of a random message, as today's store applies it.
  void Rise(MDB_txn* txn, std::mt19937_64& rng) { RiseOf(txn, msgs_[rng() % msgs_.size()]); }

  // Appends one 100-byte rise record at the next ascending key.
  void Append(MDB_txn* txn, std::mt19937_64& rng) {
    uint64_t key = __builtin_bswap64(++pending_seq_);
    std::array<char, kRecordBytes> rec{};
    const uint64_t which = rng() % msgs_.size();
    std::memcpy(rec.data(), &which, sizeof which);
    MDB_val k{sizeof key, &key}, v{rec.size(), rec.data()};
    Check(mdb_put(txn, pending_, &k, &v, MDB_APPEND), "mdb_put(pending)");
  }

  // Applies every pending record and deletes it.
  void Fold(MDB_txn* txn) {
    MDB_cursor* c;
    Check(mdb_cursor_open(txn, pending_, &c), "mdb_cursor_open");
    MDB_val k, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) {
      uint64_t which;
      std::memcpy(&which, v.mv_data, sizeof which);
      Check(mdb_cursor_del(c, 0), "mdb_cursor_del");
      RiseOf(txn, msgs_[which]);
    }
    mdb_cursor_close(c);
  }

  MDB_env* env() const { return env_; }

 private:
  struct Msg {
    std::array<uint8_t, 16> id{};
    size_t pair = 0;
    uint64_t seq_from = 0, seq_to = 0;
    uint8_t status = 0;
  };
  static size_t Sender(size_t pair) { return 2 * pair; }
  static size_t Recipient(size_t pair) { return 2 * pair + 1; }

  void RiseOf(MDB_txn* txn, Msg& m) {
    ++m.status;
    MoveInFeed(txn, Sender(m.pair), &m.seq_from, m);
    MoveInFeed(txn, Recipient(m.pair), &m.seq_to, m);
    PutState(txn, m);
    PutMbox(txn, Sender(m.pair));
    PutMbox(txn, Recipient(m.pair));
  }
  void MoveInFeed(MDB_txn* txn, size_t mbox, uint64_t* seq, const Msg& m) {
    auto key = FeedKey(mbox, *seq);
    MDB_val k{key.size(), key.data()};
    Check(mdb_del(txn, feed_, &k, nullptr), "mdb_del(feed)");
    *seq = ++seq_[mbox];
    PutFeed(txn, mbox, *seq, m);
  }
  static std::array<uint8_t, 24> FeedKey(size_t mbox, uint64_t seq) {
    std::array<uint8_t, 24> key{};
    std::memcpy(key.data(), &mbox, sizeof mbox);  // stands for the 16-byte mkey
    const uint64_t be = __builtin_bswap64(seq);
    std::memcpy(key.data() + 16, &be, sizeof be);
    return key;
  }
  void PutFeed(MDB_txn* txn, size_t mbox, uint64_t seq, const Msg& m) {
    auto key = FeedKey(mbox, seq);
    MDB_val k{key.size(), key.data()};
    MDB_val v{m.id.size(), const_cast<uint8_t*>(m.id.data())};
    Check(mdb_put(txn, feed_, &k, &v, 0), "mdb_put(feed)");
  }
  void PutState(MDB_txn* txn, const Msg& m) {
    std::array<uint8_t, 24> val{};
    val[0] = m.status;
    std::memcpy(val.data() + 8, &m.seq_from, 8);
    std::memcpy(val.data() + 16, &m.seq_to, 8);
    MDB_val k{m.id.size(), const_cast<uint8_t*>(m.id.data())}, v{val.size(), val.data()};
    Check(mdb_put(txn, state_, &k, &v, 0), "mdb_put(state)");
  }
  void PutMbox(MDB_txn* txn, size_t mbox) {
    std::array<uint8_t, 16> key{}, val{};
    key[0] = static_cast<uint8_t>(mbox);
    key[15] = 0x5a;  // spreads nothing: 128 records fit a few leaves
    std::memcpy(val.data(), &seq_[mbox], 8);
    MDB_val k{key.size(), key.data()}, v{val.size(), val.data()};
    Check(mdb_put(txn, mbox_, &k, &v, 0), "mdb_put(mbox)");
  }

  MDB_env* env_ = nullptr;
  MDB_dbi state_ = 0, mbox_ = 0, feed_ = 0, pending_ = 0;
  std::vector<Msg> msgs_;
  std::array<uint64_t, 2 * kPairs> seq_{};
  uint64_t pending_seq_ = 0;
};

double in_place_rate = 0;  // rises/s of in_place in this run (it runs first)

void BM_Shape(benchmark::State& state, Shape shape, size_t fold_every = kFoldEvery) {
  double seconds = 0;
  uint64_t written = 0;
  for (auto _ : state) {
    state.PauseTiming();
    postbox::bench::Folder dir("shape");
    unsigned flags = 0;
    if (shape == Shape::kOneSync) flags = MDB_NOMETASYNC;
    if (shape == Shape::kJournal) flags = MDB_NOSYNC;
    Store store(dir.path(), flags);
    if (shape != Shape::kFdatasync) store.Populate();
    const int log = ::open((dir.path() + "/journal").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log < 0) postbox::bench::Fail("open journal");
    std::mt19937_64 rng(2);
    std::string record(kRisesPerCommit * kRecordBytes, 'j');
    const std::string page(4096, 'p');
    state.ResumeTiming();
    const uint64_t w0 = WrittenBytes();
    const auto t0 = Clock::now();
    for (size_t commit = 1; commit <= kCommits; ++commit) {
      if (shape == Shape::kFdatasync) {
        if (::write(log, page.data(), page.size()) != 4096 || ::fdatasync(log) != 0) {
          postbox::bench::Fail("write/fdatasync");
        }
        continue;
      }
      if (shape == Shape::kJournal &&
          (::write(log, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
           ::fdatasync(log) != 0)) {
        postbox::bench::Fail("journal write/fdatasync");
      }
      MDB_txn* txn;
      Check(mdb_txn_begin(store.env(), nullptr, 0, &txn), "mdb_txn_begin");
      for (size_t r = 0; r < kRisesPerCommit; ++r) {
        if (shape == Shape::kPending) {
          store.Append(txn, rng);
        } else {
          store.Rise(txn, rng);
        }
      }
      Check(mdb_txn_commit(txn), "mdb_txn_commit");
      if (commit % fold_every == 0 && shape == Shape::kPending) {
        Check(mdb_txn_begin(store.env(), nullptr, 0, &txn), "mdb_txn_begin");
        store.Fold(txn);
        Check(mdb_txn_commit(txn), "mdb_txn_commit");
      }
      if (commit % fold_every == 0 && shape == Shape::kJournal) {
        Check(mdb_env_sync(store.env(), 1), "mdb_env_sync");
      }
    }
    // Every one_sync commit durable, as in_place's are: the last one's meta
    // page has no later commit to sync it.
    if (shape == Shape::kOneSync) Check(mdb_env_sync(store.env(), 1), "mdb_env_sync");
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    written += WrittenBytes() - w0;
    ::close(log);
  }
  if (shape == Shape::kFdatasync) {  // not rises: no ratio
    state.counters["syncs_per_s"] = static_cast<double>(state.iterations() * kCommits) / seconds;
    return;
  }
  const double rises = static_cast<double>(state.iterations() * kCommits * kRisesPerCommit);
  const double rate = rises / seconds;
  if (shape == Shape::kInPlace) in_place_rate = rate;
  state.counters["rises_per_s"] = rate;
  state.counters["kb_per_rise"] = static_cast<double>(written) / rises / 1024;
  if (in_place_rate > 0) {
    // The journal shape does the same work without the same safety: a
    // ceiling, not a like-for-like ratio.
    state.counters[shape == Shape::kJournal ? "ceiling_vs_in_place" : "vs_in_place"] =
        rate / in_place_rate;
  }
}

BENCHMARK_CAPTURE(BM_Shape, in_place, Shape::kInPlace)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Shape, one_sync, Shape::kOneSync)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Shape, pending, Shape::kPending)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Shape, pending_fold_512, Shape::kPending, 16)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Shape, pending_fold_8192, Shape::kPending, 256)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Shape, journal, Shape::kJournal)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Shape, fdatasync_4k, Shape::kFdatasync)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
