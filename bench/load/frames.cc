// The raw-frame driver: every connection on one libuv loop (as redis-benchmark
// runs its clients on one thread), each keeping cfg.depth requests in flight
// for the run, latency measured per request. The frames a read's replies
// trigger go out in one write per connection.
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "load/load.h"
#include "postbox/wire/codec.h"
#include "postbox/wire/frame.h"

namespace postbox::load {
namespace {

using wire::AnyMessage;

struct Driver;

struct InFlight {
  uint64_t sent_ns = 0;
  wire::MessageStatus asked = wire::MessageStatus::kUnset;  // --op status
  // --op putget: the put's reply only counts errors; the get's is the op's end
  // and must carry `value`.
  bool put_of_pair = false;
  uint64_t value = 0;
};

struct Conn {
  Driver* d = nullptr;
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  wire::FrameDecoder decoder;
  std::vector<uint8_t> out;  // frames not yet written
  MailboxCredentials creds;
  bool ready = false;
  uint64_t seq = 0;
  std::unordered_map<uint64_t, InFlight> in_flight;  // by request id
  const std::vector<MessageId>* ids = nullptr;       // push, status
  uint64_t next_op = 0;  // status: StatusOpAt's k; push: the next of ids
  // --op push: connections pair up, sender 2k and recipient 2k+1. The
  // recipient advances one of the pair's messages; the latency is until the
  // sender's push arrives. The next update waits for both the reply and the push.
  Conn* peer = nullptr;
  bool is_sender = false;
  uint64_t push_sent_ns = 0;
  bool reply_in = false, push_in = false;
  bool synced = false;  // sender: its first poll was answered
};

struct Driver {
  const Config* cfg = nullptr;
  Window* window = nullptr;
  uv_loop_t loop{};
  uv_timer_t phase{}, stop{};
  bool measuring = false;
  bool done = false;
  Outcome outcome;
  wire::Encoder encoder;
  char read_buf[65536];
  std::vector<std::unique_ptr<Conn>> conns;
};

// Ends the measured window (at the stop timer, or early when the status
// supply runs out) and the run.
void Finish(Driver* d) {
  if (d->done) return;
  if (d->measuring) d->window->End();
  d->measuring = false;
  d->done = true;
  uv_stop(&d->loop);
}

void Flush(Conn* c) {
  if (c->out.empty()) return;
  if (WriteBytes(reinterpret_cast<uv_stream_t*>(&c->tcp), &c->out) != 0 && !c->d->done)
    ++c->d->outcome.errors;
}

// Appends the connection's next request to c->out (written by Flush).
void SendNext(Conn* c) {
  Driver* d = c->d;
  if (d->done) return;
  const uint64_t rid = ++c->seq;
  InFlight f;
  switch (d->cfg->op) {
    case Op::kPut:
      EncodePut(&d->encoder, rid, &c->out);
      break;
    case Op::kPoll:
      (void)d->encoder.Encode(rid, wire::Poll{0, 1}, &c->out);
      break;
    case Op::kHostile:  // hostile.cc drives it
      return;
    case Op::kPutGet: {
      // A key of this connection's own (sessions do not race on it), a value
      // unique to the pair: the get must answer exactly this value.
      char key[16];
      const int n = std::snprintf(key, sizeof(key), "rw%u", static_cast<unsigned>(rid % 1024));
      const std::string value = std::to_string(rid);
      const std::string_view k(key, static_cast<size_t>(n));
      (void)d->encoder.Encode(rid, wire::EntryPut{k, value, 0}, &c->out);
      c->in_flight.emplace(rid, InFlight{.sent_ns = NowNs(), .put_of_pair = true});
      const uint64_t get = ++c->seq;
      (void)d->encoder.Encode(get, wire::EntryGet{k}, &c->out);
      f.value = rid;
      f.sent_ns = NowNs();
      c->in_flight.emplace(get, f);
      return;
    }
    case Op::kStatus: {
      MessageId id;
      MessageStatus status;
      if (!StatusOpAt(*c->ids, d->cfg->depth, c->next_op++, &id, &status)) {
        d->outcome.supply_ran_out = true;
        return Finish(d);
      }
      wire::StatusUpdate u;
      std::memcpy(u.id.data(), id.bytes.data(), 16);
      u.status = f.asked = static_cast<wire::MessageStatus>(status);
      (void)d->encoder.Encode(rid, u, &c->out);
      break;
    }
    case Op::kPush: {
      if (c->next_op >= c->ids->size()) return;  // this pair has used its messages
      wire::StatusUpdate u;
      std::memcpy(u.id.data(), (*c->ids)[c->next_op++].bytes.data(), 16);
      u.status = wire::MessageStatus::kDownloaded;
      (void)d->encoder.Encode(rid, u, &c->out);
      c->reply_in = c->push_in = false;
      c->push_sent_ns = NowNs();
      return;  // a push's latency is taken at the sender's push, not at the reply
    }
    case Op::kPing:
    case Op::kEcho:
      // 64 bytes on the wire: a 16-byte header and a small payload.
      (void)d->encoder.Encode(rid, wire::Ping{rid}, &c->out);
      break;
  }
  f.sent_ns = NowNs();
  c->in_flight.emplace(rid, f);
}

void Record(Driver* d, uint64_t sent_ns) {
  if (d->measuring)
    d->outcome.latencies_us.push_back(static_cast<uint32_t>((NowNs() - sent_ns) / 1000));
}

void OnPushFrame(Conn* c, uint64_t rid, const AnyMessage& m) {
  Driver* d = c->d;
  if (std::holds_alternative<wire::ErrorReply>(m)) ++d->outcome.errors;
  Conn* r = c->is_sender ? c->peer : c;
  if (c->is_sender && rid == 0 && std::holds_alternative<wire::InfoPacket>(m)) {
    Record(d, r->push_sent_ns);
    (void)d->encoder.Encode(++c->seq, wire::Ack{std::get<wire::InfoPacket>(m).cursor}, &c->out);
    r->push_in = true;
  } else if (c->is_sender && std::holds_alternative<wire::InfoPacket>(m)) {
    const auto& p = std::get<wire::InfoPacket>(m);
    if (p.more) {  // page through; the server pushes once a poll reaches the end
      (void)d->encoder.Encode(++c->seq, wire::Poll{p.cursor, 0}, &c->out);
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

void OnHelloReply(Conn* c, const AnyMessage& m) {
  Driver* d = c->d;
  c->ready = true;
  if (!std::holds_alternative<wire::HelloReply>(m)) ++d->outcome.errors;
  switch (d->cfg->op) {
    case Op::kPush:
      if (c->is_sender) (void)d->encoder.Encode(++c->seq, wire::Poll{0, 0}, &c->out);
      // The recipient starts once its sender has polled.
      if (!c->is_sender && c->peer->synced) SendNext(c);
      return;
    default:
      for (unsigned i = 0; i < d->cfg->depth; ++i) SendNext(c);
  }
}

void OnFrame(Conn* c, uint64_t rid, const AnyMessage& m) {
  Driver* d = c->d;
  if (!c->ready) return OnHelloReply(c, m);
  if (d->cfg->op == Op::kPush) return OnPushFrame(c, rid, m);
  auto it = c->in_flight.find(rid);
  if (it == c->in_flight.end()) {
    ++d->outcome.errors;  // an error without a request id, or a stray reply
    return;
  }
  const InFlight f = it->second;
  c->in_flight.erase(it);
  if (f.put_of_pair) {
    if (!std::holds_alternative<wire::Ok>(m)) ++d->outcome.errors;
    return;  // the pair's get ends the op
  }
  if (d->cfg->op == Op::kPutGet) {
    // Without read-your-writes the get may overtake its put: a 404 or an
    // older value is a stale read, not an error.
    const auto* v = std::get_if<wire::EntryValue>(&m);
    if (v == nullptr || v->entry.value != std::to_string(f.value)) ++d->outcome.stale_reads;
  } else if (std::holds_alternative<wire::ErrorReply>(m)) {
    ++d->outcome.errors;
  } else if (d->cfg->op == Op::kStatus) {
    const auto* ok = std::get_if<wire::Ok>(&m);
    if (ok == nullptr) {
      ++d->outcome.errors;
    } else if (ok->status != f.asked) {
      ++d->outcome.not_rises;
    }
  }
  Record(d, f.sent_ns);
  SendNext(c);
}

void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  if (n < 0) {
    if (!c->d->done) ++c->d->outcome.errors;
    uv_read_stop(s);
    return;
  }
  c->decoder.Feed({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n)});
  wire::Frame f;
  while (c->decoder.Next(&f) == wire::FrameDecoder::Progress::kFrame) {
    AnyMessage m;
    if (!wire::DecodeAny(f, &m).ok()) {
      ++c->d->outcome.errors;
      continue;
    }
    OnFrame(c, f.request_id(), m);
  }
  Flush(c);
  if (c->peer != nullptr) Flush(c->peer);
}

void OnConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  Driver* d = c->d;
  if (status < 0) {
    if (status != UV_ECANCELED) std::fprintf(stderr, "connect: %s\n", uv_strerror(status));
    if (!d->done) ++d->outcome.errors;
    return;
  }
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* cc = static_cast<Conn*>(h->data);
        *buf = uv_buf_init(cc->d->read_buf, sizeof(cc->d->read_buf));
      },
      OnRead);
  if (d->cfg->op == Op::kEcho) {
    c->ready = true;
    for (unsigned i = 0; i < d->cfg->depth; ++i) SendNext(c);
  } else {
    wire::Hello h;
    std::memcpy(h.mkey.data(), c->creds.mkey.bytes.data(), 16);
    h.secret = c->creds.secret;
    (void)d->encoder.Encode(1000000000, h, &c->out);
  }
  Flush(c);
}

}  // namespace

