// A session's records for the event log (postbox/sync/events.h,
// docs/operations.md "Event log"): session_start after Hello, session_end
// with its cause at close, transfer_finished when a download stream ends.
// Without a sink the session has no record and each of these returns at once.
#include <uv.h>

#include "sync/convert.h"
#include "sync/server/session.h"

namespace postbox::sync::internal {
namespace {

// "127.0.0.1:50312" or "[::1]:50312"; empty if the socket has no peer.
std::string PeerAddress(const uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof(addr);
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  char ip[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(a, ip, sizeof(ip));
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
  uv_ip4_name(a, ip, sizeof(ip));
  return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
}

}  // namespace

void Session::BeginRecord() {
  if (core_->events() == nullptr) return;
  record_ = std::make_unique<EventRecord>();
  SessionEndEvent& e = record_->end;
  e.session = id_;
  e.remote = PeerAddress(&tcp_);
  e.tls = core_->options().tls.has_value();
  e.start = std::chrono::system_clock::now();
}

void Session::RecordHello(const wire::Hello& m, Platform platform, Verdict verdict) {
  if (!record_) return;
  SessionEndEvent& e = record_->end;
  e.mkey = MailboxKeyFromWire(m.mkey);
  e.platform = platform;
  e.app_version = std::string(m.app_version);
  e.verdict = verdict;
  core_->events()->Record(Event{std::chrono::system_clock::now(),
                                SessionStartEvent{.session = id_,
                                                  .mkey = *e.mkey,
                                                  .platform = platform,
                                                  .app_version = *e.app_version,
                                                  .schema_version = m.schema_version,
                                                  .protocol_version = m.protocol_version,
                                                  .remote = e.remote,
                                                  .tls = e.tls,
                                                  .verdict = verdict}});
}

void Session::Ending(CloseReason reason, std::optional<uint16_t> code, std::string_view detail) {
  if (!record_ || record_->has_reason) return;
  record_->has_reason = true;
  record_->end.reason = reason;
  record_->end.error_code = code;
  record_->end.detail = std::string(detail);
}

void Session::TimedOut(TimeoutKind kind, std::optional<uint16_t> code) {
  if (!record_ || record_->has_reason) return;
  Ending(CloseReason::kTimeout, code);
  record_->end.timeout = kind;
}

void Session::RecordEnd() {
  if (!record_) return;
  SessionEndEvent& e = record_->end;
  // Every path to Close names its cause; one that did not is a socket's end.
  if (!record_->has_reason) Ending(CloseReason::kSocketError);
  const auto now = std::chrono::system_clock::now();
  e.duration = std::chrono::duration_cast<std::chrono::milliseconds>(now - e.start);
  e.bytes_in = bytes_in_;
  e.bytes_out = bytes_out_;
  core_->events()->Record(Event{now, std::move(e)});
  record_.reset();
}

void Session::RecordDownload(const Download& d, std::optional<uint16_t> code) {
  if (!record_) return;
  const uint64_t now = uv_now(&loop_->uv);
  core_->events()->Record(
      Event{std::chrono::system_clock::now(),
            TransferFinishedEvent{.direction = TransferDirection::kDownload,
                                  .id = d.id,
                                  .mkey = mkey_,
                                  .session = id_,
                                  .offset = d.first,
                                  .bytes = d.next - d.first,
                                  .duration = std::chrono::milliseconds(now - d.started_ms),
                                  .error_code = code}});
}

}  // namespace postbox::sync::internal
