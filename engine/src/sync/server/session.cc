#include "sync/server/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <variant>

#include "sync/convert.h"

namespace postbox::sync::internal {
namespace {

// Most items a client may ask for in one list reply.
constexpr uint32_t kMaxListLimit = 1000;
constexpr uint32_t kDefaultListLimit = 100;

// Download chunks are sent only while the session's unsent output is below
// this (wire/PROTOCOL.md "Blob transfer"): two 256 KiB pieces, enough to keep
// a loopback socket busy between write completions, little enough that 100
// concurrent downloads hold ~100 MiB at most.
constexpr size_t kDownloadHighWater = 512 * 1024;
// Upload bytes a session may have waiting for the writer before the server
// stops reading its socket (backpressure towards a fast uploader).
constexpr size_t kMaxQueuedChunkBytes = 8u << 20;
// Room a DownloadChunk's fields take besides its data.
constexpr size_t kChunkFrameOverhead = 256;

uint32_t ClampLimit(uint32_t asked, uint32_t dflt, uint32_t max) {
  return asked == 0 ? dflt : std::min(asked, max);
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

Session::Session(Loop* loop, uint64_t id)
    : loop_(loop),
      core_(loop->core),
      id_(id),
      decoder_(wire::DecoderOptions{.max_payload = loop->core->options().max_frame_payload}) {
  tcp_.data = this;
  write_req_.data = this;
}

void Session::Start(bool admitted) {
  POSTBOX_ASSERT_ON_LOOP(loop_);
  counted_ = admitted;
  started_ms_ = last_rx_ms_ = uv_now(&loop_->uv);
  loop_->sessions.emplace(id_, this);
  uv_tcp_nodelay(&tcp_, 1);
  if (!admitted) {
    core_->CountRefused();
    SendError(0, 503,
              "server at max_connections (" + std::to_string(core_->options().max_connections) +
                  "); retry later");
    CloseAfterFlush();
    return;
  }
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
  if (rc != 0) Close();
}

void Session::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Session*>(h->data);
  buf->base = self->loop_->read_buf.get();
  buf->len = Loop::kReadBufSize;
}

void Session::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Session*>(s->data);
  if (nread < 0) {
    self->Close();  // EOF or a socket error: nothing more will come
    return;
  }
  if (nread == 0 || self->closing_) return;
  self->last_rx_ms_ = uv_now(&self->loop_->uv);
  self->ping_outstanding_ = false;  // any frame proves the peer alive
  self->decoder_.Feed({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)});
  wire::Frame frame;
  while (!self->closing_ && !self->closed_) {
    auto p = self->decoder_.Next(&frame);
    if (p == wire::FrameDecoder::Progress::kNeedMore) break;
    if (p == wire::FrameDecoder::Progress::kFailed) {
      const auto& e = self->decoder_.error();
      spdlog::debug("session {}: malformed input: {}", self->id_, e.ToString());
      self->SendError(0, wire::HttpCode(e.code()), e.ToString());
      self->CloseAfterFlush();
      break;
    }
    self->HandleFrame(frame);
  }
}

