// The connection side of a session: reading and framing, output,
// backpressure and memory accounting, deadlines, and closing.
#include "sync/server/session.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <string>

namespace postbox::sync::internal {

Session::Session(Loop* loop, uint64_t id)
    : loop_(loop),
      core_(loop->core),
      id_(id),
      // Raw frames only until a Hello agrees on more (HandleHello).
      decoder_(wire::DecoderOptions{.max_payload = loop->core->options().max_frame_payload,
                                    .accept = wire::kNoCompression}) {
  tcp_.data = this;
  write_req_.data = this;
}

void Session::Start(bool admitted) {
  POSTBOX_ASSERT_ON_LOOP(loop_);
  counted_ = admitted;
  started_ms_ = last_rx_ms_ = uv_now(&loop_->uv);
  since_wall_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  loop_->sessions.emplace(id_, this);
  BeginRecord();  // event log
  uv_tcp_nodelay(&tcp_, 1);
  if (auto context = core_->tls_context(/*http=*/false)) {
    if (!admitted) {
      // Over the cap: a handshake only to say 503 would cost the server most
      // at the worst moment. The client sees the connection close and backs off.
      core_->CountRefused();
      Ending(CloseReason::kOverCapacity);
      Close();
      return;
    }
    auto channel = tls::Channel::Accept(std::move(context));
    if (!channel) {
      spdlog::error("session {}: {}", id_, channel.error().ToString());
      Ending(CloseReason::kTlsFailure, std::nullopt, channel.error().message());
      Close();
      return;
    }
    tls_ = std::move(*channel);
  }
  if (!admitted) {
    core_->CountRefused();
    Ending(CloseReason::kOverCapacity, 503);
    SendError(0, 503,
              "server at max_connections (" + std::to_string(core_->options().max_connections) +
                  "); retry later");
    CloseAfterFlush();
    return;
  }
  if (int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead); rc != 0) {
    Ending(CloseReason::kSocketError, std::nullopt, uv_err_name(rc));
    Close();
  }
}

void Session::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Session*>(h->data);
  buf->base = self->loop_->read_buf.get();
  buf->len = Loop::kReadBufSize;
}

void Session::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Session*>(s->data);
  if (nread == UV_EOF) {
    if (self->tls_ && !self->tls_->established() && !self->closed_) {
      self->core_->CountTlsHandshake(false);  // the client gave up on it
      self->Ending(CloseReason::kTlsFailure, std::nullopt,
                   "the client closed during the handshake");
    }
    // The client finished sending: what it sent is still answered.
    self->Ending(CloseReason::kClientEof);
    self->CloseAfterFlush();
  } else if (nread < 0) {
    self->Ending(CloseReason::kSocketError, std::nullopt, uv_err_name(static_cast<int>(nread)));
    self->Close();  // a socket error: nothing more will come or go
  } else if (nread > 0 && !self->closing_ && !self->closed_) {
    self->CountIn(static_cast<size_t>(nread));
    self->last_rx_ms_ = uv_now(&self->loop_->uv);
    self->ping_outstanding_ = false;  // any bytes prove the peer alive
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(buf->base),
                                   static_cast<size_t>(nread));
    if (!self->tls_ || self->Decrypt(&bytes)) {
      if (!bytes.empty()) self->decoder_.Feed(bytes);
      self->ProcessFrames();
      self->UpdateReading();
      // close_notify: like EOF, what came before it is still answered.
      if (self->tls_ && self->tls_->peer_closed()) {
        self->Ending(CloseReason::kClientEof);
        self->CloseAfterFlush();
      }
    }
  }
  self->Account();
}

