#include "sync/client/client_core.h"

#include <algorithm>
#include <future>
#include <string>
#include <string_view>

#include "sync/convert.h"
#include "sync/sigpipe.h"

#define POSTBOX_ASSERT_CLIENT_LOOP() assert(OnLoop())

namespace postbox::sync {

struct Client::Core::Conn {
  Core* core = nullptr;
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  uv_write_t write_req{};
  wire::FrameDecoder decoder;
  // Set for TLS: out holds plaintext frames until they are encrypted into
  // inflight (Flush); nothing but the handshake goes before it completes.
  std::unique_ptr<tls::Channel> tls;
  std::vector<uint8_t> out, inflight;
  bool writing = false;
  bool closed = false;
  // The first bytes the server sent, for a hint when a plain client meets a
  // TLS server (whose alert is no frame).
  uint8_t first[2] = {};
  size_t first_n = 0;

  explicit Conn(Core* c, uint32_t max_payload)
      // Raw frames only until HelloReply says what the session agreed.
      : core(c),
        decoder(wire::DecoderOptions{.max_payload = max_payload, .accept = wire::kNoCompression}) {
    tcp.data = connect_req.data = write_req.data = this;
  }
  void Close() {
    if (closed) return;
    closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp),
             [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  }
};

namespace {

Status UvStatus(std::string_view what, int rc) {
  return Status::Unavailable(std::string(what) + ": " + uv_err_name(rc) + " (" + uv_strerror(rc) +
                             ")");
}

}  // namespace

Client::Core::Core(const ClientOptions& options)
    : options_(options),
      encoder_(wire::EncoderOptions{.max_payload = options.max_frame_payload,
                                    .peer = wire::kNoCompression}) {}

Client::Core::~Core() { Shutdown(); }

Status Client::Core::Start() {
  if (options_.tls.enabled) {
    auto context = tls::Context::ForClient(options_.tls, tls::kSyncAlpn);
    if (!context) return context.error();
    tls_ = std::move(*context);
  }
  std::promise<Status> ready;
  auto f = ready.get_future();
  thread_ = std::thread([this, &ready] { Run(&ready); });
  return f.get();
}

void Client::Core::Run(std::promise<Status>* ready) {
  thread_id_ = std::this_thread::get_id();
  internal::BlockSigpipeOnThisThread();  // a reset connection is a lost session
  uv_loop_init(&uv_);
  wake_.data = tick_.data = backoff_.data = this;
  uv_async_init(&uv_, &wake_, OnWake);
  uv_timer_init(&uv_, &tick_);
  uv_timer_init(&uv_, &backoff_);
  const uint64_t every =
      static_cast<uint64_t>(std::clamp<int64_t>(options_.request_timeout.count() / 10, 5, 100));
  uv_timer_start(&tick_, OnTick, every, every);
  ready->set_value(Status::Ok());
  uv_run(&uv_, UV_RUN_DEFAULT);
  uv_loop_close(&uv_);
}

bool Client::Core::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (loop_done_ || shutdown_) return false;
    inbox_.push_back(std::move(fn));
  }
  uv_async_send(&wake_);
  return true;
}

bool Client::Core::LoopEnded() {
  std::lock_guard lock(mu_);
  return loop_done_;
}

void Client::Core::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (shutdown_ || !thread_.joinable()) return;
    shutdown_ = true;
  }
  uv_async_send(&wake_);
  thread_.join();
}

void Client::Core::OnWake(uv_async_t* h) {
  auto* self = static_cast<Core*>(h->data);
  std::vector<std::function<void()>> work;
  bool shutdown;
  {
    std::lock_guard lock(self->mu_);
    work.swap(self->inbox_);
    shutdown = self->shutdown_;
    if (shutdown) self->loop_done_ = true;
  }
  for (auto& fn : work) fn();
  if (shutdown) {
    self->CloseSession();
    self->RunDelayedNow();  // transfer retries run now and find the client closed
    uv_close(reinterpret_cast<uv_handle_t*>(&self->wake_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->tick_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->backoff_), nullptr);
  }
}

uint64_t Client::Core::Now() {
  uv_update_time(&uv_);
  return uv_now(&uv_);
}