void Session::HandleFrame(const wire::Frame& frame) {
  wire::AnyMessage msg;
  if (auto e = wire::DecodeAny(frame, &msg); !e.ok()) {
    SendError(frame.request_id(), wire::HttpCode(e.code()), e.ToString());
    CloseAfterFlush();
    return;
  }
  const uint64_t rid = frame.request_id();
  if (state_ == State::kAwaitHello) {
    if (auto* hello = std::get_if<wire::Hello>(&msg)) return HandleHello(rid, *hello);
    if (auto* ping = std::get_if<wire::Ping>(&msg)) return Send(rid, wire::Pong{ping->nonce});
    if (std::holds_alternative<wire::Pong>(msg)) return;
    SendError(rid, 401, "the first request of a session must be Hello");
    CloseAfterFlush();
    return;
  }
  std::visit(Overloaded{
                 [&](const wire::Hello&) { SendError(rid, 400, "Hello was already accepted"); },
                 [&](const wire::Poll& m) { HandlePoll(rid, m); },
                 [&](const wire::Ack& m) { HandleAck(rid, m); },
                 [&](const wire::Ping& m) { Send(rid, wire::Pong{m.nonce}); },
                 [&](const wire::Pong&) {},
                 [&](const wire::StatusUpdate& m) {
                   auto st = FromWire(m.status);
                   if (!st) return SendError(rid, st.error());
                   WriteOp op;
                   op.kind = OpKind::kStatusUpdate;
                   op.request_id = rid;
                   op.id = MessageIdFromWire(m.id);
                   op.status = *st;
                   SubmitWrite(std::move(op));
                 },
                 [&](const wire::EntryGet& m) { HandleEntryGet(rid, m); },
                 [&](const wire::EntryPut& m) {
                   WriteOp op;
                   op.kind = OpKind::kEntryPut;
                   op.request_id = rid;
                   op.key = std::string(m.key);
                   op.value = std::string(m.value);
                   op.version = m.version;
                   SubmitWrite(std::move(op));
                 },
                 [&](const wire::EntryDelete& m) {
                   WriteOp op;
                   op.kind = OpKind::kEntryDelete;
                   op.request_id = rid;
                   op.key = std::string(m.key);
                   op.version = m.version;
                   SubmitWrite(std::move(op));
                 },
                 [&](const wire::EntryList& m) { HandleEntryList(rid, m); },
                 [&](const wire::ConnectionAdd& m) {
                   WriteOp op;
                   op.kind = OpKind::kConnect;
                   op.request_id = rid;
                   op.peer = MailboxKeyFromWire(m.peer);
                   SubmitWrite(std::move(op));
                 },
                 [&](const wire::ConnectionRemove& m) {
                   WriteOp op;
                   op.kind = OpKind::kDisconnect;
                   op.request_id = rid;
                   op.peer = MailboxKeyFromWire(m.peer);
                   SubmitWrite(std::move(op));
                 },
                 [&](const wire::ConnectionList& m) { HandleConnectionList(rid, m); },
                 [&](const wire::PushRegister& m) {
                   auto p = FromWire(m.platform);
                   if (!p) return SendError(rid, p.error());
                   WriteOp op;
                   op.kind = OpKind::kPushRegister;
                   op.request_id = rid;
                   op.platform = *p;
                   op.value = std::string(m.push_token);
                   SubmitWrite(std::move(op));
                 },
                 [&](const wire::UploadBegin& m) { HandleUploadBegin(rid, m); },
                 [&](const wire::UploadChunk& m) { HandleUploadChunk(rid, m); },
                 [&](const wire::UploadQueryOffset& m) { HandleUploadQuery(rid, m); },
                 [&](const wire::UploadCommit& m) {
                   WriteOp op;
                   op.kind = OpKind::kUploadCommit;
                   op.request_id = rid;
                   op.id = MessageIdFromWire(m.id);
                   SubmitWrite(std::move(op));
                 },
                 [&](const wire::UploadAbort& m) {
                   WriteOp op;
                   op.kind = OpKind::kUploadAbort;
                   op.request_id = rid;
                   op.id = MessageIdFromWire(m.id);
                   SubmitWrite(std::move(op));
                 },
                 [&](const wire::DownloadRequest& m) { HandleDownload(rid, m); },
                 // The rest are server-to-client messages.
                 [&](const auto& m) {
                   using M = std::decay_t<decltype(m)>;
                   SendError(rid, 400,
                             std::string(wire::MessageTypeName(M::kType)) +
                                 " is not a request this server accepts");
                 },
             },
             msg);
}

