#include "sync/http/connection.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <exception>

#include "sync/server/admin_routes.h"  // BearerMatches
#include "sync/server/server_impl.h"

namespace postbox::sync::http {
namespace {

// After the last response of a connection that closes, the write side is
// shut and the client's further bytes (a body the server refused, say) are
// read and dropped for at most this long or this many bytes: closing with
// unread input would reset the connection and could destroy the response
// before the client reads it (RFC 9112 §9.6).
constexpr uint64_t kLingerMs = 2000;
constexpr size_t kLingerBytes = 1 << 20;
// While a request is with the handler the connection keeps reading (so a
// client that goes away is noticed and its connection freed at once), but
// buffers no more than this of what follows.
constexpr size_t kHeldInputBytes = 64 * 1024;

}  // namespace

HttpConnection::HttpConnection(HttpLoop* hl, uint64_t id)
    : hl_(hl), id_(id), parser_(hl->shared->limits()) {
  tcp_.data = this;
  write_req_.data = this;
  shutdown_req_.data = this;
}

void HttpConnection::Start(bool admitted) {
  POSTBOX_ASSERT_ON_LOOP(hl_->loop);
  counted_ = admitted;
  accepted_ms_ = last_activity_ms_ = uv_now(&hl_->loop->uv);
  hl_->connections.emplace(id_, this);
  uv_tcp_nodelay(&tcp_, 1);
  if (auto context = hl_->loop->core->tls_context(/*http=*/true)) {
    if (!admitted) {
      // No handshake only to say 503 (see Session::Start).
      hl_->shared->CountRefusal();
      Close();
      return;
    }
    auto channel = tls::Channel::Accept(std::move(context));
    if (!channel) {
      spdlog::error("http connection {}: {}", id_, channel.error().ToString());
      Close();
      return;
    }
    tls_ = std::move(*channel);
  }
  if (!admitted) {
    hl_->shared->CountRefusal();
    keep_alive_ = false;
    Answer(HttpResponse::JsonError(503, "too many connections; retry later"));
    Account();
    return;
  }
  UpdateReading();
}

void HttpConnection::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<HttpConnection*>(h->data);
  // The loop's one read buffer: each read is parsed (and any remainder
  // copied) before the next.
  buf->base = self->hl_->loop->read_buf.get();
  buf->len = internal::Loop::kReadBufSize;
}

void HttpConnection::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<HttpConnection*>(s->data);
  if (self->closed_) return;
  if (self->lingering_) {
    if (nread < 0) {
      self->Close();
    } else if ((self->lingered_bytes_ += static_cast<size_t>(nread)) > kLingerBytes) {
      self->Close();
    }
    return;
  }
  if (nread == UV_EOF) {
    if (self->tls_ && !self->tls_->established()) {
      self->hl_->loop->core->CountTlsHandshake(false);  // the client gave up on it
    }
    // The client finished sending: what it sent is still answered.
    self->eof_ = true;
    self->Process({});
  } else if (nread < 0) {
    self->Close();
  } else if (nread > 0) {
    self->last_activity_ms_ = uv_now(&self->hl_->loop->uv);
    std::string_view bytes(buf->base, static_cast<size_t>(nread));
    if (!self->tls_ ||
        self->Decrypt({reinterpret_cast<const uint8_t*>(buf->base), bytes.size()}, &bytes)) {
      // close_notify ends the client's sending like an EOF.
      if (self->tls_ && self->tls_->peer_closed()) self->eof_ = true;
      self->Process(bytes);
    }
  }
  self->Account();
}

