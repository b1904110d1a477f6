// postbox::sync::Server — the sync server of SPEC §5 as library code: TCP on
// libuv loop threads, authenticated sessions, poll/ack and push of the info
// packet with flow control, and one group-commit writer thread that makes
// every acknowledged write durable before it is answered. A host server, an
// app relaying for peers and postbox-server all run this same code.
// docs/threading.md describes the threads; docs/server.md the session rules.
//
// Thread-safety: all public methods are thread-safe, except that Stop() and
// the destructor must not be called from a callback running on one of the
// server's own threads.
#ifndef POSTBOX_SYNC_SERVER_H_
#define POSTBOX_SYNC_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "postbox/db.h"
#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/sync/kick.h"
#include "postbox/sync/tls.h"
#include "postbox/types.h"
#include "postbox/write_batch.h"

namespace postbox::sync {

class EventSink;  // postbox/sync/events.h

// The reply a Hello gets about the app's version (SPEC §5.1). Sent on the wire
// (same numbers as wire::Verdict): do not renumber.
enum class Verdict : uint8_t {
  kCurrent = 0,
  kUpdateOptional = 1,
  kUpdateRequired = 2,        // the server closes the session after the reply
  kUpdateSchemaRequired = 3,  // likewise
};

// The compatibility policy of one platform. App versions are dotted numbers
// ("2.10.1"), compared numerically part by part; an empty field disables its
// check.
struct CompatibilityPolicy {
  std::string min_app_version;      // below: kUpdateRequired
  std::string latest_app_version;   // below: kUpdateOptional
  uint32_t min_schema_version = 0;  // below: kUpdateSchemaRequired
  std::string detail;               // sent with any verdict but kCurrent
};

// The verdict `policy` gives an app at `app_version` with `schema_version`.
// Exposed so hosts and tests can check a policy without a connection.
Verdict Evaluate(const CompatibilityPolicy& policy, std::string_view app_version,
                 uint32_t schema_version);

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 literal
  uint16_t port = 7420;            // 0: an ephemeral port (see Server::port())
  // Loop threads owning the sockets; 0 means one per core.
  unsigned threads = 1;
  // Connections past this are answered 503 and closed.
  size_t max_connections = 10000;
  // Unacked pushes per session (SPEC §5.2); at least 1.
  uint32_t window = 1;
  // A session silent this long is pinged; without a pong (or any frame) within
  // pong_timeout it is closed.
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds pong_timeout{10000};
  // A session older than this gets 503 "session lifetime reached" and is closed.
  std::chrono::milliseconds max_session{std::chrono::hours(24)};
  // A connection that has not completed Hello this long after it was
  // accepted gets 401 and is closed, whatever else it sent (Pings included).
  std::chrono::milliseconds hello_timeout{10000};
  // A frame whose bytes have not all arrived this long after its first byte
  // gets 400 and the session is closed: a client trickling bytes cannot hold a
  // connection slot for ever.
  std::chrono::milliseconds frame_timeout{30000};
  // A session whose unsent output exceeds this (a client that does not read)
  // is closed, so the server's memory stays bounded. Above a quarter of it the
  // server stops reading the session's requests until the client reads.
  // At least 2 × (max_frame_payload + 16) and at most 1 GiB.
  size_t max_outbound_bytes = 4u << 20;
  // Largest frame payload accepted and sent.
  uint32_t max_frame_payload = 1u << 20;
  // Writes of one session waiting for the group commit: past either bound the
  // server stops reading that session's socket until they are answered.
  size_t max_inflight_ops = 1024;
  size_t max_inflight_bytes = 8u << 20;
  // Bytes held for all sessions together (their queued writes, unsent output
  // and partly received frames): past it, every session holding more than
  // 64 KiB stops being read until the total is back under 3/4 of it, so that
  // max_connections sessions at their caps cannot exhaust memory while
  // sessions holding little keep their service.
  size_t max_buffered_bytes = size_t{1} << 30;
  // Download streams one session may have going at once (429 past it).
  size_t max_downloads = 16;
  // Read-your-writes (wire/PROTOCOL.md "Read-your-writes"): a request that
  // reads the store (Poll, EntryGet, EntryList, ConnectionList,
  // UploadQueryOffset, DownloadRequest) waits until every write its session
  // sent before it is answered. Other sessions' reads never wait. false:
  // reads are answered at once and may overtake the session's own writes.
  bool read_your_writes = true;
  // The writer sweeps uploads older than the store's upload_ttl and purges
  // tombstones older than its tombstone_horizon this often, at most
  // sweep_batch uploads and purge_batch tombstones per transaction (it goes
  // on at the next group commit while more remain). 0 turns it off.
  std::chrono::milliseconds maintenance_interval{std::chrono::minutes(1)};
  // Once no write has come for this long, the writer folds the store's
  // deferred writes into its tables (DB::Checkpoint; docs/durability.md), so
  // the next write that cannot be deferred (a post) does not wait for the
  // fold. 0 leaves them to the next such write.
  std::chrono::milliseconds idle_checkpoint{100};
  size_t sweep_batch = 16;
  size_t purge_batch = 1000;
  // Items per info packet (push or poll) when the client asks for no limit.
  uint32_t default_poll_limit = 256;
  // Most ops the writer puts into one transaction.
  size_t max_batch_ops = 4096;
  // Most bytes of values and upload chunks in one transaction (at least one op
  // always goes in): many sessions' uploads must not add up to a transaction
  // LMDB cannot hold (MDB_TXN_FULL fails every op in it) or one slow commit.
  size_t max_batch_bytes = 64u << 20;
  // How long Stop() lets sessions drain their last replies before closing them.
  std::chrono::milliseconds stop_grace{2000};
  // Where app servers reach this server's HTTP listener from outside
  // ("https://push.example.com"): an endpoint's URL is this + "/push/" +
  // token. Empty: endpoints go out without a URL and clients build it from
  // the address they know (wire/PROTOCOL.md "Endpoint").
  std::string http_public_url;
  // Per-platform policy; a platform without an entry always gets kCurrent.
  std::map<Platform, CompatibilityPolicy> compatibility;