void Client::Core::OnTick(uv_timer_t* t) {
  auto* self = static_cast<Core*>(t->data);
  const uint64_t now = self->Now();
  const Status timeout = Status::Unavailable(
      "request timed out after " + std::to_string(self->options_.request_timeout.count()) + " ms");
  // The Hello timing out means the connection is useless: drop it.
  if (auto it = self->pending_.find(self->hello_rid_);
      self->hello_rid_ != 0 && it != self->pending_.end() && it->second.deadline <= now) {
    self->Lost(Status::Unavailable("no Hello reply within the request timeout"));
    return;
  }
  std::vector<StreamHandler> expired;
  for (auto it = self->pending_.begin(); it != self->pending_.end();) {
    if (it->second.deadline <= now) {
      expired.push_back(std::move(it->second.handler));
      it = self->pending_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto* queue : {&self->waiting_, &self->bulk_}) {
    for (auto it = queue->begin(); it != queue->end();) {
      if (it->deadline <= now) {
        expired.push_back(std::move(it->handler));
        it = queue->erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& h : expired) (void)h(timeout, nullptr);
}

void Client::Core::Connect(std::function<void(Result<HelloResult>)> done) {
  POSTBOX_ASSERT_CLIENT_LOOP();
  if (state_ == State::kReady) {
    return done(HelloResult{});  // already connected: the verdict was given before
  }
  if (connect_done_ || state_ == State::kConnecting || state_ == State::kHello) {
    return done(Status::Unavailable("a connection attempt is already in progress"));
  }
  final_ = false;
  connect_done_ = std::move(done);
  uv_timer_stop(&backoff_);
  StartConnect();
}

void Client::Core::StartConnect() {
  sockaddr_storage addr{};
  if (uv_ip4_addr(options_.host.c_str(), options_.port, reinterpret_cast<sockaddr_in*>(&addr)) !=
          0 &&
      uv_ip6_addr(options_.host.c_str(), options_.port, reinterpret_cast<sockaddr_in6*>(&addr)) !=
          0) {
    final_ = true;
    Lost(Status::InvalidArgument("host '" + options_.host + "' is not an IP address literal"));
    return;
  }
  conn_ = new Conn(this, options_.max_frame_payload);
  if (tls_) {
    const std::string& name =
        options_.tls.server_name.empty() ? options_.host : options_.tls.server_name;
    auto channel = tls::Channel::Connect(tls_, name);
    if (!channel) {
      delete conn_;
      conn_ = nullptr;
      final_ = true;
      Lost(channel.error());
      return;
    }
    conn_->tls = std::move(*channel);
  }
  uv_tcp_init(&uv_, &conn_->tcp);
  uv_tcp_nodelay(&conn_->tcp, 1);
  state_ = State::kConnecting;
  // The Hello's deadline covers the TCP connect too.
  hello_rid_ = next_rid_++;
  pending_[hello_rid_] = {
      Now() + static_cast<uint64_t>(options_.request_timeout.count()),
      Once([this](const Status& s, const wire::AnyMessage* r) { OnHelloReply(s, r); })};
  int rc = uv_tcp_connect(&conn_->connect_req, &conn_->tcp, reinterpret_cast<sockaddr*>(&addr),
                          OnConnected);
  if (rc != 0) Lost(UvStatus("connect", rc));
}

void Client::Core::OnConnected(uv_connect_t* req, int status) {
  auto* conn = static_cast<Conn*>(req->data);
  if (conn->closed) return;
  Core* self = conn->core;
  if (status < 0) {
    self->Lost(UvStatus(
        "connect to " + self->options_.host + ":" + std::to_string(self->options_.port), status));
    return;
  }
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&conn->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<Conn*>(h->data);
        *buf = uv_buf_init(c->core->read_buf_.get(), 64 * 1024);
      },
      OnRead);
  self->state_ = State::kHello;
  if (conn->tls) {
    // The ClientHello; Hello (below) waits in `out` until the handshake is done.
    if (Status s = conn->tls->Start(); !s.ok()) return self->Lost(s);
  }
  self->SendHello();
}

void Client::Core::SendHello() {
  const auto& o = options_;
  wire::Hello h;
  h.protocol_version = o.protocol_version;
  h.mkey = ToWire(o.mkey);
  h.secret = o.secret;
  h.platform = ToWire(o.platform);
  h.app_version = o.app_version;
  h.schema_version = o.schema_version;
  h.accept_zstd = o.accept_zstd;
  h.zstd_dictionaries = o.zstd_dictionaries;
  // Hello is always raw, and so is everything until the reply (a new
  // connection may reach a different server).
  encoder_.set_peer(wire::kNoCompression);
  if (wire::Error e = encoder_.Encode(hello_rid_, h, &conn_->out); !e.ok()) {
    final_ = true;
    Lost(FromWireCodecError(e));
    return;
  }
  Flush();
}

void Client::Core::ApplyCompression(const wire::HelloReply& hr) {
  if (hr.protocol_version < 2) {
    // A version-1 server knows no negotiation: it compresses its replies
    // with dictionary 1 or plain zstd at will and reads all of those, but
    // raw frames are always safe to send.
    conn_->decoder.set_accept({.zstd = true, .dictionary = 1});
    encoder_.set_peer(wire::kNoCompression);
    return;
  }
  // Only what this client declared, even if the server said more.
  const bool declared =
      std::find(options_.zstd_dictionaries.begin(), options_.zstd_dictionaries.end(),
                hr.zstd_dictionary) != options_.zstd_dictionaries.end();
  const wire::CompressionAgreement agreed{.zstd = hr.zstd && options_.accept_zstd,
                                          .dictionary = declared ? hr.zstd_dictionary : 0};
  conn_->decoder.set_accept(agreed);
  encoder_.set_peer(agreed);
}

void Client::Core::OnHelloReply(const Status& s, const wire::AnyMessage* reply) {
  hello_rid_ = 0;
  if (!s.ok()) {
    // 401 and 426 will not change by retrying; anything else may.
    if (s.Is(Code::kUnauthenticated) || s.Is(Code::kProtocolUnsupported)) final_ = true;
    Lost(s);
    return;
  }
  const auto* hr = std::get_if<wire::HelloReply>(reply);
  if (hr == nullptr) {
    Lost(Status::Internal("the server answered Hello with something other than HelloReply"));
    return;
  }
  HelloResult result{static_cast<Verdict>(hr->verdict), std::string(hr->detail)};
  server_protocol.store(hr->protocol_version);
  ApplyCompression(*hr);
  if (result.verdict == Verdict::kUpdateRequired ||
      result.verdict == Verdict::kUpdateSchemaRequired) {
    final_ = true;  // the server closes the session; reconnecting cannot help
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    Lost(Status::Unavailable("the server requires an update: " + result.detail));
    if (done) done(std::move(result));
    return;
  }
  state_ = State::kReady;
  received_cursor_ = 0;
  established_once_ = true;
  attempt_ = 0;
  connected = true;
  sessions.fetch_add(1);
  if (connect_done_) {
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    done(std::move(result));
  }
  // Requests made while reconnecting go out now, in order.
  std::deque<Waiting> waiting;
  waiting.swap(waiting_);
  for (auto& w : waiting) SendNow(w.encode, std::move(w.handler), w.stream, w.deadline);
  if (options_.resume && options_.on_push) ResumePoll(acked.load());
}

void Client::Core::ResumePoll(uint64_t since) {
  Request(
      [since](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::Poll{since, 0}, out);
      },
      [this](const Status& s, const wire::AnyMessage* reply) {
        if (!s.ok()) return;  // a lost session resumes again after reconnecting
        const auto* w = std::get_if<wire::InfoPacket>(reply);
        if (w == nullptr) return;
        auto packet = FromWire(*w);
        if (!packet) return;
        DeliverPush(*packet);
        if (packet->more) ResumePoll(packet->cursor);
      });
}

