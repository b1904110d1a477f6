// postbox::sync::Client — the client side of the sync protocol (SPEC §5) on
// its own libuv loop thread: Hello, poll/ack and pushes of the info packet,
// status updates, entries, connections and push registration, and resumable
// blob uploads and downloads (SPEC §4, docs/transfer.md); reconnects with
// capped exponential backoff and jitter, resuming from the last acked cursor.
// Every call completes with a result or an error within request_timeout (a
// transfer: within request_timeout of its last progress): the client never
// hangs.
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
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/sync/server.h"
#include "postbox/sync/tls.h"
#include "postbox/types.h"

namespace postbox::sync {

struct ClientOptions {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal
  uint16_t port = 7420;
  // TLS to the server (docs/tls.md): verifies its chain and name (and pins);
  // off by default (plain TCP for loopback and tests). A failed handshake
  // fails the connection with Unavailable naming OpenSSL's reason (an
  // expired or wrong-host certificate, an unknown CA, a pin that does not
  // match); the client keeps reconnecting with backoff as after any loss.
  TlsClientOptions tls;
  MailboxKey mkey;
  std::string secret;
  Platform platform = Platform::kNone;
  std::string app_version;
  uint32_t schema_version = 0;
  // The version sent in Hello; only tests of a server's 426 (or of a
  // version-1 client, which declares no compression) change it.
  uint32_t protocol_version = 2;
  // What the client reads besides raw frames, declared in Hello (wire/
  // PROTOCOL.md "Compression negotiation"): plain zstd, and the ids of the
  // zstd dictionaries it has (this build has 1). The server answers with the
  // agreement, which then holds both ways: the client's frames use only it
  // too. Both empty: every frame of the session is raw.
  bool accept_zstd = true;
  std::vector<uint32_t> zstd_dictionaries = {1};

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

  // Upload chunks (256 KiB) one upload keeps in flight; at least 1.
  uint32_t upload_window = 4;
  // A transfer gives up after this many retries in a row (after a lost
  // session, a timeout, a 409 gap, a corrupted download chunk) that made no
  // progress; any byte committed or verified resets the count.
  uint32_t transfer_retries = 10;
};

// The bytes of a blob to upload, read by position: a resumed upload re-reads
// from the server's committed offset. Reads happen in pieces of at most
// 256 KiB, on the client's loop thread (the blocking Upload first reads the
// whole source once on the calling thread to compute its digest). Calls are
// never concurrent; an implementation need not be thread-safe.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // The blob's length in bytes; must not change during an upload.
  virtual uint64_t size() const = 0;
  // Fills all of `out` with the bytes at [offset, offset + out.size()), which
  // lie within size(). Any error fails the upload with that status.
  virtual Status ReadAt(uint64_t offset, std::span<char> out) = 0;
};

// Where a download writes, append-only from size(): the bytes already held
// are the resume point. Called like a BlobSource (loop thread, pieces of at
// most 256 KiB, the blocking Download re-hashes a held prefix on the caller's
// thread first); never concurrently.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  // Bytes held: a download resumes here.
  virtual uint64_t size() const = 0;
  // Appends `bytes` at size().
  virtual Status Append(std::string_view bytes) = 0;
  // Reads held bytes back (to re-hash a resumed prefix).
  virtual Status ReadAt(uint64_t offset, std::span<char> out) = 0;
  // Keeps the first `size` bytes (0 after a digest mismatch).
  virtual Status Truncate(uint64_t size) = 0;
};

// A file read with pread. NotFound / PermissionDenied / Unavailable (naming the
// errno) if it cannot be opened. The file must not change during an upload.
Result<std::unique_ptr<BlobSource>> OpenFileSource(const std::string& path);
// Serves `bytes` (owned).
std::unique_ptr<BlobSource> MemorySource(std::string bytes);
// A file opened for reading and appending, created if missing; bytes already
// in it are kept and are where a download resumes. Errors as OpenFileSource.
Result<std::unique_ptr<BlobSink>> OpenFileSink(const std::string& path);
// Appends to *bytes, which the caller owns and keeps alive (and does not touch)
// while a download uses the sink; what it holds already is the resume point.
std::unique_ptr<BlobSink> MemorySink(std::string* bytes);