bool Session::Decrypt(std::span<const uint8_t>* bytes) {
  if (!tls_seen_bytes_ && !bytes->empty()) {
    tls_seen_bytes_ = true;
    if ((*bytes)[0] != tls::kHandshakeRecord) {
      // No TLS client starts like this: most likely a plain postbox client,
      // which can read a plain answer saying what is wrong (426, as RFC 2817
      // uses it: switch to TLS). Nothing secret is in it.
      core_->CountTlsHandshake(false);
      wire::ErrorReply e;
      e.code = 426;
      e.message = "this listener speaks TLS only: connect with TLS (docs/tls.md)";
      e.min_version = wire::kMinProtocolVersion;
      e.max_version = wire::kProtocolVersion;
      std::vector<uint8_t> frame;
      if (loop_->encoder.Encode(0, e, &frame, wire::kNoCompression).ok()) TryWrite(&frame);
      Ending(CloseReason::kTlsFailure, 426, "not a TLS client (plaintext on a TLS listener)");
      Close();
      return false;
    }
  }
  const bool was_established = tls_->established();
  // Straight into the frame decoder, a record at a time.
  const Status s = tls_->Receive(*bytes, [this](std::span<const uint8_t> p) { decoder_.Feed(p); });
  *bytes = {};
  // Counted even if what followed the handshake in the same read then fails.
  if (!was_established && tls_->established()) core_->CountTlsHandshake(true);
  if (!s.ok()) {
    TlsFailed(s);
    return false;
  }
  Flush();  // the handshake's answers
  return !closed_;
}

void Session::TlsFailed(const Status& why) {
  spdlog::debug("session {}: {}", id_, why.ToString());
  Ending(CloseReason::kTlsFailure, std::nullopt, why.message());
  if (!tls_->established()) core_->CountTlsHandshake(false);
  if (!writing_) {
    std::vector<uint8_t> alert;
    tls_->TakeOutput(&alert);
    TryWrite(&alert);
  }
  Close();
}

void Session::TryWrite(std::vector<uint8_t>* bytes) {
  if (bytes->empty()) return;
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(bytes->data()), static_cast<unsigned>(bytes->size()));
  const int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);
  if (n > 0) CountOut(static_cast<size_t>(n));
}

void Session::ProcessFrames() {
  if (turn_ != loop_->turn) {
    turn_ = loop_->turn;
    turn_frames_ = 0;
  }
  wire::Frame frame;
  while (!closing_ && !closed_ && PauseReason() == Pause::kNone) {
    if (turn_frames_ >= kFramesPerTurn) {
      // Fair to the loop's other sessions: the rest waits for the next turn,
      // in the decoder (at most one read buffer) and the socket.
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
      paused_ = Pause::kTurn;
      core_->CountTurnYield();
      YieldTurn(loop_, id_);
      return;
    }
    if (held_) {
      // The writes it waited for are answered (PauseReason is kNone): the
      // held read goes before anything read after it.
      frame = *held_;
      held_.reset();
      ++turn_frames_;
      HandleFrame(frame);
      continue;
    }
    const auto p = decoder_.Next(&frame);
    if (p == wire::FrameDecoder::Progress::kNeedMore) {
      // A frame begun and not complete starts (or keeps) its clock; so does
      // a TLS record begun and not complete (a trickled record must not
      // hold the connection longer than a trickled frame).
      if (decoder_.buffered() == 0 && !(tls_ && tls_->partial())) {
        frame_started_ms_ = 0;
      } else if (frame_started_ms_ == 0) {
        frame_started_ms_ = uv_now(&loop_->uv);
      }
      return;
    }
    if (p == wire::FrameDecoder::Progress::kFailed) {
      // Framing is lost: every request read before this point is still
      // answered (CloseAfterFlush waits for them), then the session ends.
      const auto& e = decoder_.error();
      spdlog::debug("session {}: malformed input: {}", id_, e.ToString());
      // The decoder read the failing frame's header, so the reply names it.
      Ending(CloseReason::kError, wire::HttpCode(e.code()), e.ToString());
      SendError(decoder_.error_request_id(), wire::HttpCode(e.code()), e.ToString());
      CloseAfterFlush();
      return;
    }
    frame_started_ms_ = 0;
    if (MustWaitForWrites(frame)) {
      held_ = frame;  // PauseReason is now kWrites: the loop ends here
      continue;
    }
    ++turn_frames_;
    HandleFrame(frame);
  }
}

bool Session::MustWaitForWrites(const wire::Frame& frame) const {
  if (queued_ops_ == 0 || !core_->options().read_your_writes) return false;
  // Every request that reads the store (wire/PROTOCOL.md "Read-your-writes").
  // Ack, Ping and Pong read nothing; writes queue behind the earlier ones in
  // the group commit anyway; Hello and the server's own messages are refused
  // without reading.
  switch (frame.type()) {
    case wire::MessageType::kPoll:
    case wire::MessageType::kEntryGet:
    case wire::MessageType::kEntryList:
    case wire::MessageType::kConnectionList:
    case wire::MessageType::kEndpointList:
    case wire::MessageType::kUploadQueryOffset:
    case wire::MessageType::kDownloadRequest:
      return true;
    default:
      return false;
  }
}