void Client::Core::DeliverPush(const InfoPacket& packet) {
  NoteReceived(packet.cursor);
  if (options_.on_push) options_.on_push(packet);
  if (!options_.auto_ack || state_ != State::kReady) return;
  const uint64_t cursor = packet.cursor;
  NoteAck(cursor);
  (void)SendOneWay([cursor](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
    return enc->Encode(rid, wire::Ack{cursor}, out);
  });
}

Status Client::Core::SendOneWay(const Encode& encode) {
  POSTBOX_ASSERT_CLIENT_LOOP();
  if (state_ != State::kReady || conn_ == nullptr) return Status::Unavailable("not connected");
  if (wire::Error e = encode(next_rid_++, &encoder_, &conn_->out); !e.ok()) {
    return FromWireCodecError(e);
  }
  Flush();
  return Status::Ok();
}

void Client::Core::NoteAck(uint64_t cursor) {
  uint64_t cur = acked.load();
  while (cursor > cur && !acked.compare_exchange_weak(cur, cursor)) {
  }
}

bool Client::Core::EncodeNow(const Encode& encode, StreamHandler& handler, bool stream,
                             uint64_t deadline) {
  const uint64_t rid = next_rid_++;
  if (wire::Error e = encode(rid, &encoder_, &conn_->out); !e.ok()) {
    (void)handler(FromWireCodecError(e), nullptr);
    return false;
  }
  pending_[rid] = {deadline, std::move(handler), stream};
  return true;
}

