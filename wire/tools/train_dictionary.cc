// Trains a zstd dictionary on synthetic payloads shaped like the protocol's
// compressible traffic (single-change pushes, small info packets, entry lists,
// hellos) and writes its bytes, as published under wire/dictionaries/<id>.zdict
// (PROTOCOL.md "Compression negotiation"; the build embeds that file).
//
// Usage: postbox_wire_train_dictionary OUT.zdict [DICT_BYTES]
// Dictionary 1 is `OUT.zdict 16384` with the generator as it stands.
// The sample generator is deterministic, so a rerun reproduces the file. It
// also prints, on samples it did not train on, what zstd level 1 achieves per
// payload size with and without the dictionary: the figures behind
// Compression::kAuto (PROTOCOL.md §Compression).
#include <zdict.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "postbox/wire/codec.h"

namespace {

using postbox::wire::Bytes16;
namespace w = postbox::wire;

class Samples {
 public:
  explicit Samples(uint64_t seed) : rng_(seed) {}

  Bytes16 Random16() {
    Bytes16 b;
    for (auto& x : b) x = static_cast<uint8_t>(rng_());
    return b;
  }
  uint64_t Below(uint64_t n) { return rng_() % n; }

  // Realistic text: media meta as apps would send it, short topics, keys.
  std::string Meta() {
    static const char* kTypes[] = {"video/mp4", "audio/ogg", "image/jpeg", "image/webp"};
    return std::string("{\"ct\":\"") + kTypes[Below(4)] +
           "\",\"dur\":" + std::to_string(Below(120000)) +
           ",\"w\":" + std::to_string(360 * (1 + Below(3))) + "}";
  }
  std::string Topic() {
    static const char* kTopics[] = {"", "", "video", "voice", "photo", "chat"};
    return kTopics[Below(6)];
  }
  std::string Key() {
    static const char* kPrefixes[] = {"profile/", "settings/", "app/", "read/"};
    return kPrefixes[Below(4)] + std::to_string(Below(100000));
  }

  w::MessageInfo Info(const Bytes16& me, std::vector<std::string>* keep) {
    w::MessageInfo m;
    m.id = Random16();
    m.from = Below(2) ? me : peers_[Below(peers_.size())];
    m.to = m.from == me ? peers_[Below(peers_.size())] : me;
    keep->push_back(Topic());
    m.topic = keep->back();
    keep->push_back(Meta());
    m.meta = keep->back();
    m.length = 100000 + Below(30000000);
    m.digest = Random16();
    m.status = static_cast<w::MessageStatus>(1 + Below(3));
    m.created_ms = 1790000000000 + Below(100000000);
    m.seq = 1 + Below(1000000);
    return m;
  }

  void Generate(size_t count, std::vector<uint8_t>* all, std::vector<size_t>* sizes) {
    w::EncoderOptions options;
    options.compression = w::Compression::kNever;
    w::Encoder encoder(options);
    std::vector<uint8_t> frame;
    for (size_t i = 0; i < count; ++i) {
      const Bytes16 me = Random16();
      peers_.clear();
      for (int p = 0; p < 4; ++p) peers_.push_back(Random16());
      std::vector<std::string> keep;
      keep.reserve(64);
      frame.clear();
      Error(encoder, i, me, &keep, &frame);
      all->insert(all->end(), frame.begin() + w::kFrameHeaderSize, frame.end());
      sizes->push_back(frame.size() - w::kFrameHeaderSize);
    }
  }