  // ---- Kicks (SPEC §6, docs/notifications.md) ----
  // When set, a change committed through this server's writer to a mailbox
  // with no authenticated session and a push registration records a pending
  // kick in the same transaction, and the server sends it through this
  // driver (kept in the store until delivered, so it survives a restart).
  // The server calls driver->Stop() when it stops.
  std::shared_ptr<KickDriver> kick_driver;
  // Coalescing window: a kick is sent this long after the first change it
  // covers, so a burst of changes to one mailbox makes one kick.
  std::chrono::milliseconds kick_delay{2000};
  // Transient failures are retried after kick_retry_initial, doubling up to
  // kick_retry_max, with jitter (never sooner than a Retry-After asks).
  std::chrono::milliseconds kick_retry_initial{1000};
  std::chrono::milliseconds kick_retry_max{std::chrono::minutes(5)};
  // Failed sends after which a kick is dropped (and counted).
  uint32_t kick_max_attempts = 10;
  // ---- Event log (postbox/sync/events.h, docs/operations.md "Event log") ----
  // When set, the server records every session start and end, message
  // committed or superseded, status change, finished transfer and kick sent
  // here (OpenEventLog writes them as JSON lines). Null: nothing is recorded,
  // and the hooks cost a null check.
  std::shared_ptr<EventSink> event_log;
  // ---- end event log ----
  // ---- HTTP listener (docs/http.md) ----
  // A second listener on the same loop threads for app servers (HTTP/1.x;
  // routes are library code; GET /healthz is always there).
  std::string http_host = "127.0.0.1";  // an IPv4 or IPv6 literal
  int32_t http_port = -1;               // -1: no HTTP listener; 0: an ephemeral port
  // Request line + header fields of one request (431 past it; at most 64 KiB).
  size_t http_max_header_bytes = 8 * 1024;
  // Header fields of one request (431 past it).
  size_t http_max_headers = 64;
  // A request body, by Content-Length before it is read or as chunks arrive
  // (413 past it).
  size_t http_max_body_bytes = 8 * 1024;
  // From a request's first byte to the end of its head, and from there to
  // the end of its body (408, then close).
  std::chrono::milliseconds http_header_timeout{10000};
  std::chrono::milliseconds http_body_timeout{30000};
  // A keep-alive connection with nothing in progress is closed (silently)
  // after this; so is one whose unsent output has not moved for this long.
  std::chrono::milliseconds http_idle_timeout{60000};
  // Connections past this get 503 and are closed.
  size_t http_max_connections = 10000;
  // Unsent output at which a connection's next request waits for the client
  // to read.
  size_t http_max_output_bytes = 64 * 1024;
  // ---- end HTTP listener ----
  // ---- Web Push (docs/notifications.md "Web Push"; routes of the HTTP listener) ----
  // A notification's body (413 past it). RFC 8030 §7.2 makes 4096 the size
  // every push service takes; http_max_body_bytes must allow it.
  size_t webpush_max_payload_bytes = 4096;
  // A longer TTL is cut to this, in whole seconds (the 201's TTL header says
  // what was kept); a request without TTL gets it too.
  std::chrono::milliseconds webpush_max_ttl{std::chrono::hours(28 * 24)};
  // Per endpoint: notifications per second, sustained, and the burst taken
  // at once (a token bucket); past it 429 with Retry-After. 0: no limit.
  double webpush_rate = 10;
  uint32_t webpush_burst = 100;
  // ---- end Web Push ----
  // ---- TLS (docs/tls.md) ----
  // Set: the sync listener speaks TLS only (ALPN "postbox"); the handshake
  // must finish within tls->handshake_timeout and counts towards
  // hello_timeout. Unset: plain TCP (loopback, tests, a TLS-terminating
  // proxy in front).
  std::optional<TlsServerOptions> tls;
  // Likewise for the HTTP listener (ALPN "http/1.1"); usually the same
  // certificate as `tls`.
  std::optional<TlsServerOptions> http_tls;
  // ---- Metrics (docs/operations.md "Metrics") ----
  // GET /metrics on the HTTP listener (Prometheus text format) answers
  // everyone when empty; when set, only requests with
  // `Authorization: Bearer <metrics_token>` (others get 401).
  std::string metrics_token;
  // ---- The admin API (docs/operations.md "Admin API") ----
  // Set: /admin/... on the HTTP listener answers requests carrying
  // `Authorization: Bearer <admin_token>`, or a web console login made with
  // it (live sessions, viewers, transfers, kicking a session out, mailboxes
  // and connections, health), and /console/ serves the web console; others
  // get 401. Empty: both are off (404, like any unknown path).
  std::string admin_token;
};