void Client::Core::SendNow(const Encode& encode, StreamHandler handler, bool stream,
                           uint64_t deadline) {
  if (EncodeNow(encode, handler, stream, deadline)) Flush();
}

void Client::Core::FillBulk() {
  Conn* c = conn_;
  while (state_ == State::kReady && conn_ == c && c != nullptr && !c->closed && !bulk_.empty() &&
         c->out.size() < kBulkBudget) {
    Waiting w = std::move(bulk_.front());
    bulk_.pop_front();
    // A failed encode calls the handler, which may send (and flush) itself:
    // the loop re-checks the connection every time round.
    (void)EncodeNow(w.encode, w.handler, false,
                    Now() + static_cast<uint64_t>(options_.request_timeout.count()));
  }
}

void Client::Core::Flush() {
  Conn* c = conn_;
  if (c == nullptr || c->closed || c->writing) return;
  FillBulk();
  if (conn_ != c || c->closed || c->writing) return;
  if (Status s = tls::StageWrite(c->tls.get(), &c->out, &c->inflight); !s.ok()) return Lost(s);
  if (c->inflight.empty()) return;
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(c->inflight.data()),
                             static_cast<unsigned>(c->inflight.size()));
  int rc = uv_write(&c->write_req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, OnWritten);
  if (rc != 0) return Lost(UvStatus("write", rc));
  c->writing = true;
}

void Client::Core::OnWritten(uv_write_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  c->writing = false;
  c->inflight.clear();
  if (c->closed) return;
  if (status < 0) return c->core->Lost(UvStatus("write", status));
  c->core->Flush();
}

void Client::Core::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  Core* self = c->core;
  if (c->closed) return;
  if (nread < 0) {
    // A TLS record starts 0x15 (alert) or 0x16 (handshake), then 0x03.
    const bool tls_answer = !c->tls && self->state_ == State::kHello && c->first_n == 2 &&
                            (c->first[0] == 0x15 || c->first[0] == 0x16) && c->first[1] == 0x03;
    self->Lost(nread != UV_EOF ? UvStatus("read", static_cast<int>(nread))
               : tls_answer
                   ? Status::Unavailable(
                         "the server closed the connection after answering in TLS: it expects "
                         "TLS (ClientOptions::tls)")
                   : Status::Unavailable("the server closed the connection"));
    return;
  }
  for (ssize_t i = 0; i < nread && c->first_n < 2; ++i) {
    c->first[c->first_n++] = static_cast<uint8_t>(buf->base[i]);
  }
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(buf->base),
                                 static_cast<size_t>(nread));
  if (c->tls && !self->Decrypt(c, &bytes)) return;
  if (!bytes.empty()) c->decoder.Feed(bytes);
  wire::Frame frame;
  while (!c->closed) {
    auto p = c->decoder.Next(&frame);
    if (p == wire::FrameDecoder::Progress::kNeedMore) break;
    if (p == wire::FrameDecoder::Progress::kFailed) {
      self->Lost(
          Status::Internal("malformed frame from the server: " + c->decoder.error().ToString()));
      break;
    }
    self->HandleFrame(frame);
  }
  // close_notify: the frames before it were handled; nothing more will come.
  if (c->tls && c->tls->peer_closed() && !c->closed) {
    self->Lost(Status::Unavailable("the server closed the connection"));
  }
}

bool Client::Core::Decrypt(Conn* c, std::span<const uint8_t>* bytes) {
  // Straight into the frame decoder, a record at a time.
  const Status s = c->tls->Receive(*bytes, [c](std::span<const uint8_t> p) { c->decoder.Feed(p); });
  *bytes = {};
  if (!s.ok()) {
    // The alert (if any) is not worth waiting for: the connection is over.
    Lost(Status::Unavailable(std::string(s.message()) + " (" + options_.host + ":" +
                             std::to_string(options_.port) + ")"));
    return false;
  }
  Flush();  // the handshake's answers, and once it is done the Hello waiting for it
  return conn_ == c && !c->closed;
}

