// Session: one client connection on a loop thread. Its code is split by job:
//   session.cc   — the connection: reading and framing, output, backpressure
//                  and memory accounting, deadlines, closing;
//   dispatch.cc  — the requests: Hello, poll/ack and push, reads, writes sent
//                  to the group commit and their answers;
//   transfer.cc  — blob downloads (streams) and upload queries.
//   session_events.cc — the session's event log records (postbox/sync/events.h).
// Loop-only: every method runs on its loop's thread (asserted in debug).
#ifndef POSTBOX_SYNC_SERVER_SESSION_H_
#define POSTBOX_SYNC_SERVER_SESSION_H_

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "postbox/wire/codec.h"
#include "postbox/wire/frame.h"
#include "sync/server/server_impl.h"
#include "sync/tls/channel.h"

namespace postbox::sync::internal {

// What the admin API shows of a session (docs/operations.md "Admin API").
struct SessionInfo {
  uint64_t id = 0;  // unique in the server (ServerCore::NextSessionId)
  uint32_t loop = 0;
  std::string state;  // "hello" (awaiting it), "active", "closing"
  std::string peer;   // "IP:PORT" of the client
  bool tls = false;
  std::optional<MailboxKey> mkey;  // once Hello succeeded
  Platform platform = Platform::kNone;
  std::string app_version;
  int64_t since_ms = 0;  // connected at, Unix ms
  uint64_t bytes_in = 0, bytes_out = 0;
  size_t pending_pushes = 0;  // pushed, not yet acked
  size_t queued_writes = 0;   // waiting for the group commit
  size_t unsent_bytes = 0;
  struct Download {
    MessageId id;
    uint64_t next = 0, end = 0;
  };
  std::vector<Download> downloads;
};

class Session {
 public:
  Session(Loop* loop, uint64_t id);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Frames one session may handle per loop iteration before the others get
  // theirs (Loop::turn).
  static constexpr uint32_t kFramesPerTurn = 64;
  // Called by the loop on the iteration after the session yielded: handles
  // the frames it buffered, up to a turn's worth, then reads again.
  void TakeTurn();
  uv_tcp_t* tcp() { return &tcp_; }
  uint64_t id() const { return id_; }
  bool active() const { return state_ == State::kActive; }
  const MailboxKey& mkey() const { return mkey_; }

  // Starts reading. `admitted` false: the connection is over the cap; it gets
  // 503 and is closed.
  void Start(bool admitted);
  // A write of this session was committed (or failed): answers it.
  void OnCompletion(const Completion& c);
  // The session's mailbox changed: push if the window allows.
  void OnMailboxChanged();
  // The session's mailbox was deleted: 401, then close.
  void OnMailboxDeleted();
  // Deadlines (Hello, frame, ping/pong, lifetime, closing) and resuming reads
  // paused for the global budget. `now` is uv_now (ms).
  void Tick(uint64_t now);
  // Server stop: 503 shutting down, then close once flushed.
  void Shutdown();
  // The admin API: what it shows, and kicking the session out (503 "closed
  // by the operator", then close once flushed).
  SessionInfo Info() const;
  void Kick();
  // Closes now; the object frees itself in the close callback.
  void Close();

 private:
  enum class State { kAwaitHello, kActive };
  // Why reading is paused. kClient: the client does not read its replies (its
  // silence then counts towards the ping deadline); kServer: the session's
  // writes or the server's budget are full (not the client's fault: no
  // deadline runs meanwhile).
  // kTurn: the session handled kFramesPerTurn frames in this loop iteration
  // and waits for the next (TakeTurn). kWrites: a read is held until the
  // session's earlier writes are answered (read-your-writes; not the
  // client's fault either).
  enum class Pause { kNone, kClient, kServer, kTurn, kWrites };
  // One download stream: the chunks of [next, end) still to send.
  struct Download {
    uint64_t rid = 0;
    MessageId id;
    uint64_t next = 0;          // offset of the next chunk
    uint64_t end = UINT64_MAX;  // clipped to the blob's length when read
    uint64_t first = 0;         // where it began (the event log's offset)
    uint64_t started_ms = 0;    // uv_now when it was asked for
  };
  // What the event log's session_end will say, gathered as the session goes
  // (only when the server has an event sink).
  struct EventRecord {
    SessionEndEvent end;
    bool has_reason = false;
  };