void Session::TakeTurn() {
  if (closing_ || closed_ || paused_ != Pause::kTurn) return;
  ResumeReading();
  Account();
}

void Session::ResumeReading() {
  // Frames that arrived before the pause go first; they may pause it again.
  paused_ = Pause::kNone;
  ProcessFrames();
  if (closing_ || closed_ || paused_ == Pause::kTurn) return;
  paused_ = PauseReason();
  if (paused_ == Pause::kNone &&
      uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) != 0) {
    Ending(CloseReason::kSocketError, std::nullopt, "uv_read_start failed");
    Close();
  }
}

Session::Pause Session::PauseReason() const {
  const auto& o = core_->options();
  // A client that does not read its replies is paused for its own reasons
  // first, so that its silence keeps counting towards the ping deadline.
  const size_t out_cap = o.max_outbound_bytes / 4;
  if (Unsent() >= (paused_ == Pause::kClient ? out_cap / 2 : out_cap)) return Pause::kClient;
  // Pausing is sticky until the cause is down to half (3/4 for the budget),
  // so a session at a bound does not flip between reading and not per frame.
  const bool server = paused_ == Pause::kServer;
  if (queued_ops_ >= (server ? o.max_inflight_ops / 2 : o.max_inflight_ops) ||
      queued_bytes_ >= (server ? o.max_inflight_bytes / 2 : o.max_inflight_bytes)) {
    return Pause::kServer;
  }
  if (Held() > ServerCore::kFairShare &&
      (server ? !core_->BudgetRecovered() : core_->OverBudget())) {
    return Pause::kServer;
  }
  if (held_ && queued_ops_ > 0) return Pause::kWrites;
  return Pause::kNone;
}

void Session::UpdateReading() {
  // A session waiting for its turn resumes there (TakeTurn).
  if (closing_ || closed_ || paused_ == Pause::kTurn) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  const Pause want = PauseReason();
  if (want != Pause::kNone) {
    if (paused_ == Pause::kNone) uv_read_stop(stream);
    paused_ = want;
    return;
  }
  if (paused_ == Pause::kNone) return;
  if (paused_ == Pause::kServer || paused_ == Pause::kWrites) {
    // The client was not silent; the server was not listening.
    last_rx_ms_ = uv_now(&loop_->uv);
    if (frame_started_ms_ != 0) frame_started_ms_ = last_rx_ms_;
  }
  ResumeReading();
}

size_t Session::Held() const {
  // A held read's bytes are still in the decoder's buffer, though no longer
  // counted by buffered().
  return queued_bytes_ + Unsent() + decoder_.buffered() + (held_ ? held_->wire_size() : 0);
}

void Session::Account() {
  const size_t held = closed_ ? 0 : Held();
  if (held == accounted_) return;
  core_->AddBuffered(static_cast<int64_t>(held) - static_cast<int64_t>(accounted_));
  accounted_ = held;
}

void Session::SendError(uint64_t rid, const Status& s) {
  SendError(rid, static_cast<uint16_t>(HttpCode(s.code())), s.message());
}

void Session::SendError(uint64_t rid, uint16_t code, std::string_view message) {
  core_->metrics().ErrorSent(code);
  wire::ErrorReply e;
  e.code = code;
  e.message = message;
  Send(rid, e);
}

void Session::Flush() {
  if (closed_) return;
  if (Unsent() > core_->options().max_outbound_bytes) {
    // The client is not reading: drop it rather than buffer without bound.
    spdlog::warn("session {}: closing, {} bytes of output unread", id_, Unsent());
    core_->CountCut();
    Ending(CloseReason::kCutUnreadOutput);
    Close();
    return;
  }
  if (writing_) return;
  // With TLS, frames wait for the handshake; its own messages go meanwhile.
  if (Status s = tls::StageWrite(tls_.get(), &out_, &inflight_); !s.ok()) {
    spdlog::debug("session {}: {}", id_, s.ToString());
    Ending(CloseReason::kTlsFailure, std::nullopt, s.message());
    Close();
    return;
  }
  if (inflight_.empty()) return;
  // Fits an unsigned: max_outbound_bytes is at most 1 GiB (Server::Start checks).
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(inflight_.data()),
                             static_cast<unsigned>(inflight_.size()));
  if (int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWritten);
      rc != 0) {
    Ending(CloseReason::kSocketError, std::nullopt, uv_err_name(rc));
    Close();
    return;
  }
  writing_ = true;
  CountOut(inflight_.size());
}

