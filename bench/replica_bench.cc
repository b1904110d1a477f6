// Replica benchmarks (docs/benchmarks.md "Replica"), each against a baseline
// measured in the same run:
//
//   BM_MirrorApply_{Durable,Relaxed}  Mirror::Apply of 256-item info packets
//       (new incoming messages, new entries, entry tombstones; contiguous
//       since/cursor so every packet applies) vs raw LMDB writing the records
//       the mirror writes — the same tables, keys and value sizes, checked at
//       start-up against a mirror's store — in one write transaction per
//       packet with the same durability (default flags vs Durability::kDurable,
//       MDB_NOMETASYNC vs kRelaxed). Interleaved packet by packet as in
//       engine_bench.cc; `ratio` = mirror items/s / raw items/s.
//
//   BM_OutboxDrain_10k/{durable,relaxed}_local  10,000 entry puts (new 16 B
//       keys, 64 B values, version 1) to an in-process postbox::sync::Server on
//       127.0.0.1 (durable store): online, a Client with 64 PutEntryAsync in
//       flight on its one session, timed until all are acknowledged; offline, a
//       Replica opened with start = false takes the same puts into its outbox
//       (timed apart: the local enqueue rate), then Start() and Sync() (outbox
//       drained with outbox_window = 64, acknowledged, the mirror caught up),
//       timed. One connection and depth 64 on both sides, one server. The arg
//       is the replica's local store durability. `ratio` = drain rate / online
//       rate.
//
// Stores go in fresh folders on a disk-backed filesystem (bench_util.h
// BenchRoot: $POSTBOX_BENCH_DIR, /var/tmp, "."), removed at exit.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/summary_reporter.h"
#include "postbox/db.h"
#include "postbox/options.h"
#include "postbox/sync/client.h"
#include "postbox/sync/replica.h"
#include "postbox/sync/server.h"
#include "sync/replica/mirror.h"

namespace {

using postbox::InfoPacket;
using postbox::MailboxKey;
using postbox::MessageId;
using postbox::sync::replica::ApplyResult;
using postbox::sync::replica::Mirror;
using Clock = std::chrono::steady_clock;

// ---- The packet mix ----
constexpr size_t kIncoming = 112;   // new incoming messages
constexpr size_t kEntries = 128;    // new entries
constexpr size_t kTombstones = 16;  // deletes of entries put in earlier packets
constexpr size_t kPacketItems = kIncoming + kEntries + kTombstones;  // 256
// Topics are "thread/" + 8 hex digits (15 B): topic + meta ≈ 100 bytes.
constexpr size_t kMetaSize = 85;
constexpr size_t kValueSize = 64;
// Packets applied before timing starts, so the trees have some depth.
constexpr size_t kPrefillPackets = 40;

// ---- The drain benchmark ----
constexpr size_t kWrites = 10'000;
constexpr uint32_t kDepth = 64;

// ---- Failures and folders ----

using postbox::bench::Fail;
using postbox::bench::Unwrap;
// A fresh folder under BenchRoot() (never tmpfs), removed with its contents.
using TempDir = postbox::bench::Folder;

void CheckMdb(int rc, const char* what) {
  if (rc != MDB_SUCCESS) Fail(std::string(what) + ": " + mdb_strerror(rc));
}

// ---- Helpers ----

std::string Hex(uint64_t x, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, x >>= 4) s[static_cast<size_t>(i)] = kHex[x & 0xf];
  return s;
}

std::string Filler(size_t n, char base) {
  std::string s(n, base);
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(base + (i * 7) % 26);
  return s;
}

MDB_val Val(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }

void AppendBE64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