  // ---- session.cc: the connection ----
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWritten(uv_write_t* req, int status);
  static void OnClosed(uv_handle_t* h);
  // Handles the complete frames buffered (a held read first, once it may
  // run), as long as reading is allowed.
  void ProcessFrames();
  // Whether `frame` must wait for this session's queued writes: it reads the
  // store, read_your_writes is on and writes are queued.
  bool MustWaitForWrites(const wire::Frame& frame) const;
  // Why reading should pause now, if it should.
  Pause PauseReason() const;
  // Stops or resumes reading to match PauseReason (resuming handles the
  // frames already buffered first).
  void UpdateReading();
  // Handles the frames buffered while reading was stopped, then reads again
  // unless a reason to pause (or the end of the turn) stops it once more.
  void ResumeReading();
  // Brings the server's count of what this session holds up to date.
  void Account();
  size_t Held() const;
  size_t Unsent() const { return out_.size() + inflight_.size() + (tls_ ? tls_->pending() : 0); }
  // TLS: decrypts a read into the frame decoder and empties `bytes` (false:
  // the session is closing for a TLS failure, already handled).
  bool Decrypt(std::span<const uint8_t>* bytes);
  // A TLS failure: its alert if the socket takes it at once, then close.
  void TlsFailed(const Status& why);
  // Writes `bytes` (already encrypted if TLS) if the socket takes them at
  // once; for last words before closing.
  void TryWrite(std::vector<uint8_t>* bytes);
  template <class M>
  void Send(uint64_t rid, const M& m);
  void SendError(uint64_t rid, const Status& s);
  void SendError(uint64_t rid, uint16_t code, std::string_view message);
  void Flush();
  // Stops reading; closes once every request already read is answered and
  // the output is written (or after pong_timeout if the client does not read).
  void CloseAfterFlush();
  // For deadlines: tells the client why if its socket takes it at once, and
  // closes now (a client that stalls must not hold its slot any longer).
  void CloseNow(uint16_t code, std::string_view message, uint64_t rid = 0);
  void MaybeFinishClose();
  void Unregister();

  // ---- dispatch.cc: the requests ----
  void HandleFrame(const wire::Frame& frame);
  void HandleHello(uint64_t rid, const wire::Hello& m);
  void HandlePoll(uint64_t rid, const wire::Poll& m);
  void HandleAck(uint64_t rid, const wire::Ack& m);
  void HandleEntryGet(uint64_t rid, const wire::EntryGet& m);
  void HandleEntryList(uint64_t rid, const wire::EntryList& m);
  void HandleConnectionList(uint64_t rid, const wire::ConnectionList& m);
  void HandleEndpointList(uint64_t rid, const wire::EndpointList& m);
  // Queues the write `op` decoded from request `rid` for the group commit (or
  // answers the request's decoding error).
  void Submit(uint64_t rid, Result<WriteBatch::Op> op);
  // Sends a Reply whose `items` are the first n of `list` (n ≤ limit) and
  // whose `more` says whether the list went on, halving n while the frame
  // would exceed the limit.
  template <class Reply, class List, class Items>
  void SendPage(uint64_t rid, const List& list, size_t limit, Items Reply::*items);
  // Sends the info packet of changes after `since` (paged down until it fits a
  // frame); returns its cursor, or nothing after sending an error.
  std::optional<uint64_t> SendChanges(uint64_t rid, uint64_t since, uint32_t limit, bool* more);
  void MaybePush();

  // ---- session_events.cc: the event log (no-ops without a sink) ----
  // Starts the record (Start), counting from now.
  void BeginRecord();
  // Hello succeeded: notes who it is and records session_start.
  void RecordHello(const wire::Hello& m, Platform platform, Verdict verdict);
  // Why the session ends; the first cause given wins (a client that
  // closes after a 401 ended with the 401).
  void Ending(CloseReason reason, std::optional<uint16_t> code = std::nullopt,
              std::string_view detail = {});
  void TimedOut(TimeoutKind kind, std::optional<uint16_t> code = std::nullopt);
  // Close: records session_end.
  void RecordEnd();
  // A download stream ended: completely (no code) or with an Error sent.
  void RecordDownload(const Download& d, std::optional<uint16_t> code = std::nullopt);
  // Bytes as on the wire: the session's counts (the admin API, the event
  // log's session_end) and the server's (metrics).
  void CountIn(size_t n) {
    bytes_in_ += n;
    core_->metrics().BytesIn(n);
  }
  void CountOut(size_t n) {
    bytes_out_ += n;
    core_->metrics().BytesOut(n);
  }

