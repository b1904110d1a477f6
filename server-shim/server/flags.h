// postbox-server's flags and config keys: one per limit and horizon of the
// store (postbox::Options) and of the sync server (ServerOptions). Every flag
// is also a key of the --config TOML file (dashes or underscores:
// `max-blob-size = "256MiB"` or `max_blob_size = "256MiB"`).
#ifndef POSTBOX_SERVER_SHIM_SERVER_FLAGS_H_
#define POSTBOX_SERVER_SHIM_SERVER_FLAGS_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "postbox/options.h"
#include "postbox/sync/events.h"
#include "postbox/sync/relay.h"
#include "postbox/sync/server.h"

namespace postbox::server {

struct Flags {
  std::string listen = "127.0.0.1:7420";
  std::string http_listen;  // HOST:PORT of the HTTP listener (docs/http.md); empty: none
  std::string data = "./data";
  std::string durability = "durable";
  std::string log_level = "info";
  std::vector<std::string> compat;
  bool open_policy = false;
  Options store;
  // The flags of the settings the store remembers (postbox/settings.h), so
  // FinishFlags can tell which the operator gave (on the command line or in
  // --config): those must match the store's, the rest are taken from it.
  std::vector<std::pair<Setting, CLI::Option*>> setting_flags;
  sync::ServerOptions server;
  // Relaying (docs/relay.md): --upstream HOST:PORT and one --relay
  // MKEY:SECRET per relayed mailbox; relay.mailboxes empty: no relay.
  std::string upstream;
  std::vector<std::string> relay_specs;
  std::string relay_folder;  // empty: <data>/relay
  sync::RelayOptions relay;
  // Kicks (docs/notifications.md): each --kick is [PLATFORMS=]KIND:ARG with
  // KIND log:PATH, webhook:URL, apns:P8_KEY_FILE or fcm:SERVICE_ACCOUNT_JSON
  // (none: no kicks); FinishFlags makes them into server.kick_driver (one
  // driver, or a platform driver routing to several).
  std::vector<std::string> kick;
  bool kick_log_fsync = false;
  std::chrono::milliseconds kick_webhook_timeout{10000};
  size_t kick_webhook_max_in_flight = 4;
  size_t kick_webhook_queue = 1024;
  std::vector<std::string> kick_webhook_headers;  // "Name: value"
  std::string kick_apns_key_id, kick_apns_team_id, kick_apns_topic;
  bool kick_apns_sandbox = false;
  std::string kick_apns_push_type = "alert";
  std::string kick_apns_alert_title;
  std::string kick_apns_alert_body = "New activity";
  std::string kick_apns_url, kick_apns_ca_file;                    // tests: a fake APNs and its CA
  std::string kick_fcm_url, kick_fcm_token_uri, kick_fcm_ca_file;  // tests: a fake FCM
  // TLS (docs/tls.md): --tls-cert and --tls-key turn it on for the sync
  // listener and (unless --http-plain) the HTTP listener.
  sync::TlsServerOptions tls;
  std::string tls_min_version = "1.3";
  bool http_plain = false;
  // The admin API's token (docs/operations.md "Admin API"): read from this
  // file, or from POSTBOX_ADMIN_TOKEN; neither: the admin API is off.
  std::string admin_token_file;
  // TLS to --upstream: --upstream-tls turns it on (the --upstream-tls-*
  // values imply it).
  bool upstream_tls = false;
  std::string upstream_tls_min_version = "1.3";
  // The event log (docs/operations.md "Event log"): --event-log PATH (empty:
  // none), --event-log-max-bytes, --event-log-keep; FinishFlags opens it into
  // server.event_log.
  sync::EventLogOptions event_log;
};

// Declares every flag on `app`, bound to `flags` (defaults shown in --help).
void AddFlags(CLI::App* app, Flags* flags);

// Completes `flags` after parsing: --listen, --http-listen and --upstream into
// hosts and ports, --durability, --open-policy, --compat and --relay into the
// options, the remembered settings not given into store.adopt_stored, --kick into
// server.kick_driver (opening the log file, checking the webhook URL, reading the APNs key or the
// FCM service account), and --event-log into server.event_log (opening the file). false with
// *err set on a bad value (the caller prints it and exits 2).
bool FinishFlags(Flags* flags, std::string* err);

}  // namespace postbox::server

#endif  // POSTBOX_SERVER_SHIM_SERVER_FLAGS_H_
