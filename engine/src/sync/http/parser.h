// HttpRequestParser: the request side of one HTTP/1.x connection without the
// socket — bytes in, complete requests (or one error status) out, every limit
// of docs/http.md enforced as the bytes arrive. The connection
// (connection.cc) feeds it what it reads; fuzz/http_request_fuzzer.cc feeds
// it arbitrary bytes. Parsing itself is http-parser's (Debian's
// libhttp-parser); this class adds the limits, the version rule, Expect and
// the shape of HttpRequest.
//
// Thread-safety: none; one parser belongs to one connection.
#ifndef POSTBOX_SYNC_HTTP_PARSER_H_
#define POSTBOX_SYNC_HTTP_PARSER_H_

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sync/http/http.h"

namespace postbox::sync::http {

struct HttpLimits {
  size_t max_header_bytes = 8 * 1024;  // request line + header fields (and, separately, trailers)
  size_t max_headers = 64;             // header fields
  size_t max_body_bytes = 8 * 1024;    // the body, after de-chunking
};

// The statuses an error can have (the fuzzer checks this list).
inline bool IsParserErrorStatus(uint16_t s) {
  return s == 400 || s == 413 || s == 417 || s == 431 || s == 505;
}

class HttpRequestParser {
 public:
  enum class Progress {
    kNeedMore,  // every byte given was consumed; no complete request yet
    kRequest,   // a request is complete: TakeRequest(); unconsumed bytes are the next one's
    kError,     // error_status() applies; the connection must answer it and close
  };

  explicit HttpRequestParser(const HttpLimits& limits);
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses `data`; *consumed is set to the number of bytes used. Once a
  // request is complete (kRequest) nothing more is consumed until
  // TakeRequest(); after kError nothing more is ever consumed.
  Progress Feed(std::string_view data, size_t* consumed);

  // The completed request; the parser then waits for the next one.
  // Precondition: the last Feed returned kRequest.
  HttpRequest TakeRequest();

  // True once per request whose head asked for "Expect: 100-continue" with a
  // body within the limits; the connection then sends "100 Continue".
  bool TakeContinue();

  // Bytes of a request have arrived since the last one was taken (the
  // header timeout runs); its head is complete (the body timeout runs).
  bool started() const { return started_; }
  bool head_complete() const { return head_done_; }

  // After kError: 400, 413, 417, 431 or 505 (IsParserErrorStatus), and a
  // fixed message naming the cause (it never quotes the request).
  uint16_t error_status() const { return error_status_; }
  std::string_view error_message() const { return error_message_; }

 private:
  static int OnMessageBegin(http_parser* p);
  static int OnUrl(http_parser* p, const char* at, size_t n);
  static int OnHeaderField(http_parser* p, const char* at, size_t n);
  static int OnHeaderValue(http_parser* p, const char* at, size_t n);
  static int OnHeadersComplete(http_parser* p);
  static int OnBody(http_parser* p, const char* at, size_t n);
  static int OnChunkHeader(http_parser* p);
  static int OnMessageComplete(http_parser* p);
  static const http_parser_settings kSettings;

  // Records the first error; returns the callback's failure value.
  int Fail(uint16_t status, const char* message);
  void FinishHeader();
  bool CheckVersion();
  void Reset();

  HttpLimits limits_;
  http_parser parser_{};
  HttpRequest request_;
  std::string field_;  // the header field being received
  std::string value_;
  bool in_value_ = false;
  bool in_field_ = false;
  size_t header_count_ = 0;
  size_t head_bytes_ = 0;     // fed while the head was incomplete
  size_t trailer_bytes_ = 0;  // trailer fields of a chunked body
  bool started_ = false;
  bool head_done_ = false;
  bool complete_ = false;
  bool continue_ = false;
  uint16_t error_status_ = 0;
  const char* error_message_ = "";
};

}  // namespace postbox::sync::http

#endif  // POSTBOX_SYNC_HTTP_PARSER_H_
