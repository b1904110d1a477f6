// Server start and stop, the compatibility policy, and the public facade.
#include "postbox/sync/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sync/server/server_impl.h"

namespace postbox::sync {
namespace {

// Dotted numeric comparison: "2.10" > "2.9"; a missing part counts as 0 and a
// non-digit ends a part, so "2.1-beta" compares as 2.1.
int CompareVersions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view* s) -> uint64_t {
    uint64_t v = 0;
    size_t i = 0;
    while (i < s->size() && (*s)[i] >= '0' && (*s)[i] <= '9') {
      v = v * 10 + static_cast<uint64_t>((*s)[i] - '0');
      ++i;
    }
    size_t dot = s->find('.', i);
    *s = dot == std::string_view::npos ? std::string_view() : s->substr(dot + 1);
    return v;
  };
  while (!a.empty() || !b.empty()) {
    uint64_t x = next(&a), y = next(&b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

}  // namespace

Verdict Evaluate(const CompatibilityPolicy& policy, std::string_view app_version,
                 uint32_t schema_version) {
  if (policy.min_schema_version != 0 && schema_version < policy.min_schema_version) {
    return Verdict::kUpdateSchemaRequired;
  }
  if (!policy.min_app_version.empty() && CompareVersions(app_version, policy.min_app_version) < 0) {
    return Verdict::kUpdateRequired;
  }
  if (!policy.latest_app_version.empty() &&
      CompareVersions(app_version, policy.latest_app_version) < 0) {
    return Verdict::kUpdateOptional;
  }
  return Verdict::kCurrent;
}

namespace internal {

ServerCore::ServerCore(DB* db, const ServerOptions& options) : db_(db), options_(options) {
  if (options_.threads == 0) options_.threads = std::max(1u, std::thread::hardware_concurrency());
}

ServerCore::~ServerCore() { Stop(); }

Status ServerCore::Start() {
  if (db_ == nullptr) return Status::InvalidArgument("Server::Start needs a DB, got null");
  if (options_.window == 0) return Status::InvalidArgument("window must be at least 1");
  if (options_.max_connections == 0) {
    return Status::InvalidArgument("max_connections must be at least 1");
  }
  if (options_.idle_timeout.count() <= 0 || options_.pong_timeout.count() <= 0 ||
      options_.max_session.count() <= 0) {
    return Status::InvalidArgument("idle_timeout, pong_timeout and max_session must be positive");
  }
  if (options_.max_frame_payload < 4096) {
    return Status::InvalidArgument("max_frame_payload must be at least 4096 bytes");
  }
  if (options_.default_poll_limit == 0) options_.default_poll_limit = 256;
  if (options_.max_batch_ops == 0) options_.max_batch_ops = 1;
  if (options_.max_batch_bytes == 0) options_.max_batch_bytes = 1;
  const wire::EncoderOptions eo{.max_payload = options_.max_frame_payload};
  // Loop 0 binds first so that an ephemeral port is known to the others.
  for (unsigned i = 0; i < options_.threads; ++i) {
    auto loop = std::make_unique<Loop>(eo);
    loop->core = this;
    loop->index = i;
    Status s = StartLoop(loop.get(), i == 0 ? options_.port : port_);
    if (!s.ok()) {
      Stop();
      return s;
    }
    loops_.push_back(std::move(loop));
  }
  writer_ = std::thread([this] { WriterMain(); });
  spdlog::info("postbox sync server listening on {}:{} ({} loop thread(s), window {})",
               options_.host, port_, options_.threads, options_.window);
  return Status::Ok();
}

Status ServerCore::StartLoop(Loop* loop, uint16_t port) {
  std::promise<Status> ready;
  auto done = ready.get_future();
  loop->thread = std::thread([this, loop, port, &ready] { RunLoop(loop, port, &ready); });
  Status s = done.get();
  if (!s.ok()) loop->thread.join();
  return s;
}

void ServerCore::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  // 1. No new connections.
  for (auto& l : loops_) {
    std::lock_guard lock(l->mu);
    l->stop_accepting = true;
    uv_async_send(&l->wake);
  }
  // 2. The writer commits and answers everything queued, then refuses more.
  if (writer_.joinable()) {
    {
      std::lock_guard lock(wmu_);
      writer_stop_ = true;
    }
    wcv_.notify_all();
    writer_.join();
  }
  // 3. Sessions get 503 and close once flushed (or after stop_grace).
  for (auto& l : loops_) {
    std::lock_guard lock(l->mu);
    l->shutdown = true;
    uv_async_send(&l->wake);
  }
  for (auto& l : loops_) {
    if (l->thread.joinable()) l->thread.join();
  }
  spdlog::info("postbox sync server on port {} stopped", port_);
}

bool ServerCore::AdmitConnection() {
  if (connections_.fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
    connections_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

bool ServerCore::Enqueue(WriteOp op) {
  {
    std::lock_guard lock(wmu_);
    if (writer_closed_ || writer_stop_) return false;
    queue_.push_back(std::move(op));
  }
  wcv_.notify_one();
  return true;
}

Status ServerCore::HostWrite(WriteBatch* batch) {
  internal::HostWrite w;
  w.batch = batch;
  auto done = w.done.get_future();
  {
    std::lock_guard lock(wmu_);
    if (writer_closed_ || writer_stop_) return Status::Unavailable("server shutting down");
    host_queue_.push_back(&w);
  }
  wcv_.notify_one();
  return done.get();
}

void ServerCore::NotifyChanged(std::span<const MailboxKey> mailboxes) {
  if (mailboxes.empty()) return;
  // Held so that the loops cannot end (and their wake handles close) meanwhile.
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  std::vector<std::vector<Completion>> none(loops_.size());
  Deliver(&none, std::vector<MailboxKey>(mailboxes.begin(), mailboxes.end()));
}

void ServerCore::Deliver(std::vector<std::vector<Completion>>* per_loop,
                         const std::vector<MailboxKey>& changed) {
  for (size_t i = 0; i < loops_.size(); ++i) {
    Loop* l = loops_[i].get();
    auto& mine = (*per_loop)[i];
    if (mine.empty() && changed.empty()) continue;
    {
      std::lock_guard lock(l->mu);
      std::move(mine.begin(), mine.end(), std::back_inserter(l->completions));
      l->changed.insert(l->changed.end(), changed.begin(), changed.end());
    }
    mine.clear();
    uv_async_send(&l->wake);
  }
}

void ServerCore::WriterMain() {
  std::vector<WriteOp> ops;
  std::vector<internal::HostWrite*> hosts;
  std::vector<std::vector<Completion>> per_loop(loops_.size());
  WriteBatch batch;
  for (;;) {
    {
      std::unique_lock lock(wmu_);
      wcv_.wait(lock, [&] { return !queue_.empty() || !host_queue_.empty() || writer_stop_; });
      if (queue_.empty() && host_queue_.empty()) {
        writer_closed_ = true;  // writer_stop_ and nothing left
        return;
      }
      ops.swap(queue_);
      hosts.swap(host_queue_);
    }
    // Hosts' batches are whole transactions of their own.
    for (internal::HostWrite* h : hosts) {
      Status s = db_->Write(h->batch);
      commits_.fetch_add(1, std::memory_order_relaxed);
      committed_ops_.fetch_add(h->batch->size(), std::memory_order_relaxed);
      const auto changed = h->batch->changed_mailboxes();
      h->done.set_value(std::move(s));
      Deliver(&per_loop, changed);
    }
    hosts.clear();
    // Everything the sessions queued meanwhile: one durable transaction per
    // max_batch_ops or max_batch_bytes, each op answered only after its commit.
    for (size_t begin = 0, end = 0; begin < ops.size(); begin = end) {
      size_t bytes = 0;
      while (end < ops.size() && end - begin < options_.max_batch_ops &&
             (end == begin || bytes + ops[end].value.size() <= options_.max_batch_bytes)) {
        bytes += ops[end].value.size();
        ++end;
      }
      batch.Clear();
      for (size_t i = begin; i < end; ++i) {
        WriteOp& op = ops[i];
        switch (op.kind) {
          case OpKind::kStatusUpdate:
            batch.AdvanceStatus(op.mkey, op.id, op.status);
            break;
          case OpKind::kEntryPut:
            batch.PutEntry(op.mkey, std::move(op.key), std::move(op.value), op.version);
            break;
          case OpKind::kEntryDelete:
            batch.DeleteEntry(op.mkey, std::move(op.key), op.version);
            break;
          case OpKind::kConnect:
            batch.Connect(op.mkey, op.peer);
            break;
          case OpKind::kDisconnect:
            batch.Disconnect(op.mkey, op.peer);
            break;
          case OpKind::kPushRegister:
            batch.RegisterPush(op.mkey, op.platform, std::move(op.value));
            break;
          case OpKind::kUploadBegin:
            batch.BeginUpload(UploadRequest{.from = op.mkey,
                                            .to = op.peer,
                                            .id = op.id,
                                            .topic = std::move(op.key),
                                            .meta = std::move(op.value),
                                            .length = op.length,
                                            .digest = op.digest});
            break;
          case OpKind::kUploadChunk:
            // The bytes stay in `ops` until the batch is written.
            batch.WriteChunk(op.mkey, op.id, op.offset, op.value);
            break;
          case OpKind::kUploadCommit:
            batch.CommitUpload(op.mkey, op.id);
            break;
          case OpKind::kUploadAbort:
            batch.AbortUpload(op.mkey, op.id);
            break;
        }
      }
      Status whole = db_->Write(&batch);
      if (!whole.ok())
        spdlog::error("group commit of {} ops failed: {}", end - begin, whole.ToString());
      commits_.fetch_add(1, std::memory_order_relaxed);
      committed_ops_.fetch_add(end - begin, std::memory_order_relaxed);
      const auto& results = batch.results();
      for (size_t i = begin; i < end; ++i) {
        const WriteOp& op = ops[i];
        const OpResult& r = results[i - begin];
        Completion c{.session = op.session,
                     .request_id = op.request_id,
                     .kind = op.kind,
                     .status = r.status,
                     .version = r.entry.version,
                     .message_status = r.message_status,
                     .upload = r.upload,
                     .chunk_bytes = op.kind == OpKind::kUploadChunk ? op.value.size() : 0};
        per_loop[op.loop].push_back(std::move(c));
      }
      Deliver(&per_loop, batch.changed_mailboxes());
    }
    ops.clear();
  }
}

ServerStats ServerCore::stats() const {
  ServerStats s;
  s.sessions = connections_.load(std::memory_order_relaxed);
  s.connections_refused = refused_.load(std::memory_order_relaxed);
  s.commits = commits_.load(std::memory_order_relaxed);
  s.committed_ops = committed_ops_.load(std::memory_order_relaxed);
  s.pushes = pushes_.load(std::memory_order_relaxed);
  s.sessions_cut = cut_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace internal

class Server::Impl {
 public:
  Impl(DB* db, const ServerOptions& o) : core(db, o) {}
  internal::ServerCore core;
};

Result<std::unique_ptr<Server>> Server::Start(DB* db, const ServerOptions& options) {
  auto impl = std::make_unique<Impl>(db, options);
  POSTBOX_RETURN_IF_ERROR(impl->core.Start());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
uint16_t Server::port() const { return impl_->core.port(); }
void Server::Stop() { impl_->core.Stop(); }
Status Server::Write(WriteBatch* batch) { return impl_->core.HostWrite(batch); }
void Server::NotifyChanged(std::span<const MailboxKey> mailboxes) {
  impl_->core.NotifyChanged(mailboxes);
}
ServerStats Server::stats() const { return impl_->core.stats(); }

}  // namespace postbox::sync
