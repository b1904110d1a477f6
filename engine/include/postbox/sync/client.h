// postbox::sync::Client — the client side of the sync protocol (SPEC §5) on
// its own libuv loop thread: Hello, poll/ack and pushes of the info packet,
// status updates, entries, connections and push registration; reconnects with
// capped exponential backoff and jitter, resuming from the last acked cursor.
// Every call completes with a result or an error within request_timeout: the
// client never hangs.
//
// Thread-safety: all public methods are thread-safe. Callbacks (on_push and
// the *Async completions) run on the client's loop thread; they must not call
// the blocking methods (those return FailedPrecondition-like InvalidArgument
// there instead of deadlocking) and must not destroy the Client.
#ifndef POSTBOX_SYNC_CLIENT_H_
#define POSTBOX_SYNC_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/sync/server.h"
#include "postbox/types.h"

namespace postbox::sync {

struct ClientOptions {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal
  uint16_t port = 7420;
  MailboxKey mkey;
  std::string secret;
  Platform platform = Platform::kNone;
  std::string app_version;
  uint32_t schema_version = 0;
  // The version sent in Hello; only tests of a server's 426 change it.
  uint32_t protocol_version = 1;

  // Every request (and Connect) fails with Unavailable after this.
  std::chrono::milliseconds request_timeout{5000};
  // After a lost session: wait initial, doubling per failed attempt up to max,
  // each wait scaled by a random factor in [0.5, 1] so clients do not stampede.
  bool reconnect = true;
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{5000};

  // Pushed info packets (and, with `resume`, the packets of the catch-up poll
  // after each reconnect) are passed here, on the loop thread, in order.
  std::function<void(const InfoPacket&)> on_push;
  // Ack each packet given to on_push once it returns (SPEC §5.2 flow control).
  // Acks get no reply; Ack() below returns once the Ack is queued on the session.
  bool auto_ack = true;
  // After every (re)connect, poll from acked_cursor() until nothing is left and
  // hand the packets to on_push (then the server starts pushing).
  bool resume = true;
  // Where `resume` starts the first time (a cursor the app persisted).
  uint64_t start_cursor = 0;
  uint32_t max_frame_payload = 1u << 20;
};

struct HelloResult {
  Verdict verdict = Verdict::kCurrent;
  std::string detail;
};

struct EntryPage {
  std::vector<EntryInfo> entries;
  bool more = false;
};

struct ConnectionPage {
  std::vector<MailboxKey> peers;
  bool more = false;
};

class Client {
 public:
  // Starts the loop thread; does not connect. InvalidArgument for bad options.
  static Result<std::unique_ptr<Client>> Create(const ClientOptions& options);
  // Closes the connection and joins the loop thread; pending calls fail with
  // Unavailable first.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects and says Hello. On success returns the server's verdict; with
  // kUpdateRequired / kUpdateSchemaRequired the server has ended the session
  // and the client stays disconnected. Unauthenticated (401),
  // ProtocolUnsupported (426, the message names the server's range) and
  // Unavailable (cannot connect, timeout) are errors; 401 and 426 are final
  // (no reconnect). Once a session was established, losing it starts the
  // reconnect loop (if options.reconnect).
  Result<HelloResult> Connect();
  // Ends the session and stops reconnecting; pending calls fail Unavailable.
  void Close();
  // Drops the TCP connection as a network failure would (tests, network
  // changes): pending calls fail, reconnecting follows if enabled.
  void DropConnection();
  bool connected() const;
  // The highest cursor this client has acked (resume starts here).
  uint64_t acked_cursor() const;
  // Successful (re)connections so far.
  uint64_t sessions_established() const;

  // ---- blocking facade (must not be called from the loop thread) ----
  Result<InfoPacket> Poll(uint64_t since, uint32_t limit = 0);
  // Acks every push up to `cursor`; returns once queued (Acks get no reply).
  // Unavailable when no session is up.
  Status Ack(uint64_t cursor);
  // The status after the update (it may be higher than `status`). NotFound,
  // Gone (superseded), PermissionDenied (not the recipient).
  Result<MessageStatus> UpdateStatus(const MessageId& id, MessageStatus status);
  // The stored version after the put / delete.
  Result<uint64_t> PutEntry(std::string_view key, std::string_view value, uint64_t version = 0);
  Result<uint64_t> DeleteEntry(std::string_view key, uint64_t version = 0);
  Result<EntryInfo> GetEntry(std::string_view key);
  Result<EntryPage> ListEntries(std::string_view prefix, std::string_view start_after = {},
                                uint32_t limit = 0);
  Status AddConnection(const MailboxKey& peer);
  Status RemoveConnection(const MailboxKey& peer);
  Result<ConnectionPage> ListConnections(std::optional<MailboxKey> start_after = std::nullopt,
                                         uint32_t limit = 0);
  Status RegisterPush(Platform platform, std::string_view token);
  Status Ping();

  // ---- asynchronous forms (completion on the loop thread) ----
  void PollAsync(uint64_t since, uint32_t limit, std::function<void(Result<InfoPacket>)> done);
  void UpdateStatusAsync(const MessageId& id, MessageStatus status,
                         std::function<void(Result<MessageStatus>)> done);
  void PutEntryAsync(std::string key, std::string value, uint64_t version,
                     std::function<void(Result<uint64_t>)> done);

  class Core;

 private:
  explicit Client(std::unique_ptr<Core> core);
  std::unique_ptr<Core> core_;
};

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_CLIENT_H_
