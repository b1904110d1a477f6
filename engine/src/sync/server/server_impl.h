// Internals of postbox::sync::Server: the loop threads, the sessions they own
// and the group-commit writer. Threading rules (docs/threading.md): a Loop's
// libuv handles and sessions are touched only by its own thread; other threads
// hand it work through Loop::inbox under Loop::mu and wake it with uv_async_send.
#ifndef POSTBOX_SYNC_SERVER_SERVER_IMPL_H_
#define POSTBOX_SYNC_SERVER_SERVER_IMPL_H_

#include <uv.h>

#include <atomic>
#include <cassert>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "postbox/db.h"
#include "postbox/sync/events.h"
#include "postbox/sync/server.h"
#include "postbox/wire/codec.h"
#include "store/batch_op.h"
#include "sync/kick/scheduler.h"
#include "sync/server/metrics.h"

// Loop-only code asserts it runs on its loop's thread (debug builds).
#define POSTBOX_ASSERT_ON_LOOP(loop) assert(std::this_thread::get_id() == (loop)->thread_id)

// ---- HTTP listener (engine/src/sync/http/listener.h) ----
namespace postbox::sync::http {
struct HttpLoop;
class HttpShared;
// Defined in listener.cc, so that a Loop can be built where HttpLoop is incomplete.
struct HttpLoopDeleter {
  void operator()(HttpLoop* p) const;
};
}  // namespace postbox::sync::http
// ---- end HTTP listener ----
namespace postbox::sync::push {
class WebPushRoutes;
}
namespace postbox::sync::internal {
class AdminRoutes;
}
namespace postbox::sync::tls {
class Context;
}

namespace postbox::sync::internal {

class ServerCore;
class Session;

struct MailboxKeyHash {
  size_t operator()(const MailboxKey& k) const {
    size_t h;  // mkeys are random bytes: any 8 of them hash well
    std::memcpy(&h, k.bytes.data(), sizeof(h));
    return h;
  }
};

using OpKind = WriteBatch::Op::Kind;

// A session's write on its way to the writer: the request decoded straight
// into its batch op (write_ops.h), and where the answer goes.
struct QueuedOp {
  uint32_t loop = 0;
  uint64_t session = 0;
  uint64_t request_id = 0;
  size_t bytes = 0;  // payload the op holds (the session's and the server's accounting)
  WriteBatch::Op op;
  // Set for a write that is not a session's (the HTTP routes): called on the
  // writer thread with the op's result once its commit is durable, instead
  // of a Completion to `loop`. Must be quick and must not write.
  std::function<void(const OpResult&)> done{};
};

// The writer's answer to one QueuedOp, delivered to the op's loop.
struct Completion {
  uint64_t session = 0;
  uint64_t request_id = 0;
  OpKind kind{};
  size_t bytes = 0;
  OpResult result;
};

// A host's own WriteBatch (Server::Write) waiting for the writer.
struct HostWrite {
  WriteBatch* batch = nullptr;
  std::promise<Status> done;
};

// One libuv loop thread and everything it owns.
struct Loop {
  ServerCore* core = nullptr;
  uint32_t index = 0;
  std::thread thread;
  std::thread::id thread_id;

  uv_loop_t uv{};
  uv_async_t wake{};
  uv_timer_t tick{};
  uv_timer_t grace{};
  // Turns: `turn` counts loop iterations (a check handle bumps it after each
  // poll phase); a session handles at most Session::kFramesPerTurn frames per
  // turn, then stops reading and waits in `yielded` until the idle handle
  // resumes it on the next iteration, so one flooding client cannot make
  // every other session on the loop wait behind thousands of its requests.
  uv_check_t turn_check{};
  uv_idle_t turn_resume{};
  uint64_t turn = 0;
  std::vector<uint64_t> yielded;
  // Accepting: this loop's listening socket (SO_REUSEPORT) polled for
  // readiness; accept4 is ours so that running out of descriptors pauses it
  // (accept_retry) instead of spinning.
  int listen_fd = -1;
  uv_poll_t accept_poll{};
  uv_timer_t accept_retry{};
  bool listening = false;
  bool accept_paused = false;
  uint64_t accept_backoff_ms = 0;
  uint64_t accept_failures_unlogged = 0;
  uint64_t accept_last_log_ms = 0;
  bool shutting_down = false;
  bool handles_closed = false;

  // Work handed to this loop by other threads; guarded by mu.
  std::mutex mu;
  std::vector<Completion> completions;
  std::vector<MailboxKey> changed;
  bool check_deleted = false;                // a mailbox was deleted: end its sessions
  std::vector<std::function<void()>> tasks;  // RunOnLoops
  bool stop_accepting = false;
  bool shutdown = false;

