// postbox-server's --kick flags into a kick driver (docs/notifications.md).
#include "server/kick_flags.h"

#include <fstream>
#include <memory>
#include <sstream>

namespace postbox::server {
namespace {

// The whole of a key or service-account file; false with *err if unreadable.
bool ReadKickFile(const std::string& flag, const std::string& path, std::string* out,
                  std::string* err) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    *err = "--kick '" + flag + "': cannot read '" + path + "'";
    return false;
  }
  *out = text.str();
  return true;
}

// One --kick's driver: KIND:ARG with KIND log, webhook, apns or fcm.
Result<std::unique_ptr<sync::KickDriver>> MakeOneKickDriver(const Flags& f, const std::string& kind,
                                                            const std::string& arg,
                                                            const std::string& spec,
                                                            std::string* err) {
  const Status bad = Status::InvalidArgument("");
  if (kind == "log") return sync::MakeLogKickDriver({.path = arg, .fsync = f.kick_log_fsync});
  if (kind == "webhook") {
    sync::WebhookOptions w{.url = arg,
                           .timeout = f.kick_webhook_timeout,
                           .max_in_flight = f.kick_webhook_max_in_flight,
                           .queue_limit = f.kick_webhook_queue,
                           .headers = {}};
    for (const auto& h : f.kick_webhook_headers) {
      const size_t c = h.find(':');
      if (c == std::string::npos) {
        *err = "--kick-webhook-header '" + h + "': expected 'Name: value'";
        return bad;
      }
      std::string value = h.substr(c + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      w.headers.emplace_back(h.substr(0, c), value);
    }
    return sync::MakeWebhookKickDriver(w);
  }
  if (kind == "apns") {
    sync::ApnsOptions a;
    if (!ReadKickFile(spec, arg, &a.key_pem, err)) return bad;
    a.key_id = f.kick_apns_key_id;
    a.team_id = f.kick_apns_team_id;
    a.topic = f.kick_apns_topic;
    a.sandbox = f.kick_apns_sandbox;
    a.base_url = f.kick_apns_url;
    a.ca_file = f.kick_apns_ca_file;
    a.push_type = f.kick_apns_push_type == "background" ? sync::ApnsOptions::PushType::kBackground
                                                        : sync::ApnsOptions::PushType::kAlert;
    a.alert_title = f.kick_apns_alert_title;
    a.alert_body = f.kick_apns_alert_body;
    return sync::MakeApnsKickDriver(a);
  }
  sync::FcmOptions o;  // kind == "fcm"
  if (!ReadKickFile(spec, arg, &o.service_account_json, err)) return bad;
  o.base_url = f.kick_fcm_url;
  o.token_uri = f.kick_fcm_token_uri;
  o.ca_file = f.kick_fcm_ca_file;
  return sync::MakeFcmKickDriver(o);
}

}  // namespace

bool MakeKickDriver(Flags* f, std::string* err) {
  std::shared_ptr<sync::KickDriver> by_platform[3];  // ios, android, web
  std::shared_ptr<sync::KickDriver> rest;            // log or webhook without PLATFORMS
  const auto index = [](Platform p) { return static_cast<int>(p) - 1; };
  for (const std::string& spec : f->kick) {
    const size_t eq = spec.find('=');
    const size_t colon = spec.find(':');
    const bool has_platforms = eq != std::string::npos && eq < colon;
    const std::string body = has_platforms ? spec.substr(eq + 1) : spec;
    const size_t c = body.find(':');
    const std::string kind = body.substr(0, c);
    const std::string arg = c == std::string::npos ? "" : body.substr(c + 1);
    if ((kind != "log" && kind != "webhook" && kind != "apns" && kind != "fcm") || arg.empty()) {
      *err = "--kick '" + spec +
             "': expected [ios,android,web=]log:PATH, webhook:http://HOST:PORT/PATH, "
             "apns:P8_KEY_FILE or fcm:SERVICE_ACCOUNT_JSON";
      return false;
    }
    std::vector<Platform> platforms;
    if (has_platforms) {
      std::string names = spec.substr(0, eq);
      for (size_t at = 0; at <= names.size();) {
        const size_t comma = std::min(names.find(',', at), names.size());
        auto p = ParsePlatform(names.substr(at, comma - at));
        if (!p.ok() || *p == Platform::kNone) {
          *err = "--kick '" + spec + "': platforms are ios, android and web, comma-separated";
          return false;
        }
        platforms.push_back(*p);
        at = comma + 1;
      }
    } else if (kind == "apns") {
      platforms = {Platform::kIos};
    } else if (kind == "fcm") {
      platforms = {Platform::kAndroid};
    }
    Result<std::unique_ptr<sync::KickDriver>> made = MakeOneKickDriver(*f, kind, arg, spec, err);
    if (!made) {
      if (err->empty()) *err = "--kick '" + spec + "': " + made.error().ToString();
      return false;
    }
    std::shared_ptr<sync::KickDriver> driver = std::move(*made);
    if (platforms.empty()) {
      if (rest) {
        *err = "--kick '" + spec + "': two --kick without platforms serve the same ones; " +
               "name them, e.g. --kick web=" + body;
        return false;
      }
      rest = driver;
    }
    for (Platform p : platforms) {
      if (by_platform[index(p)]) {
        *err =
            "--kick '" + spec + "': another --kick already serves " + std::string(PlatformName(p));
        return false;
      }
      by_platform[index(p)] = driver;
    }
  }
  if (f->kick.size() == 1 && rest) {
    f->server.kick_driver = rest;  // one driver for everything, as before routing existed
    return true;
  }
  for (auto& d : by_platform) {
    if (!d) d = rest;
  }
  auto routed = sync::MakePlatformKickDriver(
      {.ios = by_platform[0], .android = by_platform[1], .web = by_platform[2]});
  if (!routed) {
    *err = "--kick: " + routed.error().ToString();
    return false;
  }
  f->server.kick_driver = std::move(*routed);
  return true;
}

}  // namespace postbox::server