void Session::HandleHello(uint64_t rid, const wire::Hello& m) {
  if (m.protocol_version < wire::kMinProtocolVersion ||
      m.protocol_version > wire::kProtocolVersion) {
    wire::ErrorReply e;
    e.code = 426;
    std::string text =
        "protocol version " + std::to_string(m.protocol_version) + " is not supported";
    e.message = text;
    e.min_version = wire::kMinProtocolVersion;
    e.max_version = wire::kProtocolVersion;
    Send(rid, e);
    CloseAfterFlush();
    return;
  }
  const MailboxKey mkey = MailboxKeyFromWire(m.mkey);
  if (Status s = core_->db()->Authenticate(mkey, m.secret); !s.ok()) {
    // An unknown mailbox and a wrong secret look the same (no mailbox probing).
    SendError(rid, 401, "unknown mailbox or wrong secret");
    CloseAfterFlush();
    return;
  }
  auto platform = FromWire(m.platform);
  if (!platform) {
    SendError(rid, platform.error());
    CloseAfterFlush();
    return;
  }
  Verdict verdict = Verdict::kCurrent;
  std::string_view detail;
  const auto& policies = core_->options().compatibility;
  if (auto it = policies.find(*platform); it != policies.end()) {
    verdict = Evaluate(it->second, m.app_version, m.schema_version);
    if (verdict != Verdict::kCurrent) detail = it->second.detail;
  }
  Send(rid, wire::HelloReply{static_cast<wire::Verdict>(verdict), wire::kProtocolVersion, detail});
  if (verdict == Verdict::kUpdateRequired || verdict == Verdict::kUpdateSchemaRequired) {
    CloseAfterFlush();
    return;
  }
  state_ = State::kActive;
  mkey_ = mkey;
  loop_->by_mailbox[mkey_].push_back(this);
}

std::optional<uint64_t> Session::SendChanges(uint64_t rid, uint64_t since, uint32_t limit,
                                             bool* more) {
  wire::InfoPacket w;
  // A packet too large for one frame is cut in half until it fits; `more`
  // tells the client to continue from the cursor.
  for (;;) {
    auto packet = core_->db()->Changes(mkey_, since, limit);
    if (!packet) {
      SendError(rid, packet.error());
      return std::nullopt;
    }
    if (rid == 0 && packet->size() == 0) {
      *more = false;
      return packet->cursor;  // nothing to push
    }
    if (Status s = ToWire(*packet, &w); !s.ok()) {
      SendError(rid, s);
      return std::nullopt;
    }
    const size_t before = out_.size();
    wire::Error e = loop_->encoder.Encode(rid, w, &out_);
    if (e.ok()) {
      if (out_.size() > before) Flush();
      *more = packet->more;
      return packet->cursor;
    }
    if (e.code() != wire::ErrorCode::kEncodeTooLarge || packet->size() <= 1) {
      SendError(rid, 500, "cannot encode the info packet: " + e.ToString());
      return std::nullopt;
    }
    limit = static_cast<uint32_t>(packet->size() / 2);
  }
}

void Session::HandlePoll(uint64_t rid, const wire::Poll& m) {
  const uint32_t limit = ClampLimit(m.limit, core_->options().default_poll_limit, 4096);
  bool more = false;
  auto cursor = SendChanges(rid, m.since, limit, &more);
  if (!cursor) return;
  // Once a poll has reached the end, the client holds everything up to
  // `cursor` and pushes continue after it. While it is still paging (`more`),
  // pushing the next page too would hand it the same items twice.
  if (more) return;
  synced_ = true;
  push_since_ = std::max(push_since_, *cursor);
  if (closing_) return;
  MaybePush();
}

void Session::HandleAck(uint64_t, const wire::Ack& m) {
  while (!unacked_.empty() && unacked_.front() <= m.cursor) unacked_.pop_front();
  synced_ = true;
  push_since_ = std::max(push_since_, m.cursor);
  MaybePush();  // no reply (wire/PROTOCOL.md): the push window opening is the answer
}

