// The request side of a session: Hello, poll/ack and push, reads answered on
// the loop, and writes handed to the group commit and answered from it.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <variant>

#include "sync/convert.h"
#include "sync/server/session.h"
#include "sync/server/write_ops.h"

namespace postbox::sync {

// An endpoint with the URL app servers use (ServerOptions::http_public_url +
// "/push/" + token; empty without a public URL), kept alive while its wire
// form, which views it, is encoded.
struct EndpointWithUrl {
  EndpointInfo info;
  std::string url;
};

inline EndpointWithUrl WithUrl(EndpointInfo info, const std::string& public_url) {
  std::string url;
  if (!public_url.empty()) url = public_url + "/push/" + info.token;
  return EndpointWithUrl{std::move(info), std::move(url)};
}

inline wire::Endpoint ToWire(const EndpointWithUrl& e) {
  return wire::Endpoint{.token = e.info.token,
                        .app_id = e.info.app_id,
                        .vapid_public_key = e.info.vapid_public_key,
                        .created_ms = e.info.created_ms,
                        .url = e.url};
}

}  // namespace postbox::sync

namespace postbox::sync::internal {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// Most items a client may ask for in one list reply.
constexpr uint32_t kMaxListLimit = 1000;
constexpr uint32_t kDefaultListLimit = 100;
// Most items one info packet may carry, whatever a Poll asks.
constexpr uint32_t kMaxPollLimit = 4096;

uint32_t ClampLimit(uint32_t asked, uint32_t dflt, uint32_t max) {
  return asked == 0 ? dflt : std::min(asked, max);
}

}  // namespace

void Session::HandleFrame(const wire::Frame& frame) {
  const uint64_t rid = frame.request_id();
  wire::AnyMessage msg;
  if (auto e = wire::DecodeAny(frame, &msg); !e.ok()) {
    Ending(CloseReason::kError, wire::HttpCode(e.code()), e.ToString());
    SendError(rid, wire::HttpCode(e.code()), e.ToString());
    CloseAfterFlush();
    return;
  }
  if (state_ == State::kAwaitHello) {
    // Before Hello only Hello is served; a Ping is answered (either side must
    // answer one) but keeps nothing alive: hello_timeout runs from accept.
    if (auto* hello = std::get_if<wire::Hello>(&msg)) return HandleHello(rid, *hello);
    if (auto* ping = std::get_if<wire::Ping>(&msg)) return Send(rid, wire::Pong{ping->nonce});
    if (std::holds_alternative<wire::Pong>(msg)) return;
    Ending(CloseReason::kError, 401, "the first request was not Hello");
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
                 [&](const wire::EntryGet& m) { HandleEntryGet(rid, m); },
                 [&](const wire::EntryList& m) { HandleEntryList(rid, m); },
                 [&](const wire::ConnectionList& m) { HandleConnectionList(rid, m); },
                 [&](const wire::EndpointList& m) { HandleEndpointList(rid, m); },
                 [&](const wire::UploadQueryOffset& m) { HandleUploadQuery(rid, m); },
                 [&](const wire::DownloadRequest& m) { HandleDownload(rid, m); },
                 [&](const auto& m) {
                   // Every write request has its batch op (write_ops.h); what
                   // is left are the server's own messages.
                   if constexpr (requires { MakeOp(mkey_, m); }) {
                     Submit(rid, MakeOp(mkey_, m));
                   } else {
                     using M = std::decay_t<decltype(m)>;
                     SendError(rid, 400,
                               std::string(wire::MessageTypeName(M::kType)) +
                                   " is not a request this server accepts");
                   }
                 },
             },
             msg);
}