bool HttpConnection::Decrypt(std::span<const uint8_t> cipher, std::string_view* plain) {
  internal::ServerCore* core = hl_->loop->core;
  if (!tls_seen_bytes_ && !cipher.empty()) {
    tls_seen_bytes_ = true;
    if (cipher[0] != tls::kHandshakeRecord) {
      // Plain HTTP to the HTTPS listener: say so in plain HTTP (nothing
      // secret is in it), as web servers do, then close.
      core->CountTlsHandshake(false);
      hl_->shared->CountResponse(400);
      std::string r;
      AppendResponse(HttpResponse::JsonError(
                         400, "plain HTTP sent to an HTTPS listener: use https:// (docs/tls.md)"),
                     ResponseFraming{.close = true, .date = hl_->Date()}, &r);
      TryWrite(&r);
      Close();
      return false;
    }
  }
  std::vector<uint8_t>& buf = hl_->loop->tls_plain;
  buf.clear();
  const bool was_established = tls_->established();
  const Status s = tls_->Receive(cipher, &buf);
  // Counted even if what followed the handshake in the same read then fails.
  if (!was_established && tls_->established()) core->CountTlsHandshake(true);
  if (!s.ok()) {
    spdlog::debug("http connection {}: {}", id_, s.ToString());
    if (!tls_->established()) core->CountTlsHandshake(false);
    if (!writing_) {
      std::string alert;
      tls_->TakeOutput(&alert);
      TryWrite(&alert);
    }
    Close();
    return false;
  }
  *plain = std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size());
  Flush();  // the handshake's answers
  return !closed_;
}

void HttpConnection::TryWrite(std::string* bytes) {
  if (bytes->empty()) return;
  uv_buf_t buf = uv_buf_init(bytes->data(), static_cast<unsigned>(bytes->size()));
  (void)uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);
}

void HttpConnection::Process(std::string_view fresh) {
  if (closed_) return;
  std::string_view data = fresh;
  if (!in_.empty()) {
    in_.append(fresh);
    data = in_;
  }
  const size_t max_output = hl_->shared->options().http_max_output_bytes;
  size_t pos = 0;
  bool failed = false;
  while (!closing_ && !closed_ && !handling_) {
    // A client that does not read its responses gets no more until it does.
    if (!parser_.started() && Unsent() >= max_output) break;
    size_t used = 0;
    const auto p = parser_.Feed(data.substr(pos), &used);
    pos += used;
    if (parser_.TakeContinue()) out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    if (p == HttpRequestParser::Progress::kNeedMore) break;
    if (p == HttpRequestParser::Progress::kError) {
      failed = true;
      Refuse(parser_.error_status(), parser_.error_message());
      break;
    }
    Dispatch(parser_.TakeRequest());
  }
  if (failed) {
    in_.clear();  // nothing after a malformed request can be trusted
  } else if (in_.empty()) {
    if (pos < data.size()) in_.assign(data.substr(pos));
  } else {
    in_.erase(0, pos);
  }
  // Everything the client sent before its EOF is answered; a request it
  // left incomplete is not.
  if (eof_ && !handling_ && in_.empty()) CloseAfterFlush();
  UpdateClocks();
  Flush();
  UpdateReading();
}

void HttpConnection::Dispatch(HttpRequest request) {
  HttpShared* shared = hl_->shared;
  shared->CountRequest();
  head_ = request.method == "HEAD";
  keep_alive_ = request.keep_alive && !hl_->shutting_down;
  http10_ = request.http_minor == 0;
  // The listener's own route, before any handler (docs/http.md "Routes").
  if (request.path == "/healthz") {
    if (request.method == "GET" || head_) {
      Answer(shared->stopping.load(std::memory_order_relaxed) ? HttpResponse::Text(503, "stopping")
                                                              : HttpResponse::Text(200, "ok"));
    } else {
      Answer(HttpResponse::MethodNotAllowed("GET, HEAD"));
    }
    return;
  }
  if (request.path == "/metrics") {  // docs/operations.md "Metrics"
    Answer(Metrics(request));
    return;
  }
  std::shared_ptr<HttpHandler> handler = shared->handler(request.path);
  if (!handler) {
    Answer(HttpResponse::JsonError(404, "not found"));
    return;
  }
  handling_ = true;
  ++sequence_;
  try {
    handler->Handle(std::move(request), HttpRespond(hl_->inbox, id_, sequence_));
  } catch (const std::exception& e) {
    // The respond given to Handle was destroyed unanswered: it answers 500.
    spdlog::error("http handler threw: {}", e.what());
  } catch (...) {
    spdlog::error("http handler threw a non-standard exception");
  }
}

HttpResponse HttpConnection::Metrics(const HttpRequest& request) {
  if (request.method != "GET" && !head_) return HttpResponse::MethodNotAllowed("GET, HEAD");
  internal::ServerCore* core = hl_->loop->core;
  const std::string& token = core->options().metrics_token;
  if (!token.empty()) {
    const std::string* auth = request.Header("Authorization");
    if (auth == nullptr || !internal::BearerMatches(*auth, token)) {
      HttpResponse r = HttpResponse::JsonError(401, "a bearer token is required");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"postbox metrics\"");
      return r;
    }
  }
  // Text format 0.0.4, what every Prometheus scrapes.
  return HttpResponse::Text(200, core->RenderMetrics(), "text/plain; version=0.0.4; charset=utf-8");
}

