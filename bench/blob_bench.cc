// Blob benchmarks (issue 3): durable chunked uploads and range reads through
// postbox::DB against raw LMDB doing the same puts and gets, and XXH3-64 as the
// download path uses it — the packaged libxxhash against an inlined build (and
// the AVX2 kernel a runtime dispatch could pick). docs/benchmarks-blob.md
// has the figures and how to read them. BM_Upload_WriteAmp measures what
// chunked uploads write per blob byte (issue 10).
//
// Method. The machines are shared and noisy, so each benchmark runs the engine
// and its raw baseline inside one function, interleaved unit by unit and
// alternating which side goes first; each side is timed on its own with a
// clock: wall time for the durable uploads (the syncs are the cost), this
// thread's CPU time for range reads, downloads and hashing (CPU-bound; on a
// shared machine their wall time mostly measures the scheduler). The engine's
// time is the benchmark's manual time; the raw side's goes into counters:
//   ratio         engine throughput / raw throughput over all units (the
//                 figure the 0.8x targets apply to)
//   ratio_median  the same from each side's median unit
//   target        the target ratio (0: report only)
//   *_MBps        throughput of each side (MB = 10^6 bytes)
//   *_us_chunk    microseconds per 256 KiB chunk
//
// Stores live in fresh folders on a disk-backed filesystem (durable figures
// must include real syncs): $POSTBOX_BENCH_DIR if set, else /var/tmp, else the
// current folder; never tmpfs. They are removed at exit.
//
// Hashing. The library calls XXH3_64bits from the packaged libxxhash (built
// for baseline x86-64: SSE2). This file also compiles xxHash inline
// (XXH_INLINE_ALL) with the default flags, and the AVX2 kernel inside a
// function marked __attribute__((target("avx2"))), which is how a runtime
// dispatch would be built without making AVX2 a build requirement; and it calls
// XXH3_64bits_dispatch, the runtime dispatcher Debian's libxxhash already ships.

// The packaged library's API first, so its symbols can be wrapped before the
// inline build renames XXH3_64bits to its own copy.
#define XXH_DISPATCH_DISABLE_REPLACE 1
#include <xxh_x86dispatch.h>
#include <xxhash.h>

static XXH64_hash_t PackagedXxh3(const void* p, size_t n) { return XXH3_64bits(p, n); }
// libxxhash 0.8.1's dispatched path (AVX-512 on this CPU) returns without
// VZEROUPPER: measured here, after one XXH3_64bits_dispatch call the SSE2
// XXH3_64bits (and any other legacy-SSE code) runs at ~3.6 instead of ~15 GB/s
// until the upper state is cleared. The wrapper clears it so the other
// variants' figures stay honest.
__attribute__((__target__("avx"))) static XXH64_hash_t PackagedDispatchXxh3(const void* p,
                                                                            size_t n) {
  const XXH64_hash_t h = XXH3_64bits_dispatch(p, n);
  __builtin_ia32_vzeroupper();
  return h;
}

#include <immintrin.h>

#define XXH_DISPATCH_AVX2 1
#define XXH_TARGET_AVX2 __attribute__((__target__("avx2")))
#define XXH_INLINE_ALL
#include <xxhash.h>

// Inline, default flags: the vector width the compiler targets (SSE2 here).
static XXH64_hash_t InlineXxh3(const void* p, size_t n) { return XXH3_64bits(p, n); }
// Inline with the AVX2 kernel, compiled for AVX2 in this function only. GCC 12
// emits no VZEROUPPER on its way out of a target("avx2") function (checked
// with objdump), and a dirty upper state makes every later legacy-SSE
// instruction in the process slow (the packaged SSE2 XXH3 drops ~4x), so a
// dispatched path must clear it itself.
XXH_TARGET_AVX2 static XXH64_hash_t InlineAvx2Xxh3(const void* p, size_t n) {
  if (n <= XXH3_MIDSIZE_MAX) return XXH3_64bits(p, n);
  const XXH64_hash_t h = XXH3_hashLong_64b_internal(
      p, n, XXH3_kSecret, sizeof(XXH3_kSecret), XXH3_accumulate_512_avx2, XXH3_scrambleAcc_avx2);
  _mm256_zeroupper();
  return h;
}

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <linux/magic.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "postbox/blob.h"
#include "postbox/db.h"
#include "postbox/options.h"
#include "postbox/write_batch.h"