void Session::MaybePush() {
  POSTBOX_ASSERT_ON_LOOP(loop_);
  if (state_ != State::kActive || !synced_ || closing_ || closed_) return;
  // Changes arriving while the window is full are not lost: the push after
  // the next ack reads everything after push_since_.
  while (unacked_.size() < core_->options().window) {
    bool more = false;
    const size_t before = out_.size() + inflight_.size();
    auto cursor = SendChanges(0, push_since_, core_->options().default_poll_limit, &more);
    if (!cursor || closing_ || closed_) return;
    if (out_.size() + inflight_.size() == before) return;  // nothing changed
    push_since_ = *cursor;
    unacked_.push_back(*cursor);
    core_->CountPush();
    if (!more) return;
  }
}

void Session::HandleEntryGet(uint64_t rid, const wire::EntryGet& m) {
  auto e = core_->db()->GetEntry(mkey_, m.key);
  if (!e) return SendError(rid, e.error());
  Send(rid, wire::EntryValue{ToWire(*e)});
}

void Session::HandleEntryList(uint64_t rid, const wire::EntryList& m) {
  const uint32_t limit = ClampLimit(m.limit, kDefaultListLimit, kMaxListLimit);
  auto list = core_->db()->ListEntries(mkey_, m.prefix, m.start_after, limit + 1);
  if (!list) return SendError(rid, list.error());
  wire::EntryListReply r;
  r.more = list->size() > limit;
  if (r.more) list->resize(limit);
  for (const auto& e : *list) r.entries.push_back(ToWire(e));
  Send(rid, r);
}

void Session::HandleConnectionList(uint64_t rid, const wire::ConnectionList& m) {
  const uint32_t limit = ClampLimit(m.limit, kDefaultListLimit, kMaxListLimit);
  std::optional<MailboxKey> after;
  if (m.start_after) after = MailboxKeyFromWire(*m.start_after);
  auto list = core_->db()->ListConnections(mkey_, after, limit + 1);
  if (!list) return SendError(rid, list.error());
  wire::ConnectionListReply r;
  r.more = list->size() > limit;
  if (r.more) list->resize(limit);
  for (const auto& k : *list) r.peers.push_back(ToWire(k));
  Send(rid, r);
}

void Session::SubmitWrite(WriteOp op) {
  op.loop = loop_->index;
  op.session = id_;
  op.mkey = mkey_;
  const uint64_t rid = op.request_id;
  const size_t chunk_bytes = op.kind == OpKind::kUploadChunk ? op.value.size() : 0;
  if (!core_->Enqueue(std::move(op))) return SendError(rid, 503, "server shutting down");
  queued_chunk_bytes_ += chunk_bytes;
  UpdateReading();
}

void Session::HandleUploadBegin(uint64_t rid, const wire::UploadBegin& m) {
  WriteOp op;
  op.kind = OpKind::kUploadBegin;
  op.request_id = rid;
  op.id = MessageIdFromWire(m.id);
  op.peer = MailboxKeyFromWire(m.to);
  op.key = std::string(m.topic);
  op.value = std::string(m.meta);
  op.length = m.length;
  op.digest = DigestFromWire(m.digest);
  SubmitWrite(std::move(op));
}

void Session::HandleUploadChunk(uint64_t rid, const wire::UploadChunk& m) {
  WriteOp op;
  op.kind = OpKind::kUploadChunk;
  op.request_id = rid;
  op.id = MessageIdFromWire(m.id);
  op.offset = m.offset;
  op.value = std::string(m.data);  // the frame's bytes die with this read callback
  SubmitWrite(std::move(op));
}

void Session::HandleUploadQuery(uint64_t rid, const wire::UploadQueryOffset& m) {
  auto state = core_->db()->UploadOffset(mkey_, MessageIdFromWire(m.id));
  if (!state) return SendError(rid, state.error());
  Send(rid,
       wire::UploadOffset{m.id, state->committed ? state->length : state->offset, state->length});
}

