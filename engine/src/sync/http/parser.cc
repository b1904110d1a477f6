#include "sync/http/parser.h"

#include <algorithm>

namespace postbox::sync::http {
namespace {

HttpRequestParser* Self(http_parser* p) { return static_cast<HttpRequestParser*>(p->data); }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// path and query of a request-target: origin-form ("/a?b") and "*" by hand,
// absolute-form ("http://h/a?b") through http-parser's URL splitter.
void SplitTarget(HttpRequest* r, bool is_connect) {
  const std::string& t = r->target;
  if (!t.empty() && (t[0] == '/' || t == "*")) {
    const size_t end = t.find_first_of("?#");
    r->path = t.substr(0, end);
    if (end != std::string::npos && t[end] == '?') {
      const size_t hash = t.find('#', end);
      r->query = t.substr(end + 1, hash == std::string::npos ? std::string::npos : hash - end - 1);
    }
    return;
  }
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(t.data(), t.size(), is_connect ? 1 : 0, &u) != 0) return;
  if (u.field_set & (1 << UF_PATH)) {
    r->path = t.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
  }
  if (u.field_set & (1 << UF_QUERY)) {
    r->query = t.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
  }
}

}  // namespace

const http_parser_settings HttpRequestParser::kSettings = {
    .on_message_begin = &HttpRequestParser::OnMessageBegin,
    .on_url = &HttpRequestParser::OnUrl,
    .on_status = nullptr,
    .on_header_field = &HttpRequestParser::OnHeaderField,
    .on_header_value = &HttpRequestParser::OnHeaderValue,
    .on_headers_complete = &HttpRequestParser::OnHeadersComplete,
    .on_body = &HttpRequestParser::OnBody,
    .on_message_complete = &HttpRequestParser::OnMessageComplete,
    .on_chunk_header = &HttpRequestParser::OnChunkHeader,
    .on_chunk_complete = nullptr,
};

