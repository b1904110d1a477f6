// HttpConnection: one accepted HTTP connection on a loop thread. It feeds
// what it reads to its HttpRequestParser, answers /healthz and errors
// itself, hands other requests to the handler one at a time (what follows
// is buffered, at most 64 KiB, and parsed only once the response came back
// through the loop's inbox, so pipelined requests are answered in order and
// memory stays bounded), writes
// responses, and enforces the timeouts. Loop-only: every method runs on its
// loop's thread.
#ifndef POSTBOX_SYNC_HTTP_CONNECTION_H_
#define POSTBOX_SYNC_HTTP_CONNECTION_H_

#include <uv.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sync/http/listener.h"
#include "sync/http/parser.h"
#include "sync/tls/channel.h"

namespace postbox::sync::http {

class HttpConnection {
 public:
  HttpConnection(HttpLoop* hl, uint64_t id);
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  uv_tcp_t* tcp() { return &tcp_; }
  // Starts reading; `admitted` false: over http_max_connections, so 503 and close.
  void Start(bool admitted);
  // The handler's response to request `sequence` (ignored if stale).
  void OnReply(HttpReply reply);
  // Timeouts; `now` is uv_now (ms).
  void Tick(uint64_t now);
  // Server stop: see HttpShutdown.
  void Shutdown();
  // Closes now; the object frees itself in the close callback.
  void Close();

 private:
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWritten(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnClosed(uv_handle_t* h);

  // Parses buffered input (`fresh` first appended to it) and answers or
  // dispatches requests while allowed; then flushes and adjusts reading.
  void Process(std::string_view fresh);
  void Dispatch(HttpRequest request);
  // GET /metrics (docs/operations.md "Metrics"), answered on the loop thread.
  HttpResponse Metrics(const HttpRequest& request);
  // Queues the response to the current request; closes after it if needed.
  void Answer(const HttpResponse& response);
  // A parser error: its status with Connection: close, then a lingering close.
  void Refuse(uint16_t status, std::string_view message);
  // Timeouts: the response goes out only if the socket takes it at once.
  void CloseNow(uint16_t status, std::string_view message);
  void Flush();
  // Stops taking requests; once the output is written, half-closes and
  // drains what the client still sends for a moment (so it reads the last
  // response instead of a reset), then closes.
  void CloseAfterFlush();
  void MaybeFinishClose();
  void UpdateReading();
  void UpdateClocks();
  void Account();
  size_t Unsent() const { return out_.size() + inflight_.size() + (tls_ ? tls_->pending() : 0); }
  // TLS: the plaintext of a read (false: the connection closed over a TLS
  // failure).
  bool Decrypt(std::span<const uint8_t> cipher, std::string_view* plain);
  // Writes `bytes` if the socket takes them at once (last words).
  void TryWrite(std::string* bytes);

  HttpLoop* hl_;
  uint64_t id_;
  uv_tcp_t tcp_{};
  uv_write_t write_req_{};
  uv_shutdown_t shutdown_req_{};
  // TLS (docs/tls.md), when the listener has it: out_ is plaintext,
  // encrypted into inflight_ as it is written.
  std::unique_ptr<tls::Channel> tls_;
  bool tls_seen_bytes_ = false;  // the first byte was looked at (Decrypt)
  uint64_t accepted_ms_ = 0;
  HttpRequestParser parser_;
  std::string in_;        // read and not yet parsed (at most a read's worth)
  std::string out_;       // responses not yet handed to libuv
  std::string inflight_;  // the buffer of the write in progress
  bool writing_ = false;
  bool reading_ = false;
  bool counted_ = false;    // holds a slot of http_max_connections
  bool eof_ = false;        // the client finished sending
  bool closing_ = false;    // no more requests; close once flushed
  bool lingering_ = false;  // half-closed: discarding input until EOF or the deadline
  bool closed_ = false;
  // The request handed to the handler, if any.
  bool handling_ = false;
  uint64_t sequence_ = 0;
  // How the current request's response is framed.
  bool head_ = false;
  bool keep_alive_ = true;
  bool http10_ = false;
  // Clocks (uv_now ms; 0: not running).
  uint64_t head_started_ms_ = 0;
  uint64_t body_started_ms_ = 0;
  uint64_t last_activity_ms_ = 0;   // bytes read, a response sent, a write completed
  uint64_t write_progress_ms_ = 0;  // the last write began or completed
  uint64_t linger_started_ms_ = 0;
  size_t lingered_bytes_ = 0;
  size_t accounted_ = 0;
};

}  // namespace postbox::sync::http

#endif  // POSTBOX_SYNC_HTTP_CONNECTION_H_
