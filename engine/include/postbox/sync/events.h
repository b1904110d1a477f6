// postbox::sync events: what the sync server did, one record per session
// start and end, message committed or superseded, status change, finished
// transfer and kick sent — the call-detail record an operator keeps. The
// server hands each to ServerOptions::event_log (an EventSink); OpenEventLog
// is the built-in sink that writes them as JSON lines to a file, rotated by
// size and reopened on request (logrotate). docs/operations.md "Event log"
// documents every field of every line.
//
// Thread-safety: an EventSink's Record is called from several server threads
// at once (loops, the writer, the kick scheduler) and must be thread-safe;
// EventLog is. Event and its parts are plain values.
#ifndef POSTBOX_SYNC_EVENTS_H_
#define POSTBOX_SYNC_EVENTS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/sync/server.h"
#include "postbox/types.h"

namespace postbox::sync {

// Why a session ended (the "reason" of a session_end line).
enum class CloseReason : uint8_t {
  kClientEof,        // the client closed its side (EOF or TLS close_notify)
  kSocketError,      // reading or writing the socket failed (reset, broken pipe)
  kTimeout,          // a deadline passed: SessionEnd::timeout says which
  kLifetime,         // max_session reached
  kShutdown,         // the server stopped
  kError,            // the server sent an Error and closed (SessionEnd::error_code:
                     // 400 malformed, 401 no Hello or bad credentials, 426 version...)
  kUpdateRequired,   // the Hello verdict was UPDATE_REQUIRED or UPDATE_SCHEMA_REQUIRED
  kCutUnreadOutput,  // the client did not read: its output passed max_outbound_bytes
  kMailboxDeleted,   // the session's mailbox was deleted
  kTlsFailure,       // TLS refused, failed (handshake or later) or plaintext on a TLS listener
  kOverCapacity,     // accepted over max_connections: 503, then closed
};
std::string_view CloseReasonName(CloseReason r);

// Which deadline closed a session (CloseReason::kTimeout).
enum class TimeoutKind : uint8_t { kHello, kFrame, kPong, kTlsHandshake };
std::string_view TimeoutKindName(TimeoutKind t);

std::string_view VerdictName(Verdict v);

// A session said Hello and was authenticated (its verdict may still end it).
struct SessionStartEvent {
  uint64_t session = 0;  // unique among the server's sessions since it started
  MailboxKey mkey;
  Platform platform = Platform::kNone;
  std::string app_version;
  uint32_t schema_version = 0;
  uint32_t protocol_version = 0;
  std::string remote;  // the peer's address: "127.0.0.1:50312", "[::1]:50312"
  bool tls = false;
  Verdict verdict = Verdict::kCurrent;
};

// A connection closed: every accepted connection has one, also those that
// never completed Hello (then mkey, platform, app_version and verdict are
// unset).
struct SessionEndEvent {
  uint64_t session = 0;
  std::optional<MailboxKey> mkey;
  std::optional<Platform> platform;
  std::optional<std::string> app_version;
  std::optional<Verdict> verdict;
  std::string remote;
  bool tls = false;
  std::chrono::system_clock::time_point start{};  // when the connection was accepted
  std::chrono::milliseconds duration{0};          // from accept to close
  uint64_t bytes_in = 0;                          // read from the socket (TLS records included)
  uint64_t bytes_out = 0;                         // handed to the socket
  CloseReason reason = CloseReason::kClientEof;
  std::optional<TimeoutKind> timeout;  // set with kTimeout
  std::optional<uint16_t> error_code;  // the Error the server sent before closing, if any
  std::string detail;                  // words on the cause (a TLS or socket error), may be empty
};

// A message became live (a PostMessage op or an UploadCommit).
struct MessageCommittedEvent {
  MailboxKey from;
  MailboxKey to;
  MessageId id;
  std::string topic;
  uint64_t seq = 0;  // its seq in the recipient's feed
  uint64_t length = 0;
  bool upload = false;  // an upload's commit (false: posted whole)
};

// A message was superseded by a newer one of its slot (last-writer cleanup).
struct MessageSupersededEvent {
  MailboxKey from;
  MailboxKey to;
  MessageId id;
  std::string topic;
  uint64_t seq = 0;  // the seq of its tombstone in the recipient's feed
  MessageId by;      // the message that took its place
};

// A message's status rose (an update that changed nothing is not one).
struct StatusChangedEvent {
  MessageId id;
  MessageStatus status = MessageStatus::kUploaded;  // the new status
  MailboxKey by;                                    // the mailbox that advanced it (the recipient)
};

enum class TransferDirection : uint8_t { kUpload, kDownload };

// An upload committed, or a download stream ended (completely, or with an
// error sent to the client: error_code).
struct TransferFinishedEvent {
  TransferDirection direction = TransferDirection::kUpload;
  MessageId id;
  MailboxKey mkey;                  // the uploader (the sender), the downloader (the recipient)
  std::optional<uint64_t> session;  // downloads: the session that streamed it
  uint64_t offset = 0;              // downloads: where the stream began (uploads: 0)
  uint64_t bytes = 0;               // uploads: the blob's length; downloads: bytes sent
  std::chrono::milliseconds duration{0};  // from BeginUpload / the DownloadRequest to the end
  std::optional<uint16_t> error_code;     // downloads only: the Error that ended the stream
};

// What came of one send of a kick (docs/notifications.md).
enum class KickOutcome : uint8_t {
  kDelivered,  // the driver said OK
  kRetry,      // a transient failure: it will be sent again
  kDropped,    // a permanent failure: not sent again
  kGaveUp,     // a transient failure, and kick_max_attempts are used up: dropped
};
std::string_view KickOutcomeName(KickOutcome o);

struct KickSentEvent {
  MailboxKey mkey;
  Platform platform = Platform::kNone;
  uint32_t attempt = 0;  // 1 for the first send
  KickOutcome outcome = KickOutcome::kDelivered;
  std::string error;  // the driver's status when it failed
};

struct Event {
  std::chrono::system_clock::time_point time{};  // when it happened
  std::variant<SessionStartEvent, SessionEndEvent, MessageCommittedEvent, MessageSupersededEvent,
               StatusChangedEvent, TransferFinishedEvent, KickSentEvent>
      data;
};

// The event as one line of the event log, without the newline: a JSON object
// whose first members are "time" and "event" (docs/operations.md).
std::string EventJson(const Event& event);

// Where the server sends its events. Record must be quick and must not block
// (it runs on the loop and writer threads): queue, and do the I/O elsewhere.
class EventSink {
 public:
  virtual ~EventSink();
  virtual void Record(Event event) = 0;
  // Several events at once, in order (the writer hands over a group commit's
  // events together). The default calls Record for each; a sink that takes a
  // lock per call does better taking it once. May move from `events`.
  virtual void RecordAll(std::vector<Event>& events);
  // Reopens whatever the sink writes to (postbox-server calls it on SIGHUP).
  virtual Status Reopen() { return Status::Ok(); }
};

struct EventLogOptions {
  std::string path;
  // The file is rotated before a line would take it past this many bytes:
  // path.keep is deleted, path.N becomes path.N+1, path becomes path.1, and a
  // new path is begun. 0: never rotated (logrotate's job, say).
  uint64_t max_bytes = uint64_t{100} << 20;
  // Rotated files kept (path.1 … path.keep). 0: none; a full file starts over.
  uint32_t keep = 5;
  // Events waiting for the writing thread; past it an event is dropped and
  // counted, and once there is room again the log gets one events_dropped
  // line with the count.
  size_t queue_limit = 65536;
};

struct EventLogStats {
  uint64_t written = 0;       // lines written (events_dropped lines included)
  uint64_t dropped = 0;       // events dropped for a full queue
  uint64_t write_errors = 0;  // lines lost to failed writes
  uint64_t rotations = 0;
};

// The built-in sink: JSON lines appended to a file by a thread of its own
// (a line at a time never interleaves with other writers: O_APPEND), created
// with mode 0640. Record never waits for the disk.
class EventLog : public EventSink {
 public:
  ~EventLog() override;  // writes what is queued, then ends the thread
  void Record(Event event) override;
  void RecordAll(std::vector<Event>& events) override;
  // Opens the path again (after logrotate moved the file away); the lines
  // queued from then on go to the new file. On error the old file is kept
  // and the error (Unavailable, naming the path) returned.
  Status Reopen() override;
  // Returns once every event recorded before the call is written (or lost to
  // a write error).
  void Flush();
  EventLogStats stats() const;

 private:
  friend Result<std::unique_ptr<EventLog>> OpenEventLog(const EventLogOptions& options);
  struct Impl;
  explicit EventLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Opens (creates, appends to) options.path and starts the writing thread.
// InvalidArgument for an empty path or a zero queue_limit; Unavailable when
// the file cannot be opened.
Result<std::unique_ptr<EventLog>> OpenEventLog(const EventLogOptions& options);

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_EVENTS_H_
