// Internals of postbox::sync::Client: the loop thread, the one live
// connection, the request table with deadlines, reconnect with backoff and the
// resume poll. Everything named loop-only below runs on the loop thread
// (asserted in debug); other threads reach it through Post().
//
// Requests come in three kinds. An ordinary request gets exactly one reply.
// A stream request (a download) gets any number of frames with its id until
// its handler says it has had enough or an error arrives; every frame renews
// its deadline, so a stalled stream times out but a long one does not. A bulk
// request (an upload chunk) waits in its own queue and is encoded only while
// the connection's unsent output is below kBulkBudget, so polls, acks and
// status updates made meanwhile overtake queued chunks instead of waiting
// behind megabytes of them.
#ifndef POSTBOX_SYNC_CLIENT_CLIENT_CORE_H_
#define POSTBOX_SYNC_CLIENT_CLIENT_CORE_H_

#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "postbox/sync/client.h"
#include "postbox/wire/codec.h"
#include "postbox/wire/frame.h"
#include "sync/tls/channel.h"

namespace postbox::sync {

class Client::Core {
 public:
  // Encodes the request with the given id into *out (loop thread).
  using Encode = std::function<wire::Error(uint64_t rid, wire::Encoder*, std::vector<uint8_t>*)>;
  // The reply, or why there is none. `reply` is valid only during the call.
  using Handler = std::function<void(const Status&, const wire::AnyMessage* reply)>;
  // One frame of a stream, or why the stream ended (then the return value is
  // ignored). Return true to keep listening, false when the stream is done.
  using StreamHandler = std::function<bool(const Status&, const wire::AnyMessage* frame)>;

  // Bulk frames are added to the connection's output only while it holds less
  // than this: each write carries the control frames queued meanwhile and
  // about one upload chunk, so a Poll waits behind at most ~two chunks.
  static constexpr size_t kBulkBudget = 256 * 1024;

  explicit Core(const ClientOptions& options);
  ~Core();

  Status Start();
  // Ends everything and joins the loop thread. Idempotent.
  void Shutdown();
  // Runs `fn` on the loop thread (or fails it with Unavailable via `fn`'s
  // owner if the loop has ended: returns false then).
  bool Post(std::function<void()> fn);
  bool OnLoop() const { return std::this_thread::get_id() == thread_id_; }
  const ClientOptions& options() const { return options_; }

  // True once the loop thread has ended (Post fails from then on).
  bool LoopEnded();

  // ---- loop-only ----
  void Request(Encode encode, Handler handler);
  // A request answered by a stream of frames (see the file comment).
  void RequestStream(Encode encode, StreamHandler handler);
  // A request sent in the bulk lane (see the file comment); its deadline runs
  // from now while it waits and again from when it is sent.
  void RequestBulk(Encode encode, Handler handler);
  // True if a request made now will be sent: a session is up or being
  // established. False once the client is closed, refused, or idle.
  bool WillSend() const;
  // Runs `fn` on the loop after `ms` milliseconds, or at once when the client
  // shuts down (then whatever it requests fails with Unavailable).
  void After(uint64_t ms, std::function<void()> fn);
  // Runs `start` now if nothing holds `key`, else once the holders before it
  // have called EndTurn(key). Download streams are keyed by message id on the
  // server (a second request for an id replaces the first stream), so two
  // downloads of one id on this session take turns. Each turn must end.
  void TakeTurn(const std::string& key, std::function<void()> start);
  void EndTurn(const std::string& key);
  // Sends a message that gets no reply (Ack). Unavailable unless a session is up.
  Status SendOneWay(const Encode& encode);
  void Connect(std::function<void(Result<HelloResult>)> done);
  void CloseSession();
  void DropConnection();
  void NoteAck(uint64_t cursor);
  // Loop-only: the highest cursor the current session sent this client (in a
  // push or a poll reply). The server refuses an Ack above it (400), so Ack
  // sends none.
  void NoteReceived(uint64_t cursor) { received_cursor_ = std::max(received_cursor_, cursor); }
  uint64_t received_cursor() const { return received_cursor_; }

