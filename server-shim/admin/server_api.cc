#include "admin/server_api.h"

#include <curl/curl.h>

#include <cassert>
#include <cstdlib>
#include <fstream>
#include <memory>

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

// `method` `target` on --server with the admin token: the status and the body.
Result<Answer> Call(const GlobalFlags& f, std::string_view method, const std::string& target) {
  POSTBOX_ASSIGN_OR_RETURN(std::string token, Token(f));
  const bool https = f.server.starts_with("https://");
  const std::string base =
      https || f.server.starts_with("http://") ? f.server : "http://" + f.server;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::Internal("curl_easy_init failed");
  Answer a;
  const std::string url = base + target;
  const std::string verb(method);
  const std::string auth = "Authorization: Bearer " + token;
  const bool empty_body = verb == "POST" || verb == "PUT";
  curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
  // The empty body goes without curl's form Content-Type.
  if (curl_slist* more = empty_body ? curl_slist_append(headers, "Content-Type:") : nullptr) {
    headers = more;
  }
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> hold(headers, curl_slist_free_all);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, verb.c_str());
  if (empty_body) {
    // Content-Length: 0, which a POST or PUT without a body should carry.
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, 0L);
  }
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

// The engine's code for an HTTP status; Internal for one it has none for.
Code CodeOf(long status) {
  switch (status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kConflict;
    case 410:
      return Code::kGone;
    case 413:
      return Code::kTooLarge;
    case 422:
      return Code::kDigestMismatch;
    case 426:
      return Code::kProtocolUnsupported;
    case 429:
      return Code::kBackOff;
    case 503:
      return Code::kUnavailable;
    case 507:
      return Code::kResourceExhausted;
    default:
      return Code::kInternal;
  }
}

// The server's refusal as a Status, its message the server's {"error": ...}.
Status Refused(std::string_view method, const std::string& target, const Answer& a) {
  const Json doc = Json::parse(a.body, nullptr, false);
  std::string why = Printable(a.body, 200);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_string()) {
    why = doc["error"].get<std::string>();
  }
  const Code code = CodeOf(a.status);
  if (code == Code::kInternal) {
    // 405, 500 and the like: the client and the server disagree, or the server
    // failed; the request and the status say which.
    why = std::string(method) + " " + target + ": the server answered " + std::to_string(a.status) +
          (why.empty() ? "" : ": " + why);
  }
  return Status(code, why);
}

}  // namespace

Result<Json> Request(const Context& ctx, std::string_view method, const std::string& target,
                     long expected) {
  assert(ctx.remote());
  POSTBOX_ASSIGN_OR_RETURN(Answer a, Call(ctx.flags(), method, target));
  if (a.status != expected) return Refused(method, target, a);
  if (a.body.empty()) return Json();
  Json doc = Json::parse(a.body, nullptr, false);
  if (doc.is_discarded()) {
    return Status::Internal(std::string(method) + " " + target +
                            ": the server's answer is not JSON: " + Printable(a.body, 200));
  }
  return doc;
}

}  // namespace postbox::admin
