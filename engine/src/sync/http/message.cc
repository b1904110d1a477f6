// Requests, responses and HttpRespond: the value types of http.h and the
// serialisation of responses.
#include "sync/http/message.h"

#include <http_parser.h>

#include <algorithm>
#include <ctime>

namespace postbox::sync::http {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

// RFC 9110 §5.6.2 tchar.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Header fields only the listener writes.
bool Reserved(std::string_view name) {
  for (std::string_view r : {"content-length", "date", "connection", "transfer-encoding"}) {
    if (EqualsIgnoreCase(name, r)) return true;
  }
  return false;
}

void AppendJsonString(std::string_view s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

}  // namespace

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return &v;
  }
  return nullptr;
}

HttpResponse HttpResponse::Text(uint16_t status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::JsonError(uint16_t status, std::string_view message) {
  std::string body = "{\"error\":";
  AppendJsonString(message, &body);
  body += "}";
  return Text(status, std::move(body), "application/json");
}

HttpResponse HttpResponse::MethodNotAllowed(std::string_view allow) {
  HttpResponse r = JsonError(405, "method not allowed");
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

std::string_view ReasonPhrase(uint16_t status) {
  switch (status) {
#define POSTBOX_HTTP_REASON(num, name, text) \
  case num:                                  \
    return #text;
    HTTP_STATUS_MAP(POSTBOX_HTTP_REASON)
#undef POSTBOX_HTTP_REASON
    default:
      return "Unknown";
  }
}

std::string FormatHttpDate(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[64];
  // strftime's %a and %b follow the C locale, which the library never changes.
  const size_t n = strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(buf, n);
}

void AppendResponse(const HttpResponse& response, const ResponseFraming& framing,
                    std::string* out) {
  const uint16_t status =
      response.status >= 200 && response.status <= 599 ? response.status : uint16_t{500};
  const bool no_body = status == 204 || status == 304 || framing.head;
  out->append("HTTP/1.1 ");
  out->append(std::to_string(status));
  out->push_back(' ');
  out->append(ReasonPhrase(status));
  out->append("\r\n");
  for (const auto& [name, value] : response.headers) {
    if (!IsToken(name) || Reserved(name)) continue;
    out->append(name);
    out->append(": ");
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      out->push_back((u < 0x20 && c != '\t') || u == 0x7f ? ' ' : c);
    }
    out->append("\r\n");
  }
  out->append("Date: ");
  out->append(framing.date);
  out->append("\r\n");
  if (status != 204) {  // RFC 9110 §8.6: a 204 has none
    // HEAD and 304 announce the length of the body they do not carry.
    out->append("Content-Length: ");
    out->append(std::to_string(response.body.size()));
    out->append("\r\n");
  }
  if (framing.close) {
    out->append("Connection: close\r\n");
  } else if (framing.http10_keep_alive) {
    out->append("Connection: keep-alive\r\n");
  }
  out->append("\r\n");
  if (!no_body) out->append(response.body);
}

void HttpInbox::Post(HttpReply reply) {
  std::lock_guard lock(mu);
  if (wake == nullptr) return;
  replies.push_back(std::move(reply));
  uv_async_send(wake);  // under mu: Detach cannot close the handle meanwhile
}

std::vector<HttpReply> HttpInbox::Take() {
  std::vector<HttpReply> v;
  std::lock_guard lock(mu);
  v.swap(replies);
  return v;
}

void HttpInbox::Detach() {
  std::lock_guard lock(mu);
  wake = nullptr;
  replies.clear();
}

HttpRespond& HttpRespond::operator=(HttpRespond&& other) noexcept {
  if (this != &other) {
    if (inbox_) (*this)(HttpResponse::JsonError(500, "the handler dropped the request"));
    inbox_ = std::move(other.inbox_);
    connection_ = other.connection_;
    sequence_ = other.sequence_;
  }
  return *this;
}

HttpRespond::~HttpRespond() {
  if (inbox_) (*this)(HttpResponse::JsonError(500, "the handler dropped the request"));
}

void HttpRespond::operator()(HttpResponse response) {
  if (!inbox_) return;
  std::shared_ptr<HttpInbox> inbox = std::move(inbox_);
  inbox_.reset();
  inbox->Post(HttpReply{connection_, sequence_, std::move(response)});
}

HttpHandler::~HttpHandler() = default;

}  // namespace postbox::sync::http