HttpRequestParser::HttpRequestParser(const HttpLimits& limits) : limits_(limits) {
  // A zero limit would make every head "too large" before its first byte.
  limits_.max_header_bytes = std::max<size_t>(limits_.max_header_bytes, 1);
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

void HttpRequestParser::Reset() {
  request_ = HttpRequest{};
  field_.clear();
  value_.clear();
  in_value_ = in_field_ = false;
  header_count_ = head_bytes_ = trailer_bytes_ = 0;
  started_ = head_done_ = complete_ = continue_ = false;
}

int HttpRequestParser::Fail(uint16_t status, const char* message) {
  if (error_status_ == 0) {
    error_status_ = status;
    error_message_ = message;
  }
  // Non-zero stops http-parser with HPE_CB_<callback>; not 1 or 2, which
  // on_headers_complete reserves for "skip the body" and "upgrade".
  return -1;
}

HttpRequestParser::Progress HttpRequestParser::Feed(std::string_view data, size_t* consumed) {
  *consumed = 0;
  if (error_status_ != 0) return Progress::kError;
  if (complete_) return Progress::kRequest;
  while (*consumed < data.size()) {
    size_t n = data.size() - *consumed;
    // The head may not pass max_header_bytes: feed no more than what is left
    // of it, so a huge header is refused before it is buffered.
    if (!head_done_) n = std::min(n, limits_.max_header_bytes - head_bytes_);
    started_ = true;
    const size_t used = http_parser_execute(&parser_, &kSettings, data.data() + *consumed, n);
    if (!head_done_) head_bytes_ += used;
    *consumed += used;
    const http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (complete_) {
      if (err == HPE_PAUSED) http_parser_pause(&parser_, 0);
      return Progress::kRequest;
    }
    if (err != HPE_OK) {
      if (err == HPE_HEADER_OVERFLOW) {
        Fail(431, "request header fields too large");
      } else {
        Fail(400, "malformed request");
      }
      return Progress::kError;
    }
    if (!head_done_ && head_bytes_ >= limits_.max_header_bytes) {
      Fail(431, "request header fields too large");
      return Progress::kError;
    }
    if (used < n) {
      // http-parser stops early only on an error or a message's end, both
      // handled above; anything else means the stream cannot be trusted.
      Fail(400, "malformed request");
      return Progress::kError;
    }
  }
  return Progress::kNeedMore;
}

HttpRequest HttpRequestParser::TakeRequest() {
  HttpRequest r = std::move(request_);
  Reset();
  return r;
}

bool HttpRequestParser::TakeContinue() {
  const bool c = continue_;
  continue_ = false;
  return c;
}

bool HttpRequestParser::CheckVersion() {
  // http-parser accepts HTTP/<digit>.<digit>; only 1.x is served.
  return parser_.http_major == 1;
}

void HttpRequestParser::FinishHeader() {
  if (!in_field_ && !in_value_) return;
  std::string name;
  name.reserve(field_.size());
  for (char c : field_) name.push_back(Lower(c));
  request_.headers.emplace_back(std::move(name), std::string(TrimBlanks(value_)));
  field_.clear();
  value_.clear();
  in_field_ = in_value_ = false;
}

int HttpRequestParser::OnMessageBegin(http_parser*) { return 0; }

int HttpRequestParser::OnUrl(http_parser* p, const char* at, size_t n) {
  Self(p)->request_.target.append(at, n);
  return 0;
}

int HttpRequestParser::OnHeaderField(http_parser* p, const char* at, size_t n) {
  HttpRequestParser* self = Self(p);
  if (self->head_done_) {
    // A trailer of a chunked body: counted against its own header budget,
    // and dropped (docs/http.md).
    self->trailer_bytes_ += n;
    if (self->trailer_bytes_ > self->limits_.max_header_bytes) {
      return self->Fail(431, "request trailer fields too large");
    }
    return 0;
  }
  if (!self->CheckVersion()) return self->Fail(505, "only HTTP/1.x is supported");
  if (!self->in_field_) {
    self->FinishHeader();
    if (++self->header_count_ > self->limits_.max_headers) {
      return self->Fail(431, "too many request header fields");
    }
    self->in_field_ = true;
  }
  self->field_.append(at, n);
  return 0;
}

int HttpRequestParser::OnHeaderValue(http_parser* p, const char* at, size_t n) {
  HttpRequestParser* self = Self(p);
  if (self->head_done_) {
    self->trailer_bytes_ += n;
    if (self->trailer_bytes_ > self->limits_.max_header_bytes) {
      return self->Fail(431, "request trailer fields too large");
    }
    return 0;
  }
  self->in_field_ = false;
  self->in_value_ = true;
  self->value_.append(at, n);
  return 0;
}

int HttpRequestParser::OnHeadersComplete(http_parser* p) {
  HttpRequestParser* self = Self(p);
  if (!self->CheckVersion()) return self->Fail(505, "only HTTP/1.x is supported");
  self->FinishHeader();
  self->head_done_ = true;
  HttpRequest& r = self->request_;
  r.method = http_method_str(static_cast<http_method>(p->method));
  r.http_major = p->http_major;
  r.http_minor = p->http_minor;
  SplitTarget(&r, p->method == HTTP_CONNECT);
  // Content-Length is checked before a byte of the body is read.
  const bool has_length = (p->flags & F_CONTENTLENGTH) != 0;
  const bool chunked = (p->flags & F_CHUNKED) != 0;
  if (has_length && p->content_length > self->limits_.max_body_bytes) {
    return self->Fail(413, "request body too large");
  }
  // Expect (RFC 9110 §10.1.1): an HTTP/1.0 client's is ignored.
  if (const std::string* expect = r.Header("expect"); expect && r.http_minor >= 1) {
    if (!EqualsIgnoreCase(*expect, "100-continue")) {
      return self->Fail(417, "only Expect: 100-continue is supported");
    }
    self->continue_ = chunked || (has_length && p->content_length > 0);
  }
  return 0;
}

int HttpRequestParser::OnChunkHeader(http_parser* p) {
  HttpRequestParser* self = Self(p);
  // content_length is the announced chunk's size: refuse it before reading it.
  if (p->content_length > self->limits_.max_body_bytes - self->request_.body.size()) {
    return self->Fail(413, "request body too large");
  }
  return 0;
}

int HttpRequestParser::OnBody(http_parser* p, const char* at, size_t n) {
  HttpRequestParser* self = Self(p);
  if (n > self->limits_.max_body_bytes - self->request_.body.size()) {
    return self->Fail(413, "request body too large");
  }
  self->request_.body.append(at, n);
  return 0;
}

int HttpRequestParser::OnMessageComplete(http_parser* p) {
  HttpRequestParser* self = Self(p);
  // An Upgrade (or CONNECT) ends HTTP on this connection: it closes after
  // the response instead of switching protocols.
  self->request_.keep_alive = http_should_keep_alive(p) != 0 && p->upgrade == 0;
  self->complete_ = true;
  self->continue_ = false;  // the body is here: no interim response needed
  http_parser_pause(p, 1);  // one request at a time: the next waits for TakeRequest
  return 0;
}

}  // namespace postbox::sync::http