void HttpConnection::OnReply(HttpReply reply) {
  if (closed_ || !handling_ || reply.sequence != sequence_) return;
  handling_ = false;
  Answer(reply.response);
  Process({});  // the requests pipelined behind it
  Account();
}

void HttpConnection::Answer(const HttpResponse& response) {
  const uint16_t status =
      response.status >= 200 && response.status <= 599 ? response.status : uint16_t{500};
  hl_->shared->CountResponse(status);
  const bool close = !keep_alive_ || hl_->shutting_down;
  AppendResponse(response,
                 ResponseFraming{.head = head_,
                                 .close = close,
                                 .http10_keep_alive = http10_ && !close,
                                 .date = hl_->Date()},
                 &out_);
  last_activity_ms_ = uv_now(&hl_->loop->uv);
  if (close) {
    CloseAfterFlush();
  } else {
    Flush();
  }
}

void HttpConnection::Refuse(uint16_t status, std::string_view message) {
  if (status == 413 || status == 431) hl_->shared->CountRefusal();
  keep_alive_ = false;
  head_ = false;
  Answer(HttpResponse::JsonError(status, message));
}

void HttpConnection::CloseNow(uint16_t status, std::string_view message) {
  if (closed_) return;
  hl_->shared->CountResponse(status);
  if (!writing_ && out_.empty() && (!tls_ || tls_->established())) {
    // A stalled client's socket buffer is empty: the reason goes out at once
    // or not at all, without waiting for a client that does not cooperate.
    std::string r;
    AppendResponse(HttpResponse::JsonError(status, message),
                   ResponseFraming{.close = true, .date = hl_->Date()}, &r);
    if (tls_) {
      (void)tls_->Send({reinterpret_cast<const uint8_t*>(r.data()), r.size()});
      r.clear();
      tls_->TakeOutput(&r);
    }
    TryWrite(&r);
  }
  Close();
}

void HttpConnection::Flush() {
  if (closed_ || writing_) return;
  // With TLS, responses wait for the handshake; its own messages go meanwhile.
  if (Status s = tls::StageWrite(tls_.get(), &out_, &inflight_); !s.ok()) {
    spdlog::debug("http connection {}: {}", id_, s.ToString());
    Close();
    return;
  }
  if (inflight_.empty()) return;
  // Fits an unsigned: output is bounded by http_max_output_bytes plus one response.
  uv_buf_t buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
  if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWritten) != 0) {
    Close();
    return;
  }
  writing_ = true;
  write_progress_ms_ = uv_now(&hl_->loop->uv);
}

void HttpConnection::OnWritten(uv_write_t* req, int status) {
  auto* self = static_cast<HttpConnection*>(req->data);
  self->writing_ = false;
  self->inflight_.clear();
  if (self->inflight_.capacity() > 64 * 1024) self->inflight_.shrink_to_fit();
  if (self->closed_) return;
  if (status < 0) {
    self->Close();
    return;
  }
  self->write_progress_ms_ = self->last_activity_ms_ = uv_now(&self->hl_->loop->uv);
  if (self->closing_) {
    self->MaybeFinishClose();
  } else {
    self->Flush();
    self->Process({});  // requests held while the output was full
  }
  self->Account();
}

void HttpConnection::CloseAfterFlush() {
  if (closing_ || closed_) return;
  closing_ = true;
  MaybeFinishClose();
  UpdateReading();
}

void HttpConnection::MaybeFinishClose() {
  if (!closing_ || closed_ || lingering_) return;
  Flush();
  if (writing_ || !out_.empty()) return;
  if (tls_ && tls_->established() && !tls_->shut_down()) {
    // close_notify first; once it is written this runs again.
    tls_->Shutdown();
    Flush();
    if (writing_) return;
  }
  if (eof_) {
    Close();
    return;
  }
  if (uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), OnShutdown) != 0) {
    Close();
    return;
  }
  lingering_ = true;
  linger_started_ms_ = uv_now(&hl_->loop->uv);
  UpdateReading();
}

