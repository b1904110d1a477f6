// The raw baselines measured in the same run as the server's figures: a libuv
// echo server (what a round trip costs without postbox) and one put per
// durable LMDB transaction (what a write costs without group commit).
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_util.h"
#include "load/load.h"

namespace postbox::load {

int ServeEcho(uint16_t port) {
  uv_loop_t* loop = uv_default_loop();
  static uv_tcp_t server;
  uv_tcp_init(loop, &server);
  sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_bind(&server, reinterpret_cast<sockaddr*>(&addr), 0);
  int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), 1024, [](uv_stream_t* s, int) {
    auto* client = new uv_tcp_t;
    uv_tcp_init(s->loop, client);
    uv_accept(s, reinterpret_cast<uv_stream_t*>(client));
    uv_tcp_nodelay(client, 1);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(client),
        [](uv_handle_t*, size_t, uv_buf_t* buf) {
          static char shared[65536];  // one loop thread: consumed before the next read
          *buf = uv_buf_init(shared, sizeof(shared));
        },
        [](uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
          if (n < 0) {
            uv_close(reinterpret_cast<uv_handle_t*>(st),
                     [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
            return;
          }
          if (n == 0) return;
          auto* req = new uv_write_t;
          char* copy = new char[static_cast<size_t>(n)];
          std::memcpy(copy, buf->base, static_cast<size_t>(n));
          req->data = copy;
          uv_buf_t b = uv_buf_init(copy, static_cast<unsigned>(n));
          uv_write(req, st, &b, 1, [](uv_write_t* r, int) {
            delete[] static_cast<char*>(r->data);
            delete r;
          });
        });
  });
  if (rc != 0) {
    std::fprintf(stderr, "echo listen: %s\n", uv_strerror(rc));
    return 1;
  }
  std::printf("echo server listening on 127.0.0.1:%u\n", port);
  std::fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}

int RawLmdbTxn(const std::string& dir, double seconds) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const bench::Folder folder("raw-lmdb", dir);
  // The engine's environment (engine/src/store/env.cc) in durable mode:
  // MDB_NOTLS and nothing else, so every commit is synced.
  bench::RawEnv env(folder.path(), /*nosync=*/false, size_t{64} << 20);
  // Ascending 16-byte keys (appends, LMDB's cheapest put) and 100-byte
  // values: the baseline is the durable commit itself.
  char key[16] = {}, value[100] = {};
  uint64_t txns = 0;
  std::vector<uint32_t> latencies_us;  // per transaction: begin, put, synced commit
  const uint64_t t0 = NowNs();
  const uint64_t until = t0 + static_cast<uint64_t>(seconds * 1e9);
  uint64_t now = t0;
  while (now < until) {
    const uint64_t start = now;
    for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(txns >> (56 - 8 * i));
    env.PutOne({key, sizeof(key)}, {value, sizeof(value)});
    ++txns;
    now = NowNs();
    latencies_us.push_back(static_cast<uint32_t>((now - start) / 1000));
  }
  const double secs = static_cast<double>(now - t0) / 1e9;
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    if (latencies_us.empty()) return 0.0;
    return latencies_us[std::min(
               latencies_us.size() - 1,
               static_cast<size_t>(p * static_cast<double>(latencies_us.size())))] /
           1000.0;
  };
  std::printf("op=raw_lmdb_txn seconds=%.2f txns=%lu txn_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f\n",
              secs, static_cast<unsigned long>(txns), static_cast<double>(txns) / secs, pct(0.5),
              pct(0.99));
  return 0;
}

}  // namespace postbox::load