namespace {

using postbox::DB;
using postbox::bench::BenchRoot;
using postbox::bench::Folder;
using postbox::bench::Median;
using postbox::bench::RawEnv;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kBlobBytes = 64 * kMiB;
constexpr uint64_t kChunk = 256 * kKiB;
constexpr uint64_t kChunks = kBlobBytes / kChunk;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// This thread's CPU time in seconds. The CPU-bound benchmarks (range reads,
// hashing, the sender's side of a download) are timed with it: on a shared
// 2-vCPU machine under load, wall time mostly measures the scheduler.
double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

const std::string& Blob() {
  static const std::string blob = postbox::bench::RandomBlob(kBlobBytes);
  return blob;
}

std::string_view ChunkOf(uint64_t i) { return std::string_view(Blob()).substr(i * kChunk, kChunk); }

// ---- Raw LMDB: one environment with one named table, keys as the engine's ----

std::string PieceKey(const postbox::MessageId& id, uint32_t piece) {
  std::string k(id.AsBytes());
  const uint32_t be = htonl(piece);
  k.append(reinterpret_cast<const char*>(&be), 4);
  return k;
}

// ---- The engine ----

struct EngineStore {
  Folder folder;
  std::unique_ptr<DB> db;
  postbox::MailboxKey a, b;

  explicit EngineStore(postbox::Durability durability) {
    postbox::Options o;
    o.durability = durability;
    auto opened = DB::Open(folder.path() + "/db", o);
    if (!opened.ok()) Die(opened.status());
    db = std::move(opened).value();
    a = Must(db->CreateMailbox()).mkey;
    b = Must(db->CreateMailbox()).mkey;
    Die(db->Connect(a, b));
  }
  static void Die(const postbox::Status& s) {
    if (s.ok()) return;
    std::fprintf(stderr, "engine: %s\n", s.ToString().c_str());
    std::abort();
  }
  template <typename T>
  static T Must(postbox::Result<T> r) {
    if (!r.ok()) Die(r.status());
    return std::move(r).value();
  }
};

const postbox::Digest128& BlobDigest() {
  static const postbox::Digest128 d = postbox::ComputeDigest128(Blob());
  return d;
}

// Reports the interleaved pair's counters. `bytes` is what one unit moves.
void ReportPair(benchmark::State& state, const std::vector<double>& engine,
                const std::vector<double>& raw, double bytes_per_unit, double target) {
  double e = 0, r = 0;
  for (double t : engine) e += t;
  for (double t : raw) r += t;
  const double units = static_cast<double>(engine.size());
  state.counters["engine_MBps"] = bytes_per_unit * units / e / 1e6;
  state.counters["raw_MBps"] = bytes_per_unit * units / r / 1e6;
  state.counters["ratio"] = r / e;
  state.counters["ratio_median"] = Median(raw) / Median(engine);
  state.counters["target"] = target;
  const double chunks_per_unit = bytes_per_unit / kChunk;
  state.counters["engine_us_chunk"] = Median(engine) / chunks_per_unit * 1e6;
  state.counters["raw_us_chunk"] = Median(raw) / chunks_per_unit * 1e6;
  state.SetBytesProcessed(static_cast<int64_t>(bytes_per_unit * units));
}

// ---- Durable upload of 64 MiB in 256 KiB chunks ----

// BeginUpload, 256 WriteChunk (each its own durable transaction), CommitUpload
// (verifies the XXH3-128 of the whole blob and commits the message), into a
// fresh store; returns the seconds it took.
double EngineUpload() {
  EngineStore s(postbox::Durability::kDurable);
  postbox::UploadRequest req;
  req.from = s.a;
  req.to = s.b;
  req.id = postbox::MessageId::Random();
  req.topic = "video";
  req.length = kBlobBytes;
  req.digest = BlobDigest();
  const auto t0 = Clock::now();
  EngineStore::Must(s.db->BeginUpload(req));
  for (uint64_t i = 0; i < kChunks; ++i) {
    EngineStore::Must(s.db->WriteChunk(s.a, req.id, i * kChunk, ChunkOf(i)));
  }
  EngineStore::Must(s.db->CommitUpload(s.a, req.id));
  return Seconds(Clock::now() - t0);
}

// The same chunks, one raw durable put per transaction, into a fresh environment.
double RawUpload() {
  Folder f;
  RawEnv env(f.path(), /*nosync=*/false);
  const postbox::MessageId id = postbox::MessageId::Random();
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < kChunks; ++i)
    env.PutOne(PieceKey(id, static_cast<uint32_t>(i)), ChunkOf(i));
  return Seconds(Clock::now() - t0);
}

