// The harness's side of one TCP connection to the server under test: sends
// bytes as told, reads everything the server sends meanwhile, and checks each
// frame it receives (Oracle). Every wait is bounded: a server that neither
// answers nor closes within kDeadline is a finding, and the harness aborts
// with a message (libFuzzer then keeps the input). Not thread-safe.
#ifndef POSTBOX_FUZZ_SESSION_PEER_H_
#define POSTBOX_FUZZ_SESSION_PEER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/wire/frame.h"

namespace postbox::fuzz {

inline constexpr std::chrono::seconds kDeadline{5};

// Names what the harness is doing ("input 17", "health check after input
// 200"), for the message of a finding.
void SetContext(std::string context);
// POSTBOX_SESSION_FUZZ_TRACE=1: every frame received is printed to stderr.
bool Tracing();
// Prints "session fuzzer finding (<context>): <what>" and aborts.
[[noreturn]] void Finding(const std::string& what);

// What the harness holds against the frames a server sends. Always a finding:
// a frame a conforming client cannot parse, a type only clients send, a
// DownloadChunk whose bytes do not match its XXH3-64. A finding only when
// strict (POSTBOX_SESSION_FUZZ_STRICT=1), otherwise counted and printed once
// per kind: a payload over the frame limit (as sent or decompressed), an
// Error 500 (the server's own fault), an Error code wire/PROTOCOL.md does not
// list, and the harness's own soft kinds (Soft). These are separate because
// issue 10 lists defects of exactly these kinds; once they are fixed, strict
// should become the default.
class Oracle {
 public:
  static Oracle& Get();
  void Check(const wire::Frame& frame);
  // A finding if strict, else counted (and printed the first time).
  void Soft(const std::string& kind, const std::string& detail);
  // Prints the counts of the non-strict kinds (at exit).
  void Summary() const;
  uint64_t frames() const { return frames_; }

 private:
  Oracle();

  bool strict_ = false;
  uint64_t frames_ = 0;
  std::vector<std::pair<std::string, uint64_t>> soft_;  // kind, count
};

// One frame as the health check needs it.
struct Received {
  wire::MessageType type;
  uint64_t request_id = 0;
  uint64_t number = 0;  // Pong: nonce; HelloReply: verdict; Error: code
};

class Peer {
 public:
  // Connects to 127.0.0.1:`port`; aborts (a finding) if it cannot within the
  // deadline.
  explicit Peer(uint16_t port);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // Sends `bytes`, reading meanwhile so that neither side can block the
  // other. False once the server has closed or reset the connection.
  bool Send(std::string_view bytes);
  // Reads for about `ms` milliseconds (or until the server closes).
  void Pause(int ms);
  // Reads until a frame with `request_id` has arrived (true) or the server
  // closed (false). Aborts past the deadline.
  bool WaitFor(uint64_t request_id);
  // shutdown(SHUT_WR), then reads until the server closes. Aborts past the
  // deadline: the server must close a session whose peer has finished.
  void FinishAndDrain();
  // Ends the connection with a reset (SO_LINGER 0) without waiting.
  void Reset();

  bool closed() const { return eof_; }
  // Every frame received so far.
  const std::vector<Received>& received() const { return received_; }

 private:
  // Waits up to `timeout_ms` for the socket to be readable (and writable if
  // `want_write`), reading what arrives. Returns poll's revents.
  short Poll(bool want_write, int timeout_ms);
  void ReadAvailable();
  void CheckDeadline(const char* waiting_for) const;

  int fd_ = -1;
  bool eof_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::unique_ptr<wire::FrameDecoder> decoder_;
  std::vector<Received> received_;
};

}  // namespace postbox::fuzz

#endif  // POSTBOX_FUZZ_SESSION_PEER_H_