// Bytes done (committed by the server, or verified and written) and the total.
// Called on the loop thread, with `done` increasing, and last with done == total
// when the transfer succeeds.
using TransferProgress = std::function<void(uint64_t done, uint64_t total)>;

// What an upload declares (UploadBegin, wire/PROTOCOL.md §3 "Blob transfer").
// The sender is the client's own mailbox.
struct UploadSpec {
  MailboxKey to;
  MessageId id;
  std::string topic;
  std::string meta;
  // The blob's XXH3-128; computed from the source when absent.
  std::optional<Digest128> digest;
  TransferProgress progress;
};

struct DownloadResult {
  uint64_t length = 0;          // the blob's length (the sink's size now)
  Digest128 digest{};           // its XXH3-128, verified over the sink's bytes
  uint64_t resumed_from = 0;    // sink bytes reused (0 after a fresh start)
  uint32_t chunks_retried = 0;  // chunks that failed their XXH3-64 and were fetched again
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

// A Web Push endpoint of the client's mailbox (protocol 3; wire/PROTOCOL.md
// "Endpoint", docs/notifications.md).
struct Endpoint {
  std::string token;  // 22 characters of base64url
  std::string app_id;
  std::string vapid_public_key;  // empty or 65 bytes
  uint64_t created_ms = 0;
  std::string url;  // where app servers send; empty if the server has no public URL set
  bool operator==(const Endpoint&) const = default;
};

struct EndpointPage {
  std::vector<Endpoint> endpoints;
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
  // Unavailable when no session is up; InvalidArgument (nothing sent) for a
  // cursor above every one the current session delivered (a push or a poll
  // reply), which the server would refuse.
  Status Ack(uint64_t cursor);
  // The status after the update (it may be higher than `status`) and whether
  // this update raised it (`applied` false: it was already at or above).
  // NotFound, Gone (superseded), PermissionDenied (not the recipient).
  Result<StatusUpdateResult> UpdateStatus(const MessageId& id, MessageStatus status);
  // The stored version after the put / delete, and whether it won the merge
  // (`applied` false: the stored state won and is unchanged; `version` is then
  // the stored one).
  Result<EntryPutResult> PutEntry(std::string_view key, std::string_view value,
                                  uint64_t version = 0);
  Result<EntryPutResult> DeleteEntry(std::string_view key, uint64_t version = 0);
  Result<EntryInfo> GetEntry(std::string_view key);
  Result<EntryPage> ListEntries(std::string_view prefix, std::string_view start_after = {},
                                uint32_t limit = 0);
  // Asks to connect to `peer` (SPEC §2: both must agree). kConnected once the
  // peer has asked for this mailbox too, else kRequested — also when no such
  // mailbox exists (the server never tells). BackOff past the server's cap on
  // pending requests.
  Result<ConnectionState> AddConnection(const MailboxKey& peer);
  // Ends the connection, withdraws this mailbox's request or declines the
  // peer's. Ok whether or not there was anything to remove.
  Status RemoveConnection(const MailboxKey& peer);
  // The connected mailboxes, this mailbox's pending requests, or the requests
  // it received (`kind`), in mkey order after `start_after`.
  Result<ConnectionPage> ListConnections(std::optional<MailboxKey> start_after = std::nullopt,
                                         uint32_t limit = 0,
                                         ConnectionListKind kind = ConnectionListKind::kConnected);
  Status RegisterPush(Platform platform, std::string_view token);
  // Web Push endpoints (servers of protocol 3 or later: ProtocolUnsupported
  // from an older one). The mailbox's endpoint for `app_id` with this VAPID
  // key, the same one when registered again; InvalidArgument for a bad app id
  // or key, BackOff past the server's cap on endpoints per mailbox.
  Result<Endpoint> RegisterEndpoint(std::string_view app_id,
                                    std::string_view vapid_public_key = {});
  // Live endpoints in token order after `start_after` (limit 0: the server's page).
  Result<EndpointPage> ListEndpoints(std::string_view start_after = {}, uint32_t limit = 0);
  // App servers get 410 from it afterwards. NotFound unless it is a live
  // endpoint of this mailbox.
  Status RevokeEndpoint(std::string_view token);
  Status Ping();

