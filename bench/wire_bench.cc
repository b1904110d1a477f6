// Wire codec benchmarks. Each codec figure is paired with its raw baseline,
// measured in the same process just before it: the same table built, verified
// and read with bare FlatBuffers calls (what flatc would generate), no framing.
// The `ratio` counter is codec time / raw time; the target is <= 1.5.
//
// Run: build-wire/bench/wire_bench --benchmark_repetitions=5
//        --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "postbox/wire/codec.h"

namespace postbox::wire {
namespace {

using flatbuffers::Offset;
using flatbuffers::voffset_t;

// ---- The raw baseline: hand-written equivalents of flatc's output. ----------

struct Raw16 {
  uint8_t v[16];
};

constexpr voffset_t Slot(int i) { return static_cast<voffset_t>(4 + 2 * i); }

struct RawInfo : private flatbuffers::Table {
  const Raw16* id() const { return GetStruct<const Raw16*>(Slot(0)); }
  const Raw16* from() const { return GetStruct<const Raw16*>(Slot(1)); }
  const Raw16* to() const { return GetStruct<const Raw16*>(Slot(2)); }
  const flatbuffers::Vector<uint8_t>* topic() const {
    return GetPointer<const flatbuffers::Vector<uint8_t>*>(Slot(3));
  }
  const flatbuffers::Vector<uint8_t>* meta() const {
    return GetPointer<const flatbuffers::Vector<uint8_t>*>(Slot(4));
  }
  uint64_t length() const { return GetField<uint64_t>(Slot(5), 0); }
  const Raw16* digest() const { return GetStruct<const Raw16*>(Slot(6)); }
  uint8_t status() const { return GetField<uint8_t>(Slot(7), 0); }
  uint64_t created_ms() const { return GetField<uint64_t>(Slot(8), 0); }
  uint64_t seq() const { return GetField<uint64_t>(Slot(9), 0); }
  bool Verify(flatbuffers::Verifier& v) const {
    return VerifyTableStart(v) && VerifyFieldRequired<Raw16>(v, Slot(0), 1) &&
           VerifyFieldRequired<Raw16>(v, Slot(1), 1) && VerifyFieldRequired<Raw16>(v, Slot(2), 1) &&
           VerifyOffset(v, Slot(3)) && v.VerifyVector(topic()) && VerifyOffset(v, Slot(4)) &&
           v.VerifyVector(meta()) && VerifyField<uint64_t>(v, Slot(5), 8) &&
           VerifyFieldRequired<Raw16>(v, Slot(6), 1) && VerifyField<uint8_t>(v, Slot(7), 1) &&
           VerifyField<uint64_t>(v, Slot(8), 8) && VerifyField<uint64_t>(v, Slot(9), 8) &&
           v.EndTable();
  }
};

using RawInfoVector = flatbuffers::Vector<Offset<RawInfo>>;

struct RawPacket : private flatbuffers::Table {
  uint64_t cursor() const { return GetField<uint64_t>(Slot(0), 0); }
  bool reset() const { return GetField<uint8_t>(Slot(1), 0) != 0; }
  bool more() const { return GetField<uint8_t>(Slot(2), 0) != 0; }
  const RawInfoVector* incoming() const { return GetPointer<const RawInfoVector*>(Slot(3)); }
  const RawInfoVector* outgoing() const { return GetPointer<const RawInfoVector*>(Slot(4)); }
  bool Verify(flatbuffers::Verifier& v) const {
    return VerifyTableStart(v) && VerifyField<uint64_t>(v, Slot(0), 8) &&
           VerifyField<uint8_t>(v, Slot(1), 1) && VerifyField<uint8_t>(v, Slot(2), 1) &&
           VerifyOffset(v, Slot(3)) && v.VerifyVector(incoming()) &&
           v.VerifyVectorOfTables(incoming()) && VerifyOffset(v, Slot(4)) &&
           v.VerifyVector(outgoing()) && v.VerifyVectorOfTables(outgoing()) && v.EndTable();
  }
};

struct RawPing : private flatbuffers::Table {
  uint64_t nonce() const { return GetField<uint64_t>(Slot(0), 0); }
  bool Verify(flatbuffers::Verifier& v) const {
    return VerifyTableStart(v) && VerifyField<uint64_t>(v, Slot(0), 8) && v.EndTable();
  }
};

Offset<RawInfo> RawBuildInfo(flatbuffers::FlatBufferBuilder& b, const MessageInfo& m) {
  const auto topic =
      b.CreateVector(reinterpret_cast<const uint8_t*>(m.topic.data()), m.topic.size());
  const auto meta = b.CreateVector(reinterpret_cast<const uint8_t*>(m.meta.data()), m.meta.size());
  const auto start = b.StartTable();
  // Largest first, as flatc's Create helpers order them.
  b.AddElement<uint64_t>(Slot(9), m.seq, 0);
  b.AddElement<uint64_t>(Slot(8), m.created_ms, 0);
  b.AddElement<uint64_t>(Slot(5), m.length, 0);
  b.AddStruct(Slot(6), reinterpret_cast<const Raw16*>(m.digest.data()));
  b.AddOffset(Slot(4), meta);
  b.AddOffset(Slot(3), topic);
  b.AddStruct(Slot(2), reinterpret_cast<const Raw16*>(m.to.data()));
  b.AddStruct(Slot(1), reinterpret_cast<const Raw16*>(m.from.data()));
  b.AddStruct(Slot(0), reinterpret_cast<const Raw16*>(m.id.data()));
  b.AddElement<uint8_t>(Slot(7), static_cast<uint8_t>(m.status), 0);
  return b.EndTable(start);
}

void RawBuildPacket(flatbuffers::FlatBufferBuilder& b, const InfoPacket& p,
                    std::vector<Offset<RawInfo>>* scratch) {
  b.Clear();
  scratch->clear();
  for (const auto& m : p.incoming) scratch->push_back(RawBuildInfo(b, m));
  const auto incoming = b.CreateVector(*scratch);
  scratch->clear();
  for (const auto& m : p.outgoing) scratch->push_back(RawBuildInfo(b, m));
  const auto outgoing = b.CreateVector(*scratch);
  const auto start = b.StartTable();
  b.AddElement<uint64_t>(Slot(0), p.cursor, 0);
  b.AddOffset(Slot(3), incoming);
  b.AddOffset(Slot(4), outgoing);
  b.AddElement<uint8_t>(Slot(1), p.reset, 0);
  b.AddElement<uint8_t>(Slot(2), p.more, 0);
  b.Finish(Offset<RawPacket>(b.EndTable(start)));
}

template <class T>
bool RawVerify(const uint8_t* data, size_t size) {
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 8;
  opts.max_tables = 1u << 16;
  flatbuffers::Verifier v(data, size, opts);
  return v.VerifyBuffer<T>(nullptr);
}

// Reads every field into a plain struct, as Decode does, so the comparison
// is like for like: a 16-byte id is read by copying its 16 bytes.
struct RawOut {
  Raw16 id, from, to, digest;
  const uint8_t* topic;
  size_t topic_size;
  const uint8_t* meta;
  size_t meta_size;
  uint64_t length, created_ms, seq;
  uint8_t status;
};

void RawReadInfo(const RawInfo* m, RawOut* out) {
  out->id = *m->id();
  out->from = *m->from();
  out->to = *m->to();
  out->digest = *m->digest();
  out->topic = m->topic() ? m->topic()->data() : nullptr;
  out->topic_size = m->topic() ? m->topic()->size() : 0;
  out->meta = m->meta() ? m->meta()->data() : nullptr;
  out->meta_size = m->meta() ? m->meta()->size() : 0;
  out->length = m->length();
  out->created_ms = m->created_ms();
  out->seq = m->seq();
  out->status = m->status();
}

uint64_t RawReadPacket(const uint8_t* data) {
  static RawOut out[64];
  const auto* p = flatbuffers::GetRoot<RawPacket>(data);
  size_t n = 0;
  if (p->incoming() != nullptr) {
    for (const RawInfo* m : *p->incoming()) RawReadInfo(m, &out[n++ % 64]);
  }
  if (p->outgoing() != nullptr) {
    for (const RawInfo* m : *p->outgoing()) RawReadInfo(m, &out[n++ % 64]);
  }
  benchmark::DoNotOptimize(out);
  return p->cursor() + p->reset() + p->more() + n;
}

// ---- Fixtures. ---------------------------------------------------------------

Bytes16 Id(uint8_t seed) {
  Bytes16 id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(seed * 37 + i * 11);
  return id;
}

// Four changes with typical meta: a ~792-byte table, the size in BASELINES.md.
const InfoPacket& Packet() {
  static const InfoPacket* packet = [] {
    auto* p = new InfoPacket{.cursor = 4711, .reset = false, .more = true};
    static const std::string meta = "{\"ct\":\"video/mp4\",\"dur\":12345,\"w\":720,\"h\":1280}";
    for (int i = 0; i < 4; ++i) {
      MessageInfo m{.id = Id(i),
                    .from = Id(100),
                    .to = Id(101),
                    .topic = "video",
                    .meta = meta,
                    .length = 3u << 20,
                    .digest = Id(50 + i),
                    .status = MessageStatus::kUploaded,
                    .created_ms = 1790000000000u + static_cast<uint64_t>(i),
                    .seq = 100u + i};
      (i < 3 ? p->incoming : p->outgoing).push_back(m);
    }
    return p;
  }();
  return *packet;
}

// Thread CPU time: the machines are shared, and wall time under load would
// charge other processes' work to whichever side happened to run then.
double CpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Times `fn` over `iterations` calls, best of three: the raw baseline.
// ClobberMemory keeps the compiler from hoisting a pure verify out of the loop.
template <class F>
double NanosPerCall(F fn, int iterations = 200000) {
  double best = 1e30;
  for (int round = 0; round < 3; ++round) {
    const double start = CpuNanos();
    for (int i = 0; i < iterations; ++i) {
      fn();
      benchmark::ClobberMemory();
    }
    best = std::min(best, (CpuNanos() - start) / iterations);
  }
  return best;
}

// Runs the benchmark loop, timing it the same way, and reports raw_ns and
// ratio (codec CPU ns per call / raw CPU ns per call).
template <class F>
void RunAgainst(benchmark::State& state, double raw_ns, F fn) {
  const double start = CpuNanos();
  for (auto _ : state) {
    fn();
    benchmark::ClobberMemory();
  }
  const double ns = (CpuNanos() - start) / static_cast<double>(state.iterations());
  state.counters["raw_ns"] = raw_ns;
  state.counters["ratio"] = ns / raw_ns;
}

std::vector<uint8_t> EncodeOnce(const InfoPacket& p, Compression c) {
  Encoder encoder;
  std::vector<uint8_t> out;
  if (!encoder.Encode(1, p, &out, c).ok()) std::abort();
  return out;
}

// ---- Per-message: encode, verify (frame decode), read. ----------------------

void BM_Encode_InfoPacket(benchmark::State& state) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  std::vector<Offset<RawInfo>> scratch;
  const double raw = NanosPerCall([&] {
    RawBuildPacket(fbb, Packet(), &scratch);
    benchmark::DoNotOptimize(fbb.GetBufferPointer());
  });
  Encoder encoder({.compression = Compression::kNever});
  std::vector<uint8_t> out;
  RunAgainst(state, raw, [&] {
    out.clear();
    if (!encoder.Encode(1, Packet(), &out).ok()) std::abort();
    benchmark::DoNotOptimize(out.data());
  });
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_Encode_InfoPacket);

void BM_Verify_InfoPacket(benchmark::State& state) {
  const std::vector<uint8_t> frame = EncodeOnce(Packet(), Compression::kNever);
  const uint8_t* payload = frame.data() + kFrameHeaderSize;
  const size_t size = frame.size() - kFrameHeaderSize;
  const double raw = NanosPerCall([&] {
    if (!RawVerify<RawPacket>(payload, size)) std::abort();
  });
  // Header parse, buffer handling and verification: everything Next() does.
  // The socket read is not the codec's cost: after the first copy the bytes
  // stay where WritableSpace puts every read (the buffer front), so each
  // iteration only commits them again.
  FrameDecoder decoder;
  Frame f;
  auto space = decoder.WritableSpace(frame.size());
  std::memcpy(space.data(), frame.data(), frame.size());
  RunAgainst(state, raw, [&] {
    if (decoder.WritableSpace(frame.size()).data() != space.data()) std::abort();
    decoder.CommitWritten(frame.size());
    if (decoder.Next(&f) != FrameDecoder::Progress::kFrame) std::abort();
  });
}
BENCHMARK(BM_Verify_InfoPacket);

void BM_Decode_InfoPacket(benchmark::State& state) {
  const std::vector<uint8_t> frame = EncodeOnce(Packet(), Compression::kNever);
  const uint8_t* payload = frame.data() + kFrameHeaderSize;
  const double raw = NanosPerCall([&] { benchmark::DoNotOptimize(RawReadPacket(payload)); });
  FrameDecoder decoder;
  decoder.Feed(frame);
  Frame f;
  if (decoder.Next(&f) != FrameDecoder::Progress::kFrame) std::abort();
  InfoPacket out;
  RunAgainst(state, raw, [&] {
    if (!Decode(f, &out).ok()) std::abort();
    benchmark::DoNotOptimize(out.incoming.data());
  });
}
BENCHMARK(BM_Decode_InfoPacket);

void BM_Encode_Ping(benchmark::State& state) {
  flatbuffers::FlatBufferBuilder fbb(64);
  uint64_t n = 0;
  const double raw = NanosPerCall([&] {
    fbb.Clear();
    const auto start = fbb.StartTable();
    fbb.AddElement<uint64_t>(Slot(0), ++n, 0);
    fbb.Finish(Offset<RawPing>(fbb.EndTable(start)));
    benchmark::DoNotOptimize(fbb.GetBufferPointer());
  });
  Encoder encoder;
  std::vector<uint8_t> out;
  RunAgainst(state, raw, [&] {
    out.clear();
    if (!encoder.Encode(1, Ping{.nonce = ++n}, &out).ok()) std::abort();
    benchmark::DoNotOptimize(out.data());
  });
}
BENCHMARK(BM_Encode_Ping);

void BM_VerifyDecode_Ping(benchmark::State& state) {
  Encoder encoder;
  std::vector<uint8_t> frame;
  if (!encoder.Encode(1, Ping{.nonce = 5}, &frame).ok()) std::abort();
  const uint8_t* payload = frame.data() + kFrameHeaderSize;
  const size_t size = frame.size() - kFrameHeaderSize;
  const double raw = NanosPerCall([&] {
    if (!RawVerify<RawPing>(payload, size)) std::abort();
    benchmark::DoNotOptimize(flatbuffers::GetRoot<RawPing>(payload)->nonce());
  });
  FrameDecoder decoder;
  Frame f;
  Ping ping;
  RunAgainst(state, raw, [&] {
    decoder.Feed(frame);
    if (decoder.Next(&f) != FrameDecoder::Progress::kFrame) std::abort();
    if (!Decode(f, &ping).ok()) std::abort();
    benchmark::DoNotOptimize(ping.nonce);
  });
}
BENCHMARK(BM_VerifyDecode_Ping);

// Blob chunks: 256 KiB, the default max_chunk. Raw: build the same table.
void BM_Encode_DownloadChunk256K(benchmark::State& state) {
  const std::string data(256 * 1024, 'v');
  flatbuffers::FlatBufferBuilder fbb(300 * 1024);
  const Raw16 id{};
  const double raw = NanosPerCall(
      [&] {
        fbb.Clear();
        const auto bytes =
            fbb.CreateVector(reinterpret_cast<const uint8_t*>(data.data()), data.size());
        const auto start = fbb.StartTable();
        fbb.AddElement<uint64_t>(Slot(1), 0, 0);
        fbb.AddOffset(Slot(3), bytes);
        fbb.AddStruct(Slot(0), &id);
        fbb.Finish(Offset<RawPing>(fbb.EndTable(start)));
        benchmark::DoNotOptimize(fbb.GetBufferPointer());
      },
      2000);
  Encoder encoder;
  std::vector<uint8_t> out;
  RunAgainst(state, raw, [&] {
    out.clear();
    if (!encoder.Encode(1, DownloadChunk{.data = data}, &out).ok()) std::abort();
    benchmark::DoNotOptimize(out.data());
  });
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Encode_DownloadChunk256K);

// ---- Decoder throughput on a stream of mixed frames. ------------------------

struct RawChunk : private flatbuffers::Table {
  const flatbuffers::Vector<uint8_t>* data() const {
    return GetPointer<const flatbuffers::Vector<uint8_t>*>(Slot(3));
  }
  bool Verify(flatbuffers::Verifier& v) const {
    return VerifyTableStart(v) && VerifyFieldRequired<Raw16>(v, Slot(0), 1) &&
           VerifyField<uint64_t>(v, Slot(1), 8) && VerifyField<uint64_t>(v, Slot(2), 8) &&
           VerifyOffset(v, Slot(3)) && v.VerifyVector(data()) &&
           VerifyField<uint64_t>(v, Slot(4), 8) && v.EndTable();
  }
};

// 1000 frames: 40% Ping, 30% one-change pushes, 20% four-change packets,
// 10% 16 KiB download chunks — a client catching up while downloading.
std::vector<uint8_t> MixedStream(Compression c) {
  static const std::string chunk(16 * 1024, 'c');
  InfoPacket one = Packet();
  one.incoming.resize(1);
  one.outgoing.clear();
  Encoder encoder({.compression = c});
  std::vector<uint8_t> out;
  for (int i = 0; i < 1000; ++i) {
    const int kind = i % 10;
    Error err;
    if (kind < 4) {
      err = encoder.Encode(i, Ping{.nonce = static_cast<uint64_t>(i)}, &out);
    } else if (kind < 7) {
      err = encoder.Encode(i, one, &out);
    } else if (kind < 9) {
      err = encoder.Encode(i, Packet(), &out);
    } else {
      err =
          encoder.Encode(i, DownloadChunk{.offset = static_cast<uint64_t>(i), .data = chunk}, &out);
    }
    if (!err.ok()) std::abort();
  }
  return out;
}

// Raw: the same 64 KiB socket-read copies, then verify and read each
// uncompressed payload in place, with no framing work.
double RawStreamNanos(const std::vector<uint8_t>& raw_stream) {
  static std::vector<uint8_t> sink(64 * 1024);
  return NanosPerCall(
      [&] {
        for (size_t at = 0; at < raw_stream.size(); at += sink.size()) {
          std::memcpy(sink.data(), raw_stream.data() + at,
                      std::min(sink.size(), raw_stream.size() - at));
        }
        benchmark::DoNotOptimize(sink.data());
        uint64_t sum = 0;
        for (size_t at = 0; at < raw_stream.size();) {
          const FrameHeader h = ReadFrameHeader(raw_stream.data() + at);
          const uint8_t* p = raw_stream.data() + at + kFrameHeaderSize;
          bool ok = false;
          switch (static_cast<MessageType>(h.type)) {
            case MessageType::kPing:
              ok = RawVerify<RawPing>(p, h.length);
              sum += flatbuffers::GetRoot<RawPing>(p)->nonce();
              break;
            case MessageType::kInfoPacket:
              ok = RawVerify<RawPacket>(p, h.length);
              sum += RawReadPacket(p);
              break;
            default:
              ok = RawVerify<RawChunk>(p, h.length);
              sum += flatbuffers::GetRoot<RawChunk>(p)->data()->size();
          }
          if (!ok) std::abort();
          at += kFrameHeaderSize + h.length;
        }
        benchmark::DoNotOptimize(sum);
      },
      200);
}

void BM_DecodeStream_Mixed(benchmark::State& state) {
  const auto compression = static_cast<Compression>(state.range(0));
  const std::vector<uint8_t> raw_stream = MixedStream(Compression::kNever);
  const std::vector<uint8_t> stream = MixedStream(compression);
  const double raw = RawStreamNanos(raw_stream);
  FrameDecoder decoder;
  Frame f;
  Ping ping;
  InfoPacket packet;
  DownloadChunk chunk;
  size_t frames = 0;
  RunAgainst(state, raw, [&] {
    // 64 KiB socket reads through the zero-copy path.
    for (size_t at = 0; at < stream.size();) {
      const size_t n = std::min<size_t>(64 * 1024, stream.size() - at);
      auto space = decoder.WritableSpace(n);
      std::memcpy(space.data(), stream.data() + at, n);
      decoder.CommitWritten(n);
      at += n;
      while (decoder.Next(&f) == FrameDecoder::Progress::kFrame) {
        ++frames;
        Error err;
        switch (f.type()) {
          case MessageType::kPing:
            err = Decode(f, &ping);
            break;
          case MessageType::kInfoPacket:
            err = Decode(f, &packet);
            break;
          default:
            err = Decode(f, &chunk);
        }
        if (!err.ok()) std::abort();
      }
      if (decoder.failed()) std::abort();
    }
  });
  state.counters["frames_per_s"] =
      benchmark::Counter(static_cast<double>(frames), benchmark::Counter::kIsRate);
  state.counters["wire_bytes"] = static_cast<double>(stream.size());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.SetLabel(compression == Compression::kNever ? "raw frames" : "zstd where it pays");
}
BENCHMARK(BM_DecodeStream_Mixed)
    ->Arg(static_cast<int>(Compression::kNever))
    ->Arg(static_cast<int>(Compression::kAuto));

// ---- The zstd decision: encode + decode round trip, raw vs compressed. -------

// Arg 0: changes in the packet. Arg 1: 0 raw, 1 zstd, 2 zstd + dictionary.
// Raw baseline: the same round trip uncompressed; `size_ratio` is raw wire
// bytes / these wire bytes.
void BM_RoundTrip_Compression(benchmark::State& state) {
  std::vector<std::string> metas;
  InfoPacket p{.cursor = 1};
  const int n = static_cast<int>(state.range(0));
  metas.reserve(n);
  for (int i = 0; i < n; ++i) {
    metas.push_back("{\"ct\":\"video/mp4\",\"dur\":" + std::to_string(1000 + 7 * i) + "}");
    p.incoming.push_back({.id = Id(i),
                          .from = Id(1),
                          .to = Id(2),
                          .topic = "",
                          .meta = metas.back(),
                          .length = 1000000u + i,
                          .digest = Id(200 - i),
                          .status = MessageStatus::kUploaded,
                          .created_ms = 1790000000000u + static_cast<uint64_t>(i),
                          .seq = 10u + i});
  }
  auto round_trip = [&p](Encoder& encoder, Compression c, std::vector<uint8_t>* out,
                         FrameDecoder& decoder, InfoPacket* back) {
    out->clear();
    if (!encoder.Encode(1, p, out, c).ok()) std::abort();
    decoder.Feed(*out);
    Frame f;
    if (decoder.Next(&f) != FrameDecoder::Progress::kFrame) std::abort();
    if (!Decode(f, back).ok()) std::abort();
  };
  Encoder raw_encoder;
  FrameDecoder raw_decoder;
  std::vector<uint8_t> raw_out;
  InfoPacket back;
  const double raw = NanosPerCall(
      [&] { round_trip(raw_encoder, Compression::kNever, &raw_out, raw_decoder, &back); }, 20000);
  const int mode = static_cast<int>(state.range(1));
  Encoder encoder({.peer = {.zstd = true, .dictionary = mode == 2 ? kLatestDictionary : 0}});
  const Compression c = mode == 0 ? Compression::kNever : Compression::kAlways;
  FrameDecoder decoder;
  std::vector<uint8_t> out;
  RunAgainst(state, raw, [&] { round_trip(encoder, c, &out, decoder, &back); });
  state.counters["wire_bytes"] = static_cast<double>(out.size());
  state.counters["size_ratio"] = static_cast<double>(raw_out.size()) / out.size();
  state.SetLabel(mode == 0 ? "raw" : mode == 1 ? "zstd" : "zstd+dict");
}
BENCHMARK(BM_RoundTrip_Compression)->ArgsProduct({{1, 4, 40}, {0, 1, 2}});

}  // namespace
}  // namespace postbox::wire
BENCHMARK_MAIN();
