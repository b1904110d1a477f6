// postbox-transfer-bench (issue 6): blob transfer over loopback through the
// real server and client, each against its raw baseline measured in the same
// run, interleaved rep by rep with the order alternating:
//   upload    Client::Upload of one blob (digest computed from the source, 256
//             KiB chunks, upload_window of them in flight, durable group
//             commits) vs raw LMDB: the same chunks in a fresh environment,
//             batched as the upload was: spread evenly over as many durable
//             transactions as the server committed during the upload (its
//             ServerStats, measured in the previous wire phase; a warm-up
//             upload before the first rep supplies the first figure);
//   download  Client::Download of it (every chunk's XXH3-64 and the whole
//             XXH3-128 verified) vs a raw libuv stream of the same bytes
//             between two loop threads on 127.0.0.1.
// Prints MB/s (10^6 bytes) per rep, the median ratios against the targets
// (>= 0.7 upload, >= 0.25 download), and the peak RSS the process grew by
// during each wire phase (sampled every 5 ms). Stores live on disk
// (bench_util.h), never tmpfs.
//
//   postbox-transfer-bench [--mib 64] [--reps 3] [--downloads 4]
#include <uv.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "postbox/db.h"
#include "postbox/sync/client.h"
#include "postbox/sync/server.h"

namespace {

using Clock = std::chrono::steady_clock;
using postbox::bench::Folder;
using postbox::bench::Median;
constexpr size_t kChunk = 256 * 1024;
constexpr size_t kRawWrite = 1024 * 1024;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "postbox-transfer-bench: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T Must(postbox::Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.status().ToString());
  return std::move(*r);
}

