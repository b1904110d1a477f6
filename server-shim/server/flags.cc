#include "server/flags.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>

#include "server/kick_flags.h"

namespace postbox::server {
namespace {

using std::chrono::milliseconds;

// "<number>[ms|s|m|h|d]"; a bare number is milliseconds (the unit of the
// flags before units were accepted).
std::optional<milliseconds> ParseDuration(std::string_view text) {
  uint64_t number = 0;
  const auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || rest == text.data()) return std::nullopt;
  const std::string_view unit(rest, static_cast<size_t>(text.data() + text.size() - rest));
  uint64_t scale = 0;
  if (unit.empty() || unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60 * 1000;
  if (unit == "h") scale = 3600 * 1000;
  if (unit == "d") scale = 24 * 3600 * 1000;
  if (scale == 0 || number > uint64_t{INT64_MAX} / scale) return std::nullopt;
  return milliseconds(static_cast<int64_t>(number * scale));
}

std::string FormatDuration(milliseconds d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % (3600 * 1000) == 0) return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

CLI::Option* AddDuration(CLI::App* app, const std::string& name, milliseconds* out,
                         const std::string& help, bool zero_allowed = false) {
  const CLI::Validator duration(
      [zero_allowed](std::string& v) -> std::string {
        auto d = ParseDuration(v);
        if (!d) return "'" + v + "' is not a duration such as 500ms, 10s, 5m, 24h or 30d";
        if (d->count() == 0 && !zero_allowed) return "must be positive";
        return {};
      },
      "DURATION");
  return app
      ->add_option_function<std::string>(
          name, [out](const std::string& v) { *out = *ParseDuration(v); }, help)
      ->check(duration)
      ->default_str(FormatDuration(*out));
}

template <class T>
CLI::Option* AddSize(CLI::App* app, const std::string& name, T* out, const std::string& help,
                     uint64_t min = 1, uint64_t max = uint64_t{1} << 50) {
  return app->add_option(name, *out, help)
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(min, max))
      ->capture_default_str();
}

template <class T>
CLI::Option* AddCount(CLI::App* app, const std::string& name, T* out, const std::string& help,
                      uint64_t min, uint64_t max) {
  return app->add_option(name, *out, help)->check(CLI::Range(min, max))->capture_default_str();
}

// Config keys may be written with underscores (max_blob_size) as well as
// with the flags' dashes.
class ConfigWithUnderscores : public CLI::ConfigTOML {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    auto items = CLI::ConfigTOML::from_config(input);
    for (auto& item : items) std::replace(item.name.begin(), item.name.end(), '_', '-');
    return items;
  }
};

// "ios:MIN:LATEST:SCHEMA[:DETAIL]" → a platform's compatibility policy.
bool ParseCompat(const std::string& spec, sync::ServerOptions* o, std::string* err) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    size_t colon = spec.find(':', start);
    if (colon == std::string::npos) break;
    parts.push_back(spec.substr(start, colon - start));
    start = colon + 1;
  }
  parts.push_back(spec.substr(start));
  if (parts.size() < 4) {
    *err = "--compat '" + spec + "': expected PLATFORM:MIN_APP:LATEST_APP:MIN_SCHEMA[:DETAIL]";
    return false;
  }
  auto platform = ParsePlatform(parts[0]);
  if (!platform) {
    *err = "--compat '" + spec + "': " + platform.error().ToString();
    return false;
  }
  sync::CompatibilityPolicy p;
  p.min_app_version = parts[1];
  p.latest_app_version = parts[2];
  uint32_t schema = 0;
  const auto [end, ec] =
      std::from_chars(parts[3].data(), parts[3].data() + parts[3].size(), schema);
  if (!parts[3].empty() && (ec != std::errc() || end != parts[3].data() + parts[3].size())) {
    *err = "--compat '" + spec + "': MIN_SCHEMA must be a number";
    return false;
  }
  p.min_schema_version = schema;
  if (parts.size() > 4) p.detail = parts[4];
  o->compatibility[*platform] = p;
  return true;
}