namespace {
// Each write owns its request and bytes, so a connection may write again
// before libuv has called back for the previous write.
struct WriteReq {
  uv_write_t req;
  std::vector<uint8_t> bytes;
  void (*done)(uv_stream_t*, int);
};
}  // namespace

void EncodePut(wire::Encoder* encoder, uint64_t rid, std::vector<uint8_t>* out) {
  char key[16];
  const int n = std::snprintf(key, sizeof(key), "k%u", static_cast<unsigned>(rid % 1024));
  (void)encoder->Encode(rid, wire::EntryPut{{key, static_cast<size_t>(n)}, "value-0123456789", 0},
                        out);
}

void CloseLoop(uv_loop_t* loop) {
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  (void)uv_loop_close(loop);
}

int WriteBytes(uv_stream_t* stream, std::vector<uint8_t>* bytes,
               void (*done)(uv_stream_t* stream, int status)) {
  auto* w = new WriteReq{{}, std::move(*bytes), done};
  bytes->clear();
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(w->bytes.data()), static_cast<unsigned>(w->bytes.size()));
  w->req.data = w;
  const int rc = uv_write(&w->req, stream, &buf, 1, [](uv_write_t* r, int status) {
    auto* req = static_cast<WriteReq*>(r->data);
    auto* done = req->done;
    uv_stream_t* s = r->handle;
    delete req;
    if (done != nullptr) done(s, status);
  });
  if (rc != 0) delete w;
  return rc;
}