  // Loop-thread state.
  size_t open_sessions = 0;  // accepted and not yet freed (closing ones included)
  std::unordered_map<uint64_t, Session*> sessions;
  std::unordered_map<MailboxKey, std::vector<Session*>, MailboxKeyHash> by_mailbox;
  uint64_t mailbox_deletions = 0;  // StoreStats::mailbox_deletions last seen
  wire::Encoder encoder;
  // ---- HTTP listener: this loop's part of it (null when off) ----
  std::unique_ptr<http::HttpLoop, http::HttpLoopDeleter> http;
  // ---- end HTTP listener ----
  // TLS connections decrypt a read into this before handling it (one read
  // callback at a time uses it).
  std::vector<uint8_t> tls_plain;
  // One read buffer per loop: a read callback consumes it before the next read.
  std::unique_ptr<char[]> read_buf{new char[kReadBufSize]};
  static constexpr size_t kReadBufSize = 64 * 1024;

  explicit Loop(const wire::EncoderOptions& eo) : encoder(eo) {}
};

// The shared state of a running server: options, loops, writer queue, stats.
class ServerCore {
 public:
  ServerCore(DB* db, const ServerOptions& options);
  ~ServerCore();

  Status Start();
  void Stop();
  uint16_t port() const { return port_; }
  Status HostWrite(WriteBatch* batch);
  void NotifyChanged(std::span<const MailboxKey> mailboxes);
  uint64_t AddCommitListener(std::function<void(std::span<const MailboxKey>)> listener);
  void RemoveCommitListener(uint64_t id);
  ServerStats stats() const;

  DB* db() const { return db_; }
  const ServerOptions& options() const { return options_; }
  // ---- HTTP listener ----
  http::HttpShared* http() const { return http_.get(); }
  uint16_t http_port() const;
  // ---- end HTTP listener ----
  // ---- TLS (docs/tls.md) ----
  // The context a connection accepted now on the sync (http false) or HTTP
  // listener is made from; null when that listener is plain.
  std::shared_ptr<const tls::Context> tls_context(bool http) const {
    std::lock_guard lock(tls_mu_);
    return http ? tls_http_ : tls_sync_;
  }
  // Builds both listeners' contexts from their files again and swaps them in
  // (Server::ReloadTls); on error keeps the old ones.
  Status ReloadTls();
  void CountTlsHandshake(bool ok) {
    (ok ? tls_handshakes_ : tls_failures_).fetch_add(1, std::memory_order_relaxed);
  }
  // ---- end TLS ----
  // Runs `fn` on every loop thread, then `done` (on the thread of the loop
  // that ran last). false once the loops are stopping (nothing runs then).
  bool RunOnLoops(std::function<void(Loop*)> fn, std::function<void()> done);
  // What GET /metrics shows besides stats() (metrics.h).
  Metrics& metrics() { return metrics_; }
  const Metrics& metrics() const { return metrics_; }
  // Loop 0's tick: the admin API's health history takes its samples
  // (health.h); nothing without an admin token.
  void TickHealth(uint64_t now_ms);
  std::string RenderMetrics() const;

  // Queues a session's write; false once the writer has closed (then the
  // caller answers 503 itself).
  bool Enqueue(QueuedOp op);
  // Queues one op in the sessions' group commit and calls `done` (on the
  // writer thread) with its result once the commit is durable. false once the
  // writer has closed (`done` is then never called).
  bool Enqueue(WriteBatch::Op op, std::function<void(const OpResult&)> done);

  // Whether a session of `m` has said Hello and not yet closed, on any loop
  // (sessions report it as they go; thread-safe).
  bool Online(const MailboxKey& m) const;
  void SessionOpened(const MailboxKey& m);
  void SessionClosed(const MailboxKey& m);

  // Connection accounting: true if the new connection fits under the cap.
  bool AdmitConnection();
  void ReleaseConnection() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  void CountRefused() { refused_.fetch_add(1, std::memory_order_relaxed); }
  void CountPush() { pushes_.fetch_add(1, std::memory_order_relaxed); }
  void CountCut() { cut_.fetch_add(1, std::memory_order_relaxed); }
  void CountTimeout() { timeouts_.fetch_add(1, std::memory_order_relaxed); }
  void CountTurnYield() { turn_yields_.fetch_add(1, std::memory_order_relaxed); }
  void CountAcceptPause() { accept_pauses_.fetch_add(1, std::memory_order_relaxed); }