// "HOST:PORT" (the host may be a bracketed IPv6 address: [::1]:7420).
bool ParseHostPort(const std::string& flag, const std::string& text, std::string* host,
                   uint16_t* port, std::string* err) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    *err = flag + " '" + text + "': expected HOST:PORT";
    return false;
  }
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  const std::string digits = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (host->empty() || ec != std::errc() || end != digits.data() + digits.size() || value > 65535) {
    *err = flag + " '" + text + "': expected HOST:PORT with a port 0..65535";
    return false;
  }
  *port = static_cast<uint16_t>(value);
  return true;
}

// "MKEY:SECRET" (32 hex digits, the secret as postbox-admin printed it) → the
// credentials of a relayed mailbox.
bool ParseRelay(const std::string& spec, sync::RelayOptions* o, std::string* err) {
  const size_t colon = spec.find(':');
  auto mkey = MailboxKey::FromHex(spec.substr(0, colon));
  if (colon == std::string::npos || !mkey.ok() || colon + 1 == spec.size()) {
    // The secret is never echoed: flags end up in logs.
    *err = "--relay '" + spec.substr(0, std::min(colon, size_t{32})) +
           ":…': expected MKEY:SECRET (the mailbox key in 32 hex digits, then its secret)";
    return false;
  }
  for (const auto& c : o->mailboxes) {
    if (c.mkey == *mkey) {
      *err = "--relay: mailbox " + mkey->ToHex() + " is named twice";
      return false;
    }
  }
  o->mailboxes.push_back({*mkey, spec.substr(colon + 1)});
  return true;
}

// --tls-* into server.tls / http_tls, --upstream-tls-* into relay.upstream_tls.
bool FinishTlsFlags(Flags* f, std::string* err) {
  const auto version = [](const std::string& v) {
    return v == "1.2" ? sync::TlsVersion::kTls12 : sync::TlsVersion::kTls13;
  };
  sync::TlsServerOptions& t = f->tls;
  const bool any = !t.cert_file.empty() || !t.key_file.empty() || !t.client_ca_file.empty();
  if (any && (t.cert_file.empty() || t.key_file.empty())) {
    *err = "TLS needs both --tls-cert and --tls-key";
    return false;
  }
  if (any) {
    t.min_version = version(f->tls_min_version);
    f->server.tls = t;
    if (!f->http_plain) f->server.http_tls = t;
  }
  sync::TlsClientOptions& u = f->relay.upstream_tls;
  u.enabled = f->upstream_tls || !u.ca_file.empty() || !u.server_name.empty() || !u.pins.empty() ||
              !u.cert_file.empty() || !u.key_file.empty();
  u.min_version = version(f->upstream_tls_min_version);
  if (u.enabled && f->upstream.empty()) {
    *err = "--upstream-tls* needs --upstream HOST:PORT";
    return false;
  }
  return true;
}

}  // namespace

