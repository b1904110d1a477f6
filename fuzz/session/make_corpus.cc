// Writes the seed corpus of fuzz/session_fuzzer.cc: every request type valid,
// compressed, corrupted and cut into writes, and all of them pipelined, before
// Hello, truncated and byte by byte; every server-to-client type sent by a
// client; and scenarios a hostile client would try (pipelined requests,
// uploads at odd offsets, download storms, broken headers, decompression
// bombs, wild Ack cursors, Hellos of every verdict). Input format and tokens:
// fuzz/session/input.h. Deterministic.
//
// Usage: postbox_session_fuzz_corpus DIR   (e.g. fuzz/corpus/session)
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

#include "fuzz/session/input.h"
#include "postbox/types.h"
#include "postbox/wire/codec.h"

namespace {

namespace fz = postbox::fuzz;
namespace w = postbox::wire;
using fz::Ref;

constexpr uint8_t H = fz::kModeHello, L = fz::kModeLinger, P = fz::kModePace, R = fz::kModeReset,
                  F = fz::kModeFramed;

w::Bytes16 Id(Ref r) {
  const std::string t = fz::Token(r);
  w::Bytes16 b;
  std::memcpy(b.data(), t.data(), b.size());
  return b;
}
w::Bytes16 Bytes(uint8_t fill) {
  w::Bytes16 b;
  b.fill(fill);
  return b;
}
w::Bytes16 Digest(std::string_view blob) {
  const postbox::Digest128 d = postbox::ComputeDigest128(blob);
  w::Bytes16 b;
  std::memcpy(b.data(), d.data(), b.size());
  return b;
}
const std::string& Secret(Ref r) {
  static const std::string self = fz::Token(Ref::kSecretSelf), peer = fz::Token(Ref::kSecretPeer);
  return r == Ref::kSecretSelf ? self : peer;
}

// One frame as bytes (kNever keeps tokens visible; kAlways hides them).
template <class M>
std::string Frame(uint64_t rid, const M& m, w::Compression c = w::Compression::kNever,
                  bool dictionary = true) {
  w::Encoder encoder({.max_payload = fz::kMaxFramePayload,
                      .peer = {.zstd = true, .dictionary = dictionary ? w::kLatestDictionary : 0}});
  std::vector<uint8_t> out;
  if (w::Error e = encoder.Encode(rid, m, &out, c); !e.ok()) {
    std::fprintf(stderr, "encode: %s\n", e.ToString().c_str());
    std::exit(1);
  }
  return std::string(out.begin(), out.end());
}

std::string Header(uint32_t length, uint16_t type, uint8_t flags, uint8_t reserved, uint64_t rid) {
  std::string h(w::kFrameHeaderSize, '\0');
  w::WriteFrameHeader({length, type, flags, reserved, rid}, reinterpret_cast<uint8_t*>(h.data()));
  return h;
}
std::string AnyFrame(uint64_t rid, const w::AnyMessage& m,
                     w::Compression c = w::Compression::kNever) {
  return std::visit([&](const auto& v) { return Frame(rid, v, c); }, m);
}

w::Hello HelloAs(Ref mkey, Ref secret, w::Platform platform = w::Platform::kNone,
                 std::string_view app = "1.0.0", uint32_t schema = 1, uint32_t version = 1) {
  return {version, Id(mkey), Secret(secret), platform, app, schema};
}

class Corpus {
 public:
  explicit Corpus(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // Writes the seed; while twins are on, a body of whole frames is also
  // written in kModeFramed form as NAME_framed.
  void Add(const std::string& name, uint8_t mode, uint8_t write_size, const std::string& body) {
    Write(name, mode, write_size, body);
    if (!twins_ || body.find(fz::kCut) != std::string::npos) return;
    std::string framed;
    size_t at = 0;
    while (at + w::kFrameHeaderSize <= body.size()) {
      const size_t size =
          w::kFrameHeaderSize +
          w::ReadFrameHeader(reinterpret_cast<const uint8_t*>(body.data() + at)).length;
      framed += std::string(fz::kFrame) + body.substr(at + sizeof(uint32_t), size - 4);
      at += size;
    }
    if (at == body.size()) Write(name + "_framed", mode | fz::kModeFramed, write_size, framed);
  }
  void Twins(bool on) { twins_ = on; }
  int count() const { return count_; }

 private:
  void Write(const std::string& name, uint8_t mode, uint8_t write_size, const std::string& body) {
    std::string bytes{static_cast<char>(mode), static_cast<char>(write_size)};
    bytes += body;
    std::ofstream(dir_ / name, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ++count_;
  }

  std::filesystem::path dir_;
  bool twins_ = false;
  int count_ = 0;
};

const std::string kUploadBlob = fz::PatternBytes(fz::kUploadSeed, fz::kUploadSize);
const std::string kFreshBlob = fz::PatternBytes(9, 6000);

// One valid example of every request a client sends, against the fixture.
std::vector<std::pair<std::string, w::AnyMessage>> Requests() {
  static const std::string rest = kUploadBlob.substr(fz::kUploadCommitted);
  return {
      {"Hello", HelloAs(Ref::kSelf, Ref::kSecretSelf)},
      {"Poll", w::Poll{0, 0}},
      {"Ack", w::Ack{1}},
      {"UploadBegin", w::UploadBegin{Id(Ref::kFresh0), Id(Ref::kPeer), "t", fz::kUploadMeta, 100,
                                     Digest(std::string_view(kFreshBlob).substr(0, 100))}},
      {"UploadChunk", w::UploadChunk{Id(Ref::kUpload), fz::kUploadCommitted, rest}},
      {"UploadQueryOffset", w::UploadQueryOffset{Id(Ref::kUpload)}},
      {"UploadCommit", w::UploadCommit{Id(Ref::kUpload)}},
      {"UploadAbort", w::UploadAbort{Id(Ref::kUpload)}},
      {"DownloadRequest", w::DownloadRequest{Id(Ref::kIn), 0, 0}},
      {"StatusUpdate", w::StatusUpdate{Id(Ref::kIn), w::MessageStatus::kViewed}},
      {"EntryGet", w::EntryGet{"profile/name"}},
      {"EntryPut", w::EntryPut{"profile/name", "Bob", 0}},
      {"EntryDelete", w::EntryDelete{"read/1", 0}},
      {"EntryList", w::EntryList{"read/", "", 0}},
      {"ConnectionAdd", w::ConnectionAdd{Id(Ref::kStranger)}},
      {"ConnectionRemove", w::ConnectionRemove{Id(Ref::kPeer)}},
      {"ConnectionList", w::ConnectionList{std::nullopt, 0}},
      {"PushRegister", w::PushRegister{w::Platform::kAndroid, "fcm:token"}},
      {"Ping", w::Ping{7}},
      {"Pong", w::Pong{7}},
  };
}

// Messages only a server sends: a client sending one gets 400 and goes on.
std::vector<std::pair<std::string, w::AnyMessage>> ServerOnly() {
  return {
      {"HelloReply", w::HelloReply{}},
      {"InfoPacket", w::InfoPacket{.cursor = 3, .entries = {{"k", "v", 1, 2}}}},
      {"UploadOffset", w::UploadOffset{Id(Ref::kUpload), 1, 2}},
      {"DownloadChunk", w::DownloadChunk{Id(Ref::kIn), 0, 4, "blob", w::ChunkDigest("blob")}},
      {"EntryListReply", w::EntryListReply{{{"k", "v", 1, 2}}, true}},
      {"EntryValue", w::EntryValue{{"k", "v", 1, 2}}},
      {"ConnectionListReply", w::ConnectionListReply{{Id(Ref::kPeer)}, false}},
      {"Error", w::ErrorReply{500, "from a client", 0, 0}},
      {"Ok", w::Ok{1, w::MessageStatus::kViewed}},
  };
}

void PerType(Corpus& c) {
  for (const auto& [name, m] : Requests()) {
    // A client's own Hello needs no harness Hello before it.
    const uint8_t hello = name == "Hello" ? 0 : H;
    const std::string f = AnyFrame(9, m);
    c.Add(name, hello | L, 0, f);
    const std::string z = AnyFrame(9, m, w::Compression::kAlways);
    if (z[6] != 0) c.Add(name + "_zstd", hello | L, 0, z);
    std::string bad = f;
    bad[w::kFrameHeaderSize] ^= 0x5a;  // the root offset: verification fails
    c.Add(name + "_corrupt", hello | L, 0, bad);
    // Cut between header and payload and again mid-payload, one write each.
    c.Add(name + "_split", hello | L | P, 0,
          f.substr(0, w::kFrameHeaderSize) + std::string(fz::kCut) +
              f.substr(w::kFrameHeaderSize, 8) + std::string(fz::kCut) +
              f.substr(w::kFrameHeaderSize + 8));
  }
  for (const auto& [name, m] : ServerOnly()) c.Add("server_only_" + name, H | L, 0, AnyFrame(4, m));
}

void Uploads(Corpus& c) {
  const std::string_view up = kUploadBlob;
  const std::string_view fresh = kFreshBlob;
  const auto begin = [&](Ref id, Ref to, uint64_t length, w::Bytes16 digest, uint64_t rid = 1) {
    return Frame(rid, w::UploadBegin{Id(id), Id(to), "t", fz::kUploadMeta, length, digest});
  };
  const auto chunk = [](Ref id, uint64_t offset, std::string_view data, uint64_t rid = 2) {
    return Frame(rid, w::UploadChunk{Id(id), offset, data});
  };
  const auto commit = [](Ref id, uint64_t rid = 3) { return Frame(rid, w::UploadCommit{Id(id)}); };
  const size_t done = fz::kUploadCommitted;

  c.Add("upload_resume_commit", H | L, 0,
        Frame(1, w::UploadQueryOffset{Id(Ref::kUpload)}) +
            chunk(Ref::kUpload, done, up.substr(done)) + commit(Ref::kUpload) +
            commit(Ref::kUpload, 4) + Frame(5, w::DownloadRequest{Id(Ref::kUpload), 0, 0}));
  c.Add("upload_resume_pipelined", H | L | P, 0,
        chunk(Ref::kUpload, done, up.substr(done, 1000), 2) +
            chunk(Ref::kUpload, done + 1000, up.substr(done + 1000, 1000), 3) +
            std::string(fz::kCut) + chunk(Ref::kUpload, done + 2000, up.substr(done + 2000), 4) +
            commit(Ref::kUpload, 5));
  const w::Bytes16 d20k = Digest(fresh);
  c.Add("upload_fresh_full", H | L, 0,
        begin(Ref::kFresh0, Ref::kPeer, fresh.size(), d20k) +
            chunk(Ref::kFresh0, 0, fresh.substr(0, fz::kMaxChunkSize)) +
            chunk(Ref::kFresh0, fz::kMaxChunkSize, fresh.substr(fz::kMaxChunkSize), 3) +
            commit(Ref::kFresh0, 4) + begin(Ref::kFresh0, Ref::kPeer, fresh.size(), d20k, 5) +
            commit(Ref::kFresh0, 6));
  const std::string_view k1 = fresh.substr(0, 1000);
  const w::Bytes16 d1k = Digest(k1);
  std::string other(k1.substr(0, 100));
  other[7] ^= 1;
  c.Add("upload_odd_offsets", H | L, 0,
        begin(Ref::kFresh0, Ref::kPeer, 1000, d1k) + chunk(Ref::kFresh0, 0, k1.substr(0, 100)) +
            chunk(Ref::kFresh0, 50, k1.substr(50, 100), 3) +   // overlap, same bytes
            chunk(Ref::kFresh0, 0, other, 4) +                 // overlap, other bytes: 409
            chunk(Ref::kFresh0, 400, k1.substr(400, 10), 5) +  // a gap: 409
            chunk(Ref::kFresh0, 150, k1.substr(150), 6) +
            chunk(Ref::kFresh0, 1000, "x", 7) +  // past the length: 413
            chunk(Ref::kFresh0, UINT64_MAX, "x", 8) + chunk(Ref::kFresh0, 999, "", 9) +
            commit(Ref::kFresh0, 10));
  c.Add("upload_chunk_too_big", H | L, 0,
        chunk(Ref::kUpload, 0, std::string(fz::kMaxChunkSize + 1, 'c')));
  c.Add("upload_bad_digest", H | L, 0,
        begin(Ref::kFresh0, Ref::kPeer, 1000, Bytes(0xab)) + chunk(Ref::kFresh0, 0, k1) +
            commit(Ref::kFresh0) + chunk(Ref::kFresh0, 0, k1, 4) +
            Frame(5, w::UploadQueryOffset{Id(Ref::kFresh0)}));
  c.Add("upload_commit_missing", H | L, 0, commit(Ref::kUpload) + commit(Ref::kFresh0, 4));
  c.Add("upload_recipients", H | L, 0,
        begin(Ref::kFresh0, Ref::kStranger, 10, d1k) + begin(Ref::kFresh1, Ref::kSelf, 10, d1k, 2) +
            begin(Ref::kFresh1, Ref::kFresh0, 10, d1k, 3));
  c.Add("upload_conflicting_begin", H | L, 0,
        begin(Ref::kUpload, Ref::kPeer, 77, d1k) + begin(Ref::kIn, Ref::kPeer, 10, d1k, 2) +
            begin(Ref::kGone, Ref::kPeer, 10, d1k, 3) + begin(Ref::kOut, Ref::kPeer, 10, d1k, 4));
  c.Add("upload_sizes", H | L, 0,
        begin(Ref::kFresh0, Ref::kPeer, 2u << 20, d1k) +
            begin(Ref::kFresh1, Ref::kPeer, 0, Digest(""), 2) + commit(Ref::kFresh1) +
            begin(Ref::kFresh0, Ref::kPeer, UINT64_MAX, d1k, 4));
  c.Add("upload_not_sender", H | L, 0,
        chunk(Ref::kUploadIn, fz::kUploadInCommitted, "zz") + commit(Ref::kUploadIn) +
            Frame(4, w::UploadAbort{Id(Ref::kUploadIn)}) +
            Frame(5, w::UploadQueryOffset{Id(Ref::kUploadIn)}));
  c.Add("upload_abort_then_use", H | L, 0,
        Frame(1, w::UploadAbort{Id(Ref::kUpload)}) + chunk(Ref::kUpload, 0, up.substr(0, 10)) +
            Frame(3, w::UploadQueryOffset{Id(Ref::kUpload)}) + commit(Ref::kUpload, 4) +
            Frame(5, w::UploadAbort{Id(Ref::kUpload)}));
  c.Add(
      "upload_long_fields", H | L, 0,
      Frame(1, w::UploadBegin{Id(Ref::kFresh0), Id(Ref::kPeer), std::string(65, 't'), "", 1, d1k}) +
          Frame(2, w::UploadBegin{Id(Ref::kFresh1), Id(Ref::kPeer), "t", std::string(1025, 'm'), 1,
                                  d1k}));
  c.Add("upload_then_reset", H | R, 0,
        chunk(Ref::kUpload, done, up.substr(done)) + commit(Ref::kUpload));
}

void Downloads(Corpus& c) {
  const auto dl = [](uint64_t rid, Ref id, uint64_t offset, uint64_t length) {
    return Frame(rid, w::DownloadRequest{Id(id), offset, length});
  };
  std::string storm;
  for (uint64_t i = 0; i < 40; ++i) storm += dl(100 + i, Ref::kIn, i * 97, i % 3 == 0 ? 0 : 5000);
  storm += dl(200, Ref::kEmpty, 0, 0) + dl(201, Ref::kOut, 0, 0);
  c.Add("download_storm", H | L, 0, storm);
  c.Add("download_storm_reset", H | R, 0, storm);
  c.Add("download_ranges", H | L, 0,
        dl(1, Ref::kIn, fz::kInBlobSize - 1, 1) + dl(2, Ref::kIn, fz::kInBlobSize, 0) +
            dl(3, Ref::kIn, fz::kInBlobSize + 1, 0) + dl(4, Ref::kIn, 5, UINT64_MAX) +
            dl(5, Ref::kIn, UINT64_MAX, 1) + dl(6, Ref::kIn, fz::kMaxChunkSize - 1, 2) +
            dl(7, Ref::kEmpty, 0, 0) + dl(8, Ref::kEmpty, 1, 0));
  c.Add("download_replace", H | L, 0,
        dl(1, Ref::kIn, 0, 0) + dl(2, Ref::kIn, 100, 0) + dl(3, Ref::kIn, fz::kInBlobSize, 0));
  c.Add("download_errors", H | L, 0,
        dl(1, Ref::kGone, 0, 0) + dl(2, Ref::kForeign, 0, 0) + dl(3, Ref::kFresh0, 0, 0) +
            dl(4, Ref::kUpload, 0, 0) + dl(5, Ref::kUploadIn, 0, 0));
  c.Add("download_before_hello", L, 0, dl(1, Ref::kIn, 0, 0));
}

void Statuses(Corpus& c) {
  const auto su = [](uint64_t rid, Ref id, uint8_t s) {
    return Frame(rid, w::StatusUpdate{Id(id), static_cast<w::MessageStatus>(s)});
  };
  c.Add("status_updates", H | L, 0,
        su(1, Ref::kIn, 2) + su(2, Ref::kIn, 3) + su(3, Ref::kIn, 1) + su(4, Ref::kOut, 3) +
            su(5, Ref::kGone, 3) + su(6, Ref::kFresh0, 3) + su(7, Ref::kIn, 0) +
            su(8, Ref::kIn, 200) + su(9, Ref::kEmpty, 3) + su(10, Ref::kForeign, 2));
}

void Entries(Corpus& c) {
  const auto put = [](uint64_t rid, std::string_view k, std::string_view v, uint64_t ver) {
    return Frame(rid, w::EntryPut{k, v, ver});
  };
  const auto get = [](uint64_t rid, std::string_view k) { return Frame(rid, w::EntryGet{k}); };
  const auto del = [](uint64_t rid, std::string_view k, uint64_t ver) {
    return Frame(rid, w::EntryDelete{k, ver});
  };
  const auto list = [](uint64_t rid, std::string_view p, std::string_view after, uint32_t n) {
    return Frame(rid, w::EntryList{p, after, n});
  };
  c.Add("entries_crud", H | L, 0,
        get(1, "profile/name") + get(2, "missing") + put(3, "profile/name", "Eve", 0) +
            put(4, "profile/name", "Max", UINT64_MAX) + put(5, "profile/name", "Low", 1) +
            del(6, "read/1", 0) + del(7, "absent", 0) + get(8, "gone/key") +
            del(9, "read/2", UINT64_MAX) + put(10, "read/2", "back", 0) + get(11, "read/2"));
  c.Add("entries_limits", H | L, 0,
        put(1, std::string(257, 'k'), "v", 0) +
            put(2, "v", std::string(fz::kMaxValueSize + 1, 'v'), 0) + put(3, "", "empty key", 0) +
            put(4, std::string("nul\0key", 7), "v", 0) + get(5, std::string(257, 'k')) +
            del(6, "", 0));
  c.Add("entries_list_paging", H | L, 0,
        list(1, "", "", 1) + list(2, "", "big/0", 0) + list(3, "", "", 0xffffffff) +
            list(4, "nope", "", 0) + list(5, "read/", "read/9", 2) + list(6, "big/", "", 0));
  // Values that compress well, so the frames stay small while the replies grow
  // past the frame limit (paging, issue 10).
  std::string big;
  for (int i = 0; i < 9; ++i) {
    big += Frame(10 + i,
                 w::EntryPut{"big2/" + std::to_string(i), std::string(fz::kMaxValueSize, 'a'), 0},
                 w::Compression::kAlways);
  }
  c.Add("entries_big_list_poll", H | L, 0,
        big + list(30, "big2/", "", 0) + Frame(31, w::Poll{0, 0}) + Frame(32, w::Poll{0, 4096}));
  std::string pipelined;
  for (int i = 0; i < 100; ++i) pipelined += put(100 + i, "counter", "", 0);
  c.Add("entries_pipelined_puts", H | L, 0, pipelined + get(300, "counter"));
  c.Add("entries_put_then_garbage", H, 0, put(2, "retry", "once", 0) + "garbage!garbage!garbage!");
}

void ConnectionsAndPush(Corpus& c) {
  const auto add = [](uint64_t rid, w::Bytes16 k) { return Frame(rid, w::ConnectionAdd{k}); };
  const auto rm = [](uint64_t rid, w::Bytes16 k) { return Frame(rid, w::ConnectionRemove{k}); };
  c.Add("connections", H | L, 0,
        add(1, Id(Ref::kPeer)) + add(2, Id(Ref::kStranger)) + add(3, Bytes(0x42)) +
            add(4, Id(Ref::kSelf)) + Frame(5, w::ConnectionList{std::nullopt, 1}) +
            Frame(6, w::ConnectionList{Id(Ref::kPeer), 0}) + rm(7, Id(Ref::kPeer)) +
            rm(8, Bytes(0x42)) + rm(9, Id(Ref::kSelf)) +
            Frame(10, w::ConnectionList{Bytes(0xff), 0xffffffff}));
  const auto reg = [](uint64_t rid, uint8_t p, std::string_view token) {
    return Frame(rid, w::PushRegister{static_cast<w::Platform>(p), token});
  };
  c.Add("push_register", H | L, 0,
        reg(1, 1, "apns:x") + reg(2, 0, "") + reg(3, 9, "t") + reg(4, 3, std::string(513, 't')) +
            reg(5, 0, "token-without-platform") + reg(6, 2, ""));
}

void PollAndAck(Corpus& c) {
  const auto poll = [](uint64_t rid, uint64_t since, uint32_t limit) {
    return Frame(rid, w::Poll{since, limit});
  };
  const auto ack = [](uint64_t c) { return Frame(0, w::Ack{c}); };
  const uint64_t snap = uint64_t{1} << 63;
  c.Add("poll_paging", H | L, 0,
        poll(1, 0, 1) + poll(2, 1, 1) + poll(3, 2, 2) + poll(4, 0, 0xffffffff) +
            poll(5, UINT64_MAX, 0) + poll(6, snap | 5, 3) + poll(7, snap, 0));
  c.Add("ack_wild", H | L, 0,
        ack(0) + ack(UINT64_MAX) + ack(snap) + ack(snap | 1) + ack(3) +
            Frame(1, w::EntryPut{"push/1", "x", 0}) + ack(1) +
            Frame(2, w::EntryPut{"push/2", "x", 0}));
  std::string flow = poll(1, 0, 0);
  for (int i = 0; i < 6; ++i) flow += Frame(10 + i, w::EntryPut{"flow", "x", 0});
  c.Add("push_window", H | L | P, 0, flow + std::string(fz::kCut) + ack(UINT64_MAX) + ack(0));
  c.Add("ack_before_poll", H | L, 0,
        ack(5) + Frame(1, w::StatusUpdate{Id(Ref::kIn), w::MessageStatus::kViewed}));
}

void Hellos(Corpus& c) {
  const auto hello = [](const w::Hello& h, uint64_t rid = 1) { return Frame(rid, h); };
  const std::string poll = Frame(2, w::Poll{0, 0});
  c.Add("hello_twice", H | L, 0, hello(HelloAs(Ref::kSelf, Ref::kSecretSelf)) + poll);
  c.Add("hello_wrong_secret", L, 0, hello(HelloAs(Ref::kSelf, Ref::kSecretPeer)) + poll);
  c.Add("hello_unknown_mkey", L, 0, hello(HelloAs(Ref::kFresh0, Ref::kSecretSelf)) + poll);
  c.Add("hello_version_0", L, 0,
        hello(HelloAs(Ref::kSelf, Ref::kSecretSelf, w::Platform::kNone, "1", 1, 0)) + poll);
  c.Add("hello_version_2", L, 0,
        hello(HelloAs(Ref::kSelf, Ref::kSecretSelf, w::Platform::kNone, "1", 1, 2)) + poll);
  const struct {
    const char* name;
    uint8_t platform;
    const char* app;
    uint32_t schema;
  } verdicts[] = {{"ios_update_required", 1, "1.9", 2},
                  {"ios_schema_required", 1, "2.1", 1},
                  {"ios_optional", 1, "2.1", 2},
                  {"ios_current", 1, "2.10", 3},
                  {"android_optional", 2, "3.1.3", 0},
                  {"android_current", 2, "3.1.4", 0},
                  {"android_long_version", 2, "99999999999999999999999.1", 0},
                  {"web_garbage_version", 3, "a.b..c", 0},
                  {"platform_9", 9, "1", 0}};
  for (const auto& v : verdicts) {
    c.Add(std::string("hello_") + v.name, L, 0,
          hello(HelloAs(Ref::kSelf, Ref::kSecretSelf, static_cast<w::Platform>(v.platform), v.app,
                        v.schema)) +
              poll);
  }
  c.Add("hello_as_peer", L, 0,
        hello(HelloAs(Ref::kPeer, Ref::kSecretPeer)) + poll +
            Frame(3, w::DownloadRequest{Id(Ref::kIn), 0, 0}) +
            Frame(4, w::StatusUpdate{Id(Ref::kIn), w::MessageStatus::kViewed}) +
            Frame(5, w::UploadChunk{Id(Ref::kUploadIn), fz::kUploadInCommitted, "peer bytes"}));
  // Protocol version 2's compression negotiation (PROTOCOL.md §4): a
  // version-3 Hello is 426; a Hello declaring compression, then compressed
  // frames it declared (answered) and one it did not (400, close); the same
  // frames after a Hello that declared nothing, and after a version-1 Hello
  // that carries the fields anyway (ignored).
  c.Add("hello_version_3", L, 0,
        hello(HelloAs(Ref::kSelf, Ref::kSecretSelf, w::Platform::kNone, "1", 1, 3)) + poll);
  const std::string put =
      Frame(4, w::EntryPut{"z", std::string(2000, 'z'), 0}, w::Compression::kAlways);
  const std::string plain_put =
      Frame(5, w::EntryPut{"y", std::string(2000, 'y'), 0}, w::Compression::kAlways, false);
  const auto declaring = [](uint32_t version, bool zstd, std::vector<uint32_t> dictionaries) {
    w::Hello h = HelloAs(Ref::kSelf, Ref::kSecretSelf, w::Platform::kNone, "1.0.0", 1, version);
    h.accept_zstd = zstd;
    h.zstd_dictionaries = std::move(dictionaries);
    return Frame(1, h);
  };
  c.Add("hello_negotiates_both", L, 0, declaring(2, true, {1}) + poll + put + plain_put);
  c.Add("hello_negotiates_zstd_only", L, 0, declaring(2, true, {}) + poll + plain_put + put);
  c.Add("hello_negotiates_dictionary_only", L, 0,
        declaring(2, false, {1}) + poll + put + plain_put);
  c.Add("hello_negotiates_unknown_dictionaries", L, 0,
        declaring(2, true, {0, 9, 4294967295u}) + poll + put);
  c.Add("hello_negotiates_nothing", L, 0, declaring(2, false, {}) + poll + put);
  c.Add("hello_v1_fields_ignored", L, 0, declaring(1, true, {1}) + poll + put);
  c.Add("before_hello_ping_pong", L, 0,
        Frame(1, w::Ping{1}) + Frame(0, w::Pong{2}) +
            hello(HelloAs(Ref::kSelf, Ref::kSecretSelf), 3) + poll);
}

void Framing(Corpus& c) {
  const std::string ping = Frame(1, w::Ping{1});
  const std::string poll = Frame(2, w::Poll{0, 0});
  const auto header = [&](uint8_t at, uint8_t value) {
    std::string f = ping;
    f[at] = static_cast<char>(value);
    return f;
  };
  c.Add("frame_reserved_set", H | L, 0, poll + header(7, 1));
  c.Add("frame_unknown_flags", H | L, 0, poll + header(6, 0x04));
  c.Add("frame_dictionary_without_zstd", H | L, 0, poll + header(6, 0x02));
  c.Add("frame_type_0", H | L, 0, poll + header(4, 0));
  c.Add("frame_type_30", H | L, 0, poll + header(4, 30));
  c.Add("frame_type_ffff", H | L, 0, poll + Header(8, 0xffff, 0, 0, 1) + std::string(8, '\0'));
  c.Add("frame_oversize", H | L, 0, poll + Header(fz::kMaxFramePayload + 1, 26, 0, 0, 1));
  c.Add("frame_length_max", H, 0, Header(0xffffffff, 26, 0, 0, 1) + "tail");
  c.Add("frame_empty_payload", H | L, 0, Header(0, 3, 0, 0, 1));
  c.Add("frame_half_header", H, 0, poll + ping.substr(0, 8));
  c.Add("frame_header_only", H, 0, poll + ping.substr(0, w::kFrameHeaderSize));
  c.Add("frame_bytewise_paced", H | L | P, 1, ping);
  c.Add("frame_header_then_close", 0, 0, Header(60000, 16, 0, 0, 1));
  const std::string frm(fz::kFrame), cut(fz::kCut);
  c.Add("framed_short_piece", H | L | F, 0, frm + std::string("\x1a\x00", 2));
  c.Add("framed_cut_in_payload", H | L | F | P, 0,
        frm + ping.substr(4, 12) + cut + ping.substr(16) + frm + poll.substr(4));
  c.Add("framed_junk_first", H | L | F, 0, "junk" + frm + ping.substr(4));
  c.Add("empty_input", 0, 0, "");
  c.Add("hello_only", H | L, 0, "");
  std::string pings;
  for (int i = 0; i < 100; ++i) pings += Frame(i, w::Ping{static_cast<uint64_t>(i)});
  c.Add("pings_pipelined", L, 0, pings);
  // zstd frames made by hand: magic, descriptor, content size, one block.
  const std::string magic = "\x28\xb5\x2f\xfd";
  const auto zstd = [&](uint16_t type, const std::string& frame_body) {
    return Header(static_cast<uint32_t>(frame_body.size()), type, 1, 0, 5) + frame_body;
  };
  // Single segment, 8-byte content size 1 GiB, one RLE block of 1000 bytes.
  // Block header: last (bit 0), RLE (type 1, bits 1-2), size 1000 (bits 3+).
  const std::string rle = std::string("\x43\x1f\x00\x00", 4);
  std::string gib(8, '\0');
  gib[3] = 0x40;  // 1 << 30, little-endian
  c.Add("zstd_bomb_declared_1gib", H | L, 0, zstd(16, magic + "\xe0" + gib + rle));
  c.Add("zstd_no_content_size", H | L, 0, zstd(16, magic + std::string("\x00\x58", 2) + rle));
  c.Add("zstd_size_mismatch", H | L, 0, zstd(16, magic + std::string("\x20\x64", 2) + rle));
  c.Add("zstd_garbage", H | L, 0, zstd(3, magic + "garbage bytes here"));
  c.Add("zstd_trailing_bytes", H | L, 0, [&] {
    std::string f = Frame(2, w::EntryPut{"z", std::string(2000, 'z'), 0}, w::Compression::kAlways);
    f += "tail";
    const uint32_t len = static_cast<uint32_t>(f.size() - w::kFrameHeaderSize);
    std::memcpy(f.data(), &len, 4);
    return f;
  }());
  c.Add("zstd_no_dictionary", H | L, 0,
        Frame(2, w::EntryPut{"z", std::string(3000, 'z'), 0}, w::Compression::kAlways, false));
  std::string mixed;
  uint64_t rid = 1;
  for (const auto& [name, m] : Requests()) {
    if (name != "Hello") mixed += AnyFrame(rid++, m);
  }
  c.Add("pipelined_every_request", H | L, 0, mixed);
  c.Add("pipelined_every_request_cut_7", H | L, 7, mixed);
  c.Add("pipelined_every_request_reset", H | R, 0, mixed);
  c.Add("pipelined_every_request_bytewise", H | L, 1, mixed);
  c.Add("pipelined_every_request_before_hello", L, 0, mixed);
  c.Add("pipelined_every_request_truncated", H, 0, mixed.substr(0, mixed.size() - 5));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  Corpus c(argv[1]);
  PerType(c);
  c.Twins(true);  // the scenarios also in kModeFramed form, for mutations to build on
  Uploads(c);
  Downloads(c);
  Statuses(c);
  Entries(c);
  ConnectionsAndPush(c);
  PollAndAck(c);
  Hellos(c);
  c.Twins(false);
  Framing(c);
  std::printf("wrote %d seeds\n", c.count());
  return 0;
}