void BM_Upload_Durable(benchmark::State& state) {
  (void)Blob();
  (void)BlobDigest();
  std::vector<double> engine, raw;
  for (auto _ : state) {
    double e, r;
    if (engine.size() % 2 == 0) {
      e = EngineUpload();
      r = RawUpload();
    } else {
      r = RawUpload();
      e = EngineUpload();
    }
    engine.push_back(e);
    raw.push_back(r);
    state.SetIterationTime(e);
  }
  ReportPair(state, engine, raw, kBlobBytes, 0.8);
}
BENCHMARK(BM_Upload_Durable)->UseManualTime()->Iterations(4)->Unit(benchmark::kMillisecond);

// ---- Range reads of 256 KiB ----

// One committed 64 MiB message in the engine and the same 256 chunks under the
// same keys in a raw environment, both warm in the page cache.
struct ReadFixture {
  EngineStore engine{postbox::Durability::kRelaxed};
  Folder raw_folder;
  std::unique_ptr<RawEnv> raw;
  postbox::MessageId id = postbox::MessageId::Random();

  ReadFixture() {
    postbox::PostRequest req;
    req.from = engine.a;
    req.to = engine.b;
    req.id = id;
    req.topic = "video";
    req.bytes = Blob();
    EngineStore::Must(engine.db->PostMessage(req));
    raw = std::make_unique<RawEnv>(raw_folder.path(), /*nosync=*/true);
    MDB_txn* txn;
    RawEnv::Check(mdb_txn_begin(raw->env(), nullptr, 0, &txn), "mdb_txn_begin");
    for (uint64_t i = 0; i < kChunks; ++i) {
      const std::string key = PieceKey(id, static_cast<uint32_t>(i));
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      MDB_val v{kChunk, const_cast<char*>(ChunkOf(i).data())};
      RawEnv::Check(mdb_put(txn, raw->dbi(), &k, &v, 0), "mdb_put");
    }
    RawEnv::Check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
};

// Made on first use (so a filtered run that reads nothing writes nothing),
// freed in main after the run.
ReadFixture* g_reads = nullptr;
ReadFixture& Reads() {
  if (g_reads == nullptr) g_reads = new ReadFixture();
  return *g_reads;
}

// The buffer a server copies a chunk into to send it (a wire frame).
std::vector<char>& SendBuffer() {
  static std::vector<char> buf(kChunk + 64);
  return buf;
}

// Raw: a read-only transaction, one get, the bytes copied into the send
// buffer (and hashed if `hash`), the transaction ended: what serving one
// range costs without the engine.
double RawRangeReads(bool hash) {
  ReadFixture& f = Reads();
  char* out = SendBuffer().data();
  uint64_t sink = 0;
  const double t0 = CpuNow();
  for (uint64_t i = 0; i < kChunks; ++i) {
    MDB_txn* txn;
    RawEnv::Check(mdb_txn_begin(f.raw->env(), nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
    const std::string key = PieceKey(f.id, static_cast<uint32_t>(i));
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
    RawEnv::Check(mdb_get(txn, f.raw->dbi(), &k, &v), "mdb_get");
    if (hash) sink += PackagedXxh3(v.mv_data, v.mv_size);
    std::memcpy(out, v.mv_data, v.mv_size);
    benchmark::DoNotOptimize(out);
    mdb_txn_abort(txn);
  }
  benchmark::DoNotOptimize(sink);
  return CpuNow() - t0;
}

// Engine, zero-copy: ViewBlob (which hashes each chunk with XXH3-64), the
// bytes copied into the send buffer, the view released.
double EngineViewReads() {
  ReadFixture& f = Reads();
  char* out = SendBuffer().data();
  uint64_t sink = 0;
  const double t0 = CpuNow();
  for (uint64_t i = 0; i < kChunks; ++i) {
    auto view = EngineStore::Must(f.engine.db->ViewBlob(f.engine.b, f.id, i * kChunk, kChunk));
    for (const postbox::BlobChunk& c : view->chunks()) {
      std::memcpy(out, c.bytes.data(), c.bytes.size());
      sink += c.xxh3_64;
    }
    benchmark::DoNotOptimize(out);
  }
  benchmark::DoNotOptimize(sink);
  return CpuNow() - t0;
}

// Engine, copying: ReadBlob returns the range as a std::string.
double EngineCopyReads() {
  ReadFixture& f = Reads();
  const double t0 = CpuNow();
  for (uint64_t i = 0; i < kChunks; ++i) {
    std::string s = EngineStore::Must(f.engine.db->ReadBlob(f.engine.b, f.id, i * kChunk, kChunk));
    benchmark::DoNotOptimize(s.data());
  }
  return CpuNow() - t0;
}

// Raw with the copy ReadBlob makes: the bytes into a fresh std::string.
double RawCopyReads() {
  ReadFixture& f = Reads();
  const double t0 = CpuNow();
  for (uint64_t i = 0; i < kChunks; ++i) {
    MDB_txn* txn;
    RawEnv::Check(mdb_txn_begin(f.raw->env(), nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
    const std::string key = PieceKey(f.id, static_cast<uint32_t>(i));
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
    RawEnv::Check(mdb_get(txn, f.raw->dbi(), &k, &v), "mdb_get");
    std::string s(static_cast<const char*>(v.mv_data), v.mv_size);
    benchmark::DoNotOptimize(s.data());
    mdb_txn_abort(txn);
  }
  return CpuNow() - t0;
}

// ViewBlob (hashing) vs raw get + copy; a third, untargeted side adds the hash
// to the raw path so the engine's own overhead and the hash's share separate.
void BM_RangeRead_View(benchmark::State& state) {
  (void)Reads();
  EngineViewReads();  // warm both
  RawRangeReads(false);
  std::vector<double> engine, raw, raw_hashed;
  for (auto _ : state) {
    const size_t n = engine.size();
    double e, r, h;
    if (n % 2 == 0) {
      e = EngineViewReads();
      r = RawRangeReads(false);
      h = RawRangeReads(true);
    } else {
      h = RawRangeReads(true);
      r = RawRangeReads(false);
      e = EngineViewReads();
    }
    engine.push_back(e);
    raw.push_back(r);
    raw_hashed.push_back(h);
    state.SetIterationTime(e);
  }
  ReportPair(state, engine, raw, kBlobBytes, 0.8);
  double e = 0, h = 0;
  for (double t : engine) e += t;
  for (double t : raw_hashed) h += t;
  state.counters["raw_hashed_MBps"] = kBlobBytes * static_cast<double>(raw_hashed.size()) / h / 1e6;
  state.counters["ratio_vs_raw_hashed"] = h / e;
  state.counters["hash_us_chunk"] = (Median(raw_hashed) - Median(raw)) / kChunks * 1e6;
}
BENCHMARK(BM_RangeRead_View)->UseManualTime()->Iterations(40)->Unit(benchmark::kMillisecond);

void BM_RangeRead_Copy(benchmark::State& state) {
  (void)Reads();
  EngineCopyReads();
  RawCopyReads();
  std::vector<double> engine, raw;
  for (auto _ : state) {
    double e, r;
    if (engine.size() % 2 == 0) {
      e = EngineCopyReads();
      r = RawCopyReads();
    } else {
      r = RawCopyReads();
      e = EngineCopyReads();
    }
    engine.push_back(e);
    raw.push_back(r);
    state.SetIterationTime(e);
  }
  ReportPair(state, engine, raw, kBlobBytes, 0.8);
}
BENCHMARK(BM_RangeRead_Copy)->UseManualTime()->Iterations(40)->Unit(benchmark::kMillisecond);

// ---- The download path: a range read and its send over loopback TCP ----

// A connected loopback TCP pair whose receiving end a thread drains.
class Loopback {
 public:
  Loopback() {
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener, 1) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::abort();
    }
    send_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(send_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
    recv_fd_ = accept(listener, nullptr, nullptr);
    close(listener);
    if (recv_fd_ < 0) std::abort();
    drain_ = std::thread([this] {
      std::vector<char> buf(kMiB);
      while (read(recv_fd_, buf.data(), buf.size()) > 0) {
      }
    });
  }
  ~Loopback() {
    shutdown(send_fd_, SHUT_WR);
    drain_.join();
    close(send_fd_);
    close(recv_fd_);
  }
  void Send(const char* p, size_t n) {
    while (n > 0) {
      const ssize_t w = write(send_fd_, p, n);
      if (w <= 0) std::abort();
      p += w;
      n -= static_cast<size_t>(w);
    }
  }

 private:
  int send_fd_ = -1, recv_fd_ = -1;
  std::thread drain_;
};

using HashFn = XXH64_hash_t (*)(const void*, size_t);

// Serves the 256 ranges of the blob over `link` and returns the sender's CPU
// seconds: through the engine's view (which hashes with the packaged SSE2
// XXH3), or through raw gets that hash each chunk with `hash` (none if null)
// before sending it, as the engine would with another hash implementation.
double Download(Loopback& link, bool engine, HashFn hash) {
  ReadFixture& f = Reads();
  uint64_t sink = 0;
  const double t0 = CpuNow();
  for (uint64_t i = 0; i < kChunks; ++i) {
    if (engine) {
      auto view = EngineStore::Must(f.engine.db->ViewBlob(f.engine.b, f.id, i * kChunk, kChunk));
      for (const postbox::BlobChunk& c : view->chunks()) link.Send(c.bytes.data(), c.bytes.size());
    } else {
      MDB_txn* txn;
      RawEnv::Check(mdb_txn_begin(f.raw->env(), nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
      const std::string key = PieceKey(f.id, static_cast<uint32_t>(i));
      MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
      RawEnv::Check(mdb_get(txn, f.raw->dbi(), &k, &v), "mdb_get");
      if (hash != nullptr) sink += hash(v.mv_data, v.mv_size);
      link.Send(static_cast<const char*>(v.mv_data), v.mv_size);
      mdb_txn_abort(txn);
    }
  }
  benchmark::DoNotOptimize(sink);
  return CpuNow() - t0;
}

// What the hash costs on the whole download path, and what an AVX2 hash would
// save there: the engine's hashing view plus the send, against raw gets plus
// the same send without a hash, with the packaged hash, and with the inline
// AVX2 hash (the four sides interleaved, rotating which goes first).
void BM_Download_ViewAndSend(benchmark::State& state) {
  (void)Reads();
  Loopback link;
  const bool avx2 = __builtin_cpu_supports("avx2");
  struct Side {
    bool engine;
    HashFn hash;
    std::vector<double> secs;
  };
  std::vector<Side> sides = {{true, nullptr, {}},
                             {false, nullptr, {}},
                             {false, PackagedXxh3, {}},
                             {false, avx2 ? InlineAvx2Xxh3 : PackagedXxh3, {}}};
  for (Side& side : sides) Download(link, side.engine, side.hash);  // warm
  size_t round = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < sides.size(); ++k) {
      Side& side = sides[(k + round) % sides.size()];
      side.secs.push_back(Download(link, side.engine, side.hash));
    }
    ++round;
    state.SetIterationTime(sides[0].secs.back());
  }
  ReportPair(state, sides[0].secs, sides[1].secs, kBlobBytes, 0);
  const double us = 1e6 / kChunks;
  const double pkg = Median(sides[2].secs) * us, fast = Median(sides[3].secs) * us;
  state.counters["raw_hash_us_chunk"] = pkg;
  state.counters["raw_avx2_hash_us_chunk"] = fast;
  // What the packaged hash adds to a raw download, and what AVX2 would save of
  // it, as a share of the engine's whole per-chunk download cost.
  state.counters["hash_share"] = (pkg - Median(sides[1].secs) * us) / (Median(sides[0].secs) * us);
  state.counters["avx2_saves_share"] = (pkg - fast) / (Median(sides[0].secs) * us);
}
BENCHMARK(BM_Download_ViewAndSend)->UseManualTime()->Iterations(20)->Unit(benchmark::kMillisecond);

// ---- XXH3-64: packaged vs inline vs the kernels runtime dispatch could pick ----

struct Variant {
  const char* name;
  HashFn fn;
  bool usable;
};

bool HasAvx2() { return __builtin_cpu_supports("avx2"); }
bool HasAvx512() { return __builtin_cpu_supports("avx512f"); }

std::vector<Variant> Variants() {
  return {{"packaged", PackagedXxh3, true},
          {"packaged_dispatch", PackagedDispatchXxh3, true},
          {"inline", InlineXxh3, true},
          {"inline_avx2", InlineAvx2Xxh3, HasAvx2()}};
}

// Hashes `size`-byte chunks with every variant, interleaved round by round.
// range(0) is the chunk size; range(1) the span walked: equal to the size it
// rehashes one cache-warm chunk, 64 MiB it streams through memory as the
// download path does (a range read's bytes are rarely in the CPU cache).
void BM_Hash_XXH3_64(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const size_t span = static_cast<size_t>(state.range(1));
  const std::string_view data = std::string_view(Blob()).substr(0, span);
  std::vector<Variant> variants = Variants();
  // All variants must agree, or the comparison means nothing.
  const XXH64_hash_t want = PackagedXxh3(data.data(), size);
  for (const Variant& v : variants) {
    if (v.usable && v.fn(data.data(), size) != want) {
      state.SkipWithError((std::string(v.name) + " disagrees with libxxhash").c_str());
      return;
    }
  }
  std::vector<double> secs(variants.size(), 0);
  const size_t per_round = std::max<size_t>(span / size, 32);
  uint64_t sink = 0;
  size_t round = 0;
  for (auto _ : state) {
    // Each round starts with the next variant, so none always runs first.
    for (size_t k = 0; k < variants.size(); ++k) {
      const size_t which = (k + round) % variants.size();
      if (!variants[which].usable) continue;
      const HashFn fn = variants[which].fn;
      const double t0 = CpuNow();
      for (size_t i = 0; i < per_round; ++i) {
        const size_t at = (i * size) % span;
        sink += fn(data.data() + at, size);
      }
      secs[which] += CpuNow() - t0;
    }
    ++round;
  }
  benchmark::DoNotOptimize(sink);
  const double bytes = static_cast<double>(size) * per_round * state.iterations();
  for (size_t k = 0; k < variants.size(); ++k) {
    if (!variants[k].usable) continue;
    state.counters[std::string(variants[k].name) + "_GBps"] = bytes / secs[k] / 1e9;
    state.counters[std::string(variants[k].name) + "_us"] =
        secs[k] / (static_cast<double>(per_round) * state.iterations()) * 1e6;
  }
  if (variants[3].usable) state.counters["inline_avx2_vs_packaged"] = secs[0] / secs[3];
}
BENCHMARK(BM_Hash_XXH3_64)
    ->Args({256 * 1024, 256 * 1024})
    ->Args({1024 * 1024, 1024 * 1024})
    ->Args({256 * 1024, 64 * 1024 * 1024})
    ->Iterations(60)
    ->Unit(benchmark::kMillisecond);

// ---- Write amplification of chunked uploads ----
//
// What committing an upload's chunks writes to the store file, per byte of
// the blob: the bytes this process handed to write(2)/pwrite(2)/pwritev(2)
// (`wchar` in /proc/self/io, read before and after; LMDB writes its pages and
// meta page with those calls and nothing else in the process writes during
// the measurement), divided by the blob's length. The raw baseline stores the
// same chunks in raw LMDB, one key per chunk (id ‖ BE64 offset), the same
// number of chunks per durable transaction: the least an LMDB store writes to
// make each chunk durable as it arrives. `ratio` is engine / raw (lower is
// better; 1 would be no cost over the raw puts).

constexpr uint64_t kAmpBlobBytes = 4 * kMiB;

const std::string& AmpBlob() {
  static const std::string blob = postbox::bench::RandomBlob(kAmpBlobBytes, 7);
  return blob;
}

using postbox::bench::WrittenBytes;

struct AmpRun {
  uint64_t written = 0;  // wchar delta
  double secs = 0;
};

// A 4 MiB upload into a fresh durable store: BeginUpload, then the chunks of
// `chunk` bytes through DB::WriteChunk, `per_txn` per durable transaction
// (one DB::Write of a WriteBatch when more than one, as a group commit
// carries them), then CommitUpload. Measured from the first chunk through
// the commit.
AmpRun EngineChunkedUpload(uint64_t chunk, size_t per_txn) {
  EngineStore s(postbox::Durability::kDurable);
  const std::string_view blob = AmpBlob();
  postbox::UploadRequest req;
  req.from = s.a;
  req.to = s.b;
  req.id = postbox::MessageId::Random();
  req.topic = "video";
  req.length = blob.size();
  req.digest = postbox::ComputeDigest128(blob);
  EngineStore::Must(s.db->BeginUpload(req));
  const uint64_t w0 = WrittenBytes();
  const auto t0 = Clock::now();
  postbox::WriteBatch batch;
  for (uint64_t off = 0; off < blob.size();) {
    if (per_txn == 1) {
      const uint64_t n = std::min<uint64_t>(chunk, blob.size() - off);
      EngineStore::Must(s.db->WriteChunk(s.a, req.id, off, blob.substr(off, n)));
      off += n;
      continue;
    }
    batch.Clear();
    for (size_t k = 0; k < per_txn && off < blob.size(); ++k) {
      const uint64_t n = std::min<uint64_t>(chunk, blob.size() - off);
      batch.WriteChunk(s.a, req.id, off, blob.substr(off, n));
      off += n;
    }
    EngineStore::Die(s.db->Write(&batch));
    for (const postbox::OpResult& r : batch.results()) EngineStore::Die(r.status);
  }
  EngineStore::Must(s.db->CommitUpload(s.a, req.id));
  return {WrittenBytes() - w0, Seconds(Clock::now() - t0)};
}

// The same chunks as raw durable puts, `per_txn` per transaction.
AmpRun RawChunkedPuts(uint64_t chunk, size_t per_txn) {
  Folder f;
  RawEnv env(f.path(), /*nosync=*/false);
  const std::string_view blob = AmpBlob();
  const postbox::MessageId id = postbox::MessageId::Random();
  const uint64_t w0 = WrittenBytes();
  const auto t0 = Clock::now();
  for (uint64_t off = 0; off < blob.size();) {
    MDB_txn* txn;
    RawEnv::Check(mdb_txn_begin(env.env(), nullptr, 0, &txn), "mdb_txn_begin");
    for (size_t i = 0; i < per_txn && off < blob.size(); ++i) {
      const uint64_t n = std::min<uint64_t>(chunk, blob.size() - off);
      std::string key(id.AsBytes());
      const uint32_t hi = htonl(static_cast<uint32_t>(off >> 32));
      const uint32_t lo = htonl(static_cast<uint32_t>(off));
      key.append(reinterpret_cast<const char*>(&hi), 4)
          .append(reinterpret_cast<const char*>(&lo), 4);
      MDB_val k{key.size(), key.data()};
      MDB_val v{n, const_cast<char*>(blob.data() + off)};
      RawEnv::Check(mdb_put(txn, env.dbi(), &k, &v, 0), "mdb_put");
      off += n;
    }
    RawEnv::Check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  return {WrittenBytes() - w0, Seconds(Clock::now() - t0)};
}

// range(0): the chunk size; range(1): chunks per durable transaction.
void BM_Upload_WriteAmp(benchmark::State& state) {
  const uint64_t chunk = static_cast<uint64_t>(state.range(0));
  const size_t per_txn = static_cast<size_t>(state.range(1));
  (void)AmpBlob();
  std::vector<AmpRun> engine, raw;
  for (auto _ : state) {
    if (engine.size() % 2 == 0) {
      engine.push_back(EngineChunkedUpload(chunk, per_txn));
      raw.push_back(RawChunkedPuts(chunk, per_txn));
    } else {
      raw.push_back(RawChunkedPuts(chunk, per_txn));
      engine.push_back(EngineChunkedUpload(chunk, per_txn));
    }
    state.SetIterationTime(engine.back().secs);
  }
  double e = 0, r = 0, es = 0, rs = 0;
  for (const AmpRun& run : engine) e += static_cast<double>(run.written), es += run.secs;
  for (const AmpRun& run : raw) r += static_cast<double>(run.written), rs += run.secs;
  const double blobs = static_cast<double>(engine.size()) * kAmpBlobBytes;
  const double chunks =
      static_cast<double>(engine.size()) * static_cast<double>((kAmpBlobBytes + chunk - 1) / chunk);
  state.counters["engine_written_per_byte"] = e / blobs;
  state.counters["raw_written_per_byte"] = r / blobs;
  state.counters["ratio"] = e / r;
  state.counters["engine_us_chunk"] = es / chunks * 1e6;
  state.counters["raw_us_chunk"] = rs / chunks * 1e6;
}
BENCHMARK(BM_Upload_WriteAmp)
    ->ArgNames({"chunk", "per_txn"})
    ->ArgsProduct({{1024, 4096, 65536, 102400, 262144}, {1, 16}})
    ->UseManualTime()
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("stores in %s; cpu avx2=%d avx512f=%d\n", BenchRoot().c_str(), HasAvx2() ? 1 : 0,
              HasAvx512() ? 1 : 0);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  delete g_reads;  // closes and removes the read stores
  return 0;
}