void AddFlags(CLI::App* app, Flags* f) {
  Options& o = f->store;
  sync::ServerOptions& so = f->server;
  so.threads = 0;
  app->config_formatter(std::make_shared<ConfigWithUnderscores>());
  app->set_config("--config", "", "TOML file whose keys are these flags' long names");

  // Where and how.
  app->add_option("--listen", f->listen, "HOST:PORT to listen on (port 0: an ephemeral port)")
      ->capture_default_str();
  app->add_option("--data", f->data, "store folder (the one postbox-admin --data opens)")
      ->capture_default_str();
  // Every number is range-checked: CLI11 would read "-1" into an unsigned as 2^64 - 1.
  AddCount(app, "--threads", &so.threads, "network loop threads (0: one per core)", 0, 1024);
  app->add_option("--durability", f->durability,
                  "durable: each acknowledged write is synced; relaxed: see docs/engine.md")
      ->capture_default_str()
      ->check(CLI::IsMember({"durable", "relaxed"}));
  AddDuration(app, "--relaxed-sync-interval", &o.relaxed_sync_interval,
              "relaxed mode: how often everything is synced");
  app->add_option("--log-level", f->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();

  // Sessions.
  AddCount(app, "--max-connections", &so.max_connections,
           "connections past this get 503 and are closed", 1, 10'000'000);
  AddCount(app, "--window", &so.window, "unacked pushes per session", 1, 1'000'000);
  AddDuration(app, "--idle-timeout", &so.idle_timeout, "silence before a session is pinged");
  AddDuration(app, "--pong-timeout", &so.pong_timeout, "wait for a pong before closing");
  AddDuration(app, "--max-session", &so.max_session, "maximum session lifetime");
  AddDuration(app, "--hello-timeout", &so.hello_timeout,
              "from accept to a successful Hello, or the connection is closed");
  AddDuration(app, "--frame-timeout", &so.frame_timeout,
              "from a frame's first byte to its last, or the session is closed");
  app->add_option("--compat", f->compat,
                  "per-platform policy PLATFORM:MIN_APP:LATEST_APP:MIN_SCHEMA[:DETAIL], "
                  "repeatable (e.g. ios:2.0:2.3:1)");

  // Memory and frames.
  AddSize(app, "--max-frame-payload", &so.max_frame_payload,
          "largest frame payload accepted and sent", 4096, (uint64_t{1} << 31) - 1);
  AddSize(app, "--max-outbound-bytes", &so.max_outbound_bytes,
          "unread output past which a session is closed (reading pauses at a quarter)", 1,
          uint64_t{1} << 30);
  AddCount(app, "--max-inflight-ops", &so.max_inflight_ops,
           "writes of one session waiting for the group commit before its reading pauses", 1,
           1'000'000);
  AddSize(app, "--max-inflight-bytes", &so.max_inflight_bytes,
          "write payload of one session waiting before its reading pauses");
  AddSize(app, "--max-buffered-bytes", &so.max_buffered_bytes,
          "bytes held for all sessions together before the heavy ones stop being read");
  AddCount(app, "--max-downloads", &so.max_downloads, "download streams per session (429 past)", 1,
           1024);
  app->add_option("--read-your-writes", so.read_your_writes,
                  "a session's reads wait for its earlier writes (false: reads answer at once)")
      ->capture_default_str();
  AddCount(app, "--default-poll-limit", &so.default_poll_limit,
           "items per info packet when a Poll asks for no limit", 1, 4096);

  // The writer.
  AddCount(app, "--max-batch-ops", &so.max_batch_ops, "most ops in one group commit", 1, 1'000'000);
  AddSize(app, "--max-batch-bytes", &so.max_batch_bytes, "most payload in one group commit");
  AddDuration(app, "--stop-grace", &so.stop_grace,
              "on SIGTERM, how long sessions may drain their last replies");
  AddDuration(app, "--maintenance-interval", &so.maintenance_interval,
              "how often expired uploads are swept and old tombstones purged (0: never)",
              /*zero_allowed=*/true);
  AddCount(app, "--sweep-batch", &so.sweep_batch, "expired uploads removed per transaction", 1,
           100'000);
  AddCount(app, "--purge-batch", &so.purge_batch, "tombstones purged per transaction", 1,
           1'000'000);

  // The store's limits and horizons.
  AddSize(app, "--max-map-size", &o.max_map_size, "the most the store may hold (its LMDB map)",
          uint64_t{1} << 20);
  app->add_option_function<uint64_t>(
         "--storage-reserve", [&o](uint64_t v) { o.storage_reserve = v; },
         "room kept for deletes on a full store (default: max(256MiB, map/32), at most map/4)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 50));
  // The settings a store remembers (docs/operations.md): a new store takes
  // these; an existing one gives its own for those not given, and refuses to
  // open when a given one differs (`postbox-admin settings` shows and
  // changes them).
  const std::string kept = " (remembered by the store)";
  auto remember = [f](Setting s, CLI::Option* flag) { f->setting_flags.emplace_back(s, flag); };
  remember(Setting::kMaxKeySize,
           AddSize(app, "--max-key-size", &o.max_key_size, "longest entry key" + kept, 1, 495));
  remember(Setting::kMaxValueSize,
           AddSize(app, "--max-value-size", &o.max_value_size, "largest entry value" + kept));
  remember(Setting::kMaxTopicSize, AddSize(app, "--max-topic-size", &o.max_topic_size,
                                           "longest message topic" + kept, 0, 255));
  remember(Setting::kMaxMetaSize, AddSize(app, "--max-meta-size", &o.max_meta_size,
                                          "largest message meta" + kept, 0, 65535));
  remember(Setting::kMaxPushTokenSize, AddSize(app, "--max-push-token-size", &o.max_push_token_size,
                                               "longest push token" + kept));
  remember(Setting::kMaxBlobSize,
           AddSize(app, "--max-blob-size", &o.max_blob_size, "largest blob" + kept));
  AddSize(app, "--max-chunk-size", &o.max_chunk_size, "largest upload chunk", 1,
          uint64_t{256} << 10);
  remember(Setting::kSlotDepth,
           AddCount(app, "--slot-depth", &o.slot_depth,
                    "live messages per (from, to, topic) slot" + kept, 1, 1'000'000));
  AddCount(app, "--max-pending-connections", &o.max_pending_connections,
           "connection requests one mailbox may have waiting for consent", 1, 1'000'000);
  remember(Setting::kUploadTtl, AddDuration(app, "--upload-ttl", &o.upload_ttl,
                                            "incomplete uploads older than this are swept" + kept));
  remember(Setting::kTombstoneHorizon,
           AddDuration(app, "--tombstone-horizon", &o.tombstone_horizon,
                       "tombstones (and 410 answers) older than this are purged" + kept));
  remember(Setting::kPostingPolicy,
           app->add_flag(
               "--open-policy", f->open_policy,
               "anyone who knows a mailbox key may post to it (default: connected only)" + kept));

  // The HTTP listener (docs/http.md).
  app->add_option("--http-listen", f->http_listen,
                  "HOST:PORT of the HTTP listener for app servers and /healthz (port 0: an "
                  "ephemeral port; default: none)");
  AddSize(app, "--http-max-header-bytes", &so.http_max_header_bytes,
          "request line + header fields of one HTTP request (431 past it)", 256, 64 * 1024);
  AddCount(app, "--http-max-headers", &so.http_max_headers,
           "header fields of one HTTP request (431 past it)", 1, 10'000);
  AddSize(app, "--http-max-body-bytes", &so.http_max_body_bytes,
          "body of one HTTP request (413 past it)", 0, uint64_t{1} << 30);
  AddDuration(app, "--http-header-timeout", &so.http_header_timeout,
              "from an HTTP request's first byte to the end of its head (408 past it)");
  AddDuration(app, "--http-body-timeout", &so.http_body_timeout,
              "from the end of an HTTP request's head to the end of its body (408 past it)");
  AddDuration(app, "--http-idle-timeout", &so.http_idle_timeout,
              "an idle keep-alive HTTP connection, or one whose output does not move, is closed");
  AddCount(app, "--http-max-connections", &so.http_max_connections,
           "HTTP connections past this get 503 and are closed", 1, 10'000'000);
  AddSize(app, "--http-max-output-bytes", &so.http_max_output_bytes,
          "unread HTTP output at which a connection's next request waits", 1, uint64_t{1} << 30);
  app->add_option("--admin-token-file", f->admin_token_file,
                  "file holding the token of the admin API (/admin/..., postbox-admin --server); "
                  "default: $POSTBOX_ADMIN_TOKEN; neither: the admin API is off");
  app->add_option("--metrics-token", so.metrics_token,
                  "GET /metrics on the HTTP listener requires 'Authorization: Bearer TOKEN' "
                  "(default: open; prefer the --config file, flags are visible to every user)");
  // Web Push on the HTTP listener (docs/notifications.md "Web Push").
  app->add_option("--http-public-url", so.http_public_url,
                  "where app servers reach the HTTP listener (https://push.example.com): "
                  "endpoint URLs, Location headers and VAPID's aud are made from it");
  AddSize(app, "--webpush-max-payload-bytes", &so.webpush_max_payload_bytes,
          "body of one Web Push notification (413 past it; RFC 8030 asks for 4096)", 0,
          uint64_t{1} << 20);
  AddDuration(app, "--webpush-max-ttl", &so.webpush_max_ttl,
              "longer notification TTLs are cut to this (and a missing TTL means it)");
  app->add_option("--webpush-rate", so.webpush_rate,
                  "notifications per second per endpoint, sustained (429 past it; 0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e9));
  AddCount(app, "--webpush-burst", &so.webpush_burst,
           "notifications one endpoint may send at once before the rate applies", 1, 1'000'000'000);

  // TLS (docs/tls.md).
  app->add_option("--tls-cert", f->tls.cert_file,
                  "PEM certificate chain (the server's first): with --tls-key, both listeners "
                  "speak TLS only; SIGHUP reads the files again");
  app->add_option("--tls-key", f->tls.key_file, "PEM private key of --tls-cert");
  app->add_option("--tls-client-ca", f->tls.client_ca_file,
                  "PEM CA certificates: clients must present a certificate chained to one "
                  "(mutual TLS, e.g. relays)");
  app->add_option("--tls-min-version", f->tls_min_version, "oldest TLS version accepted")
      ->capture_default_str()
      ->check(CLI::IsMember({"1.2", "1.3"}));
  AddDuration(app, "--tls-handshake-timeout", &f->tls.handshake_timeout,
              "a TLS handshake not finished this long after accept is closed");
  app->add_flag("--http-plain", f->http_plain,
                "keep the HTTP listener plain while the sync listener has TLS (behind a "
                "TLS-terminating proxy)");

  // Relaying (docs/relay.md).
  sync::RelayOptions& r = f->relay;
  app->add_option("--upstream", f->upstream,
                  "HOST:PORT of the server this one relays the --relay mailboxes for");
  app->add_option("--relay", f->relay_specs,
                  "MKEY:SECRET of a mailbox to relay, repeatable (a TOML array in --config "
                  "keeps the secrets out of the process list)");
  app->add_option("--relay-folder", f->relay_folder,
                  "where the relayed mailboxes' upstream replicas live (default: <data>/relay)");
  AddDuration(app, "--upstream-timeout", &r.request_timeout,
              "upstream requests fail (and are retried) after this");
  AddDuration(app, "--upstream-retry-max", &r.retry_max,
              "retries of upstream writes back off up to this");
  AddDuration(app, "--upstream-poll-interval", &r.poll_interval,
              "while connected, poll upstream at least this often (a safety net for lost pushes)");
  AddDuration(app, "--relay-scan-interval", &r.scan_interval,
              "how often the relay looks for changes in its own store");
  sync::TlsClientOptions& ut = r.upstream_tls;
  app->add_flag("--upstream-tls", f->upstream_tls,
                "speak TLS to --upstream, verifying its certificate (the system's CAs unless "
                "--upstream-tls-ca)");
  app->add_option("--upstream-tls-ca", ut.ca_file,
                  "PEM CA certificates upstream's chain must lead to (implies --upstream-tls)");
  app->add_option("--upstream-tls-server-name", ut.server_name,
                  "the name upstream's certificate must carry (default: the --upstream host)");
  app->add_option("--upstream-tls-pin", ut.pins,
                  "sha256/BASE64 of a public key upstream's chain must contain, repeatable "
                  "(postbox-admin tls-pin CERT prints it)");
  app->add_option("--upstream-tls-cert", ut.cert_file,
                  "PEM client certificate chain for an upstream that requires one");
  app->add_option("--upstream-tls-key", ut.key_file, "its private key");
  app->add_option("--upstream-tls-min-version", f->upstream_tls_min_version,
                  "oldest TLS version accepted from upstream")
      ->capture_default_str()
      ->check(CLI::IsMember({"1.2", "1.3"}));

  // Operations (docs/operations.md).
  app->add_option("--event-log", f->event_log.path,
                  "file of JSON lines: session starts and ends, messages committed and "
                  "superseded, status changes, transfers, kicks (docs/operations.md; default: "
                  "none); SIGHUP reopens it (logrotate)");
  AddSize(app, "--event-log-max-bytes", &f->event_log.max_bytes,
          "the event log is rotated (PATH.1, PATH.2, ...) before it would pass this (0: never)", 0);
  AddCount(app, "--event-log-keep", &f->event_log.keep, "rotated event log files kept", 0, 1000);

  // Kicks (docs/notifications.md).
  app->add_option("--kick", f->kick,
                  "notify offline mailboxes' push registrations, repeatable: "
                  "[PLATFORMS=]KIND:ARG with KIND log:PATH (JSON lines), "
                  "webhook:http://HOST:PORT/PATH, apns:P8_KEY_FILE (ios by default) or "
                  "fcm:SERVICE_ACCOUNT_JSON (android by default); PLATFORMS is a comma list of "
                  "ios, android, web (default: none)");
  AddDuration(app, "--kick-delay", &so.kick_delay,
              "coalescing window: a kick goes this long after the first change it covers",
              /*zero_allowed=*/true);
  AddDuration(app, "--kick-retry-initial", &so.kick_retry_initial,
              "first retry of a failed kick (doubling, with jitter)");
  AddDuration(app, "--kick-retry-max", &so.kick_retry_max, "longest wait between retries");
  AddCount(app, "--kick-max-attempts", &so.kick_max_attempts,
           "failed sends after which a kick is dropped", 1, 1'000'000);
  app->add_flag("--kick-log-fsync", f->kick_log_fsync,
                "log driver: fdatasync each line before the kick counts as delivered");
  AddDuration(app, "--kick-webhook-timeout", &f->kick_webhook_timeout,
              "webhook driver: per request, from connecting to the whole response");
  AddCount(app, "--kick-webhook-max-in-flight", &f->kick_webhook_max_in_flight,
           "webhook driver: requests at once (one connection each)", 1, 1024);
  AddCount(app, "--kick-webhook-queue", &f->kick_webhook_queue,
           "webhook driver: kicks waiting for a connection (past it they are retried later)", 1,
           10'000'000);
  app->add_option("--kick-webhook-header", f->kick_webhook_headers,
                  "webhook driver: an extra request header 'Name: value', repeatable "
                  "(e.g. 'Authorization: Bearer ...'; prefer --config for secrets)");
  app->add_option("--kick-apns-key-id", f->kick_apns_key_id,
                  "apns driver: the id of the .p8 signing key (10 characters)");
  app->add_option("--kick-apns-team-id", f->kick_apns_team_id,
                  "apns driver: the Apple developer team id (the provider token's issuer)");
  app->add_option("--kick-apns-topic", f->kick_apns_topic, "apns driver: the app's bundle id");
  app->add_flag("--kick-apns-sandbox", f->kick_apns_sandbox,
                "apns driver: api.sandbox.push.apple.com (development builds) instead of "
                "api.push.apple.com");
  app->add_option("--kick-apns-push-type", f->kick_apns_push_type,
                  "apns driver: alert (a visible notification, mutable-content) or background "
                  "(content-available, throttled by iOS)")
      ->check(CLI::IsMember({"alert", "background"}));
  app->add_option("--kick-apns-alert-title", f->kick_apns_alert_title,
                  "apns driver: the alert's title (alert pushes; empty: none)");
  app->add_option("--kick-apns-alert-body", f->kick_apns_alert_body,
                  "apns driver: the alert's text (alert pushes)");
  app->add_option("--kick-apns-url", f->kick_apns_url,
                  "apns driver: https://HOST[:PORT] instead of Apple's (tests)");
  app->add_option("--kick-apns-ca-file", f->kick_apns_ca_file,
                  "apns driver: PEM CA bundle to trust instead of the system's (tests)");
  app->add_option("--kick-fcm-url", f->kick_fcm_url,
                  "fcm driver: https://HOST[:PORT] instead of https://fcm.googleapis.com (tests)");
  app->add_option("--kick-fcm-token-uri", f->kick_fcm_token_uri,
                  "fcm driver: the OAuth 2 token endpoint instead of the service account's "
                  "token_uri (tests)");
  app->add_option("--kick-fcm-ca-file", f->kick_fcm_ca_file,
                  "fcm driver: PEM CA bundle to trust instead of the system's (tests)");
}

bool FinishFlags(Flags* f, std::string* err) {
  sync::ServerOptions& so = f->server;
  if (!ParseHostPort("--listen", f->listen, &so.host, &so.port, err)) return false;
  if (!f->http_listen.empty()) {
    uint16_t http_port = 0;
    if (!ParseHostPort("--http-listen", f->http_listen, &so.http_host, &http_port, err)) {
      return false;
    }
    so.http_port = http_port;
  }
  for (const auto& c : f->compat) {
    if (!ParseCompat(c, &so, err)) return false;
  }
  f->store.durability = f->durability == "durable" ? Durability::kDurable : Durability::kRelaxed;
  f->store.posting_policy = f->open_policy ? PostingPolicy::kOpen : PostingPolicy::kConnected;
  f->store.adopt_stored = SettingSet::All();
  for (const auto& [setting, option] : f->setting_flags) {
    if (option->count() > 0) f->store.adopt_stored.Remove(setting);
  }

  sync::RelayOptions& r = f->relay;
  for (const auto& spec : f->relay_specs) {
    if (!ParseRelay(spec, &r, err)) return false;
  }
  if (f->upstream.empty() != r.mailboxes.empty()) {
    *err = f->upstream.empty() ? "--relay needs --upstream HOST:PORT"
                               : "--upstream needs at least one --relay MKEY:SECRET";
    return false;
  }
  if (!f->upstream.empty()) {
    if (!ParseHostPort("--upstream", f->upstream, &r.upstream_host, &r.upstream_port, err)) {
      return false;
    }
    if (r.upstream_port == 0) {
      *err = "--upstream '" + f->upstream + "': port 0 names no server";
      return false;
    }
    r.folder = f->relay_folder.empty() ? f->data + "/relay" : f->relay_folder;
  }
  if (!f->kick.empty() && !MakeKickDriver(f, err)) return false;  // server/kick_flags.h
  if (!f->admin_token_file.empty()) {
    std::ifstream in(f->admin_token_file);
    if (!in || !std::getline(in, so.admin_token)) {
      *err = "--admin-token-file '" + f->admin_token_file + "': cannot read a token from it";
      return false;
    }
  } else if (const char* env = std::getenv("POSTBOX_ADMIN_TOKEN")) {
    so.admin_token = env;
  }
  while (!so.admin_token.empty() &&
         (so.admin_token.back() == '\r' || so.admin_token.back() == ' ')) {
    so.admin_token.pop_back();
  }
  if (!so.admin_token.empty() && so.admin_token.size() < 16) {
    *err = "the admin token must be at least 16 characters";
    return false;
  }
  if (!f->event_log.path.empty()) {
    auto log = sync::OpenEventLog(f->event_log);
    if (!log) {
      *err = "--event-log: " + std::string(log.error().message());
      return false;
    }
    so.event_log = std::move(*log);
  }
  return FinishTlsFlags(f, err);
}

}  // namespace postbox::server
