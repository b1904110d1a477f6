// Events as the event log's JSON lines (docs/operations.md "Event log" is
// the schema: a change here changes it). Written by hand like the kick log's
// lines (kick_util.h: JsonString escapes any bytes into valid JSON, so a
// client's app version or a topic cannot break a line).
#include <iterator>
#include <string>
#include <variant>

#include "postbox/sync/events.h"
#include "sync/events/events_internal.h"
#include "sync/kick/kick_util.h"

namespace postbox::sync {

EventSink::~EventSink() = default;

void EventSink::RecordAll(std::vector<Event>& events) {
  for (Event& e : events) Record(std::move(e));
}

namespace {

// names[e] for an enum whose values count from 0 (the names in declaration
// order); "unknown" past them.
template <class E, size_t N>
std::string_view NameOf(const std::string_view (&names)[N], E e) {
  const auto i = static_cast<size_t>(e);
  return i < N ? names[i] : "unknown";
}

}  // namespace

std::string_view CloseReasonName(CloseReason r) {
  static constexpr std::string_view kNames[] = {
      "client_eof",      "socket_error", "timeout",         "lifetime",
      "shutdown",        "error",        "update_required", "cut_unread_output",
      "mailbox_deleted", "tls_failure",  "over_capacity"};
  static_assert(std::size(kNames) == static_cast<size_t>(CloseReason::kOverCapacity) + 1);
  return NameOf(kNames, r);
}

std::string_view TimeoutKindName(TimeoutKind t) {
  static constexpr std::string_view kNames[] = {"hello", "frame", "pong", "tls_handshake"};
  return NameOf(kNames, t);
}

std::string_view VerdictName(Verdict v) {
  static constexpr std::string_view kNames[] = {"current", "update_optional", "update_required",
                                                "update_schema_required"};
  return NameOf(kNames, v);
}

std::string_view KickOutcomeName(KickOutcome o) {
  static constexpr std::string_view kNames[] = {"delivered", "retry", "dropped", "gave_up"};
  static_assert(std::size(kNames) == static_cast<size_t>(KickOutcome::kGaveUp) + 1);
  return NameOf(kNames, o);
}

namespace {

// `t` as kick::FormatUtc writes it ("2026-12-03T14:31:07.412Z"), the date
// and time of day formatted once per second per thread (the log's thread
// writes up to hundreds of thousands of lines a second).
void AppendUtc(std::string& out, std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  thread_local sys_seconds cached_second{};
  thread_local std::string cached;  // "2026-12-03T14:31:07", FormatUtc's first 19 characters
  const auto second = floor<seconds>(t);
  if (cached.empty() || second != cached_second) {
    cached = kick::FormatUtc(second).substr(0, 19);
    cached_second = second;
  }
  const auto ms = static_cast<unsigned>(duration_cast<milliseconds>(t - second).count());
  out += cached;
  out += '.';
  out += static_cast<char>('0' + ms / 100);
  out += static_cast<char>('0' + ms / 10 % 10);
  out += static_cast<char>('0' + ms % 10);
  out += 'Z';
}

// Appends `"name":value` members to a JSON object under construction.
class Line {
 public:
  Line(std::chrono::system_clock::time_point time, std::string_view event) {
    out_.reserve(256);  // a status_changed line is about 160 bytes
    out_ += "{\"time\":\"";
    AppendUtc(out_, time);
    out_ += "\",\"event\":\"";
    out_ += event;
    out_ += '"';
  }
  // A mailbox key or message id: 32 lowercase hex characters (nothing to escape).
  template <class Tag>
  Line& Hex(std::string_view name, const Id16<Tag>& id) {
    Raw(name, "\"");
    id.AppendHex(&out_);
    out_ += '"';
    return *this;
  }
  Line& Time(std::string_view name, std::chrono::system_clock::time_point t) {
    Raw(name, "\"");
    AppendUtc(out_, t);
    out_ += '"';
    return *this;
  }
  Line& Raw(std::string_view name, std::string_view json) {
    out_ += ",\"";
    out_ += name;
    out_ += "\":";
    out_ += json;
    return *this;
  }
  Line& Str(std::string_view name, std::string_view s) { return Raw(name, kick::JsonString(s)); }
  Line& Num(std::string_view name, uint64_t n) { return Raw(name, std::to_string(n)); }
  Line& Bool(std::string_view name, bool b) { return Raw(name, b ? "true" : "false"); }
  Line& Null(std::string_view name) { return Raw(name, "null"); }
  template <class T, class F>
  Line& Opt(std::string_view name, const std::optional<T>& v, F put) {
    return v ? put(name, *v) : Null(name);
  }
  std::string Done() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  std::string out_;
};

uint64_t Ms(std::chrono::milliseconds d) {
  return static_cast<uint64_t>(std::max<int64_t>(d.count(), 0));
}

std::string Json(std::chrono::system_clock::time_point t, const SessionStartEvent& e) {
  return Line(t, "session_start")
      .Num("session", e.session)
      .Hex("mkey", e.mkey)
      .Str("platform", PlatformName(e.platform))
      .Str("app_version", e.app_version)
      .Num("schema_version", e.schema_version)
      .Num("protocol_version", e.protocol_version)
      .Str("remote", e.remote)
      .Bool("tls", e.tls)
      .Str("verdict", VerdictName(e.verdict))
      .Done();
}

std::string Json(std::chrono::system_clock::time_point t, const SessionEndEvent& e) {
  Line l(t, "session_end");
  l.Num("session", e.session);
  l.Opt("mkey", e.mkey, [&](auto n, const MailboxKey& m) -> Line& { return l.Hex(n, m); });
  l.Opt("platform", e.platform,
        [&](auto n, Platform p) -> Line& { return l.Str(n, PlatformName(p)); });
  l.Opt("app_version", e.app_version,
        [&](auto n, const std::string& v) -> Line& { return l.Str(n, v); });
  l.Opt("verdict", e.verdict, [&](auto n, Verdict v) -> Line& { return l.Str(n, VerdictName(v)); });
  l.Str("remote", e.remote).Bool("tls", e.tls).Time("start", e.start);
  l.Num("duration_ms", Ms(e.duration)).Num("bytes_in", e.bytes_in).Num("bytes_out", e.bytes_out);
  l.Str("reason", CloseReasonName(e.reason));
  l.Opt("timeout", e.timeout,
        [&](auto n, TimeoutKind k) -> Line& { return l.Str(n, TimeoutKindName(k)); });
  l.Opt("error_code", e.error_code, [&](auto n, uint16_t c) -> Line& { return l.Num(n, c); });
  l.Str("detail", e.detail);
  return l.Done();
}

// The members message_committed and message_superseded begin with.
template <class E>
Line MessageLine(std::chrono::system_clock::time_point t, std::string_view event, const E& e) {
  Line l(t, event);
  l.Hex("from", e.from).Hex("to", e.to).Hex("id", e.id);
  l.Str("topic", e.topic).Num("seq", e.seq);
  return l;
}

std::string Json(std::chrono::system_clock::time_point t, const MessageCommittedEvent& e) {
  return MessageLine(t, "message_committed", e)
      .Num("length", e.length)
      .Str("via", e.upload ? "upload" : "post")
      .Done();
}

std::string Json(std::chrono::system_clock::time_point t, const MessageSupersededEvent& e) {
  return MessageLine(t, "message_superseded", e).Hex("by", e.by).Done();
}

std::string Json(std::chrono::system_clock::time_point t, const StatusChangedEvent& e) {
  return Line(t, "status_changed")
      .Hex("id", e.id)
      .Str("status", MessageStatusName(e.status))
      .Hex("by", e.by)
      .Done();
}

std::string Json(std::chrono::system_clock::time_point t, const TransferFinishedEvent& e) {
  Line l(t, "transfer_finished");
  l.Str("direction", e.direction == TransferDirection::kUpload ? "upload" : "download");
  l.Hex("id", e.id).Hex("mkey", e.mkey);
  l.Opt("session", e.session, [&](auto n, uint64_t s) -> Line& { return l.Num(n, s); });
  l.Num("offset", e.offset).Num("bytes", e.bytes).Num("duration_ms", Ms(e.duration));
  l.Opt("error_code", e.error_code, [&](auto n, uint16_t c) -> Line& { return l.Num(n, c); });
  return l.Done();
}

std::string Json(std::chrono::system_clock::time_point t, const KickSentEvent& e) {
  Line l(t, "kick_sent");
  l.Hex("mkey", e.mkey).Str("platform", PlatformName(e.platform));
  l.Num("attempt", e.attempt).Str("outcome", KickOutcomeName(e.outcome));
  if (e.error.empty()) {
    l.Null("error");
  } else {
    l.Str("error", e.error);
  }
  return l.Done();
}

}  // namespace

std::string EventJson(const Event& event) {
  return std::visit([&](const auto& e) { return Json(event.time, e); }, event.data);
}

namespace internal {

std::string EventsDroppedJson(std::chrono::system_clock::time_point t, uint64_t count) {
  return Line(t, "events_dropped").Num("count", count).Done();
}

}  // namespace internal

}  // namespace postbox::sync
