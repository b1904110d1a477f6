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
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "postbox/db.h"
#include "postbox/sync/server.h"
#include "postbox/wire/codec.h"

// Loop-only code asserts it runs on its loop's thread (debug builds).
#define POSTBOX_ASSERT_ON_LOOP(loop) assert(std::this_thread::get_id() == (loop)->thread_id)

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

// A write a session asks for; the writer applies it in the next group commit.
enum class OpKind : uint8_t {
  kStatusUpdate,
  kEntryPut,
  kEntryDelete,
  kConnect,
  kDisconnect,
  kPushRegister,
  kUploadBegin,
  kUploadChunk,
  kUploadCommit,
  kUploadAbort,
};

struct WriteOp {
  OpKind kind = OpKind::kEntryPut;
  uint32_t loop = 0;
  uint64_t session = 0;
  uint64_t request_id = 0;
  MailboxKey mkey;
  MailboxKey peer;         // kConnect, kDisconnect; kUploadBegin: the recipient
  MessageId id;            // kStatusUpdate, uploads
  MessageStatus status{};  // kStatusUpdate
  Platform platform{};     // kPushRegister
  std::string key;         // entries; kUploadBegin: the topic
  // kEntryPut: the value; kPushRegister: the token; kUploadBegin: the meta;
  // kUploadChunk: the bytes
  std::string value;
  uint64_t version = 0;  // entries
  uint64_t offset = 0;   // kUploadChunk
  uint64_t length = 0;   // kUploadBegin
  Digest128 digest{};    // kUploadBegin
};

// The writer's answer to one WriteOp, delivered to the op's loop.
struct Completion {
  uint64_t session = 0;
  uint64_t request_id = 0;
  OpKind kind = OpKind::kEntryPut;
  Status status;
  uint64_t version = 0;            // entries: the stored version after the op
  MessageStatus message_status{};  // status updates: the status after the op
  UploadState upload;              // kUploadBegin, kUploadChunk: where it stands
  size_t chunk_bytes = 0;          // kUploadChunk: bytes the session had queued
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
  uv_tcp_t listener{};
  bool listening = false;
  bool shutting_down = false;
  bool handles_closed = false;

  // Work handed to this loop by other threads; guarded by mu.
  std::mutex mu;
  std::vector<Completion> completions;
  std::vector<MailboxKey> changed;
  bool stop_accepting = false;
  bool shutdown = false;

  // Loop-thread state.
  uint64_t next_session = 1;
  size_t open_sessions = 0;  // accepted and not yet freed (closing ones included)
  std::unordered_map<uint64_t, Session*> sessions;
  std::unordered_map<MailboxKey, std::vector<Session*>, MailboxKeyHash> by_mailbox;
  wire::Encoder encoder;
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
  ServerStats stats() const;

  DB* db() const { return db_; }
  const ServerOptions& options() const { return options_; }

  // Queues a session's write; false once the writer has closed (then the
  // caller answers 503 itself).
  bool Enqueue(WriteOp op);

  // Connection accounting: true if the new connection fits under the cap.
  bool AdmitConnection();
  void ReleaseConnection() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  void CountRefused() { refused_.fetch_add(1, std::memory_order_relaxed); }
  void CountPush() { pushes_.fetch_add(1, std::memory_order_relaxed); }
  void CountCut() { cut_.fetch_add(1, std::memory_order_relaxed); }

 private:
  Status StartLoop(Loop* loop, uint16_t port);
  void RunLoop(Loop* loop, uint16_t port, std::promise<Status>* ready);
  void WriterMain();
  void Deliver(std::vector<std::vector<Completion>>* per_loop,
               const std::vector<MailboxKey>& changed);

  DB* db_;
  ServerOptions options_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<Loop>> loops_;
  bool stopped_ = false;
  std::mutex stop_mu_;

  std::mutex wmu_;
  std::condition_variable wcv_;
  std::vector<WriteOp> queue_;
  std::vector<struct HostWrite*> host_queue_;
  bool writer_stop_ = false;
  bool writer_closed_ = false;
  std::thread writer_;

  std::atomic<size_t> connections_{0};
  std::atomic<uint64_t> refused_{0}, commits_{0}, committed_ops_{0}, pushes_{0}, cut_{0};
};

// Loop-thread entry points (loop.cc).
void OnWake(uv_async_t* handle);
void CloseLoopHandlesIfDone(Loop* loop);

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_SERVER_IMPL_H_
