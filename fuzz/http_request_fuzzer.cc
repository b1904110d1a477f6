// Fuzzes the request side of one HTTP connection (HttpRequestParser, what
// engine/src/sync/http/connection.cc feeds from its socket) on arbitrary
// byte streams, and the serialisation of a response carrying what a request
// held.
//
// Input: byte 0 picks the limits (the defaults, or small ones so that every
// limit path is reached), byte 1 seeds how the stream is cut into reads, the
// rest is the stream. Invariants: every request yielded respects every limit
// and is HTTP/1.x; an error is one of the documented statuses; nothing is
// consumed past what was given; a response whose headers and body are copied
// from a request still has exactly one head and a body of its Content-Length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sync/http/message.h"
#include "sync/http/parser.h"

namespace {

using postbox::sync::http::AppendResponse;
using postbox::sync::http::HttpLimits;
using postbox::sync::http::HttpRequest;
using postbox::sync::http::HttpRequestParser;
using postbox::sync::http::HttpResponse;
using postbox::sync::http::IsParserErrorStatus;
using postbox::sync::http::ResponseFraming;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckRequest(const HttpRequest& r, const HttpLimits& limits) {
  Check(r.http_major == 1);
  Check(!r.method.empty());
  Check(r.headers.size() <= limits.max_headers);
  Check(r.body.size() <= limits.max_body_bytes);
  size_t head = r.target.size() + r.method.size();
  for (const auto& [name, value] : r.headers) {
    head += name.size() + value.size();
    for (char c : name) Check(!(c >= 'A' && c <= 'Z'));
  }
  Check(head <= limits.max_header_bytes);
  Check(r.path.size() <= r.target.size() && r.query.size() <= r.target.size());

  // Echo everything the request held into a response: the serialised
  // response must keep one head, and exactly Content-Length bytes after it.
  HttpResponse resp;
  resp.status = static_cast<uint16_t>(r.body.empty() ? 200 : 100 + r.body[0]);
  resp.headers = r.headers;
  resp.headers.emplace_back(r.target, r.method);
  resp.body = r.body;
  std::string out;
  AppendResponse(resp, ResponseFraming{.date = "Thu, 01 Jan 1970 00:00:00 GMT"}, &out);
  const size_t end = out.find("\r\n\r\n");
  Check(end != std::string::npos);
  for (size_t i = 0; i < end; ++i) {
    if (out[i] == '\r') Check(out[i + 1] == '\n');
    if (out[i] == '\n') Check(i > 0 && out[i - 1] == '\r');
  }
  const std::string_view rest = std::string_view(out).substr(end + 4);
  const bool bodiless = out.compare(9, 3, "204") == 0 || out.compare(9, 3, "304") == 0;
  Check(rest.size() == (bodiless ? 0 : r.body.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  HttpLimits limits;  // the defaults of ServerOptions
  if (data[0] & 1)
    limits = HttpLimits{.max_header_bytes = 64, .max_headers = 3, .max_body_bytes = 16};
  uint32_t cut_seed = data[1] | 1u;
  std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  HttpRequestParser parser(limits);
  std::string pending;  // read and not yet consumed, as the connection keeps it
  size_t requests = 0;
  while (!stream.empty() || !pending.empty()) {
    // The next "read": 1..32 bytes, or everything left.
    cut_seed = cut_seed * 1103515245u + 12345u;
    const size_t want = (cut_seed >> 16) % 33;
    const size_t n = want == 0 ? stream.size() : std::min(stream.size(), want);
    pending.append(stream.substr(0, n));
    stream.remove_prefix(n);
    bool progressed = false;
    for (;;) {
      size_t used = 0;
      const auto p = parser.Feed(pending, &used);
      Check(used <= pending.size());
      pending.erase(0, used);
      (void)parser.TakeContinue();
      if (p == HttpRequestParser::Progress::kError) {
        Check(IsParserErrorStatus(parser.error_status()));
        Check(!parser.error_message().empty());
        size_t again = 1;
        Check(parser.Feed("x", &again) == HttpRequestParser::Progress::kError && again == 0);
        return 0;
      }
      if (p == HttpRequestParser::Progress::kNeedMore) {
        Check(pending.empty());
        break;
      }
      CheckRequest(parser.TakeRequest(), limits);
      Check(!parser.started());
      ++requests;
      progressed = true;
    }
    if (!progressed && n == 0) break;
  }
  return 0;
}
