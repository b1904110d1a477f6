// postbox-server: flags and config, opens the store, runs the library's sync
// server (postbox::sync::Server) and stops it gracefully on SIGTERM / SIGINT.
// Everything a session does lives in the library; this file only wraps it.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "postbox/sync/server.h"

namespace {

// "ios:MIN:LATEST:SCHEMA[:DETAIL]" → a platform's compatibility policy.
bool ParseCompat(const std::string& spec, postbox::sync::ServerOptions* o, std::string* err) {
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
  auto platform = postbox::ParsePlatform(parts[0]);
  if (!platform) {
    *err = "--compat '" + spec + "': " + platform.error().ToString();
    return false;
  }
  postbox::sync::CompatibilityPolicy p;
  p.min_app_version = parts[1];
  p.latest_app_version = parts[2];
  try {
    p.min_schema_version = parts[3].empty() ? 0 : static_cast<uint32_t>(std::stoul(parts[3]));
  } catch (const std::exception&) {
    *err = "--compat '" + spec + "': MIN_SCHEMA must be a number";
    return false;
  }
  if (parts.size() > 4) p.detail = parts[4];
  o->compatibility[*platform] = p;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"postbox-server: the postbox sync server on a store folder"};
  std::string listen = "127.0.0.1:7420";
  std::string data = "./data";
  std::string durability = "durable";
  std::string log_level = "info";
  std::vector<std::string> compat;
  bool open_policy = false;
  unsigned slot_depth = 1;
  postbox::sync::ServerOptions so;
  so.threads = 0;
  int64_t idle_ms = so.idle_timeout.count(), pong_ms = so.pong_timeout.count(),
          session_ms = so.max_session.count();

  app.set_config("--config", "", "TOML config file whose keys are these flags' long names");
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: an ephemeral port)")
      ->capture_default_str();
  app.add_option("--data", data, "store folder (the one postbox-admin --data opens)")
      ->capture_default_str();
  // Every numeric flag is checked: CLI11 would read "-1" into an unsigned as 2^64 - 1.
  app.add_option("--threads", so.threads, "network loop threads (0: one per core)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  app.add_option("--max-connections", so.max_connections,
                 "connections past this get 503 and are closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  app.add_option("--window", so.window, "unacked pushes per session")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--idle-timeout", idle_ms, "ms of silence before a session is pinged")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--pong-timeout", pong_ms, "ms to wait for a pong before closing")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-session", session_ms, "maximum session lifetime in ms")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--durability", durability,
                 "durable: each acknowledged write is synced; relaxed: synced every second")
      ->capture_default_str()
      ->check(CLI::IsMember({"durable", "relaxed"}));
  app.add_flag("--open-policy", open_policy,
               "anyone who knows a mailbox key may post to it (default: connected only)");
  app.add_option("--slot-depth", slot_depth, "live messages per (from, to, topic) slot")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--compat", compat,
                 "per-platform policy PLATFORM:MIN_APP:LATEST_APP:MIN_SCHEMA[:DETAIL], "
                 "repeatable (e.g. ios:2.0:2.3:1)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("postbox");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));

  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "postbox-server: --listen '%s': expected HOST:PORT\n", listen.c_str());
    return 2;
  }
  so.host = listen.substr(0, colon);
  if (so.host.size() > 2 && so.host.front() == '[' && so.host.back() == ']') {
    so.host = so.host.substr(1, so.host.size() - 2);  // [::1]:7420
  }
  try {
    unsigned long port = std::stoul(listen.substr(colon + 1));
    if (port > 65535) throw std::out_of_range("port");
    so.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    std::fprintf(stderr, "postbox-server: --listen '%s': the port must be 0..65535\n",
                 listen.c_str());
    return 2;
  }
  so.idle_timeout = std::chrono::milliseconds(idle_ms);
  so.pong_timeout = std::chrono::milliseconds(pong_ms);
  so.max_session = std::chrono::milliseconds(session_ms);
  for (const auto& c : compat) {
    std::string err;
    if (!ParseCompat(c, &so, &err)) {
      std::fprintf(stderr, "postbox-server: %s\n", err.c_str());
      return 2;
    }
  }

  postbox::Options options;
  options.durability =
      durability == "durable" ? postbox::Durability::kDurable : postbox::Durability::kRelaxed;
  options.posting_policy =
      open_policy ? postbox::PostingPolicy::kOpen : postbox::PostingPolicy::kConnected;
  options.slot_depth = slot_depth;
  auto db = postbox::DB::Open(data, options);
  if (!db) {
    spdlog::error("cannot open the store in {}: {}", data, db.error().ToString());
    return 1;
  }

  // Block the stop signals before any thread starts, so every thread inherits
  // the mask and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = postbox::sync::Server::Start(db->get(), so);
  if (!server) {
    spdlog::error("cannot start the server: {}", server.error().ToString());
    return 1;
  }
  std::printf("postbox-server listening on %s:%u\n", so.host.c_str(), (*server)->port());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("{} received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Stop();
  server->reset();
  db->reset();
  spdlog::info("stopped");
  return 0;
}