void Session::OnWritten(uv_write_t* req, int status) {
  auto* self = static_cast<Session*>(req->data);
  self->writing_ = false;
  self->inflight_.clear();
  // Keep an idle session small: a burst's buffer is not kept for ever (but
  // it is while downloads stream, or every chunk would fault in fresh pages).
  if (self->inflight_.capacity() > 64 * 1024 && self->downloads_.empty()) {
    self->inflight_.shrink_to_fit();
  }
  if (self->closed_) return;
  if (status < 0) {
    self->Ending(CloseReason::kSocketError, std::nullopt, uv_err_name(status));
    self->Close();
  } else {
    self->ServeDownloads();
    self->Flush();
    self->MaybeFinishClose();
    self->UpdateReading();
  }
  self->Account();
}

void Session::CloseAfterFlush() {
  if (closing_ || closed_) return;
  closing_ = true;
  closing_since_ms_ = uv_now(&loop_->uv);
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  Unregister();  // no more pushes
  downloads_.clear();
  MaybeFinishClose();
}

void Session::MaybeFinishClose() {
  if (!closing_ || closed_ || queued_ops_ != 0) return;
  if (held_) {
    // Every request read is answered: the read that waited for the writes
    // just answered goes out before the close.
    const wire::Frame frame = *held_;
    held_.reset();
    HandleFrame(frame);
    if (closed_) return;
  }
  if (!writing_ && out_.empty()) Close();
}

void Session::CloseNow(uint16_t code, std::string_view message, uint64_t rid) {
  if (closed_) return;
  if (!writing_ && out_.empty() && (!tls_ || tls_->established())) {
    // A stalled client's socket buffer is empty: the reason goes out at once
    // or not at all, without waiting for a client that does not cooperate.
    // (Before a TLS handshake has finished there is no way to say it.)
    core_->metrics().ErrorSent(code);
    wire::ErrorReply e;
    e.code = code;
    e.message = message;
    std::vector<uint8_t> frame;
    if (loop_->encoder.Encode(rid, e, &frame, compression_).ok()) {
      if (tls_) {
        (void)tls_->Send(frame);  // on failure only an alert (or nothing) goes
        frame.clear();
        tls_->TakeOutput(&frame);
      }
      TryWrite(&frame);
    }
  }
  Close();
}

void Session::OnMailboxChanged() {
  if (state_ == State::kActive && synced_ && unacked_.size() >= core_->options().window) {
    core_->metrics().WindowStall();
  }
  MaybePush();
  Account();
}

void Session::OnMailboxDeleted() {
  Ending(CloseReason::kMailboxDeleted, 401);
  SendError(0, 401, "this mailbox was deleted");
  CloseAfterFlush();
  Account();
}

void Session::Shutdown() {
  if (closing_ || closed_) return;
  Ending(CloseReason::kShutdown, 503);
  SendError(0, 503, "server shutting down");
  CloseAfterFlush();
  Account();
}

SessionInfo Session::Info() const {
  SessionInfo i;
  i.id = id_;  // unique in the server, as in the event log
  i.loop = loop_->index;
  i.state = closing_ ? "closing" : state_ == State::kActive ? "active" : "hello";
  sockaddr_storage addr{};
  int len = sizeof(addr);
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    char ip[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
      uv_ip4_name(a, ip, sizeof(ip));
      i.peer = std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
    } else if (addr.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
      uv_ip6_name(a, ip, sizeof(ip));
      i.peer = "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
    }
  }
  i.tls = tls_ != nullptr;
  if (state_ == State::kActive) i.mkey = mkey_;
  i.platform = platform_;
  i.app_version = app_version_;
  i.since_ms = since_wall_ms_;
  i.bytes_in = bytes_in_;
  i.bytes_out = bytes_out_;
  i.pending_pushes = unacked_.size();
  i.queued_writes = queued_ops_;
  i.unsent_bytes = Unsent();
  for (const Download& d : downloads_) i.downloads.push_back({d.id, d.next, d.end});
  return i;
}

