#include "sync/server/metrics.h"

#include <cstdio>
#include <utility>

namespace postbox::sync::internal {
namespace {

void Head(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <class T>
void Sample(std::string* out, std::string_view name, std::string_view labels, T value) {
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->append(" ").append(std::to_string(value)).append("\n");
}

// One unlabelled counter or gauge.
void One(std::string* out, std::string_view name, std::string_view type, std::string_view help,
         uint64_t value) {
  Head(out, name, type, help);
  Sample(out, name, "", value);
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

template <size_t N>
void Histogram<N>::Render(std::string_view name, std::string_view help, std::string* out) const {
  Head(out, name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= N; ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    const std::string le = i < N ? Number(bounds_[i]) : "+Inf";
    Sample(out, bucket, "le=\"" + le + "\"", cumulative);
  }
  out->append(name).append("_sum ").append(
      Number(static_cast<double>(sum_.load(std::memory_order_relaxed)) * unit_));
  out->append("\n");
  Sample(out, std::string(name) + "_count", "", cumulative);
}

void Metrics::ErrorSent(uint16_t code) {
  size_t i = 0;
  while (i + 1 < kCodes.size() && kCodes[i] != code) ++i;
  errors_[i].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::Render(const ServerStats& s, const StoreStats* store) const {
  std::string out;
  out.reserve(8192);
  // Sessions.
  One(&out, "postbox_connections", "gauge", "Open sync connections (Hello done or not).",
      s.sessions);
  Head(&out, "postbox_sessions", "gauge", "Open sessions that completed Hello, by platform.");
  for (Platform p : {Platform::kNone, Platform::kIos, Platform::kAndroid, Platform::kWeb}) {
    const int64_t n = sessions_[static_cast<size_t>(p)].load(std::memory_order_relaxed);
    Sample(&out, "postbox_sessions", "platform=\"" + std::string(PlatformName(p)) + "\"",
           n < 0 ? 0 : n);
  }
  Head(&out, "postbox_hello_verdicts_total", "counter",
       "Successful Hellos by the compatibility verdict they got.");
  constexpr std::pair<sync::Verdict, std::string_view> kVerdicts[] = {
      {sync::Verdict::kCurrent, "current"},
      {sync::Verdict::kUpdateOptional, "update_optional"},
      {sync::Verdict::kUpdateRequired, "update_required"},
      {sync::Verdict::kUpdateSchemaRequired, "update_schema_required"}};
  for (const auto& [v, name] : kVerdicts) {
    Sample(&out, "postbox_hello_verdicts_total", "verdict=\"" + std::string(name) + "\"",
           verdicts_[static_cast<size_t>(v)].load(std::memory_order_relaxed));
  }
  One(&out, "postbox_connections_refused_total", "counter",
      "Connections refused over max_connections.", s.connections_refused);
  One(&out, "postbox_timeouts_total", "counter",
      "Sessions closed for hello_timeout, frame_timeout, a missing pong or a TLS handshake "
      "timeout.",
      s.timeouts);
  One(&out, "postbox_sessions_cut_total", "counter",
      "Sessions closed because their client did not read its output.", s.sessions_cut);
  One(&out, "postbox_accept_pauses_total", "counter",
      "Times accepting paused for want of file descriptors.", s.accept_pauses);
  One(&out, "postbox_turn_yields_total", "counter",
      "Times a session had more frames than one loop turn handles.", s.turn_yields);
  // Push and flow control.
  One(&out, "postbox_pushes_total", "counter", "Info packets pushed to sessions.", s.pushes);
  One(&out, "postbox_acks_total", "counter", "Acks received.", acks_.load());
  One(&out, "postbox_window_stalls_total", "counter",
      "Changes to a session's mailbox that found its push window full (pushed after the next "
      "ack).",
      stalls_.load());
  // Bytes and errors.
  One(&out, "postbox_received_bytes_total", "counter",
      "Bytes read from sync connections (as on the wire: TLS included).", bytes_in_.load());
  One(&out, "postbox_sent_bytes_total", "counter",
      "Bytes written to sync connections (as on the wire: TLS included).", bytes_out_.load());
  Head(&out, "postbox_errors_sent_total", "counter",
       "Error replies sent on sync sessions, by code (wire/PROTOCOL.md section 5).");
  for (size_t i = 0; i < kCodes.size(); ++i) {
    const std::string code = kCodes[i] == 0 ? "other" : std::to_string(kCodes[i]);
    Sample(&out, "postbox_errors_sent_total", "code=\"" + code + "\"", errors_[i].load());
  }
  One(&out, "postbox_buffered_bytes", "gauge",
      "Bytes held for all sessions (queued writes, unsent output, partial frames).",
      s.buffered_bytes);
  // The writer.
  One(&out, "postbox_group_commits_total", "counter", "Group-commit transactions.", s.commits);
  One(&out, "postbox_committed_ops_total", "counter", "Ops in group commits.", s.committed_ops);
  commit_ops_.Render("postbox_group_commit_ops", "Ops per group commit of the sessions' writes.",
                     &out);
  commit_seconds_.Render("postbox_group_commit_seconds",
                         "Time from a group commit's start to its durability.", &out);
  One(&out, "postbox_uploads_swept_total", "counter", "Expired uploads removed.", s.uploads_swept);
  One(&out, "postbox_tombstones_purged_total", "counter", "Tombstones purged.",
      s.tombstones_purged);
  One(&out, "postbox_entries_expired_total", "counter", "Expired entries (notifications) deleted.",
      s.entries_expired);
  // The store.
  if (store != nullptr) {
    One(&out, "postbox_store_map_size_bytes", "gauge", "Bytes reserved for the store's map.",
        store->map_size);
    One(&out, "postbox_store_used_bytes", "gauge", "Bytes of the map in use.", store->used_bytes);
    One(&out, "postbox_store_file_bytes", "gauge", "Size of the store's data file.",
        store->file_bytes);
    One(&out, "postbox_store_mailboxes", "gauge", "Mailboxes in the store.", store->mailboxes);
    One(&out, "postbox_store_messages", "gauge", "Messages in the store (tombstones included).",
        store->messages);
    One(&out, "postbox_uploads_in_progress", "gauge", "Uploads begun and not complete.",
        store->uploads);
    One(&out, "postbox_store_sync_failures_total", "counter",
        "Failed syncs since the store was opened.", store->sync_failures);
  }
  // Kicks.
  One(&out, "postbox_kicks_pending", "gauge", "Pending kicks (in flight included).",
      s.kicks_pending);
  One(&out, "postbox_kicks_sent_total", "counter", "Kicks delivered.", s.kicks_sent);
  One(&out, "postbox_kicks_retried_total", "counter", "Kick failures scheduled again.",
      s.kicks_retried);
  One(&out, "postbox_kicks_dropped_total", "counter", "Kicks refused for good or out of attempts.",
      s.kicks_dropped);
  // The HTTP listener and Web Push.
  One(&out, "postbox_http_connections", "gauge", "Open HTTP connections.", s.http_connections);
  One(&out, "postbox_http_requests_total", "counter", "Complete HTTP requests received.",
      s.http_requests);
  Head(&out, "postbox_http_responses_total", "counter", "Final HTTP responses by class.");
  Sample(&out, "postbox_http_responses_total", "class=\"2xx\"", s.http_responses_2xx);
  Sample(&out, "postbox_http_responses_total", "class=\"4xx\"", s.http_responses_4xx);
  Sample(&out, "postbox_http_responses_total", "class=\"5xx\"", s.http_responses_5xx);
  One(&out, "postbox_http_timeouts_total", "counter",
      "HTTP connections closed for a timeout or unread output.", s.http_timeouts);
  One(&out, "postbox_http_limit_refusals_total", "counter",
      "HTTP requests or connections refused over a limit (431, 413, 503).", s.http_limit_refusals);
  One(&out, "postbox_webpush_stored_total", "counter", "Web Push notifications stored.",
      s.webpush_stored);
  One(&out, "postbox_webpush_dropped_total", "counter",
      "Web Push notifications with TTL 0 and no session: not stored.", s.webpush_dropped);
  One(&out, "postbox_webpush_rate_limited_total", "counter", "Web Push requests answered 429.",
      s.webpush_rate_limited);
  // TLS.
  One(&out, "postbox_tls_handshakes_total", "counter", "Completed TLS handshakes.",
      s.tls_handshakes);
  One(&out, "postbox_tls_handshake_failures_total", "counter",
      "TLS handshakes refused, failed, abandoned or timed out.", s.tls_handshake_failures);
  One(&out, "postbox_tls_reloads_total", "counter", "Successful certificate reloads.",
      s.tls_reloads);
  return out;
}

}  // namespace postbox::sync::internal