template <typename F>
double Seconds(F&& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Bytes this process has passed to write(2)-like calls so far.
uint64_t WrittenBytes() {
  int fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* p = std::strstr(buf, "wchar:");
  return p != nullptr ? std::strtoull(p + 6, nullptr, 10) : 0;
}

// One side of an interleaved benchmark (as in engine_bench.cc).
struct Side {
  double seconds = 0;
  uint64_t written = 0;
  std::vector<double> unit_seconds;

  template <typename F>
  double Run(F&& f) {
    const uint64_t w0 = WrittenBytes();
    const double s = Seconds(std::forward<F>(f));
    written += WrittenBytes() - w0;
    seconds += s;
    unit_seconds.push_back(s);
    return s;
  }
  double Median() const { return postbox::bench::Median(unit_seconds); }
};

// ---- Packets ----

// Info packets of the mix above for mailbox `self`, each following the last.
class PacketGen {
 public:
  explicit PacketGen(uint64_t seed) : rng_(seed) {
    for (auto& p : peers_) p = MailboxKey::Random();
  }
  const MailboxKey& self() const { return self_; }

  InfoPacket Next() {
    InfoPacket p;
    p.since = cursor_;
    for (size_t i = 0; i < kIncoming; ++i) {
      postbox::MessageInfo& m = p.incoming.emplace_back();
      m.id = MessageId::Random();
      m.from = peers_[rng_() % peers_.size()];
      m.to = self_;
      m.topic = "thread/" + Hex(rng_() % 64, 8);
      m.meta = meta_;
      m.length = 4096 + rng_() % (1 << 20);
      for (auto& b : m.digest) b = static_cast<uint8_t>(rng_());
      m.status = postbox::MessageStatus::kUploaded;
      m.created_ms = ++created_ms_;
      m.seq = ++seq_;
    }
    std::vector<std::string> added;
    for (size_t i = 0; i < kEntries; ++i) {
      postbox::EntryInfo& e = p.entries.emplace_back();
      e.key = Hex(rng_(), 16);
      e.value = value_;
      e.version = 1;
      e.seq = ++seq_;
      added.push_back(e.key);
    }
    for (size_t i = 0; i < kTombstones; ++i) {
      postbox::Tombstone& t = p.tombstones.emplace_back();
      t.kind = postbox::TombstoneKind::kEntry;
      if (live_.empty()) {
        t.key = Hex(rng_(), 16);  // the first packet: a delete of an entry never seen
      } else {
        t.key = std::move(live_.front());
        live_.pop_front();
      }
      t.version = 2;
      t.seq = ++seq_;
    }
    for (auto& k : added) live_.push_back(std::move(k));
    p.cursor = seq_;
    cursor_ = p.cursor;
    return p;
  }

 private:
  std::mt19937_64 rng_;
  MailboxKey self_ = MailboxKey::Random();
  std::array<MailboxKey, 8> peers_;
  std::string meta_ = Filler(kMetaSize, 'a');
  std::string value_ = Filler(kValueSize, 'A');
  uint64_t cursor_ = 0, seq_ = 0, created_ms_ = 1'700'000'000'000;
  std::deque<std::string> live_;
};

// ---- Raw LMDB: the records the mirror writes for a packet ----

// Record sizes of the mirror's encodings (mirror.cc); VerifyModel() checks
// them against a real mirror's store before any benchmark runs.
//   r_msgs:    id(16) -> 6 flags + from/to/id 48 + topic (2+n) + meta (2+n)
//              + length 8 + digest 16 + created 8 + seq 8
//   r_order:   dir(1) created_ms(BE8) id(16) -> ""
//   r_entries: key -> version byte, base (1+8+1+4+value), base_seq 8,
//              visible (1+8+1+4+value), pending 1
//   r_meta:    "snapshot", "cursor" -> 8 bytes each
size_t MsgRecordSize(const postbox::MessageInfo& m) { return 98 + m.topic.size() + m.meta.size(); }
size_t EntryRecordSize(size_t value_size) { return 38 + 2 * value_size; }

std::string OrderKey(uint64_t created_ms, const MessageId& id) {
  std::string k(1, '\1');  // incoming
  AppendBE64(k, created_ms);
  k.append(id.AsBytes());
  return k;
}

// An LMDB environment with the mirror's four written tables, opened as the
// engine opens its own (MDB_NOTLS) with `flags` (0: durable; MDB_NOMETASYNC:
// the relaxed mode's).
class RawMirror {
 public:
  RawMirror(const std::string& dir, unsigned flags) {
    CheckMdb(mdb_env_create(&env_), "mdb_env_create");
    CheckMdb(mdb_env_set_mapsize(env_, size_t{1} << 30), "mdb_env_set_mapsize");
    CheckMdb(mdb_env_set_maxdbs(env_, 32), "mdb_env_set_maxdbs");
    CheckMdb(mdb_env_open(env_, dir.c_str(), MDB_NOTLS | flags, 0644), "mdb_env_open");
    MDB_txn* txn;
    CheckMdb(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    CheckMdb(mdb_dbi_open(txn, "r_meta", MDB_CREATE, &meta_), "mdb_dbi_open");
    CheckMdb(mdb_dbi_open(txn, "r_msgs", MDB_CREATE, &msgs_), "mdb_dbi_open");
    CheckMdb(mdb_dbi_open(txn, "r_order", MDB_CREATE, &order_), "mdb_dbi_open");
    CheckMdb(mdb_dbi_open(txn, "r_entries", MDB_CREATE, &entries_), "mdb_dbi_open");
    CheckMdb(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  ~RawMirror() { mdb_env_close(env_); }
  RawMirror(const RawMirror&) = delete;
  RawMirror& operator=(const RawMirror&) = delete;

  // The packet's records in one write transaction: puts only, no reads.
  void Apply(const InfoPacket& p) {
    MDB_txn* txn;
    CheckMdb(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    for (const auto& m : p.incoming) {
      Put(txn, msgs_, m.id.AsBytes(), MsgRecordSize(m));
      Put(txn, order_, OrderKey(m.created_ms, m.id), 0);
    }
    for (const auto& e : p.entries) Put(txn, entries_, e.key, EntryRecordSize(e.value.size()));
    for (const auto& t : p.tombstones) Put(txn, entries_, t.key, EntryRecordSize(0));
    Put(txn, meta_, "snapshot", 8);
    Put(txn, meta_, "cursor", 8);
    CheckMdb(mdb_txn_commit(txn), "mdb_txn_commit");
  }

  // Records and key + value bytes one Apply of `p` writes.
  static std::pair<size_t, size_t> Footprint(const InfoPacket& p) {
    size_t records = 0, bytes = 0;
    for (const auto& m : p.incoming) {
      records += 2;
      bytes += 16 + MsgRecordSize(m) + 25;
    }
    for (const auto& e : p.entries) {
      ++records;
      bytes += e.key.size() + EntryRecordSize(e.value.size());
    }
    for (const auto& t : p.tombstones) {
      ++records;
      bytes += t.key.size() + EntryRecordSize(0);
    }
    records += 2;
    bytes += 8 + 8 + 6 + 8;
    return {records, bytes};
  }

 private:
  void Put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, size_t value_size) {
    static const std::string filler = Filler(1024, 'a');
    MDB_val k = Val(key), v{value_size, const_cast<char*>(filler.data())};
    CheckMdb(mdb_put(txn, dbi, &k, &v, 0), "mdb_put");
  }

  MDB_env* env_ = nullptr;
  MDB_dbi meta_ = 0, msgs_ = 0, order_ = 0, entries_ = 0;
};

// Per table: records, key bytes, value bytes; of the tables in `names`.
struct TableStats {
  size_t records = 0, key_bytes = 0, value_bytes = 0;
  bool operator==(const TableStats&) const = default;
};

std::vector<TableStats> ScanTables(const std::string& dir, const std::vector<std::string>& names,
                                   std::string_view skip_key) {
  MDB_env* env;
  CheckMdb(mdb_env_create(&env), "mdb_env_create");
  CheckMdb(mdb_env_set_maxdbs(env, 32), "mdb_env_set_maxdbs");
  CheckMdb(mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0644), "mdb_env_open ro");
  MDB_txn* txn;
  CheckMdb(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin ro");
  std::vector<TableStats> out;
  for (const auto& name : names) {
    TableStats st;
    MDB_dbi dbi;
    if (mdb_dbi_open(txn, name.c_str(), 0, &dbi) == MDB_SUCCESS) {
      MDB_cursor* cur;
      CheckMdb(mdb_cursor_open(txn, dbi, &cur), "mdb_cursor_open");
      MDB_val k, v;
      for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
           rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (std::string_view(static_cast<const char*>(k.mv_data), k.mv_size) == skip_key) continue;
        ++st.records;
        st.key_bytes += k.mv_size;
        st.value_bytes += v.mv_size;
      }
      mdb_cursor_close(cur);
    }
    out.push_back(st);
  }
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return out;
}

// Applies three packets to a scratch mirror and to a scratch RawMirror and
// checks that both stores then hold the same records, key for key in size:
// the raw baseline writes what the mirror writes. Also that the mirror wrote
// nothing else (no outbox, dependency, blob or stale records).
void VerifyModel() {
  TempDir mirror_dir("verify-mirror"), raw_dir("verify-raw");
  PacketGen gen(7);
  std::vector<InfoPacket> packets;
  for (int i = 0; i < 3; ++i) packets.push_back(gen.Next());
  {
    auto mirror = Unwrap(Mirror::Open(mirror_dir.path(), gen.self(), postbox::Durability::kRelaxed,
                                      uint64_t{256} << 20),
                         "Mirror::Open");
    for (const auto& p : packets) {
      auto r = Unwrap(mirror->Apply(p, postbox::sync::DownloadPolicy{}, nullptr, nullptr),
                      "Mirror::Apply");
      if (r != ApplyResult::kApplied) Fail("verify: a contiguous packet did not apply");
    }
  }
  {
    RawMirror raw(raw_dir.path(), MDB_NOMETASYNC);
    for (const auto& p : packets) raw.Apply(p);
  }
  const std::vector<std::string> written = {"r_meta", "r_msgs", "r_order", "r_entries"};
  const auto m = ScanTables(mirror_dir.path() + "/store", written, "mkey");
  const auto r = ScanTables(raw_dir.path(), written, "mkey");
  for (size_t i = 0; i < written.size(); ++i) {
    if (!(m[i] == r[i])) {
      Fail("verify: table " + written[i] + " holds " + std::to_string(m[i].records) + " records (" +
           std::to_string(m[i].key_bytes) + " key bytes, " + std::to_string(m[i].value_bytes) +
           " value bytes) in the mirror but " + std::to_string(r[i].records) + " (" +
           std::to_string(r[i].key_bytes) + ", " + std::to_string(r[i].value_bytes) +
           ") in the raw model: update RawMirror");
    }
  }
  const auto other =
      ScanTables(mirror_dir.path() + "/store",
                 {"r_conns", "r_outbox", "r_deps", "r_stale", "r_blobs", "r_ended"}, "");
  for (const auto& st : other) {
    if (st.records != 0) Fail("verify: the mirror wrote records the raw model does not");
  }
}

// ---- BM_MirrorApply ----

struct ApplyFixture {
  ApplyFixture(postbox::Durability durability, unsigned raw_flags)
      : mirror(Unwrap(Mirror::Open(mirror_dir.path(), gen.self(), durability, uint64_t{1} << 30),
                      "Mirror::Open")),
        raw(raw_dir.path(), raw_flags) {
    for (size_t i = 0; i < kPrefillPackets; ++i) {
      InfoPacket p = gen.Next();
      auto r = Unwrap(mirror->Apply(p, policy, nullptr, nullptr), "prefill Apply");
      if (r != ApplyResult::kApplied) Fail("prefill: a contiguous packet did not apply");
      raw.Apply(p);
    }
  }

  TempDir mirror_dir{"mirror"};
  TempDir raw_dir{"mirror-raw"};
  PacketGen gen{42};
  postbox::sync::DownloadPolicy policy;  // no automatic downloads: no blob records
  std::unique_ptr<Mirror> mirror;
  RawMirror raw;
};

std::unique_ptr<ApplyFixture> g_apply_durable;
std::unique_ptr<ApplyFixture> g_apply_relaxed;

void ApplyLoop(benchmark::State& state, ApplyFixture& f) {
  Side mirror, raw;
  uint64_t packets = 0;
  std::string error;
  postbox::sync::ReplicaChange change;
  std::vector<MessageId> gone;
  size_t records = 0, bytes = 0;
  for (auto _ : state) {
    const InfoPacket p = f.gen.Next();
    std::tie(records, bytes) = RawMirror::Footprint(p);
    auto apply_mirror = [&] {
      auto r = f.mirror->Apply(p, f.policy, &change, &gone);
      if (!r.ok()) {
        error = r.error().ToString();
      } else if (*r != ApplyResult::kApplied) {
        error = "a contiguous packet did not apply";
      }
    };
    auto apply_raw = [&] { f.raw.Apply(p); };
    // Alternate which side goes first, so neither always follows the other's sync.
    double s;
    if (packets % 2 == 0) {
      s = mirror.Run(apply_mirror);
      raw.Run(apply_raw);
    } else {
      raw.Run(apply_raw);
      s = mirror.Run(apply_mirror);
    }
    state.SetIterationTime(s);
    ++packets;
    if (!error.empty()) return state.SkipWithError(error.c_str());
  }
  if (packets == 0 || mirror.seconds <= 0 || raw.seconds <= 0) return;
  const double items = static_cast<double>(packets * kPacketItems);
  state.SetItemsProcessed(static_cast<int64_t>(packets * kPacketItems));
  state.counters["ratio"] = raw.seconds / mirror.seconds;
  state.counters["ratio_median"] = raw.Median() / mirror.Median();
  state.counters["target"] = 0.5;
  state.counters["mirror_per_s"] = items / mirror.seconds;
  state.counters["raw_per_s"] = items / raw.seconds;
  state.counters["mirror_KiB_commit"] =
      static_cast<double>(mirror.written) / 1024.0 / static_cast<double>(packets);
  state.counters["raw_KiB_commit"] =
      static_cast<double>(raw.written) / 1024.0 / static_cast<double>(packets);
  state.counters["records_packet"] = static_cast<double>(records);
  state.counters["record_bytes_packet"] = static_cast<double>(bytes);
}

// Mirror::Apply, Durability::kDurable, vs raw LMDB with default flags.
void BM_MirrorApply_Durable(benchmark::State& state) {
  if (!g_apply_durable) {
    g_apply_durable = std::make_unique<ApplyFixture>(postbox::Durability::kDurable, 0);
  }
  ApplyLoop(state, *g_apply_durable);
}
BENCHMARK(BM_MirrorApply_Durable)->UseManualTime()->MinTime(3.0)->Unit(benchmark::kMillisecond);

// Mirror::Apply, Durability::kRelaxed, vs raw LMDB with MDB_NOMETASYNC.
void BM_MirrorApply_Relaxed(benchmark::State& state) {
  if (!g_apply_relaxed) {
    g_apply_relaxed =
        std::make_unique<ApplyFixture>(postbox::Durability::kRelaxed, unsigned{MDB_NOMETASYNC});
  }
  ApplyLoop(state, *g_apply_relaxed);
}
BENCHMARK(BM_MirrorApply_Relaxed)->UseManualTime()->MinTime(3.0)->Unit(benchmark::kMillisecond);

// ---- BM_OutboxDrain_10k ----

// A durable store served by the library server on 127.0.0.1 (ephemeral port).
struct ServerFixture {
  ServerFixture() {
    db = Unwrap(postbox::DB::Open(dir.path(), postbox::Options{}), "DB::Open");
    postbox::sync::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    server = Unwrap(postbox::sync::Server::Start(db.get(), so), "Server::Start");
  }
  ~ServerFixture() {
    server->Stop();
    server.reset();
    db.reset();
  }

  postbox::sync::ClientOptions ClientFor(const postbox::MailboxCredentials& c) const {
    postbox::sync::ClientOptions o;
    o.host = "127.0.0.1";
    o.port = server->port();
    o.mkey = c.mkey;
    o.secret = c.secret;
    o.request_timeout = std::chrono::milliseconds(30000);
    return o;
  }

  TempDir dir{"server"};
  std::unique_ptr<postbox::DB> db;
  std::unique_ptr<postbox::sync::Server> server;
};

std::unique_ptr<ServerFixture> g_server;

// The writes: kWrites new 16 B keys with 64 B values.
const std::vector<std::string>& DrainKeys() {
  static const std::vector<std::string> keys = [] {
    std::mt19937_64 rng(99);
    std::vector<std::string> k;
    for (size_t i = 0; i < kWrites; ++i) k.push_back(Hex(rng(), 16));
    return k;
  }();
  return keys;
}
const std::string& DrainValue() {
  static const std::string v = Filler(kValueSize, 'a');
  return v;
}

// Online: one connected Client, kDepth PutEntryAsync (version 1) in flight, a
// completion issuing the next. Seconds from the first send to the last answer;
// the connection is made before. Empty error on success.
double OnlineRun(ServerFixture& f, std::string* error) {
  const auto creds = Unwrap(f.db->CreateMailbox(), "CreateMailbox");
  auto client = Unwrap(postbox::sync::Client::Create(f.ClientFor(creds)), "Client::Create");
  Unwrap(client->Connect(), "Client::Connect");
  const auto& keys = DrainKeys();
  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0, done = 0;
  std::function<void()> issue = [&] {
    size_t i;
    {
      std::lock_guard lock(mu);
      if (next >= keys.size()) return;
      i = next++;
    }
    client->PutEntryAsync(keys[i], DrainValue(), 1,
                          [&](postbox::Result<postbox::EntryPutResult> r) {
                            bool last;
                            {
                              std::lock_guard lock(mu);
                              if (!r.ok() && error->empty()) *error = r.error().ToString();
                              if (r.ok() && !r->applied && error->empty()) {
                                *error = "an online put of a new key did not apply";
                              }
                              last = ++done == keys.size();
                            }
                            if (last) {
                              cv.notify_all();
                            } else {
                              issue();
                            }
                          });
  };
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < kDepth; ++i) issue();
  {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(120), [&] { return done == keys.size(); })) {
      *error = "online writes not all answered within 120 s";
    }
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  client->Close();
  return s;
}

struct OfflineTimes {
  double enqueue = 0;
  double drain = 0;
};

// Offline: a Replica opened with start = false takes the writes into its
// outbox (timed: enqueue), then Start() and Sync() (timed: drain).
OfflineTimes OfflineRun(ServerFixture& f, postbox::Durability local, std::string* error) {
  const auto creds = Unwrap(f.db->CreateMailbox(), "CreateMailbox");
  TempDir folder("replica");
  std::atomic<size_t> ok{0}, bad{0};
  postbox::sync::ReplicaOptions ro;
  ro.folder = folder.path() + "/app";
  ro.client = f.ClientFor(creds);
  ro.durability = local;
  ro.outbox_window = kDepth;
  ro.start = false;
  ro.on_outbox = [&](const postbox::sync::OutboxOutcome& o) {
    (o.status.ok() && o.applied ? ok : bad).fetch_add(1);
  };
  auto replica = Unwrap(postbox::sync::Replica::Open(std::move(ro)), "Replica::Open");
  const auto& keys = DrainKeys();
  OfflineTimes t;
  t.enqueue = Seconds([&] {
    for (const auto& key : keys) {
      auto r = replica->PutEntry(key, DrainValue());
      if (!r.ok() && error->empty()) *error = "Replica::PutEntry: " + r.error().ToString();
    }
  });
  postbox::Status synced;
  t.drain = Seconds([&] {
    replica->Start();
    synced = replica->Sync(std::chrono::seconds(120));
  });
  if (!synced.ok() && error->empty()) *error = "Replica::Sync: " + synced.ToString();
  if (error->empty() && (ok.load() != keys.size() || bad.load() != 0)) {
    *error = "drain: " + std::to_string(ok.load()) + " puts acknowledged and applied, " +
             std::to_string(bad.load()) + " not, of " + std::to_string(keys.size());
  }
  replica.reset();
  return t;
}

// Online vs offline-then-drained, alternating which goes first per iteration.
// The manual time is the drain's.
void BM_OutboxDrain_10k(benchmark::State& state) {
  if (!g_server) g_server = std::make_unique<ServerFixture>();
  const auto local =
      state.range(0) == 0 ? postbox::Durability::kDurable : postbox::Durability::kRelaxed;
  double online = 0, enqueue = 0, drain = 0;
  std::vector<double> online_units, drain_units;
  uint64_t rounds = 0;
  std::string error;
  for (auto _ : state) {
    OfflineTimes off;
    double on = 0;
    if (rounds % 2 == 0) {
      on = OnlineRun(*g_server, &error);
      off = OfflineRun(*g_server, local, &error);
    } else {
      off = OfflineRun(*g_server, local, &error);
      on = OnlineRun(*g_server, &error);
    }
    if (!error.empty()) return state.SkipWithError(error.c_str());
    online += on;
    enqueue += off.enqueue;
    drain += off.drain;
    online_units.push_back(on);
    drain_units.push_back(off.drain);
    state.SetIterationTime(off.drain);
    ++rounds;
  }
  if (rounds == 0) return;
  const double writes = static_cast<double>(rounds * kWrites);
  state.SetItemsProcessed(static_cast<int64_t>(rounds * kWrites));
  state.counters["ratio"] = online / drain;
  state.counters["ratio_median"] =
      postbox::bench::Median(online_units) / postbox::bench::Median(drain_units);
  state.counters["target"] = 0;
  state.counters["drain_per_s"] = writes / drain;
  state.counters["online_per_s"] = writes / online;
  state.counters["enqueue_per_s"] = writes / enqueue;
}
// relaxed_local:1 first and twice (the order of the two sides alternates);
// durable_local once: its 10,000 enqueues are 10,000 synced local commits,
// several seconds on their own.
BENCHMARK(BM_OutboxDrain_10k)
    ->ArgName("relaxed_local")
    ->Arg(1)
    ->Iterations(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OutboxDrain_10k)
    ->ArgName("relaxed_local")
    ->Arg(0)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---- Summary ----

// The usual reporter, and the table main() prints at the end.
class SummaryReporter : public postbox::bench::SummaryReporterBase {
 public:
  using SummaryReporterBase::SummaryReporterBase;

  void PrintSummary(std::FILE* out) const {
    std::fprintf(out,
                 "\nSummary: replica vs its baseline in this run (ratio = replica throughput / "
                 "baseline; median = from median unit times)\n"
                 "%-34s %18s %18s %7s %7s %7s  %s\n",
                 "benchmark", "replica", "baseline", "ratio", "median", "target", "verdict");
    for (const Run& run : rows()) {
      std::string name = run.run_name.function_name;
      if (!run.run_name.args.empty()) name += "/" + run.run_name.args;
      if (run.error_occurred) {
        std::fprintf(out, "%-34s ERROR: %s\n", name.c_str(), run.error_message.c_str());
        continue;
      }
      auto counter = [&](const char* key) {
        auto it = run.counters.find(key);
        return it == run.counters.end() ? 0.0 : it->second.value;
      };
      char replica[40], base[40], target[16];
      const bool drain = run.counters.count("drain_per_s") != 0;
      if (drain) {
        std::snprintf(replica, sizeof(replica), "drain %.0f /s", counter("drain_per_s"));
        std::snprintf(base, sizeof(base), "client %.0f /s", counter("online_per_s"));
      } else {
        std::snprintf(replica, sizeof(replica), "%.0f items/s", counter("mirror_per_s"));
        std::snprintf(base, sizeof(base), "raw %.0f items/s", counter("raw_per_s"));
      }
      const double ratio = counter("ratio"), want = counter("target");
      if (want > 0) {
        std::snprintf(target, sizeof(target), ">=%.2f", want);
      } else {
        std::snprintf(target, sizeof(target), "-");
      }
      const char* verdict = want <= 0                         ? "report only"
                            : ratio >= want                   ? "met"
                            : counter("ratio_median") >= want ? "MISSED (median met: rerun)"
                                                              : "MISSED";
      std::fprintf(out, "%-34s %18s %18s %7.2f %7.2f %7s  %s\n", name.c_str(), replica, base, ratio,
                   counter("ratio_median"), target, verdict);
      if (drain) {
        std::fprintf(out, "  (local enqueue into the outbox: %.0f writes/s)\n",
                     counter("enqueue_per_s"));
      }
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string format = "console";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--benchmark_format=")) format = std::string(arg.substr(19));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("postbox_bench_dir", postbox::bench::BenchRoot());
  VerifyModel();

  std::unique_ptr<benchmark::BenchmarkReporter> inner;
  if (format == "json") {
    inner = std::make_unique<benchmark::JSONReporter>();
  } else {
    inner = std::make_unique<benchmark::ConsoleReporter>(isatty(STDOUT_FILENO)
                                                             ? benchmark::ConsoleReporter::OO_Color
                                                             : benchmark::ConsoleReporter::OO_None);
  }
  SummaryReporter reporter(std::move(inner));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary(format == "json" ? stderr : stdout);

  g_apply_durable.reset();
  g_apply_relaxed.reset();
  g_server.reset();
  benchmark::Shutdown();
  return 0;
}
