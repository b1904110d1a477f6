// TLS as a filter between a libuv stream and the bytes a connection reads and
// writes: OpenSSL runs on the connection's own loop thread, its records
// passing through memory (a BIO of our own that reads the bytes just
// received and appends what OpenSSL writes to an output buffer), so there is
// no second event loop and no thread per connection. A connection calls
// Receive with what it read, Send with what it wants to write, and hands
// TakeOutput's bytes to uv_write. OpenSSL's record buffers are released
// while a connection is idle (SSL_MODE_RELEASE_BUFFERS) and the channel
// holds no buffer of its own between calls, so an idle channel costs about
// the SSL object.
//
// Internal (not API). Thread-safety: a Context is immutable and may be shared
// by channels on any threads; a Channel is used by one thread at a time.
#ifndef POSTBOX_SYNC_TLS_CHANNEL_H_
#define POSTBOX_SYNC_TLS_CHANNEL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/sync/tls.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL
struct bio_st;      // OpenSSL's BIO

namespace postbox::sync::tls {

// The ALPN protocol ids (RFC 7301) of the two listeners.
inline constexpr std::string_view kSyncAlpn = "postbox";
inline constexpr std::string_view kHttpAlpn = "http/1.1";
// The first byte of every TLS connection: a handshake record (a ClientHello).
inline constexpr uint8_t kHandshakeRecord = 0x16;

// An SSL_CTX built from options: certificates, key, verification, versions,
// ALPN. Immutable once built; a reload builds a new one (channels keep the
// context they were made from).
class Context {
 public:
  // A listener's context. `alpn`: the protocol this listener speaks; a
  // client offering ALPN without it is refused (no_application_protocol), one
  // offering none is accepted. Empty: no ALPN. InvalidArgument (naming the file and
  // OpenSSL's reason) for a certificate, key or CA file that cannot be
  // loaded, or a key that does not match the certificate.
  static Result<std::shared_ptr<const Context>> ForServer(const TlsServerOptions& options,
                                                          std::string_view alpn);
  // A client's context (options.enabled is not looked at); `alpn` is offered
  // (empty: none). Errors as above.
  static Result<std::shared_ptr<const Context>> ForClient(const TlsClientOptions& options,
                                                          std::string_view alpn);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  bool server() const { return server_; }
  const std::vector<std::string>& pins() const { return pins_; }
  ssl_ctx_st* get() const { return ctx_; }

 private:
  Context(ssl_ctx_st* ctx, bool server) : ctx_(ctx), server_(server) {}
  ssl_ctx_st* ctx_;
  bool server_;
  std::vector<std::string> pins_;  // a client's
  std::string alpn_;               // a server's ALPN id, in the wire form its callback selects from
};

class Channel {
 public:
  // The server side of a connection just accepted.
  static Result<std::unique_ptr<Channel>> Accept(std::shared_ptr<const Context> context);
  // The client side: `server_name` is what the certificate must carry (a DNS
  // name, also sent as SNI, or an IP literal). Start() sends the ClientHello.
  static Result<std::unique_ptr<Channel>> Connect(std::shared_ptr<const Context> context,
                                                  std::string_view server_name);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Begins the handshake (the client's first flight goes to the output; a
  // server has nothing to say first, so this does nothing there).
  Status Start();
  // Ciphertext read from the peer: every byte is taken, and what it decrypts
  // to is appended to *plain. A record split across reads waits for its
  // rest. An error ends the channel: a failed handshake (with OpenSSL's
  // reason: an unverifiable, expired or wrong-host certificate, no shared
  // version or ALPN protocol, a pin that does not match), a record that does
  // not authenticate, bytes that are no TLS, a renegotiation attempt. Its
  // alert may be in the output: send it (best effort) before closing.
  // Unavailable for the handshake and the peer's faults, Internal for ours.
  // The plaintext goes to `sink` a record at a time (valid during the call).
  using PlainSink = std::function<void(std::span<const uint8_t>)>;
  Status Receive(std::span<const uint8_t> cipher, const PlainSink& sink);
  Status Receive(std::span<const uint8_t> cipher, std::vector<uint8_t>* plain);
  Status Receive(std::span<const uint8_t> cipher, std::string* plain);
  // Encrypts `plain` into the output; only once established().
  Status Send(std::span<const uint8_t> plain);
  // Queues a close_notify alert (once; nothing can be sent after it).
  void Shutdown();

  // Ciphertext waiting to be sent (handshake messages, records, alerts).
  size_t pending() const { return out_.size(); }
  // Appends the pending ciphertext to *out and forgets it.
  void TakeOutput(std::vector<uint8_t>* out);
  void TakeOutput(std::string* out);

  // The handshake has completed (and, on a client, the pins matched).
  bool established() const { return established_; }
  // Shutdown() was called.
  bool shut_down() const { return shut_down_; }
  // Part of a record (its header included) has arrived and not the rest.
  bool partial() const { return header_n_ > 0 || record_left_ > 0; }
  // The peer sent close_notify: it will send nothing more.
  bool peer_closed() const { return peer_closed_; }
  // The negotiated ALPN protocol ("" if none), and version ("TLSv1.3").
  std::string alpn() const;
  std::string version() const;
  // The subject of the peer's verified certificate ("" if it sent none).
  std::string peer_subject() const;

 private:
  explicit Channel(std::shared_ptr<const Context> context);
  // Drives the handshake; true once it has completed.
  Status Handshake();
  Status CheckPins();
  // Follows the record framing of what the peer sends (for partial()).
  void TrackRecords(std::span<const uint8_t> cipher);
  Status Failure(int ret, std::string_view during);
  static int BioWrite(bio_st* bio, const char* data, int len);
  static int BioRead(bio_st* bio, char* data, int len);
  static long BioCtrl(bio_st* bio, int cmd, long num, void* ptr);
  friend struct BioMethod;

  std::shared_ptr<const Context> context_;
  ssl_st* ssl_ = nullptr;
  // While Receive runs: the ciphertext not yet read by OpenSSL.
  std::span<const uint8_t> in_;
  std::vector<uint8_t> out_;  // ciphertext to send
  // The record being received: header bytes seen (of 5) and its length
  // field's bytes, then the body bytes still to come.
  uint8_t header_n_ = 0;
  uint8_t length_[2] = {};
  size_t record_left_ = 0;
  bool established_ = false;
  bool peer_closed_ = false;
  bool failed_ = false;
  bool shut_down_ = false;
};

// A connection's next write: moves what is ready to go from `plain` (the
// bytes the connection queued) into `wire` (empty: what it hands to
// uv_write next). Through `tls` when the connection has TLS: the queued
// bytes wait until the handshake is done and are then encrypted (and
// `plain` emptied), while the handshake's own messages and alerts go at
// once. Without TLS (`tls` null) the bytes move as they are. An error is the
// channel's (encrypting failed): the connection closes. `wire` stays empty
// when there is nothing to write.
Status StageWrite(Channel* tls, std::vector<uint8_t>* plain, std::vector<uint8_t>* wire);
Status StageWrite(Channel* tls, std::string* plain, std::string* wire);

}  // namespace postbox::sync::tls

#endif  // POSTBOX_SYNC_TLS_CHANNEL_H_