  // The global memory budget (ServerOptions::max_buffered_bytes): sessions
  // add what they hold as it changes.
  void AddBuffered(int64_t delta) { buffered_.fetch_add(delta, std::memory_order_relaxed); }
  // ---- Kicks (docs/notifications.md): null without a kick driver ----
  // Sessions report their mailbox when Hello succeeds and when they close, so
  // the scheduler knows which mailboxes have none.
  kick::Scheduler* kicks() const { return kicks_.get(); }
  // ---- end kicks ----
  // ---- Event log (postbox/sync/events.h): null without a sink ----
  EventSink* events() const { return options_.event_log.get(); }
  // ---- end event log ----
  // A session's id, unique among all loops' sessions since the start (logs
  // and the event log name sessions by it).
  uint64_t NextSessionId() { return next_session_.fetch_add(1, std::memory_order_relaxed); }

  // Over the budget: sessions holding more than kFairShare stop reading.
  bool OverBudget() const {
    return buffered_.load(std::memory_order_relaxed) >
           static_cast<int64_t>(options_.max_buffered_bytes);
  }
  // Back under 3/4 of it: paused sessions read again.
  bool BudgetRecovered() const {
    return buffered_.load(std::memory_order_relaxed) <=
           static_cast<int64_t>(options_.max_buffered_bytes / 4 * 3);
  }
  static constexpr size_t kFairShare = 64 * 1024;

 private:
  Status Validate();
  Status StartLoop(Loop* loop, uint16_t port);
  void RunLoop(Loop* loop, uint16_t port, std::promise<Status>* ready);
  void WriterMain();
  // Applies ops[begin, end) (and any maintenance that is due) in one group
  // commit and delivers the answers.
  void CommitGroup(std::vector<QueuedOp>& ops, size_t begin, size_t end, bool maintain,
                   WriteBatch* batch, std::vector<std::vector<Completion>>* per_loop);
  // Housekeeping (sweep, purge) is due: its interval passed, or the last
  // round left work behind.
  bool MaintenanceDue() const;
  void Deliver(std::vector<std::vector<Completion>>* per_loop,
               const std::vector<MailboxKey>& changed, bool check_deleted = false);

  DB* db_;
  ServerOptions options_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<Loop>> loops_;
  bool stopped_ = false;
  std::mutex stop_mu_;
  // Called on the writer thread after each commit (Server::AddCommitListener).
  void TellListeners(const std::vector<MailboxKey>& changed);
  std::mutex listeners_mu_;
  std::map<uint64_t, std::function<void(std::span<const MailboxKey>)>> listeners_;
  uint64_t next_listener_ = 0;

  std::mutex wmu_;
  std::condition_variable wcv_;
  std::vector<QueuedOp> queue_;
  std::vector<struct HostWrite*> host_queue_;
  bool writer_stop_ = false;
  bool writer_closed_ = false;
  std::thread writer_;
  // Writer-thread state: when maintenance is next due, and whether the last
  // round left work behind (then it runs again with the next group commit).
  std::chrono::steady_clock::time_point next_maintenance_{};
  bool maintenance_pending_ = false;

  // ---- Kicks: started before the loops, stopped after the writer ----
  std::unique_ptr<kick::Scheduler> kicks_;
  // ---- end kicks ----

  mutable std::mutex online_mu_;
  std::unordered_map<MailboxKey, uint32_t, MailboxKeyHash> online_;  // sessions per mailbox

  std::atomic<uint64_t> next_session_{1};
  std::atomic<size_t> connections_{0};
  std::atomic<int64_t> buffered_{0};
  std::atomic<uint64_t> refused_{0}, commits_{0}, committed_ops_{0}, pushes_{0}, cut_{0},
      timeouts_{0}, accept_pauses_{0}, swept_{0}, purged_{0}, turn_yields_{0}, expired_{0};
  // ---- HTTP listener: options, handler, counters (server.cc creates it) ----
  std::unique_ptr<http::HttpShared> http_;
  // ---- end HTTP listener ----
  // The Web Push routes on it (null without the listener).
  std::shared_ptr<push::WebPushRoutes> webpush_;
  // The admin API on it (admin_routes.h; null without the listener).
  std::shared_ptr<AdminRoutes> admin_;
  Metrics metrics_;
  // ---- TLS (docs/tls.md): the contexts new connections are made from ----
  mutable std::mutex tls_mu_;
  std::shared_ptr<const tls::Context> tls_sync_, tls_http_;
  std::atomic<uint64_t> tls_handshakes_{0}, tls_failures_{0}, tls_reloads_{0};
  // ---- end TLS ----
};

// Loop-thread entry points (loop.cc).
void OnWake(uv_async_t* handle);
// Puts a session that used up its turn in line for the next one.
void YieldTurn(Loop* loop, uint64_t session);
void CloseLoopHandlesIfDone(Loop* loop);

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_SERVER_IMPL_H_