  std::atomic<bool> connected{false};
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> sessions{0};
  // HelloReply.protocol_version of the last session (0 before the first).
  std::atomic<uint32_t> server_protocol{0};

 private:
  struct Conn;
  struct Pending {
    uint64_t deadline = 0;
    StreamHandler handler;  // ordinary requests: wrapped, always returns false
    bool stream = false;
  };
  struct Waiting {
    uint64_t deadline = 0;
    Encode encode;
    StreamHandler handler;
    bool stream = false;
  };
  struct Delayed;
  enum class State { kIdle, kConnecting, kHello, kReady, kBackoff, kFinal };

  void Run(std::promise<Status>* ready);
  static void OnWake(uv_async_t* h);
  static void OnTick(uv_timer_t* t);
  static void OnBackoff(uv_timer_t* t);
  static void OnConnected(uv_connect_t* req, int status);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWritten(uv_write_t* req, int status);

  void StartConnect();
  void SendHello();
  void OnHelloReply(const Status& s, const wire::AnyMessage* reply);
  // Sets the connection's decoder and the encoder to the compression the
  // HelloReply agreed (wire/PROTOCOL.md "Compression negotiation").
  void ApplyCompression(const wire::HelloReply& hr);
  void Enqueue(Encode encode, StreamHandler handler, bool stream);
  // Encodes and registers one request on the live connection without
  // flushing; false if encoding failed (then `handler` has had the error).
  bool EncodeNow(const Encode& encode, StreamHandler& handler, bool stream, uint64_t deadline);
  void SendNow(const Encode& encode, StreamHandler handler, bool stream, uint64_t deadline);
  // Moves queued bulk requests onto the connection while its output is small.
  void FillBulk();
  static void OnDelayed(uv_timer_t* t);
  // Shutdown: runs every delayed function at once (its timer is closed).
  void RunDelayedNow();
  // An ordinary request's handler as a stream handler that ends at the first frame.
  static StreamHandler Once(Handler h);
  void HandleFrame(const wire::Frame& frame);
  void DeliverPush(const InfoPacket& packet);
  void ResumePoll(uint64_t since);
  void Flush();
  // TLS: decrypts a read of `c` in place of the bytes (false: the connection
  // was lost over it).
  bool Decrypt(Conn* c, std::span<const uint8_t>* bytes);
  // The session is gone: fail what waits on it, then back off or stop.
  void Lost(const Status& why);
  // Fails every pending request, and the queued ones too if `waiting_too`.
  void FailAll(const Status& why, bool waiting_too);
  uint64_t Now();

  ClientOptions options_;
  std::thread thread_;
  std::thread::id thread_id_;
  uv_loop_t uv_{};
  uv_async_t wake_{};
  uv_timer_t tick_{};
  uv_timer_t backoff_{};

  std::mutex mu_;
  std::vector<std::function<void()>> inbox_;
  bool loop_done_ = false;
  bool shutdown_ = false;

  // TLS (options_.tls.enabled): the context every connection is made from.
  std::shared_ptr<const tls::Context> tls_;
  std::vector<uint8_t> tls_plain_;  // a read, decrypted (loop thread)

  // Loop-thread state.
  wire::Encoder encoder_;
  Conn* conn_ = nullptr;
  State state_ = State::kIdle;
  bool established_once_ = false;
  bool final_ = false;  // closed by the user, or a 401 / 426 / update-required
  uint64_t next_rid_ = 1;
  uint64_t hello_rid_ = 0;
  std::function<void(Result<HelloResult>)> connect_done_;
  std::map<uint64_t, Pending> pending_;
  std::deque<Waiting> waiting_;
  std::deque<Waiting> bulk_;
  std::vector<Delayed*> delayed_;
  std::map<std::string, std::deque<std::function<void()>>> turns_;  // holders wait in line
  uint64_t received_cursor_ = 0;  // see received_cursor(); 0 at each new session
  uint64_t session_gen_ = 0;      // bumped by Lost(): a handler can tell the session went
  unsigned attempt_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  std::unique_ptr<char[]> read_buf_{new char[64 * 1024]};
};

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_CLIENT_CLIENT_CORE_H_