void Session::UpdateReading() {
  if (closing_ || closed_) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (!read_paused_ && queued_chunk_bytes_ > kMaxQueuedChunkBytes) {
    uv_read_stop(stream);
    read_paused_ = true;
  } else if (read_paused_ && queued_chunk_bytes_ <= kMaxQueuedChunkBytes / 2) {
    read_paused_ = false;
    if (uv_read_start(stream, OnAlloc, OnRead) != 0) Close();
  }
}

void Session::HandleDownload(uint64_t rid, const wire::DownloadRequest& m) {
  const MessageId id = MessageIdFromWire(m.id);
  // A new request for an id being streamed replaces that stream, which ends
  // with a 409 so that nobody waits on it.
  std::erase_if(downloads_, [&](const Download& d) {
    if (d.id != id) return false;
    SendError(d.rid, 409, "replaced by a newer DownloadRequest for the same id");
    return true;
  });
  const bool to_end = m.length == 0 || m.offset > UINT64_MAX - m.length;
  downloads_.push_back(Download{
      .rid = rid, .id = id, .next = m.offset, .end = to_end ? UINT64_MAX : m.offset + m.length});
  ServeDownloads();
}

void Session::ServeDownloads() {
  while (!downloads_.empty() && !closing_ && !closed_ &&
         out_.size() + inflight_.size() <
             std::min(kDownloadHighWater, core_->options().max_outbound_bytes / 4)) {
    if (next_download_ >= downloads_.size()) next_download_ = 0;
    if (ServeOne(&downloads_[next_download_])) {
      ++next_download_;  // round robin: the next stream sends the next chunk
    } else {
      downloads_.erase(downloads_.begin() + static_cast<ptrdiff_t>(next_download_));
    }
  }
  if (downloads_.empty()) {
    downloads_.shrink_to_fit();
    next_download_ = 0;
  }
}

bool Session::ServeOne(Download* d) {
  const auto& o = core_->options();
  // One stored piece per turn, smaller if the frame or output limits say so
  // (then the view hashes the part it returns).
  const uint64_t max_data = std::min<uint64_t>({core_->db()->options().max_chunk_size,
                                                o.max_frame_payload - kChunkFrameOverhead,
                                                std::max<size_t>(o.max_outbound_bytes / 4, 1)});
  // A fresh snapshot per piece: a message superseded meanwhile answers 410 now.
  auto view = core_->db()->ViewBlob(mkey_, d->id, d->next, std::min(max_data, d->end - d->next));
  if (!view) {
    SendError(d->rid, view.error());
    return false;
  }
  const MessageInfo& message = (*view)->message();
  wire::DownloadChunk chunk;
  chunk.id = ToWire(d->id);
  chunk.total_length = message.length;
  chunk.digest = DigestToWire(message.digest);
  const auto& pieces = (*view)->chunks();
  if (pieces.empty()) {  // an empty range: one empty chunk ends the stream
    chunk.offset = d->next;
    chunk.xxh3_64 = wire::ChunkDigest({});
    Send(d->rid, chunk);
    return false;
  }
  for (const BlobChunk& piece : pieces) {
    chunk.offset = piece.offset;
    chunk.data = piece.bytes;
    chunk.xxh3_64 = piece.xxh3_64;
    Send(d->rid, chunk);
    d->next = piece.offset + piece.bytes.size();
  }
  return d->next < std::min(d->end, message.length) && !closed_;
}

void Session::OnCompletion(const Completion& c) {
  if (c.kind == OpKind::kUploadChunk) {
    queued_chunk_bytes_ -= c.chunk_bytes;
    UpdateReading();
  }
  if (closing_ || closed_) return;
  if (!c.status.ok()) return SendError(c.request_id, c.status);
  wire::Ok ok;
  switch (c.kind) {
    case OpKind::kUploadBegin:
    case OpKind::kUploadChunk:
      // Committed means every byte is there: the client goes on to UploadCommit.
      return Send(c.request_id,
                  wire::UploadOffset{ToWire(c.upload.id),
                                     c.upload.committed ? c.upload.length : c.upload.offset,
                                     c.upload.length});
    case OpKind::kUploadCommit:
    case OpKind::kUploadAbort:
      break;
    case OpKind::kStatusUpdate:
      ok.status = ToWire(c.message_status);
      break;
    case OpKind::kEntryPut:
    case OpKind::kEntryDelete:
      ok.version = c.version;
      break;
    case OpKind::kConnect:
    case OpKind::kDisconnect:
    case OpKind::kPushRegister:
      break;
  }
  Send(c.request_id, ok);
}