 private:
  void Error(w::Encoder& encoder, size_t i, const Bytes16& me, std::vector<std::string>* keep,
             std::vector<uint8_t>* frame) {
    w::Error err;
    switch (Below(6)) {
      case 0:
      case 1:
      case 2: {  // Info packets, mostly one or two changes (a push).
        w::InfoPacket p;
        p.cursor = 1 + Below(1000000);
        const size_t n = Below(3) == 0 ? 1 + Below(12) : 1 + Below(2);
        for (size_t k = 0; k < n; ++k) {
          switch (Below(4)) {
            case 0:
              p.incoming.push_back(Info(me, keep));
              break;
            case 1:
              p.outgoing.push_back(Info(me, keep));
              break;
            case 2: {
              keep->push_back(Key());
              keep->push_back(std::to_string(Below(1000000)));
              p.entries.push_back(
                  {keep->at(keep->size() - 2), keep->back(), 1 + Below(50), 1 + Below(1000000)});
              break;
            }
            default: {
              w::Tombstone t;
              t.kind = Below(2) ? w::TombstoneKind::kMessage : w::TombstoneKind::kEntry;
              if (t.kind == w::TombstoneKind::kMessage) {
                t.id = Random16();
              } else {
                keep->push_back(Key());
                t.key = keep->back();
              }
              t.version = 1 + Below(50);
              t.seq = 1 + Below(1000000);
              p.tombstones.push_back(t);
            }
          }
        }
        err = encoder.Encode(i, p, frame);
        break;
      }
      case 3: {
        w::EntryListReply r;
        const size_t n = 1 + Below(8);
        for (size_t k = 0; k < n; ++k) {
          keep->push_back(Key());
          keep->push_back(Meta());
          r.entries.push_back(
              {keep->at(keep->size() - 2), keep->back(), 1 + Below(50), 1 + Below(1000000)});
        }
        err = encoder.Encode(i, r, frame);
        break;
      }
      case 4: {
        w::UploadBegin b;
        b.id = Random16();
        b.to = peers_[0];
        keep->push_back(Topic());
        b.topic = keep->back();
        keep->push_back(Meta());
        b.meta = keep->back();
        b.length = Below(30000000);
        b.digest = Random16();
        err = encoder.Encode(i, b, frame);
        break;
      }
      default: {
        w::Hello h;
        // Pinned: the samples of dictionary 1 were version-1 Hellos, and a
        // rerun must reproduce its bytes.
        h.protocol_version = 1;
        h.mkey = me;
        keep->push_back("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA");
        h.secret = keep->back();
        h.platform = static_cast<w::Platform>(Below(4));
        keep->push_back("3." + std::to_string(Below(20)) + "." + std::to_string(Below(10)));
        h.app_version = keep->back();
        h.schema_version = 1 + Below(3);
        err = encoder.Encode(i, h, frame);
      }
    }
    if (!err.ok()) {
      std::fprintf(stderr, "encode: %s\n", err.ToString().c_str());
      std::exit(1);
    }
  }

  std::mt19937_64 rng_;
  std::vector<Bytes16> peers_;
};

// Compresses and decompresses every held-out sample at level 1, with `cdict`
// or without a dictionary, and prints ratio and time per size bucket.
void Measure(const char* label, const std::vector<uint8_t>& all, const std::vector<size_t>& sizes,
             ZSTD_CDict* cdict, ZSTD_DDict* ddict) {
  struct Bucket {
    size_t lo, hi, n = 0, raw = 0, packed = 0;
    double ns = 0;
  };
  Bucket buckets[] = {{0, 128}, {128, 256}, {256, 512}, {512, 1024}, {1024, 4096}, {4096, 1 << 20}};
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);
  ZSTD_CCtx_refCDict(cctx, cdict);
  std::vector<uint8_t> packed(ZSTD_compressBound(1 << 20)), back(1 << 20);
  size_t at = 0;
  for (size_t size : sizes) {
    const uint8_t* src = all.data() + at;
    at += size;
    const auto start = std::chrono::steady_clock::now();
    const size_t n = ZSTD_compress2(cctx, packed.data(), packed.size(), src, size);
    const size_t m =
        ZSTD_decompress_usingDDict(dctx, back.data(), back.size(), packed.data(), n, ddict);
    const double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    if (ZSTD_isError(n) || m != size) std::exit(1);
    for (Bucket& b : buckets) {
      if (size >= b.lo && size < b.hi) {
        ++b.n;
        b.raw += size;
        b.packed += n;
        b.ns += ns;
      }
    }
  }
  for (const Bucket& b : buckets) {
    if (b.n == 0) continue;
    std::printf("%-12s payload %5zu..%-7zu n=%5zu ratio %.2fx  compress+decompress %.2f us\n",
                label, b.lo, b.hi, b.n, static_cast<double>(b.raw) / b.packed, b.ns / b.n / 1000);
  }
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT.zdict [DICT_BYTES]\n", argv[0]);
    return 2;
  }
  const size_t dict_bytes = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 8192;
  std::vector<uint8_t> all;
  std::vector<size_t> sizes;
  Samples(20261124).Generate(20000, &all, &sizes);
  std::vector<uint8_t> dict(dict_bytes);
  const size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), all.data(), sizes.data(),
                                         static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(n)) {
    std::fprintf(stderr, "ZDICT_trainFromBuffer: %s\n", ZDICT_getErrorName(n));
    return 1;
  }
  FILE* out = std::fopen(argv[1], "wb");
  if (out == nullptr) return 1;
  const bool written = std::fwrite(dict.data(), 1, n, out) == n;
  if (std::fclose(out) != 0 || !written) return 1;
  std::printf("wrote %zu-byte dictionary from %zu samples (%zu bytes)\n", n, sizes.size(),
              all.size());

  std::vector<uint8_t> held_out;
  std::vector<size_t> held_sizes;
  Samples(7).Generate(5000, &held_out, &held_sizes);
  ZSTD_CDict* cdict = ZSTD_createCDict(dict.data(), n, 1);
  ZSTD_DDict* ddict = ZSTD_createDDict(dict.data(), n);
  Measure("no dict", held_out, held_sizes, nullptr, nullptr);
  Measure("dictionary", held_out, held_sizes, cdict, ddict);
  ZSTD_freeCDict(cdict);
  ZSTD_freeDDict(ddict);
  return 0;
}