  // ---- transfer.cc: blobs ----
  void HandleUploadQuery(uint64_t rid, const wire::UploadQueryOffset& m);
  void HandleDownload(uint64_t rid, const wire::DownloadRequest& m);
  // Sends download chunks, one per stream in turn, while the unsent output is
  // below the download high-water mark; called again whenever a write completes.
  void ServeDownloads();
  // Sends the next chunk(s) of `d` (one stored piece); false when the stream
  // has ended (its last chunk or an error was sent).
  bool ServeOne(Download* d);

  Loop* loop_;
  ServerCore* core_;
  uint64_t id_;
  uv_tcp_t tcp_{};
  uv_write_t write_req_{};
  // TLS (docs/tls.md): set when the listener has it. out_ holds plaintext
  // frames; they are encrypted as they are handed to libuv (Flush), so
  // inflight_ then holds ciphertext.
  std::unique_ptr<tls::Channel> tls_;
  bool tls_seen_bytes_ = false;  // the first byte was looked at (Decrypt)
  wire::FrameDecoder decoder_;
  std::vector<uint8_t> out_;       // frames not yet handed to libuv
  std::vector<uint8_t> inflight_;  // the buffer of the write in progress
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool counted_ = false;  // holds a slot of the connection cap
  State state_ = State::kAwaitHello;
  MailboxKey mkey_;
  Platform platform_ = Platform::kNone;  // said in Hello (metrics, the admin API)
  std::string app_version_;              // said in Hello (the admin API)
  int64_t since_wall_ms_ = 0;            // accepted at, Unix ms
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  // The compression Hello agreed (wire/PROTOCOL.md "Compression
  // negotiation"): what the replies may use, and what decoder_ accepts. None
  // until a Hello declared some; the loop's encoder serves every session, so
  // the agreement, not a compression context, is what a session keeps.
  wire::CompressionAgreement compression_{};

  // Download streams in progress (wire/PROTOCOL.md "Blob transfer"), served
  // round robin from next_download_. A vector, not a deque: an idle session
  // must stay small.
  std::vector<Download> downloads_;
  size_t next_download_ = 0;

  // Writes handed to the writer and not yet answered.
  size_t queued_ops_ = 0;
  // A read waiting for those writes (read-your-writes). Its payload stays
  // valid in decoder_'s buffer because nothing calls decoder_.Next or Feed
  // while it is held: reading is paused (Pause::kWrites) until it is handled.
  std::optional<wire::Frame> held_;
  size_t queued_bytes_ = 0;
  Pause paused_ = Pause::kNone;
  uint64_t turn_ = 0;         // the loop iteration turn_frames_ counts in
  uint32_t turn_frames_ = 0;  // frames handled in that iteration
  size_t accounted_ = 0;      // what this session last added to the server's budget

  // Push flow control: cursors of pushes sent and not yet acked (≤ window).
  bool synced_ = false;  // the client told us its cursor (Poll or Ack)
  uint64_t push_since_ = 0;
  std::deque<uint64_t> unacked_;
  // The highest cursor acked or sent in a poll reply: an Ack is valid for one
  // of the unacked_ pushes or a cursor at or below this (HandleAck).
  uint64_t ack_floor_ = 0;

  // The event log's record of this session; null without a sink (an idle
  // session stays small).
  std::unique_ptr<EventRecord> record_;

  uint64_t started_ms_ = 0;
  uint64_t last_rx_ms_ = 0;
  uint64_t frame_started_ms_ = 0;  // first byte of a frame still incomplete (0: none)
  uint64_t ping_sent_ms_ = 0;
  bool ping_outstanding_ = false;
  uint64_t closing_since_ms_ = 0;
  uint64_t next_nonce_ = 1;
};

template <class M>
void Session::Send(uint64_t rid, const M& m) {
  POSTBOX_ASSERT_ON_LOOP(loop_);
  if (closed_) return;
  if (wire::Error e = loop_->encoder.Encode(rid, m, &out_, compression_); !e.ok()) {
    if constexpr (!std::is_same_v<M, wire::ErrorReply>) {
      SendError(rid, 500, "cannot encode the reply: " + e.ToString());
    }
    return;
  }
  Flush();
}

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_SESSION_H_
