// postbox-server: flags and config (flags.h), opens the store, runs the
// library's sync server (postbox::sync::Server) — with --upstream, also the
// library's relay (postbox::sync::Relay, docs/relay.md) — and stops them
// gracefully on SIGTERM / SIGINT. Everything a session does lives in the
// library; this file only wraps it.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "postbox/db.h"
#include "postbox/settings.h"
#include "postbox/sync/relay.h"
#include "postbox/sync/server.h"
#include "server/flags.h"
#include "server/notify.h"

namespace {

// A server holds a descriptor per connection: take the most the system
// allows this process (the hard limit) before the server checks it against
// --max-connections.
void RaiseDescriptorLimit() {
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur >= nofile.rlim_max) return;
  nofile.rlim_cur = nofile.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &nofile) != 0) {
    spdlog::warn("could not raise the file descriptor limit to {}", nofile.rlim_max);
  }
}

// "slot_depth=1, posting_policy=connected, ...": what the store remembers.
std::string SettingsInForce(const postbox::Options& options) {
  std::string out;
  for (const postbox::SettingInfo& info : postbox::RememberedSettings()) {
    if (!out.empty()) out += ", ";
    out += std::string(info.name) + "=" +
           postbox::FormatSetting(info.setting, postbox::GetSetting(options, info.setting));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"postbox-server: the postbox sync server on a store folder"};
  postbox::server::Flags flags;
  postbox::server::AddFlags(&app, &flags);
  app.footer(postbox::server::NotifyAvailable()
                 ? "Under systemd (Type=notify) it reports readiness, reloads and stopping "
                   "(sd_notify); docs/operations.md."
                 : "systemd readiness notification (sd_notify) is unavailable: this build has no "
                   "libsystemd (docs/operations.md).");
  CLI11_PARSE(app, argc, argv);
  std::string err;
  if (!postbox::server::FinishFlags(&flags, &err)) {
    std::fprintf(stderr, "postbox-server: %s\n", err.c_str());
    return 2;
  }

  auto logger = spdlog::stderr_color_mt("postbox");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  RaiseDescriptorLimit();

  // Remembered settings the operator did not give are the store's
  // (flags.store.adopt_stored); one given that differs refuses the start.
  auto db = postbox::DB::Open(flags.data, flags.store);
  if (!db) {
    spdlog::error("cannot open the store in {}: {}", flags.data, db.error().ToString());
    return 1;
  }
  if (!(*db)->settings_note().empty()) spdlog::warn("store: {}", (*db)->settings_note());
  spdlog::info("store settings: {}", SettingsInForce((*db)->options()));

  // Block the stop signals before any thread starts, so every thread inherits
  // the mask and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // reloads TLS files, reopens the kick and event logs
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = postbox::sync::Server::Start(db->get(), flags.server);
  if (!server) {
    spdlog::error("cannot start the server: {}", server.error().ToString());
    return 1;
  }
  std::unique_ptr<postbox::sync::Relay> relay;
  if (!flags.relay.mailboxes.empty()) {
    flags.relay.on_error = [](const postbox::Status& s) {
      spdlog::error("relay: {}", s.ToString());
    };
    auto started = postbox::sync::Relay::Start(db->get(), server->get(), flags.relay);
    if (!started) {
      spdlog::error("cannot start the relay: {}", started.error().ToString());
      (*server)->Stop();
      return 1;
    }
    relay = std::move(*started);
    spdlog::info("relaying {} mailbox(es) for {}:{} (replicas in {})", flags.relay.mailboxes.size(),
                 flags.relay.upstream_host, flags.relay.upstream_port, flags.relay.folder);
  }
  std::printf("postbox-server listening on %s:%u%s\n", flags.server.host.c_str(), (*server)->port(),
              flags.server.tls ? " (TLS)" : "");
  if (flags.server.http_port >= 0) {
    std::printf("postbox-server http listening on %s:%u%s\n", flags.server.http_host.c_str(),
                (*server)->http_port(), flags.server.http_tls ? " (TLS)" : "");
  }
  std::fflush(stdout);
  // After the lines above: whoever waits for them (a test, a script) and
  // systemd see the server ready at the same moment.
  postbox::server::NotifyReady("listening on " + flags.server.host + ":" +
                               std::to_string((*server)->port()));

  int sig = 0;
  for (;;) {
    sigwait(&stop_signals, &sig);
    if (sig != SIGHUP) break;
    postbox::server::NotifyReloading();
    if (flags.server.tls || flags.server.http_tls) {
      const postbox::Status reloaded = (*server)->ReloadTls();
      if (reloaded.ok()) {
        spdlog::info(
            "SIGHUP received: TLS certificate and key reloaded (open sessions keep theirs)");
      } else {
        spdlog::error("SIGHUP: reloading TLS failed, the old certificate stays: {}",
                      reloaded.ToString());
      }
    }
    if (flags.server.kick_driver) {
      const postbox::Status reopened = flags.server.kick_driver->Reopen();
      if (reopened.ok()) {
        spdlog::info("SIGHUP received: kick driver files reopened");
      } else {
        spdlog::error("SIGHUP: reopening the kick driver's files failed: {}", reopened.ToString());
      }
    }
    if (flags.server.event_log) {
      const postbox::Status reopened = flags.server.event_log->Reopen();
      if (reopened.ok()) {
        spdlog::info("SIGHUP received: event log reopened");
      } else {
        spdlog::error("SIGHUP: reopening the event log failed, it goes on in the old file: {}",
                      reopened.ToString());
      }
    }
    postbox::server::NotifyReady("listening on " + flags.server.host + ":" +
                                 std::to_string((*server)->port()));
  }
  postbox::server::NotifyStopping();
  spdlog::info("{} received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  // The relay writes through the server: it stops first. What it has not
  // forwarded yet stays in its replicas' durable outboxes for the next start.
  relay.reset();
  (*server)->Stop();
  server->reset();
  flags.server.event_log.reset();  // writes the last events (session ends of the stop)
  // Relaxed mode's last writes are synced here; a failure must be seen.
  const postbox::Status synced = (*db)->Sync();
  db->reset();
  if (!synced.ok()) {
    spdlog::error("the final sync failed: {}", synced.ToString());
    return 1;
  }
  spdlog::info("stopped");
  return 0;
}