template <class M>
void Session::Send(uint64_t rid, const M& m) {
  POSTBOX_ASSERT_ON_LOOP(loop_);
  if (closed_) return;
  if (wire::Error e = loop_->encoder.Encode(rid, m, &out_); !e.ok()) {
    if constexpr (!std::is_same_v<M, wire::ErrorReply>) {
      SendError(rid, 500, "cannot encode the reply: " + e.ToString());
    }
    return;
  }
  Flush();
}

void Session::SendError(uint64_t rid, const Status& s) {
  SendError(rid, static_cast<uint16_t>(HttpCode(s.code())), s.message());
}

void Session::SendError(uint64_t rid, uint16_t code, std::string_view message) {
  wire::ErrorReply e;
  e.code = code;
  e.message = message;
  Send(rid, e);
}

void Session::Flush() {
  if (closed_) return;
  if (out_.size() + inflight_.size() > core_->options().max_outbound_bytes) {
    // The client is not reading: drop it rather than buffer without bound.
    spdlog::warn("session {}: closing, {} bytes of output unread", id_,
                 out_.size() + inflight_.size());
    core_->CountCut();
    Close();
    return;
  }
  if (writing_ || out_.empty()) return;
  std::swap(out_, inflight_);
  out_.clear();
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(inflight_.data()),
                             static_cast<unsigned>(inflight_.size()));
  int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWritten);
  if (rc != 0) {
    Close();
    return;
  }
  writing_ = true;
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
    self->Close();
    return;
  }
  self->ServeDownloads();
  self->Flush();
  if (self->closing_ && !self->writing_ && self->out_.empty()) self->Close();
}

void Session::CloseAfterFlush() {
  if (closing_ || closed_) return;
  closing_ = true;
  closing_since_ms_ = uv_now(&loop_->uv);
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  Unregister();
  if (!writing_ && out_.empty()) Close();
}

void Session::Shutdown() {
  if (closing_ || closed_) return;
  SendError(0, 503, "server shutting down");
  CloseAfterFlush();
}

void Session::Tick(uint64_t now) {
  const auto& o = core_->options();
  if (closing_) {
    // A closing session whose peer does not read is not waited for.
    if (now - closing_since_ms_ >= static_cast<uint64_t>(o.pong_timeout.count())) Close();
    return;
  }
  if (now - started_ms_ >= static_cast<uint64_t>(o.max_session.count())) {
    SendError(0, 503, "session lifetime reached; reconnect");
    CloseAfterFlush();
    return;
  }
  if (ping_outstanding_) {
    if (now - ping_sent_ms_ >= static_cast<uint64_t>(o.pong_timeout.count())) {
      spdlog::debug("session {}: no pong within {} ms, closing", id_, o.pong_timeout.count());
      Close();
    }
    return;
  }
  if (now - last_rx_ms_ >= static_cast<uint64_t>(o.idle_timeout.count())) {
    ping_outstanding_ = true;
    ping_sent_ms_ = now;
    Send(0, wire::Ping{next_nonce_++});
  }
}

void Session::Unregister() {
  loop_->sessions.erase(id_);
  if (state_ != State::kActive) return;
  auto it = loop_->by_mailbox.find(mkey_);
  if (it == loop_->by_mailbox.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), this), v.end());
  if (v.empty()) loop_->by_mailbox.erase(it);
}

void Session::Close() {
  POSTBOX_ASSERT_ON_LOOP(loop_);
  if (closed_) return;
  closed_ = true;
  Unregister();
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