  // ---- asynchronous forms (completion on the loop thread) ----
  void PollAsync(uint64_t since, uint32_t limit, std::function<void(Result<InfoPacket>)> done);
  void UpdateStatusAsync(const MessageId& id, MessageStatus status,
                         std::function<void(Result<StatusUpdateResult>)> done);
  void PutEntryAsync(std::string key, std::string value, uint64_t version,
                     std::function<void(Result<EntryPutResult>)> done);
  void DeleteEntryAsync(std::string key, uint64_t version,
                        std::function<void(Result<EntryPutResult>)> done);
  void GetEntryAsync(std::string key, std::function<void(Result<EntryInfo>)> done);
  void AddConnectionAsync(const MailboxKey& peer,
                          std::function<void(Result<ConnectionState>)> done);
  void RemoveConnectionAsync(const MailboxKey& peer, std::function<void(Status)> done);
  void RegisterPushAsync(Platform platform, std::string token, std::function<void(Status)> done);

  // ---- blob transfer (SPEC §4; docs/transfer.md) ----
  // Transfers share the session with everything else: an upload keeps at most
  // upload_window chunks in flight and its chunks yield to other requests,
  // download streams are interleaved by the server, so polls, pushes and
  // status updates are not held up. Source reads and sink writes run on the
  // loop thread, 256 KiB at a time. A lost session is resumed after the
  // reconnect (from the server's committed offset, or the sink's size).

  // Uploads `source` as message spec.id to spec.to; returns once the message
  // is committed (UploadCommit answered Ok). Resending an already committed,
  // identical upload is Ok. Final errors, with their codes: PermissionDenied
  // (not connected to `to`), NotFound (no such mailbox), Conflict (the id was
  // declared with other content), Gone (the id was superseded), TooLarge,
  // DigestMismatch (the bytes do not match spec.digest; the server discarded
  // the upload), Unauthenticated; Unavailable when transfer_retries retries
  // made no progress or the client is not connected / closed. `source` is
  // borrowed for the call. Not on the loop thread (InvalidArgument there).
  Status Upload(BlobSource* source, const UploadSpec& spec);
  // As Upload; the digest, if absent, is computed on the loop thread 1 MiB
  // per turn. `source` must outlive the completion.
  void UploadAsync(BlobSource* source, UploadSpec spec, std::function<void(Status)> done);

  // Downloads message `id` into `sink`, resuming after the bytes it holds, and
  // verifies every chunk's XXH3-64 (a bad chunk is fetched again) and the
  // whole XXH3-128. If the sink holds more bytes than the blob, or a resumed
  // prefix turns out not to match the digest, the sink is emptied and the
  // blob downloaded once more from 0. Errors: Gone (superseded: at once, no
  // retries), NotFound, PermissionDenied (not a party), DigestMismatch (the
  // whole blob did not match; the sink is truncated to 0), a sink error,
  // Unavailable as for Upload. `sink` is borrowed for the call. Not on the
  // loop thread.
  Result<DownloadResult> Download(const MessageId& id, BlobSink* sink,
                                  TransferProgress progress = {});
  // As Download; a held prefix is re-hashed on the loop thread 1 MiB per
  // turn. `sink` must outlive the completion.
  void DownloadAsync(const MessageId& id, BlobSink* sink, TransferProgress progress,
                     std::function<void(Result<DownloadResult>)> done);

  class Core;

 private:
  explicit Client(std::unique_ptr<Core> core);
  std::unique_ptr<Core> core_;
};

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_CLIENT_H_