void Client::Core::HandleFrame(const wire::Frame& frame) {
  wire::AnyMessage msg;
  if (wire::Error e = wire::DecodeAny(frame, &msg); !e.ok()) {
    return Lost(Status::Internal("undecodable frame from the server: " + e.ToString()));
  }
  const uint64_t rid = frame.request_id();
  if (rid == 0) {
    // Server-initiated: a push, a ping, or an error that ends the session.
    if (auto* p = std::get_if<wire::InfoPacket>(&msg)) {
      auto packet = FromWire(*p);
      if (!packet) return Lost(packet.error());
      return DeliverPush(*packet);
    }
    if (auto* ping = std::get_if<wire::Ping>(&msg)) {
      if (wire::Error e = encoder_.Encode(0, wire::Pong{ping->nonce}, &conn_->out); e.ok()) {
        Flush();
      }
      return;
    }
    if (auto* err = std::get_if<wire::ErrorReply>(&msg)) {
      // The server closes after these; the EOF that follows starts reconnecting.
      // A 401/426 without a request id still concerns the Hello.
      if (hello_rid_ != 0) {
        auto it = pending_.find(hello_rid_);
        if (it != pending_.end()) {
          StreamHandler h = std::move(it->second.handler);
          pending_.erase(it);
          (void)h(FromWireError(*err), nullptr);
        }
      }
    }
    return;
  }
  auto it = pending_.find(rid);
  if (it == pending_.end()) return;  // timed out already, or a stream its reader ended
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (auto* err = std::get_if<wire::ErrorReply>(&msg)) {
    (void)p.handler(FromWireError(*err), nullptr);
    return;
  }
  if (!p.stream) {
    (void)p.handler(Status::Ok(), &msg);
    return;
  }
  // A stream frame: the handler runs outside the table (it may send, or the
  // session may be lost under it), then the stream goes back with a fresh
  // deadline if it wants more.
  const uint64_t gen = session_gen_;
  if (!p.handler(Status::Ok(), &msg)) return;
  if (gen != session_gen_) {
    (void)p.handler(Status::Unavailable("the session was lost during a stream"), nullptr);
    return;
  }
  pending_[rid] = {Now() + static_cast<uint64_t>(options_.request_timeout.count()),
                   std::move(p.handler), true};
}

void Client::Core::Lost(const Status& why) {
  POSTBOX_ASSERT_CLIENT_LOOP();
  if (conn_ != nullptr) {
    conn_->Close();
    conn_ = nullptr;
  }
  connected = false;
  ++session_gen_;
  if (hello_rid_ != 0) {
    pending_.erase(hello_rid_);  // answered below through connect_done_
    hello_rid_ = 0;
  }
  const bool retry = established_once_ && options_.reconnect && !final_;
  state_ = retry ? State::kBackoff : State::kIdle;
  if (!retry) final_ = final_ || established_once_;
  FailAll(why, !retry);
  if (connect_done_) {
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    done(why);
  }
  if (!retry) return;
  // Capped exponential backoff with jitter in [0.5, 1] of the step.
  const uint64_t base = static_cast<uint64_t>(options_.backoff_initial.count());
  const uint64_t cap = static_cast<uint64_t>(options_.backoff_max.count());
  const uint64_t step = std::min(cap, base << std::min(attempt_, 20u));
  ++attempt_;
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const auto delay = static_cast<uint64_t>(static_cast<double>(step) * jitter(rng_));
  uv_timer_start(&backoff_, OnBackoff, delay, 0);
}

void Client::Core::OnBackoff(uv_timer_t* t) {
  auto* self = static_cast<Core*>(t->data);
  if (self->final_ || self->state_ != State::kBackoff) return;
  self->StartConnect();
}

void Client::Core::CloseSession() {
  final_ = true;
  uv_timer_stop(&backoff_);
  Lost(Status::Unavailable("client closed"));
  FailAll(Status::Unavailable("client closed"), true);
}

void Client::Core::DropConnection() {
  if (conn_ == nullptr) return;
  Lost(Status::Unavailable("connection dropped by the client"));
}

}  // namespace postbox::sync
