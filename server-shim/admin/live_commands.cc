// The live server's commands (docs/operations.md "Live stats"): sessions,
// viewers, transfers and kick, over the admin API of its HTTP listener
// (engine/src/sync/server/admin_routes.h) with libcurl. They touch no store.
#include <curl/curl.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "admin/cli.h"
#include "admin/format.h"

namespace postbox::admin {
namespace {

struct Answer {
  long status = 0;
  std::string body;
};

Result<std::string> Token(const GlobalFlags& f) {
  std::string token;
  if (!f.token_file.empty()) {
    std::ifstream in(f.token_file);
    if (!in) return Status::NotFound("cannot read --token-file '" + f.token_file + "'");
    std::getline(in, token);
  } else if (const char* env = std::getenv("POSTBOX_ADMIN_TOKEN")) {
    token = env;
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    return Status::InvalidArgument(
        "the admin token: give --token-file FILE or POSTBOX_ADMIN_TOKEN");
  }
  return token;
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// `method` `path` on --server with the admin token; the status and the body.
Result<Answer> Call(const Context& ctx, const std::string& method, const std::string& path) {
  const GlobalFlags& f = ctx.flags();
  if (f.server.empty()) {
    return Status::InvalidArgument("this command talks to a live server: give --server HOST:PORT");
  }
  POSTBOX_ASSIGN_OR_RETURN(std::string token, Token(f));
  const bool https = f.server.starts_with("https://");
  const std::string base =
      https || f.server.starts_with("http://") ? f.server : "http://" + f.server;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::Internal("curl_easy_init failed");
  Answer a;
  const std::string url = base + path;
  const std::string auth = "Authorization: Bearer " + token;
  curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> hold(headers, curl_slist_free_all);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  if (!f.ca_file.empty()) curl_easy_setopt(curl.get(), CURLOPT_CAINFO, f.ca_file.c_str());
  if (const CURLcode rc = curl_easy_perform(curl.get()); rc != CURLE_OK) {
    return Status::Unavailable(url + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &a.status);
  return a;
}

// The server's error as a Status (its JSON {"error": ...} when there is one).
Status Refused(const Answer& a) {
  std::string why = a.body;
  if (auto doc = Json::parse(a.body, nullptr, false); doc.is_object() && doc.contains("error")) {
    why = doc["error"].get<std::string>();
  }
  const Code code = a.status == 401   ? Code::kUnauthenticated
                    : a.status == 404 ? Code::kNotFound
                    : a.status == 503 ? Code::kUnavailable
                                      : Code::kInternal;
  return Status(code, "the server answered " + std::to_string(a.status) + ": " + why);
}

Result<Json> GetJson(const Context& ctx, const std::string& path) {
  POSTBOX_ASSIGN_OR_RETURN(Answer a, Call(ctx, "GET", path));
  if (a.status != 200) return Refused(a);
  Json doc = Json::parse(a.body, nullptr, false);
  if (doc.is_discarded()) return Status::Internal("the server's answer is not JSON");
  return doc;
}

std::string Text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Status Sessions(const Context& ctx) {
  POSTBOX_ASSIGN_OR_RETURN(Json doc, GetJson(ctx, "/admin/sessions"));
  if (ctx.json()) {
    ctx.EmitJson(doc);
    return Status::Ok();
  }
  std::cout << "id               state   mailbox                          platform  app      "
               "since                     in        out       pending peer\n";
  for (const Json& s : doc["sessions"]) {
    std::printf("%-16s %-7s %-32s %-9s %-8s %-25s %-9s %-9s %-7s %s%s\n", Text(s["id"]).c_str(),
                Text(s["state"]).c_str(), s["mkey"].is_null() ? "-" : Text(s["mkey"]).c_str(),
                Text(s["platform"]).c_str(),
                s["app_version"].get<std::string>().empty() ? "-" : Text(s["app_version"]).c_str(),
                IsoTime(s["since_ms"].get<uint64_t>()).c_str(), Text(s["bytes_in"]).c_str(),
                Text(s["bytes_out"]).c_str(), Text(s["pending_pushes"]).c_str(),
                Text(s["peer"]).c_str(), s["tls"].get<bool>() ? " (TLS)" : "");
  }
  std::fflush(stdout);
  return Status::Ok();
}

Status Viewers(const Context& ctx) {
  POSTBOX_ASSIGN_OR_RETURN(Json doc, GetJson(ctx, "/admin/viewers"));
  if (ctx.json()) {
    ctx.EmitJson(doc);
    return Status::Ok();
  }
  std::cout << "mailbox                          viewers sessions\n";
  for (const Json& m : doc["mailboxes"]) {
    std::string ids;
    for (const Json& id : m["sessions"]) ids += (ids.empty() ? "" : ",") + Text(id);
    std::printf("%-32s %-7s %s\n", Text(m["mkey"]).c_str(), Text(m["viewers"]).c_str(),
                ids.c_str());
  }
  std::fflush(stdout);
  return Status::Ok();
}

Status Transfers(const Context& ctx) {
  POSTBOX_ASSIGN_OR_RETURN(Json doc, GetJson(ctx, "/admin/transfers"));
  if (ctx.json()) {
    ctx.EmitJson(doc);
    return Status::Ok();
  }
  std::cout << "downloads (session, mailbox, message, next, end):\n";
  for (const Json& d : doc["downloads"]) {
    std::cout << "  " << Text(d["session"]) << " " << Text(d["mkey"]) << " " << Text(d["id"]) << " "
              << Text(d["next"]) << " " << Text(d["end"]) << "\n";
  }
  std::cout << "uploads (message, from, to, stored/length):\n";
  for (const Json& u : doc["uploads"]) {
    std::cout << "  " << Text(u["id"]) << " " << Text(u["from"]) << " " << Text(u["to"]) << " "
              << Text(u["offset"]) << "/" << Text(u["length"]) << "\n";
  }
  return Status::Ok();
}

Status Kick(const Context& ctx, const std::string& id) {
  POSTBOX_ASSIGN_OR_RETURN(Answer a, Call(ctx, "DELETE", "/admin/sessions/" + id));
  if (a.status != 204) return Refused(a);
  if (ctx.json()) {
    ctx.EmitJson({{"kicked", id}});
  } else {
    std::cout << "session " << id << " kicked out\n";
  }
  return Status::Ok();
}

}  // namespace

void AddLiveCommands(CLI::App* app, Command* selected) {
  OnSelected(app->add_subcommand("sessions", "List the live server's sessions (needs --server)"),
             selected, Sessions);
  OnSelected(app->add_subcommand("viewers", "Sessions per mailbox on the live server"), selected,
             Viewers);
  OnSelected(app->add_subcommand("transfers", "Downloads and uploads in progress on the server"),
             selected, Transfers);
  auto id = std::make_shared<std::string>();
  CLI::App* kick = app->add_subcommand("kick", "Close a session of the live server (503)");
  kick->add_option("session", *id, "Session id, as `sessions` shows it")
      ->required()
      ->check(CLI::Number);
  OnSelected(kick, selected, [id](const Context& ctx) { return Kick(ctx, *id); });
}

}  // namespace postbox::admin
