// The TLS benchmark's own lightweight clients (bench/tls_bench.cc): a
// session is a socket (plain, or with an OpenSSL SSL object of our own) that
// sends one raw Hello frame and reads the HelloReply, nothing more; no
// postbox::sync::Client (which owns a thread each). Two shapes:
//   HelloOnce     blocking: connect, handshake, Hello, reply, close (the
//                 handshakes-per-second measurement, one call per connection)
//   IdleSessions  one epoll loop that opens thousands of nonblocking sessions
//                 and keeps them open, idle (the memory-per-session
//                 measurement)
// Both verify the server like the library's client does: the chain against a
// CA file, the name 127.0.0.1, ALPN "postbox", TLS 1.3, and never resume a
// session (every handshake is a full one).
// Not thread-safe: a ClientContext may be shared (SSL_CTX is), an
// IdleSessions object is used by one thread.
#ifndef POSTBOX_BENCH_TLS_RAW_CLIENT_H_
#define POSTBOX_BENCH_TLS_RAW_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "postbox/types.h"

struct ssl_ctx_st;
struct ssl_st;

namespace postbox::bench {

// The client side's SSL_CTX (see above); null for plain TCP.
class ClientContext {
 public:
  // ca_file empty: plain TCP (get() is null).
  explicit ClientContext(const std::string& ca_file);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;
  ssl_ctx_st* get() const { return ctx_; }

 private:
  ssl_ctx_st* ctx_ = nullptr;
};

// The bytes of one Hello frame (protocol 2, no compression declared) for
// this mailbox.
std::vector<uint8_t> HelloFrame(const MailboxCredentials& mailbox);

// The source address 127.0.0.<n> (n in 2..251 by `index`), so a run of many
// short connections does not run out of ephemeral ports on one address while
// the closed ones sit in TIME_WAIT.
uint32_t LoopbackSource(uint64_t index, uint8_t subnet);

// One whole session on 127.0.0.1:port from source address `source` (host
// order): TCP connect, the TLS handshake if ctx.get(), Hello, the
// HelloReply, then a close (close_notify first with TLS). false with *error
// set on any failure.
bool HelloOnce(uint16_t port, const ClientContext& ctx, const std::vector<uint8_t>& hello,
               uint32_t source, std::string* error);

// Sessions held open in one epoll loop.
class IdleSessions {
 public:
  IdleSessions(uint16_t port, const ClientContext& ctx, std::vector<uint8_t> hello);
  ~IdleSessions();  // closes every session
  IdleSessions(const IdleSessions&) = delete;
  IdleSessions& operator=(const IdleSessions&) = delete;

  // Opens `count` more sessions, at most `in_flight` being set up at a time,
  // each up to its HelloReply; then they stay open. false with *error set if
  // one fails or `timeout_s` passes.
  bool Open(size_t count, size_t in_flight, double timeout_s, std::string* error);
  // Reads what the server sent the idle sessions for `seconds` (TLS 1.3
  // session tickets, or a close); returns how many are still open.
  size_t Idle(double seconds);
  size_t open() const;

 private:
  struct Conn;
  bool Start(size_t index, std::string* error);
  // Advances one connection on an epoll event; false if it failed.
  bool Step(Conn* c, std::string* error);
  void Watch(Conn* c, uint32_t events);
  void Drop(Conn* c);

  uint16_t port_;
  const ClientContext& ctx_;
  std::vector<uint8_t> hello_;
  int epoll_ = -1;
  std::vector<Conn*> conns_;
  size_t started_ = 0;
  size_t ready_ = 0;
};

}  // namespace postbox::bench

#endif  // POSTBOX_BENCH_TLS_RAW_CLIENT_H_