// Counters for tests, logs and benchmarks. A snapshot; each field is exact at
// some moment during the call.
struct ServerStats {
  uint64_t sessions = 0;             // open connections
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t commits = 0;              // group-commit transactions
  uint64_t committed_ops = 0;        // ops in them
  uint64_t pushes = 0;               // info packets pushed
  uint64_t sessions_cut = 0;         // closed for an over-full outbound queue
  uint64_t timeouts = 0;             // closed for hello_timeout, frame_timeout or a missing pong
  uint64_t accept_pauses = 0;        // accepting paused for want of file descriptors
  uint64_t turn_yields = 0;          // a session had more frames than one loop turn handles
  uint64_t buffered_bytes = 0;       // held for all sessions now (see max_buffered_bytes)
  uint64_t uploads_swept = 0;        // expired uploads the writer removed
  uint64_t tombstones_purged = 0;    // tombstones the writer purged
  // Kicks (zero without ServerOptions::kick_driver).
  uint64_t kicks_pending = 0;  // pending kicks now (in flight included)
  uint64_t kicks_sent = 0;     // delivered (the driver said OK)
  uint64_t kicks_retried = 0;  // transient failures scheduled again
  uint64_t kicks_dropped = 0;  // refused for good, or out of attempts
  // ---- HTTP listener (docs/http.md) ----
  uint64_t http_connections = 0;    // open HTTP connections
  uint64_t http_requests = 0;       // complete requests received
  uint64_t http_responses_2xx = 0;  // final responses by class
  uint64_t http_responses_4xx = 0;
  uint64_t http_responses_5xx = 0;
  uint64_t http_timeouts = 0;        // closed for a header or body timeout, or unread output
  uint64_t http_limit_refusals = 0;  // 431, 413, or 503 over http_max_connections
  // ---- end HTTP listener ----
  // ---- Web Push ----
  uint64_t webpush_stored = 0;        // notifications (and SimplePush versions) stored
  uint64_t webpush_dropped = 0;       // TTL 0 with no session of the mailbox: not stored
  uint64_t webpush_rate_limited = 0;  // answered 429
  uint64_t entries_expired = 0;       // expired entries (notifications) the writer deleted
  // ---- TLS (both listeners) ----
  uint64_t tls_handshakes = 0;          // completed
  uint64_t tls_handshake_failures = 0;  // refused, failed, or timed out
  uint64_t tls_reloads = 0;             // successful ReloadTls calls
};