void Must(const postbox::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// Samples this process's RSS while alive; peak_growth_mib() is the most it
// rose above the RSS at construction.
class RssSampler {
 public:
  RssSampler() : base_(RssKiB()), peak_(base_) {
    thread_ = std::thread([this] {
      while (!stop_) {
        const long now = RssKiB();
        if (now > peak_) peak_ = now;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  ~RssSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  double peak_growth_mib() const { return static_cast<double>(peak_ - base_) / 1024.0; }

 private:
  long base_;
  std::atomic<long> peak_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---- raw baselines ----

// The blob's chunks into a fresh environment, spread evenly over `txns`
// durable transactions (at least one, at most one per chunk).
double RawLmdbPuts(const std::string& blob, uint64_t txns) {
  Folder f("transfer-raw");
  postbox::bench::RawEnv env(f.path(), /*nosync=*/false, size_t{1} << 30);
  const uint64_t chunks = (blob.size() + kChunk - 1) / kChunk;
  txns = std::clamp<uint64_t>(txns, 1, chunks);
  const auto t0 = Clock::now();
  uint64_t chunk = 0;
  for (uint64_t t = 0; t < txns; ++t) {
    const uint64_t end = chunks * (t + 1) / txns;
    MDB_txn* txn;
    postbox::bench::RawEnv::Check(mdb_txn_begin(env.env(), nullptr, 0, &txn), "mdb_txn_begin");
    for (; chunk < end; ++chunk) {
      const uint64_t off = chunk * kChunk;
      const uint64_t be = __builtin_bswap64(off);
      const std::string_view bytes = std::string_view(blob).substr(off, kChunk);
      MDB_val k{8, const_cast<uint64_t*>(&be)};
      MDB_val v{bytes.size(), const_cast<char*>(bytes.data())};
      postbox::bench::RawEnv::Check(mdb_put(txn, env.dbi(), &k, &v, 0), "mdb_put");
    }
    postbox::bench::RawEnv::Check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  return Seconds(Clock::now() - t0);
}

// `blob` written by one libuv loop thread to another over 127.0.0.1, in
// 1 MiB writes with up to 8 MiB queued, read into a 1 MiB buffer (the best of
// the sizes tried here; 64 KiB reads halve it); seconds until the reader has
// it all.
double RawStream(const std::string& blob, int times) {
  struct Side {
    uv_loop_t loop{};
    uv_tcp_t tcp{};
  };
  Side server, client;
  uv_loop_init(&server.loop);
  uv_loop_init(&client.loop);
  uv_tcp_t listener;
  uv_tcp_init(&server.loop, &listener);
  sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_bind(&listener, reinterpret_cast<sockaddr*>(&addr), 0);
  int len = sizeof(addr);
  uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&addr), &len);

  struct Writer {
    struct Req {
      uv_write_t req;
      size_t bytes;
    };
    const std::string* blob;
    uv_tcp_t* tcp;
    uint64_t total;
    uint64_t next = 0, queued = 0;
    void Pump() {
      while (next < total && queued < (8u << 20)) {
        const size_t at = next % blob->size();
        auto* r = new Req{{}, std::min<size_t>(kRawWrite, blob->size() - at)};
        r->req.data = this;
        uv_buf_t b =
            uv_buf_init(const_cast<char*>(blob->data() + at), static_cast<unsigned>(r->bytes));
        next += r->bytes;
        queued += r->bytes;
        uv_write(&r->req, reinterpret_cast<uv_stream_t*>(tcp), &b, 1, [](uv_write_t* req, int) {
          auto* w = static_cast<Writer*>(req->data);
          auto* done = reinterpret_cast<Req*>(req);
          w->queued -= done->bytes;
          delete done;
          w->Pump();
        });
      }
      if (next >= total && queued == 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(tcp), nullptr);
      }
    }
  } writer{&blob, &server.tcp, blob.size() * static_cast<uint64_t>(times)};
  listener.data = &writer;
  uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 1, [](uv_stream_t* l, int) {
    auto* w = static_cast<Writer*>(l->data);
    uv_tcp_init(l->loop, w->tcp);
    uv_accept(l, reinterpret_cast<uv_stream_t*>(w->tcp));
    uv_close(reinterpret_cast<uv_handle_t*>(l), nullptr);
    w->Pump();
  });

  struct Reader {
    size_t want = 0, got = 0;
    std::unique_ptr<char[]> buf{new char[kRawWrite]};
    uv_connect_t connect{};
    Clock::time_point start{}, end{};
  } reader;
  reader.want = blob.size() * static_cast<size_t>(times);
  client.tcp.data = &reader;
  uv_tcp_init(&client.loop, &client.tcp);
  reader.connect.data = &reader;
  reader.start = Clock::now();
  uv_tcp_connect(&reader.connect, &client.tcp, reinterpret_cast<sockaddr*>(&addr),
                 [](uv_connect_t* c, int status) {
                   if (status < 0) Die("raw stream connect failed");
                   uv_read_start(
                       c->handle,
                       [](uv_handle_t* h, size_t, uv_buf_t* b) {
                         auto* r = static_cast<Reader*>(h->data);
                         *b = uv_buf_init(r->buf.get(), kRawWrite);
                       },
                       [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
                         auto* r = static_cast<Reader*>(s->data);
                         if (n > 0) r->got += static_cast<size_t>(n);
                         if (n < 0 || r->got >= r->want) {
                           r->end = Clock::now();
                           uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
                         }
                       });
                 });
  std::thread server_thread([&] { uv_run(&server.loop, UV_RUN_DEFAULT); });
  uv_run(&client.loop, UV_RUN_DEFAULT);
  server_thread.join();
  uv_loop_close(&server.loop);
  uv_loop_close(&client.loop);
  if (reader.got != reader.want) Die("raw stream lost bytes");
  return Seconds(reader.end - reader.start);
}

// ---- the real thing ----

// Keeps nothing: counts what a download appends (the client still verifies
// every chunk and the whole digest).
class CountingSink final : public postbox::sync::BlobSink {
 public:
  uint64_t size() const override { return size_; }
  postbox::Status Append(std::string_view bytes) override {
    size_ += bytes.size();
    return postbox::Status::Ok();
  }
  postbox::Status ReadAt(uint64_t, std::span<char>) override {
    return postbox::Status::InvalidArgument("a counting sink keeps no bytes");
  }
  postbox::Status Truncate(uint64_t size) override {
    size_ = std::min(size_, size);
    return postbox::Status::Ok();
  }

 private:
  uint64_t size_ = 0;
};

struct WireTimes {
  double upload_s = 0, download_s = 0, upload_rss_mib = 0, download_rss_mib = 0;
  // Durable transactions the server committed during the upload, and the ops
  // they carried (BeginUpload, the chunks, CommitUpload).
  uint64_t upload_commits = 0, upload_ops = 0;
};

// A durable store in a fresh folder served on 127.0.0.1; A uploads `blob` to
// B, then B downloads it.
WireTimes WireRoundTrip(const std::string& blob, int downloads) {
  Folder f("transfer-wire");
  postbox::Options o;
  auto db = Must(postbox::DB::Open(f.path(), o), "DB::Open");
  const auto a = Must(db->CreateMailbox(), "CreateMailbox");
  const auto b = Must(db->CreateMailbox(), "CreateMailbox");
  Must(db->Connect(a.mkey, b.mkey), "Connect");
  postbox::sync::ServerOptions so;
  so.port = 0;
  auto server = Must(postbox::sync::Server::Start(db.get(), so), "Server::Start");
  auto client_for = [&](const postbox::MailboxCredentials& c) {
    postbox::sync::ClientOptions co;
    co.port = server->port();
    co.mkey = c.mkey;
    co.secret = c.secret;
    co.request_timeout = std::chrono::seconds(30);
    auto client = Must(postbox::sync::Client::Create(co), "Client::Create");
    Must(client->Connect(), "Connect");
    return client;
  };
  auto sender = client_for(a), recipient = client_for(b);
  WireTimes t;
  auto source = postbox::sync::MemorySource(blob);
  postbox::sync::UploadSpec spec;
  spec.to = b.mkey;
  spec.id = postbox::MessageId::Random();
  spec.topic = "video";
  {
    RssSampler rss;
    const postbox::sync::ServerStats before = server->stats();
    const auto t0 = Clock::now();
    Must(sender->Upload(source.get(), spec), "Upload");
    t.upload_s = Seconds(Clock::now() - t0);
    const postbox::sync::ServerStats after = server->stats();
    rss.Stop();
    t.upload_rss_mib = rss.peak_growth_mib();
    t.upload_commits = after.commits - before.commits;
    t.upload_ops = after.committed_ops - before.committed_ops;
  }
  {
    RssSampler rss;
    const auto t0 = Clock::now();
    for (int i = 0; i < downloads; ++i) {
      CountingSink sink;
      auto r = Must(recipient->Download(spec.id, &sink), "Download");
      if (r.length != blob.size() || sink.size() != blob.size()) Die("download length mismatch");
    }
    t.download_s = Seconds(Clock::now() - t0);
    rss.Stop();
    t.download_rss_mib = rss.peak_growth_mib();
  }
  sender.reset();
  recipient.reset();
  server->Stop();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Blob transfer over loopback vs raw LMDB puts and a raw libuv stream"};
  size_t mib = 64;
  int reps = 3;
  app.add_option("--mib", mib, "blob size in MiB")->check(CLI::Range(1, 256));
  app.add_option("--reps", reps, "interleaved repetitions")->check(CLI::Range(1, 20));
  int downloads = 4;
  app.add_option("--downloads", downloads,
                 "downloads of the blob per rep (and as many copies in the raw stream), so the "
                 "download side is timed over more than a few milliseconds")
      ->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  const std::string blob = postbox::bench::RandomBlob(mib << 20);
  const double mb = static_cast<double>(blob.size()) / 1e6;
  std::printf("blob %zu MiB, chunks of 256 KiB, stores under %s\n", mib,
              postbox::bench::BenchRoot().c_str());
  std::vector<double> up_ratio, down_ratio, up_mbps, raw_put_mbps, down_mbps, raw_stream_mbps;
  std::vector<double> chunks_per_commit;
  double up_rss = 0, down_rss = 0;
  const uint64_t chunks = (blob.size() + kChunk - 1) / kChunk;
  // The raw side commits as many durable transactions as the last upload's
  // server did; a warm-up upload measures the first figure.
  uint64_t commits = WireRoundTrip(blob, 1).upload_commits;
  std::printf("warm-up upload: %lu chunks in %lu durable commits\n",
              static_cast<unsigned long>(chunks), static_cast<unsigned long>(commits));
  for (int i = 0; i < reps; ++i) {
    double raw_put, raw_stream;
    WireTimes w;
    const uint64_t raw_txns = commits;
    if (i % 2 == 0) {
      raw_put = RawLmdbPuts(blob, raw_txns);
      raw_stream = RawStream(blob, downloads);
      w = WireRoundTrip(blob, downloads);
    } else {
      w = WireRoundTrip(blob, downloads);
      raw_stream = RawStream(blob, downloads);
      raw_put = RawLmdbPuts(blob, raw_txns);
    }
    commits = w.upload_commits;
    chunks_per_commit.push_back(static_cast<double>(chunks) /
                                static_cast<double>(std::max<uint64_t>(w.upload_commits, 1)));
    up_mbps.push_back(mb / w.upload_s);
    raw_put_mbps.push_back(mb / raw_put);
    down_mbps.push_back(mb * downloads / w.download_s);
    raw_stream_mbps.push_back(mb * downloads / raw_stream);
    up_ratio.push_back(raw_put / w.upload_s);
    down_ratio.push_back(raw_stream / w.download_s);
    up_rss = std::max(up_rss, w.upload_rss_mib);
    down_rss = std::max(down_rss, w.download_rss_mib);
    std::printf(
        "rep %d: upload %.0f MB/s (%lu commits for %lu ops) vs raw durable puts in %lu txns "
        "%.0f MB/s (%.2fx); download %.0f MB/s vs raw libuv stream %.0f MB/s (%.2fx)\n",
        i + 1, up_mbps.back(), static_cast<unsigned long>(w.upload_commits),
        static_cast<unsigned long>(w.upload_ops), static_cast<unsigned long>(raw_txns),
        raw_put_mbps.back(), up_ratio.back(), down_mbps.back(), raw_stream_mbps.back(),
        down_ratio.back());
  }
  std::printf(
      "median: upload_MBps=%.0f raw_put_MBps=%.0f upload_ratio=%.2f (target 0.70) "
      "chunks_per_commit=%.2f download_MBps=%.0f raw_stream_MBps=%.0f download_ratio=%.2f "
      "(target 0.25)\n",
      Median(up_mbps), Median(raw_put_mbps), Median(up_ratio), Median(chunks_per_commit),
      Median(down_mbps), Median(raw_stream_mbps), Median(down_ratio));
  std::printf(
      "peak RSS growth: upload %.1f MiB, download %.1f MiB (client and server in one process)\n",
      up_rss, down_rss);
  return 0;
}
