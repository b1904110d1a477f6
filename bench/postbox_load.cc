// postbox-load: N connections on one libuv loop, each with one request in
// flight (like redis-benchmark -P 1), for a fixed duration; prints ops/s,
// p50/p99/p99.9 latency and errors.
//
//   postbox-load --port P --data DIR --op put|poll|ping [-c 64] [-d 5]
//       creates one mailbox per connection in the store DIR (LMDB allows a
//       second process), then drives postbox-server on 127.0.0.1:P.
//   postbox-load --port P --op echo [-c 64] [-d 5]
//       the same 64-byte Ping frames against a raw echo server (the baseline).
//   postbox-load --serve-echo P
//       that raw libuv echo server: every byte read is written back.
#include <uv.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "postbox/wire/codec.h"
#include "postbox/wire/frame.h"

namespace {

using postbox::wire::AnyMessage;

enum class Op { kPut, kPoll, kPing, kEcho, kIdle, kPush };

struct Bench;

struct Conn {
  Bench* bench = nullptr;
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  postbox::wire::FrameDecoder decoder;
  std::vector<uint8_t> out;
  postbox::MailboxCredentials creds;
  bool ready = false;
  uint64_t sent_ns = 0;
  uint64_t seq = 0;
  // --op push: connections pair up, sender 2k and recipient 2k+1. The
  // recipient advances one of the pair's messages; the latency is until the
  // sender's push arrives. The next update waits for both the reply and the push.
  Conn* peer = nullptr;
  bool is_sender = false;
  std::vector<postbox::MessageId> ids;  // recipient: the messages to advance
  size_t next_id = 0;
  bool reply_in = false, push_in = false;
  bool synced = false;  // sender: its first poll was answered
};

struct Bench {
  uv_loop_t* loop = nullptr;
  Op op = Op::kPut;
  uint64_t start_ns = 0, end_ns = 0;
  bool measuring = false;
  bool done = false;
  std::vector<uint32_t> latencies_us;
  uint64_t errors = 0;
  size_t hellos = 0;
  postbox::wire::Encoder encoder;
  char read_buf[65536];
  std::vector<std::unique_ptr<Conn>> conns;
};

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Each write owns its request and bytes, so a connection may write again
// before libuv has called back for the previous write.
struct WriteReq {
  uv_write_t req;
  std::vector<uint8_t> bytes;
};

void Write(Conn* c) {
  auto* w = new WriteReq{{}, c->out};
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(w->bytes.data()), static_cast<unsigned>(w->bytes.size()));
  w->req.data = w;
  uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
           [](uv_write_t* r, int) { delete static_cast<WriteReq*>(r->data); });
}

void SendNext(Conn* c) {
  Bench* b = c->bench;
  if (b->done) return;
  c->out.clear();
  const uint64_t rid = ++c->seq;
  std::string key = "k" + std::to_string(rid % 1024);
  switch (b->op) {
    case Op::kPut:
      (void)b->encoder.Encode(rid, postbox::wire::EntryPut{key, "value-0123456789", 0}, &c->out);
      break;
    case Op::kPoll:
      (void)b->encoder.Encode(rid, postbox::wire::Poll{0, 1}, &c->out);
      break;
    case Op::kIdle:
      return;
    case Op::kPush: {
      if (c->next_id >= c->ids.size()) return;  // this pair has used its messages
      postbox::wire::StatusUpdate u;
      std::memcpy(u.id.data(), c->ids[c->next_id++].bytes.data(), 16);
      u.status = postbox::wire::MessageStatus::kDownloaded;
      (void)b->encoder.Encode(rid, u, &c->out);
      c->reply_in = c->push_in = false;
      break;
    }
    case Op::kPing:
    case Op::kEcho:
      // 64 bytes on the wire: a 16-byte header and a small payload.
      (void)b->encoder.Encode(rid, postbox::wire::Ping{rid}, &c->out);
      break;
  }
  c->sent_ns = NowNs();
  Write(c);
}