namespace http {
class ServerAccess;  // library-internal (engine/src/sync/http/http.h)
}

class Server {
 public:
  // Opens the listening sockets on `db` (borrowed: it must outlive the
  // server) and starts the loop threads and the writer. On success the server
  // is accepting. InvalidArgument for bad options or host; Unavailable when the
  // address cannot be bound (the libuv error is named in the message).
  static Result<std::unique_ptr<Server>> Start(DB* db, const ServerOptions& options);

  // Stops (as Stop()) if still running.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually listened on (the ephemeral one when options.port was 0).
  uint16_t port() const;
  // The HTTP listener's port (the ephemeral one when options.http_port was
  // 0); 0 when there is no HTTP listener.
  uint16_t http_port() const;

  // Reads the certificate, key and client CA files of options.tls and
  // options.http_tls again (postbox-server does on SIGHUP): connections
  // accepted from now on use them; open sessions keep the ones they were
  // made with and are not interrupted. On any error nothing changes and the
  // error (InvalidArgument, naming the file and OpenSSL's reason) is
  // returned. OK and nothing done when neither listener has TLS.
  Status ReloadTls();

  // Graceful stop: stops accepting; lets the writer finish every write already
  // queued (so each is committed and answered); tells every session 503
  // "shutting down"; closes sessions once their output is flushed or stop_grace
  // has passed; joins all threads. Idempotent. Returns within about stop_grace
  // plus one commit.
  void Stop();

  // For hosts that write to the same DB themselves: applies `batch` through the
  // server's writer (in the next group commit, durable on return) and pushes to
  // the sessions of every changed mailbox. Per-op results are in the batch.
  // Unavailable once Stop() has begun.
  Status Write(WriteBatch* batch);

  // Tells the server these mailboxes changed outside it (a host's own
  // DB::Write): their connected sessions get a push.
  void NotifyChanged(std::span<const MailboxKey> mailboxes);

  // Calls `listener` after each commit of the server's writer (the sessions'
  // group commits and Write) with the mailboxes it changed, on the writer
  // thread, before the commit is answered or pushed: it must be quick and
  // must not call Write. A relay is woken so.
  // Returns an id for RemoveCommitListener, which returns once no call of the
  // listener is in progress; remove it before what it refers to goes.
  uint64_t AddCommitListener(std::function<void(std::span<const MailboxKey>)> listener);
  void RemoveCommitListener(uint64_t id);

  ServerStats stats() const;

 private:
  class Impl;
  friend class http::ServerAccess;  // installs the HTTP listener's handler
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_SERVER_H_
