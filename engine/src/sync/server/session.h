// Session: one client connection on a loop thread — framing, the Hello
// handshake, request dispatch, push flow control, liveness and bounded output.
// Loop-only: every method runs on its loop's thread (asserted in debug).
#ifndef POSTBOX_SYNC_SERVER_SESSION_H_
#define POSTBOX_SYNC_SERVER_SESSION_H_

#include <uv.h>

#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

#include "postbox/wire/codec.h"
#include "postbox/wire/frame.h"
#include "sync/server/server_impl.h"

namespace postbox::sync::internal {

class Session {
 public:
  Session(Loop* loop, uint64_t id);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  uv_tcp_t* tcp() { return &tcp_; }
  uint64_t id() const { return id_; }

  // Starts reading. `admitted` false: the connection is over the cap; it gets
  // 503 and is closed.
  void Start(bool admitted);
  // A write op of this session was committed (or failed).
  void OnCompletion(const Completion& c);
  // The session's mailbox changed: push if the window allows.
  void OnMailboxChanged() { MaybePush(); }
  // Pings, pong deadline, lifetime, stuck closes. `now` is uv_now (ms).
  void Tick(uint64_t now);
  // Server stop: 503 shutting down, then close once flushed.
  void Shutdown();
  // Closes now; the object frees itself in the close callback.
  void Close();

 private:
  enum class State { kAwaitHello, kActive };
  // One download stream: the chunks of [next, end) still to send.
  struct Download {
    uint64_t rid = 0;
    MessageId id;
    uint64_t next = 0;          // offset of the next chunk
    uint64_t end = UINT64_MAX;  // clipped to the blob's length when read
  };

  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWritten(uv_write_t* req, int status);
  static void OnClosed(uv_handle_t* h);

  void HandleFrame(const wire::Frame& frame);
  void HandleHello(uint64_t rid, const wire::Hello& m);
  void HandlePoll(uint64_t rid, const wire::Poll& m);
  void HandleAck(uint64_t rid, const wire::Ack& m);
  void HandleEntryGet(uint64_t rid, const wire::EntryGet& m);
  void HandleEntryList(uint64_t rid, const wire::EntryList& m);
  void HandleConnectionList(uint64_t rid, const wire::ConnectionList& m);
  void HandleUploadBegin(uint64_t rid, const wire::UploadBegin& m);
  void HandleUploadChunk(uint64_t rid, const wire::UploadChunk& m);
  void HandleUploadQuery(uint64_t rid, const wire::UploadQueryOffset& m);
  void HandleDownload(uint64_t rid, const wire::DownloadRequest& m);
  void SubmitWrite(WriteOp op);

  // Sends download chunks, one per stream in turn, while the unsent output is
  // below kDownloadHighWater; called again whenever a write completes.
  void ServeDownloads();
  // Sends the next chunk(s) of `d` (one stored piece); false when the stream
  // has ended (its last chunk or an error was sent).
  bool ServeOne(Download* d);
  // Upload backpressure: stop reading while too many chunk bytes wait for the
  // writer, resume once they are committed.
  void UpdateReading();

  // Sends the info packet of changes after `since` (paged down until it fits a
  // frame); returns its cursor, or nothing after sending an error.
  std::optional<uint64_t> SendChanges(uint64_t rid, uint64_t since, uint32_t limit, bool* more);
  void MaybePush();

  template <class M>
  void Send(uint64_t rid, const M& m);
  void SendError(uint64_t rid, const Status& s);
  void SendError(uint64_t rid, uint16_t code, std::string_view message);
  void Flush();
  // Stops reading and closes once the queued output is written.
  void CloseAfterFlush();
  void Unregister();

  Loop* loop_;
  ServerCore* core_;
  uint64_t id_;
  uv_tcp_t tcp_{};
  uv_write_t write_req_{};
  wire::FrameDecoder decoder_;
  std::vector<uint8_t> out_;       // frames not yet handed to libuv
  std::vector<uint8_t> inflight_;  // the buffer of the write in progress
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool counted_ = false;  // holds a slot of the connection cap
  State state_ = State::kAwaitHello;
  MailboxKey mkey_;

  // Download streams in progress (wire/PROTOCOL.md "Blob transfer"), served
  // round robin from next_download_. A vector, not a deque: an idle session
  // must stay small.
  std::vector<Download> downloads_;
  size_t next_download_ = 0;
  size_t queued_chunk_bytes_ = 0;  // upload bytes handed to the writer, unanswered
  bool read_paused_ = false;

  // Push flow control: cursors of pushes sent and not yet acked (≤ window).
  bool synced_ = false;  // the client told us its cursor (Poll or Ack)
  uint64_t push_since_ = 0;
  std::deque<uint64_t> unacked_;

  uint64_t started_ms_ = 0;
  uint64_t last_rx_ms_ = 0;
  uint64_t ping_sent_ms_ = 0;
  bool ping_outstanding_ = false;
  uint64_t closing_since_ms_ = 0;
  uint64_t next_nonce_ = 1;
};

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_SESSION_H_