void Session::HandleHello(uint64_t rid, const wire::Hello& m) {
  if (m.protocol_version < wire::kMinProtocolVersion ||
      m.protocol_version > wire::kProtocolVersion) {
    wire::ErrorReply e;
    e.code = 426;
    const std::string text =
        "protocol version " + std::to_string(m.protocol_version) + " is not supported";
    e.message = text;
    e.min_version = wire::kMinProtocolVersion;
    e.max_version = wire::kProtocolVersion;
    core_->metrics().ErrorSent(426);
    Ending(CloseReason::kError, 426, text);
    Send(rid, e);
    CloseAfterFlush();
    return;
  }
  const MailboxKey mkey = MailboxKeyFromWire(m.mkey);
  if (Status s = core_->db()->Authenticate(mkey, m.secret); !s.ok()) {
    // An unknown mailbox and a wrong secret look the same (no mailbox probing).
    Ending(CloseReason::kError, 401, s.message());
    SendError(rid, 401, "unknown mailbox or wrong secret");
    CloseAfterFlush();
    return;
  }
  auto platform = FromWire(m.platform);
  if (!platform) {
    Ending(CloseReason::kError, HttpCode(platform.error().code()), platform.error().message());
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
  // Compression is what the client declared and this build has (wire/
  // PROTOCOL.md "Compression negotiation"); a version-1 Hello declares
  // nothing. The reply itself still goes raw: the client learns the
  // agreement from it.
  wire::CompressionAgreement agreed;
  if (m.protocol_version >= 2) {
    agreed.zstd = m.accept_zstd;
    agreed.dictionary = wire::ChooseDictionary(m.zstd_dictionaries);
  }
  core_->metrics().Verdict(verdict);
  wire::HelloReply reply{static_cast<wire::Verdict>(verdict), wire::kProtocolVersion, detail};
  reply.zstd = agreed.zstd;
  reply.zstd_dictionary = agreed.dictionary;
  RecordHello(m, *platform, verdict);  // event log
  Send(rid, reply);
  if (verdict == Verdict::kUpdateRequired || verdict == Verdict::kUpdateSchemaRequired) {
    Ending(CloseReason::kUpdateRequired);
    CloseAfterFlush();
    return;
  }
  // From the next frame on, both directions follow the agreement.
  compression_ = agreed;
  decoder_.set_accept(agreed);
  state_ = State::kActive;
  mkey_ = mkey;
  platform_ = *platform;
  app_version_ = m.app_version.substr(0, 64);  // shown, not used: a bounded copy
  core_->metrics().SessionOpened(platform_);
  loop_->by_mailbox[mkey_].push_back(this);
  core_->SessionOpened(mkey_);  // Web Push's TTL 0 and the kicks ask who is online
}

std::optional<uint64_t> Session::SendChanges(uint64_t rid, uint64_t since, uint32_t limit,
                                             bool* more) {
  wire::InfoPacket w;
  // A packet too large for one frame (before compression: the receiver
  // bounds that too) is cut in half until it fits; `more` tells the client to
  // continue from the cursor.
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
    wire::Error e = loop_->encoder.Encode(rid, w, &out_, compression_);
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
  const uint32_t limit = ClampLimit(m.limit, core_->options().default_poll_limit, kMaxPollLimit);
  bool more = false;
  auto cursor = SendChanges(rid, m.since, limit, &more);
  if (!cursor) return;
  // Once a poll has reached the end, the client holds everything up to
  // `cursor` and pushes continue after it. While it is still paging (`more`),
  // pushing the next page too would hand it the same items twice.
  // The client holds everything up to the cursor: it may Ack it.
  ack_floor_ = std::max(ack_floor_, *cursor);
  if (more) return;
  synced_ = true;
  push_since_ = std::max(push_since_, *cursor);
  MaybePush();
}

void Session::HandleAck(uint64_t rid, const wire::Ack& m) {
  // Only a cursor this session sent may be acked: one of the pushes in the
  // window, or one at or below the last cursor acked or answered to a Poll.
  // Anything else (a cursor from the future, or one never pushed) would
  // move the push window to data the client never saw.
  if (m.cursor > ack_floor_ &&
      std::find(unacked_.begin(), unacked_.end(), m.cursor) == unacked_.end()) {
    return SendError(rid, 400,
                     "Ack of cursor " + std::to_string(m.cursor) +
                         ", which this session never sent (acks cover a pushed cursor, or one at "
                         "or below " +
                         std::to_string(ack_floor_) + ", the last acked or polled)");
  }
  core_->metrics().Ack();
  ack_floor_ = std::max(ack_floor_, m.cursor);
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
    const size_t before = Unsent();
    auto cursor = SendChanges(0, push_since_, core_->options().default_poll_limit, &more);
    if (!cursor || closing_ || closed_) return;
    if (Unsent() == before) return;  // nothing changed
    push_since_ = *cursor;
    unacked_.push_back(*cursor);
    core_->CountPush();
    if (!more) return;
  }
}