void OnPushFrame(Conn* c, uint64_t rid, const AnyMessage& m) {
  Bench* b = c->bench;
  if (std::holds_alternative<postbox::wire::ErrorReply>(m)) ++b->errors;
  Conn* r = c->is_sender ? c->peer : c;
  if (c->is_sender && rid == 0 && std::holds_alternative<postbox::wire::InfoPacket>(m)) {
    if (b->measuring)
      b->latencies_us.push_back(static_cast<uint32_t>((NowNs() - r->sent_ns) / 1000));
    c->out.clear();
    (void)b->encoder.Encode(
        ++c->seq, postbox::wire::Ack{std::get<postbox::wire::InfoPacket>(m).cursor}, &c->out);
    Write(c);
    r->push_in = true;
  } else if (c->is_sender && std::holds_alternative<postbox::wire::InfoPacket>(m)) {
    const auto& p = std::get<postbox::wire::InfoPacket>(m);
    if (p.more) {  // page through; the server pushes once a poll reaches the end
      c->out.clear();
      (void)b->encoder.Encode(++c->seq, postbox::wire::Poll{p.cursor, 0}, &c->out);
      Write(c);
      return;
    }
    c->synced = true;
    if (r->ready) SendNext(r);  // the sender's first poll: pushes start now
    return;
  } else if (!c->is_sender && rid != 0) {
    r->reply_in = true;
  } else {
    return;
  }
  if (r->reply_in && r->push_in) SendNext(r);
}

void OnFrame(Conn* c, uint64_t rid, const AnyMessage& m) {
  Bench* b = c->bench;
  if (c->ready && b->op == Op::kPush) return OnPushFrame(c, rid, m);
  if (!c->ready) {
    c->ready = true;
    if (!std::holds_alternative<postbox::wire::HelloReply>(m)) ++b->errors;
    if (b->op == Op::kPush) {
      if (c->is_sender) {
        c->out.clear();
        (void)b->encoder.Encode(++c->seq, postbox::wire::Poll{0, 0}, &c->out);
        Write(c);
      }
      if (!c->is_sender && c->peer->synced) SendNext(c);
      return;  // otherwise the recipient starts once the sender has polled
    }
    if (b->op != Op::kIdle) return SendNext(c);
    // Idle sessions only say Hello; the script reads the server's memory now.
    if (++b->hellos == b->conns.size()) {
      std::printf("idle_sessions=%zu\n", b->hellos);
      std::fflush(stdout);
    }
    return;
  }
  if (std::holds_alternative<postbox::wire::ErrorReply>(m)) ++b->errors;
  if (b->measuring) {
    b->latencies_us.push_back(static_cast<uint32_t>((NowNs() - c->sent_ns) / 1000));
  }
  SendNext(c);
}

void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  if (n < 0) {
    if (!c->bench->done) ++c->bench->errors;
    uv_read_stop(s);
    return;
  }
  c->decoder.Feed({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n)});
  postbox::wire::Frame f;
  while (c->decoder.Next(&f) == postbox::wire::FrameDecoder::Progress::kFrame) {
    AnyMessage m;
    if (!postbox::wire::DecodeAny(f, &m).ok()) ++c->bench->errors;
    OnFrame(c, f.request_id(), m);
  }
}

void OnConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  if (status < 0) {
    std::fprintf(stderr, "connect: %s\n", uv_strerror(status));
    ++c->bench->errors;
    return;
  }
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* cc = static_cast<Conn*>(h->data);
        *buf = uv_buf_init(cc->bench->read_buf, sizeof(cc->bench->read_buf));
      },
      OnRead);
  if (c->bench->op == Op::kEcho) {
    c->ready = true;
    return SendNext(c);
  }
  postbox::wire::Hello h;
  std::memcpy(h.mkey.data(), c->creds.mkey.bytes.data(), 16);
  h.secret = c->creds.secret;
  c->out.clear();
  (void)c->bench->encoder.Encode(1000000000, h, &c->out);
  Write(c);
}

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"postbox-load: load generator for postbox-server"};
  uint16_t port = 7420, echo_port = 0;
  std::string data, op_name = "put";
  unsigned connections = 64;
  double duration = 5, warmup = 0.5;
  app.add_option("--port", port, "server port on 127.0.0.1");
  app.add_option("--data", data, "the server's store folder (mailboxes are created in it)");
  app.add_option("--op", op_name,
                 "put | poll | ping | echo | idle (Hello, then nothing) | push (status update -> "
                 "sender's push latency)")
      ->check(CLI::IsMember({"put", "poll", "ping", "echo", "idle", "push"}));
  app.add_option("-c,--connections", connections, "connections")->check(CLI::PositiveNumber);
  app.add_option("-d,--duration", duration, "measured seconds");
  app.add_option("--warmup", warmup, "seconds before measuring");
  app.add_option("--serve-echo", echo_port, "run the raw libuv echo server on this port");
  CLI11_PARSE(app, argc, argv);
  if (echo_port != 0) return ServeEcho(echo_port);

  Bench bench;
  bench.op = op_name == "put"    ? Op::kPut
             : op_name == "poll" ? Op::kPoll
             : op_name == "ping" ? Op::kPing
             : op_name == "idle" ? Op::kIdle
             : op_name == "push" ? Op::kPush
                                 : Op::kEcho;
  std::vector<postbox::MailboxCredentials> creds(connections);
  std::vector<std::vector<postbox::MessageId>> push_ids(connections);
  if (bench.op != Op::kEcho) {
    if (data.empty()) {
      std::fprintf(stderr, "--data is needed to create the load's mailboxes\n");
      return 2;
    }
    auto db = postbox::DB::Open(data, {});
    if (!db) {
      std::fprintf(stderr, "open %s: %s\n", data.c_str(), db.error().ToString().c_str());
      return 1;
    }
    // Idle sessions share one mailbox (several sessions per mailbox are
    // allowed), so ten thousand of them need no ten thousand durable creates.
    const size_t distinct = bench.op == Op::kIdle ? 1 : creds.size();
    for (size_t i = 0; i < creds.size(); ++i) {
      creds[i] = i < distinct ? *(*db)->CreateMailbox() : creds[0];
    }
    if (bench.op == Op::kPush) {
      // Each pair gets kMessages messages (one topic each, so none supersedes
      // another), posted in one transaction.
      constexpr int kMessages = 2000;
      for (size_t i = 0; i + 1 < creds.size(); i += 2) {
        (void)(*db)->Connect(creds[i].mkey, creds[i + 1].mkey);
        postbox::WriteBatch batch;
        for (int j = 0; j < kMessages; ++j) {
          postbox::PostRequest r;
          r.from = creds[i].mkey;
          r.to = creds[i + 1].mkey;
          r.id = postbox::MessageId::Random();
          r.topic = "t" + std::to_string(j);
          r.bytes = "blob";
          push_ids[i + 1].push_back(r.id);
          batch.PostMessage(std::move(r));
        }
        if (!(*db)->Write(&batch).ok()) return 1;
      }
    }
  }
  bench.loop = uv_default_loop();
  sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  for (unsigned i = 0; i < connections; ++i) {
    auto c = std::make_unique<Conn>();
    c->bench = &bench;
    c->creds = creds[i];
    c->ids = std::move(push_ids[i]);
    c->is_sender = bench.op == Op::kPush && i % 2 == 0;
    uv_tcp_init(bench.loop, &c->tcp);
    uv_tcp_nodelay(&c->tcp, 1);
    c->tcp.data = c->connect_req.data = c.get();
    uv_tcp_connect(&c->connect_req, &c->tcp, reinterpret_cast<sockaddr*>(&addr), OnConnect);
    bench.conns.push_back(std::move(c));
  }
  if (bench.op == Op::kPush) {
    for (size_t i = 0; i + 1 < bench.conns.size(); i += 2) {
      bench.conns[i]->peer = bench.conns[i + 1].get();
      bench.conns[i + 1]->peer = bench.conns[i].get();
    }
  }
  uv_timer_t phase;
  uv_timer_init(bench.loop, &phase);
  phase.data = &bench;
  uv_timer_start(
      &phase,
      [](uv_timer_t* t) {
        auto* b = static_cast<Bench*>(t->data);
        b->measuring = true;
        b->start_ns = NowNs();
      },
      static_cast<uint64_t>(warmup * 1000), 0);
  uv_timer_t stop;
  uv_timer_init(bench.loop, &stop);
  stop.data = &bench;
  uv_timer_start(
      &stop,
      [](uv_timer_t* t) {
        auto* b = static_cast<Bench*>(t->data);
        b->end_ns = NowNs();
        b->measuring = false;
        b->done = true;
        uv_stop(b->loop);
      },
      static_cast<uint64_t>((warmup + duration) * 1000), 0);
  uv_run(bench.loop, UV_RUN_DEFAULT);

  auto& l = bench.latencies_us;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) -> double {
    return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))] / 1000.0;
  };
  const double secs = static_cast<double>(bench.end_ns - bench.start_ns) / 1e9;
  std::printf(
      "op=%s connections=%u seconds=%.2f ops=%zu ops_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f "
      "p999_ms=%.3f errors=%lu\n",
      op_name.c_str(), connections, secs, l.size(), static_cast<double>(l.size()) / secs, pct(0.5),
      pct(0.99), pct(0.999), static_cast<unsigned long>(bench.errors));
  return bench.errors == 0 ? 0 : 1;
}
