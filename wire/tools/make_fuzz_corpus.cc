// Writes the seed corpora of fuzz/wire_frame_fuzzer.cc and
// fuzz/wire_message_fuzzer.cc: one valid example of every message type, raw
// and compressed, plus multi-frame streams cut into reads of several sizes.
//
// Usage: postbox_wire_fuzz_corpus FUZZ_CORPUS_DIR   (e.g. fuzz/corpus)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

#include "postbox/wire/codec.h"

namespace {

namespace w = postbox::wire;

w::Bytes16 Id(uint8_t seed) {
  w::Bytes16 id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(seed + i * 13);
  return id;
}

std::vector<w::AnyMessage> Examples() {
  const std::string_view meta = "{\"ct\":\"video/mp4\",\"dur\":12345,\"w\":720}";
  w::MessageInfo info{.id = Id(1),
                      .from = Id(2),
                      .to = Id(3),
                      .topic = "video",
                      .meta = meta,
                      .length = 1 << 20,
                      .digest = Id(4),
                      .status = w::MessageStatus::kDownloaded,
                      .created_ms = 1790000000000,
                      .seq = 17};
  w::InfoPacket packet{.cursor = 99, .reset = true, .more = true};
  for (int i = 0; i < 6; ++i) {
    info.id = Id(static_cast<uint8_t>(10 + i));
    packet.incoming.push_back(info);
    packet.outgoing.push_back(info);
  }
  packet.entries = {{.key = "profile/name", .value = "Ada", .version = 3, .seq = 20}};
  packet.tombstones = {
      {.kind = w::TombstoneKind::kMessage, .id = Id(9), .version = 1, .seq = 21},
      {.kind = w::TombstoneKind::kEntry, .key = "read/1", .version = 2, .seq = 22}};
  w::EntryListReply list{.more = true};
  list.entries = {{.key = "a/1", .value = meta, .version = 1, .seq = 1},
                  {.key = "a/2", .value = meta, .version = 2, .seq = 2}};
  w::ConnectionListReply peers{.peers = {Id(5), Id(6), Id(7)}, .more = false};
  return {
      w::Hello{.protocol_version = 1,
               .mkey = Id(2),
               .secret = "c2VjcmV0",
               .platform = w::Platform::kIos,
               .app_version = "3.1.4",
               .schema_version = 2},
      w::HelloReply{
          .verdict = w::Verdict::kUpdateOptional, .protocol_version = 1, .detail = "3.2 is out"},
      w::Poll{.since = 10, .limit = 100},
      packet,
      w::Ack{.cursor = 99},
      w::UploadBegin{.id = Id(1),
                     .to = Id(3),
                     .topic = "video",
                     .meta = meta,
                     .length = 4096,
                     .digest = Id(4)},
      w::UploadChunk{.id = Id(1), .offset = 2048, .data = "chunk-bytes-chunk-bytes"},
      w::UploadQueryOffset{.id = Id(1)},
      w::UploadOffset{.id = Id(1), .committed = 2048, .length = 4096},
      w::UploadCommit{.id = Id(1)},
      w::UploadAbort{.id = Id(1)},
      w::DownloadRequest{.id = Id(1), .offset = 0, .length = 262144},
      w::DownloadChunk{.id = Id(1),
                       .offset = 0,
                       .total_length = 4096,
                       .data = "blob",
                       .xxh3_64 = w::ChunkDigest("blob")},
      w::StatusUpdate{.id = Id(1), .status = w::MessageStatus::kViewed},
      w::EntryGet{.key = "profile/name"},
      w::EntryPut{.key = "profile/name", .value = "Ada", .version = 0},
      w::EntryDelete{.key = "profile/name", .version = 4},
      w::EntryList{.prefix = "profile/", .start_after = "profile/a", .limit = 50},
      list,
      w::EntryValue{.entry = {.key = "k", .value = "v", .version = 1, .seq = 2}},
      w::ConnectionAdd{.peer = Id(5)},
      w::ConnectionRemove{.peer = Id(5)},
      w::ConnectionList{.start_after = Id(5), .limit = 10},
      peers,
      w::PushRegister{.platform = w::Platform::kAndroid, .push_token = "fcm:token"},
      w::Ping{.nonce = 1},
      w::Pong{.nonce = 1},
      w::ErrorReply{
          .code = 426, .message = "protocol 9 unsupported", .min_version = 1, .max_version = 1},
      w::Ok{.version = 5, .status = w::MessageStatus::kViewed},
  };
}

void Write(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FUZZ_CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root = argv[1];
  const auto frame_dir = root / "wire_frame";
  const auto message_dir = root / "wire_message";
  std::filesystem::create_directories(frame_dir);
  std::filesystem::create_directories(message_dir);

  w::Encoder encoder;
  std::vector<uint8_t> stream = {0};  // Read size 0: the whole input at once.
  int count = 0;
  for (const w::AnyMessage& m : Examples()) {
    for (w::Compression c : {w::Compression::kNever, w::Compression::kAlways}) {
      std::vector<uint8_t> frame;
      const w::Error err =
          std::visit([&](const auto& v) { return encoder.Encode(7, v, &frame, c); }, m);
      if (!err.ok()) {
        std::fprintf(stderr, "%s\n", err.ToString().c_str());
        return 1;
      }
      const uint16_t type = static_cast<uint16_t>(frame[4] | frame[5] << 8);
      const uint8_t flags = frame[6];
      if (c == w::Compression::kAlways && flags == 0) continue;  // Nothing to gain.
      const std::string name = std::string(w::MessageTypeName(static_cast<w::MessageType>(type))) +
                               (flags != 0 ? "_zstd" : "");
      std::vector<uint8_t> one = {0};
      one.insert(one.end(), frame.begin(), frame.end());
      Write(frame_dir / name, one);
      // The message fuzzer: type selector (type - 1), flag selector, payload.
      std::vector<uint8_t> msg = {static_cast<uint8_t>(type - 1),
                                  static_cast<uint8_t>(flags == 0   ? 0
                                                       : flags == 1 ? 1
                                                                    : 2)};
      msg.insert(msg.end(), frame.begin() + w::kFrameHeaderSize, frame.end());
      Write(message_dir / name, msg);
      stream.insert(stream.end(), frame.begin(), frame.end());
      ++count;
    }
  }
  for (uint8_t read : {0, 1, 7, 64, 255}) {
    stream[0] = read;
    Write(frame_dir / ("stream_read_" + std::to_string(read)), stream);
  }
  std::printf("wrote %d frames per corpus\n", count);
  return 0;
}