void HttpConnection::OnShutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<HttpConnection*>(req->data);
  if (!self->closed_ && status < 0) self->Close();
}

void HttpConnection::UpdateReading() {
  if (closed_) return;
  const size_t max_output = hl_->shared->options().http_max_output_bytes;
  const bool want =
      !eof_ &&
      (lingering_ || (!closing_ && (handling_ ? in_.size() < kHeldInputBytes
                                              : parser_.started() || Unsent() < max_output)));
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (want && !reading_) {
    if (uv_read_start(stream, OnAlloc, OnRead) != 0) {
      Close();
      return;
    }
    reading_ = true;
  } else if (!want && reading_) {
    uv_read_stop(stream);
    reading_ = false;
  }
}

void HttpConnection::UpdateClocks() {
  const uint64_t now = uv_now(&hl_->loop->uv);
  // A TLS record begun and not complete runs the clocks like request bytes:
  // a trickled record must not hold a connection longer than a trickled head.
  const bool begun = parser_.started() || (tls_ && tls_->partial());
  if (!begun || handling_ || closing_) {
    head_started_ms_ = body_started_ms_ = 0;
  } else if (!parser_.head_complete()) {
    body_started_ms_ = 0;
    if (head_started_ms_ == 0) head_started_ms_ = now;
  } else {
    head_started_ms_ = 0;
    if (body_started_ms_ == 0) body_started_ms_ = now;
  }
}

void HttpConnection::Tick(uint64_t now) {
  if (closed_) return;
  const ServerOptions& o = hl_->shared->options();
  const auto after = [now](uint64_t since, std::chrono::milliseconds limit) {
    return now - since >= static_cast<uint64_t>(limit.count());
  };
  if (lingering_) {
    if (after(linger_started_ms_, std::chrono::milliseconds(kLingerMs))) Close();
    return;
  }
  if (tls_ && !tls_->established() && after(accepted_ms_, o.http_tls->handshake_timeout)) {
    spdlog::debug("http connection {}: TLS handshake not finished in time, closing", id_);
    hl_->shared->CountTimeout();
    hl_->loop->core->CountTlsHandshake(false);
    Close();
    return;
  }
  if (Unsent() > 0 && after(write_progress_ms_, o.http_idle_timeout)) {
    // The client has read nothing for that long: it holds memory and a slot.
    spdlog::debug("http connection {}: closing, {} bytes of output unread", id_, Unsent());
    hl_->shared->CountTimeout();
    Close();
    return;
  }
  if (closing_ || handling_) return;  // no client clock runs while the server works
  if (head_started_ms_ != 0 && after(head_started_ms_, o.http_header_timeout)) {
    hl_->shared->CountTimeout();
    CloseNow(408, "the request head did not arrive within http_header_timeout");
  } else if (body_started_ms_ != 0 && after(body_started_ms_, o.http_body_timeout)) {
    hl_->shared->CountTimeout();
    CloseNow(408, "the request body did not arrive within http_body_timeout");
  } else if (!parser_.started() && Unsent() == 0 && in_.empty() &&
             after(last_activity_ms_, o.http_idle_timeout)) {
    Close();  // an idle keep-alive connection ends silently
  }
}

void HttpConnection::Shutdown() {
  if (closed_ || closing_) return;
  if (handling_) {
    keep_alive_ = false;  // its response says Connection: close, then it closes
    UpdateReading();
    return;
  }
  CloseAfterFlush();
}

void HttpConnection::Account() {
  const size_t held = closed_ ? 0 : in_.size() + Unsent();
  if (held == accounted_) return;
  hl_->loop->core->AddBuffered(static_cast<int64_t>(held) - static_cast<int64_t>(accounted_));
  accounted_ = held;
}

void HttpConnection::Close() {
  POSTBOX_ASSERT_ON_LOOP(hl_->loop);
  if (closed_) return;
  closed_ = true;
  reading_ = false;
  hl_->connections.erase(id_);
  Account();
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
}

void HttpConnection::OnClosed(uv_handle_t* h) {
  auto* self = static_cast<HttpConnection*>(h->data);
  HttpLoop* hl = self->hl_;
  if (self->counted_) hl->shared->Release();
  delete self;
  --hl->open;
  internal::CloseLoopHandlesIfDone(hl->loop);
}

}  // namespace postbox::sync::http