Outcome RunFrames(const Config& cfg, const Workload& work, Window* window) {
  auto d = std::make_unique<Driver>();
  d->cfg = &cfg;
  d->window = window;
  uv_loop_init(&d->loop);
  sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", cfg.port, &addr);
  for (unsigned i = 0; i < cfg.connections; ++i) {
    auto c = std::make_unique<Conn>();
    c->d = d.get();
    c->creds = work.creds[i];
    c->ids = &work.ids[i];
    c->is_sender = cfg.op == Op::kPush && i % 2 == 0;
    uv_tcp_init(&d->loop, &c->tcp);
    uv_tcp_nodelay(&c->tcp, 1);
    c->tcp.data = c->connect_req.data = c.get();
    uv_tcp_connect(&c->connect_req, &c->tcp, reinterpret_cast<sockaddr*>(&addr), OnConnect);
    d->conns.push_back(std::move(c));
  }
  if (cfg.op == Op::kPush) {
    for (size_t i = 0; i + 1 < d->conns.size(); i += 2) {
      d->conns[i]->peer = d->conns[i + 1].get();
      d->conns[i + 1]->peer = d->conns[i].get();
    }
  }
  uv_timer_init(&d->loop, &d->phase);
  d->phase.data = d.get();
  uv_timer_start(
      &d->phase,
      [](uv_timer_t* t) {
        auto* dd = static_cast<Driver*>(t->data);
        if (dd->done) return;
        dd->measuring = true;
        dd->window->Begin();
      },
      static_cast<uint64_t>(cfg.warmup * 1000), 0);
  uv_timer_init(&d->loop, &d->stop);
  d->stop.data = d.get();
  uv_timer_start(
      &d->stop, [](uv_timer_t* t) { Finish(static_cast<Driver*>(t->data)); },
      static_cast<uint64_t>((cfg.warmup + cfg.duration) * 1000), 0);
  uv_run(&d->loop, UV_RUN_DEFAULT);

  CloseLoop(&d->loop);
  return std::move(d->outcome);
}

}  // namespace postbox::load