void Session::Kick() {
  if (closing_ || closed_) return;
  SendError(0, 503, "closed by the operator");
  CloseAfterFlush();
  Account();
}

void Session::Tick(uint64_t now) {
  const auto& o = core_->options();
  const auto after = [&](uint64_t since, std::chrono::milliseconds limit) {
    return now - since >= static_cast<uint64_t>(limit.count());
  };
  if (closed_) return;
  if (closing_) {
    // A closing session whose peer does not read is not waited for.
    if (after(closing_since_ms_, o.pong_timeout)) Close();
    return;
  }
  if (tls_ && !tls_->established() && after(started_ms_, o.tls->handshake_timeout)) {
    spdlog::debug("session {}: TLS handshake not finished within {} ms, closing", id_,
                  o.tls->handshake_timeout.count());
    core_->CountTimeout();
    core_->CountTlsHandshake(false);
    TimedOut(TimeoutKind::kTlsHandshake);
    Close();
    return;
  }
  if (state_ == State::kAwaitHello && after(started_ms_, o.hello_timeout)) {
    core_->CountTimeout();
    TimedOut(TimeoutKind::kHello, 401);
    CloseNow(401, "Hello did not complete within hello_timeout (" +
                      std::to_string(o.hello_timeout.count()) + " ms)");
    return;
  }
  if (after(started_ms_, o.max_session)) {
    Ending(CloseReason::kLifetime, 503);
    SendError(0, 503, "session lifetime reached; reconnect");
    CloseAfterFlush();
  } else if (paused_ == Pause::kServer || paused_ == Pause::kWrites) {
    // No client deadline runs while the server is not listening; reading
    // resumes here once the server's budget allows (or, for a held read,
    // when the session's writes are answered: OnCompletion).
    UpdateReading();
  } else if (frame_started_ms_ != 0 && after(frame_started_ms_, o.frame_timeout)) {
    core_->CountTimeout();
    TimedOut(TimeoutKind::kFrame, 400);
    // The late frame's request id if its header arrived, else 0.
    CloseNow(400,
             "a frame took longer than frame_timeout (" + std::to_string(o.frame_timeout.count()) +
                 " ms) to arrive",
             decoder_.pending_request_id().value_or(0));
    return;
  } else if (ping_outstanding_) {
    if (after(ping_sent_ms_, o.pong_timeout)) {
      spdlog::debug("session {}: no pong within {} ms, closing", id_, o.pong_timeout.count());
      core_->CountTimeout();
      TimedOut(TimeoutKind::kPong);
      Close();
      return;
    }
  } else if (after(last_rx_ms_, o.idle_timeout)) {
    ping_outstanding_ = true;
    ping_sent_ms_ = now;
    Send(0, wire::Ping{next_nonce_++});
  }
  Account();
}

void Session::Unregister() {
  if (state_ != State::kActive) return;
  auto it = loop_->by_mailbox.find(mkey_);
  if (it == loop_->by_mailbox.end()) return;
  auto& v = it->second;
  const size_t before = v.size();
  v.erase(std::remove(v.begin(), v.end(), this), v.end());
  if (v.size() != before) {
    core_->SessionClosed(mkey_);
    core_->metrics().SessionClosed(platform_);
  }
  if (v.empty()) loop_->by_mailbox.erase(it);
}

void Session::Close() {
  POSTBOX_ASSERT_ON_LOOP(loop_);
  if (closed_) return;
  closed_ = true;
  if (tls_ && tls_->established() && !writing_) {
    // close_notify, if the socket takes it at once.
    tls_->Shutdown();
    std::vector<uint8_t> bye;
    tls_->TakeOutput(&bye);
    TryWrite(&bye);
  }
  Unregister();
  loop_->sessions.erase(id_);
  Account();
  RecordEnd();  // event log
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
}

void Session::OnClosed(uv_handle_t* h) {
  auto* self = static_cast<Session*>(h->data);
  Loop* loop = self->loop_;
  if (self->counted_) loop->core->ReleaseConnection();
  delete self;
  --loop->open_sessions;
  CloseLoopHandlesIfDone(loop);
}

}  // namespace postbox::sync::internal