template <class Reply, class List, class Items>
void Session::SendPage(uint64_t rid, const List& list, size_t limit, Items Reply::*items) {
  Reply r;
  for (size_t n = std::min(list.size(), limit);; n /= 2) {
    (r.*items).clear();
    for (size_t i = 0; i < n; ++i) (r.*items).push_back(ToWire(list[i]));
    r.more = list.size() > n;
    const wire::Error e = loop_->encoder.Encode(rid, r, &out_, compression_);
    if (e.ok()) return Flush();
    if (e.code() != wire::ErrorCode::kEncodeTooLarge || n <= 1) {
      // Server::Start refuses limits under which one item cannot fit a frame.
      return SendError(rid, 500, "cannot encode the reply: " + e.ToString());
    }
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
  // Entries of up to a frame each: the page is cut to what fits, with `more`.
  SendPage(rid, *list, limit, &wire::EntryListReply::entries);
}

void Session::HandleConnectionList(uint64_t rid, const wire::ConnectionList& m) {
  auto kind = FromWire(m.kind);
  if (!kind) return SendError(rid, kind.error());
  const uint32_t limit = ClampLimit(m.limit, kDefaultListLimit, kMaxListLimit);
  std::optional<MailboxKey> after;
  if (m.start_after) after = MailboxKeyFromWire(*m.start_after);
  auto list = core_->db()->ListConnections(mkey_, after, limit + 1, *kind);
  if (!list) return SendError(rid, list.error());
  SendPage(rid, *list, limit, &wire::ConnectionListReply::peers);
}

void Session::HandleEndpointList(uint64_t rid, const wire::EndpointList& m) {
  const uint32_t limit = ClampLimit(m.limit, kDefaultListLimit, kMaxListLimit);
  auto list = core_->db()->ListEndpoints(mkey_, m.start_after, limit + 1);
  if (!list) return SendError(rid, list.error());
  std::vector<EndpointWithUrl> page;
  page.reserve(list->size());
  for (EndpointInfo& e : *list) {
    page.push_back(WithUrl(std::move(e), core_->options().http_public_url));
  }
  SendPage(rid, page, limit, &wire::EndpointListReply::endpoints);
}

void Session::Submit(uint64_t rid, Result<WriteBatch::Op> op) {
  if (!op) return SendError(rid, op.error());
  const size_t bytes = OpBytes(*op);
  if (!core_->Enqueue(QueuedOp{.loop = loop_->index,
                               .session = id_,
                               .request_id = rid,
                               .bytes = bytes,
                               .op = std::move(*op)})) {
    return SendError(rid, 503, "server shutting down");
  }
  ++queued_ops_;
  queued_bytes_ += bytes;
}

void Session::OnCompletion(const Completion& c) {
  --queued_ops_;
  queued_bytes_ -= c.bytes;
  const OpResult& r = c.result;
  // A closing session still answers: the client may retry what it never saw
  // acknowledged, and a retried version-0 put would apply twice.
  if (!r.status.ok()) {
    SendError(c.request_id, r.status);
  } else if (c.kind == OpKind::kBeginUpload || c.kind == OpKind::kWriteChunk) {
    // Committed means every byte is there: the client goes on to UploadCommit.
    Send(c.request_id, wire::UploadOffset{ToWire(r.upload.id),
                                          r.upload.committed ? r.upload.length : r.upload.offset,
                                          r.upload.length});
  } else if (c.kind == OpKind::kRegisterEndpoint) {
    const EndpointWithUrl e = WithUrl(*r.endpoint, core_->options().http_public_url);
    Send(c.request_id, wire::EndpointReply{ToWire(e)});
  } else {
    wire::Ok ok;
    // `applied` (wire/PROTOCOL.md §3): whether a merge changed the store; the
    // other writes are idempotent and in effect once committed.
    ok.applied = true;
    if (c.kind == OpKind::kAdvanceStatus) {
      ok.status = ToWire(r.message_status);
      ok.applied = r.status_applied;
    }
    if (c.kind == OpKind::kPutEntry || c.kind == OpKind::kDeleteEntry) {
      ok.version = r.entry.version;
      ok.applied = r.entry.applied;
    }
    if (c.kind == OpKind::kRequestConnection) ok.connection = ToWire(r.connection);
    Send(c.request_id, ok);
  }
  MaybeFinishClose();
  UpdateReading();
  Account();
}

}  // namespace postbox::sync::internal
