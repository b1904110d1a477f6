// Server start and stop, the compatibility policy, and the public facade.
#include "postbox/sync/server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>

#include "sync/events/events_internal.h"  // event log
#include "sync/http/http.h"               // HTTP listener
#include "sync/http/listener.h"           // HTTP listener
#include "sync/push/web_push.h"           // Web Push
#include "sync/server/admin_routes.h"
#include "sync/server/server_impl.h"
#include "sync/server/write_ops.h"
#include "sync/tls/channel.h"

namespace postbox::sync {
namespace {

// Dotted numeric comparison: "2.10" > "2.9"; a missing part counts as 0 and a
// non-digit ends a part, so "2.1-beta" compares as 2.1. Parts are compared as
// digit strings (leading zeros dropped, then by length, then bytewise), so a
// part of any length compares right and nothing overflows.
int CompareVersions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view* s) -> std::string_view {
    size_t i = 0;
    while (i < s->size() && (*s)[i] >= '0' && (*s)[i] <= '9') ++i;
    std::string_view digits = s->substr(0, i);
    while (!digits.empty() && digits.front() == '0') digits.remove_prefix(1);
    size_t dot = s->find('.', i);
    *s = dot == std::string_view::npos ? std::string_view() : s->substr(dot + 1);
    return digits;
  };
  while (!a.empty() || !b.empty()) {
    const std::string_view x = next(&a), y = next(&b);
    if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    if (int c = x.compare(y); c != 0) return c < 0 ? -1 : 1;
  }
  return 0;
}

// 127.0.0.0/8 and ::1: nobody else can see what travels there.
bool IsLoopback(std::string_view host) { return host.starts_with("127.") || host == "::1"; }

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

ServerCore::ServerCore(DB* db, const ServerOptions& options)
    : db_(db), options_(options), http_(std::make_unique<http::HttpShared>(&options_)) {
  if (options_.threads == 0) options_.threads = std::max(1u, std::thread::hardware_concurrency());
  if (http_->enabled()) {  // Web Push: the HTTP listener's built-in routes
    webpush_ = std::make_shared<push::WebPushRoutes>(this);
    http_->AddBuiltinRoutes(webpush_, push::IsWebPushPath);
    admin_ = std::make_shared<AdminRoutes>(this);  // docs/operations.md "Admin API"
    http_->AddBuiltinRoutes(admin_, AdminRoutes::Claims);
  }
}

ServerCore::~ServerCore() { Stop(); }

void ServerCore::TickHealth(uint64_t now_ms) {
  if (admin_ && !options_.admin_token.empty()) admin_->health().Tick(this, now_ms);
}

Status ServerCore::Validate() {
  const ServerOptions& o = options_;
  const auto invalid = [](std::string what) { return Status::InvalidArgument(std::move(what)); };
  if (db_ == nullptr) return invalid("Server::Start needs a DB, got null");
  if (o.window == 0) return invalid("window must be at least 1");
  if (o.max_connections == 0) return invalid("max_connections must be at least 1");
  if (o.idle_timeout.count() <= 0 || o.pong_timeout.count() <= 0 || o.max_session.count() <= 0 ||
      o.hello_timeout.count() <= 0 || o.frame_timeout.count() <= 0) {
    return invalid(
        "idle_timeout, pong_timeout, max_session, hello_timeout and frame_timeout must be "
        "positive");
  }
  if (o.maintenance_interval.count() < 0) return invalid("maintenance_interval must be ≥ 0");
  for (const auto* t : {&o.tls, &o.http_tls}) {
    if (*t && (*t)->handshake_timeout.count() <= 0) {
      return invalid("TLS handshake_timeout must be positive");
    }
  }
  // ---- HTTP listener ----
  if (o.http_port < -1 || o.http_port > 65535) {
    return invalid("http_port must be -1 (no HTTP listener) or 0..65535, got " +
                   std::to_string(o.http_port));
  }
  if (o.http_port >= 0) {
    // http-parser's offsets into a request-target are 16 bits, and its own
    // header bound is 80 KiB: 64 KiB is the most that means what it says.
    if (o.http_max_header_bytes < 256 || o.http_max_header_bytes > 64 * 1024) {
      return invalid("http_max_header_bytes must be between 256 and 65536");
    }
    if (o.http_max_headers == 0 || o.http_max_connections == 0 || o.http_max_output_bytes == 0) {
      return invalid(
          "http_max_headers, http_max_connections and http_max_output_bytes must be at "
          "least 1");
    }
    if (o.http_max_body_bytes > (size_t{1} << 30)) {
      return invalid("http_max_body_bytes must be at most 1 GiB");
    }
    if (!(o.webpush_rate >= 0) || (o.webpush_rate > 0 && o.webpush_burst == 0)) {
      return invalid("webpush_rate must be 0 (no limit) or positive, with webpush_burst ≥ 1");
    }
    if (o.webpush_max_ttl.count() < 0 || o.webpush_max_ttl.count() / 1000 > INT32_MAX) {
      return invalid("webpush_max_ttl must be between 0 and 2^31-1 seconds");
    }
    if (o.http_header_timeout.count() <= 0 || o.http_body_timeout.count() <= 0 ||
        o.http_idle_timeout.count() <= 0) {
      return invalid(
          "http_header_timeout, http_body_timeout and http_idle_timeout must be positive");
    }
  }
  // ---- end HTTP listener ----
  if (o.max_frame_payload < 4096 || o.max_frame_payload > wire::kMaxSupportedPayload) {
    return invalid("max_frame_payload must be between 4096 and " +
                   std::to_string(wire::kMaxSupportedPayload) + " bytes");
  }
  const size_t frame = o.max_frame_payload + wire::kFrameHeaderSize;
  if (o.max_outbound_bytes < 2 * frame || o.max_outbound_bytes > (size_t{1} << 30)) {
    return invalid("max_outbound_bytes (" + std::to_string(o.max_outbound_bytes) +
                   ") must be at least two frames (" + std::to_string(2 * frame) +
                   " bytes) and at most 1 GiB");
  }
  if (o.max_inflight_ops == 0 || o.max_inflight_bytes == 0 || o.max_downloads == 0 ||
      o.sweep_batch == 0 || o.purge_batch == 0) {
    return invalid(
        "max_inflight_ops, max_inflight_bytes, max_downloads, sweep_batch and purge_batch must be "
        "at least 1");
  }
  if (o.max_buffered_bytes < 4 * ServerCore::kFairShare) {
    return invalid("max_buffered_bytes must be at least " +
                   std::to_string(4 * ServerCore::kFairShare) + " bytes");
  }
  // The largest item of each kind must fit a frame with its fields, or every
  // reply carrying it would fail (a single item cannot be paged).
  constexpr size_t kFieldRoom = 512;
  const Options& d = db_->options();
  const struct {
    const char* what;
    uint64_t bytes;
  } largest[] = {
      {"max_key_size + max_value_size (an entry)", uint64_t{d.max_key_size} + d.max_value_size},
      {"max_topic_size + max_meta_size (a message)", uint64_t{d.max_topic_size} + d.max_meta_size},
      {"max_chunk_size (an upload chunk)", d.max_chunk_size},
      {"max_push_token_size (a push registration)", d.max_push_token_size},
  };
  for (const auto& l : largest) {
    if (l.bytes + kFieldRoom > o.max_frame_payload) {
      return invalid(std::string(l.what) + " is " + std::to_string(l.bytes) +
                     " bytes: with its fields it does not fit max_frame_payload (" +
                     std::to_string(o.max_frame_payload) +
                     "); raise max_frame_payload or lower the store limit");
    }
  }
  return Status::Ok();
}

Status ServerCore::Start() {
  if (options_.default_poll_limit == 0) options_.default_poll_limit = 256;
  if (options_.max_batch_ops == 0) options_.max_batch_ops = 1;
  if (options_.max_batch_bytes == 0) options_.max_batch_bytes = 1;
  POSTBOX_RETURN_IF_ERROR(Validate());
  POSTBOX_RETURN_IF_ERROR(ReloadTls());
  if (!options_.tls && !IsLoopback(options_.host)) {
    spdlog::warn(
        "the sync listener on {} is not loopback and has no TLS: secrets and messages travel in "
        "clear text (docs/tls.md)",
        options_.host);
  }
  if (rlimit nofile{};
      getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < options_.max_connections + 64) {
    spdlog::warn(
        "the file descriptor limit ({}) is below max_connections ({}) + 64: accepting will "
        "pause whenever descriptors run out; raise it (ulimit -n)",
        nofile.rlim_cur, options_.max_connections);
  }
  // Sessions pass their own compression agreement to every Encode; the
  // default is none, so a reply that missed it would still go out raw.
  const wire::EncoderOptions eo{.max_payload = options_.max_frame_payload,
                                .peer = wire::kNoCompression};
  // ---- Kicks (docs/notifications.md) ----
  if (options_.kick_driver) {
    kick::SchedulerOptions ko{.driver = options_.kick_driver,
                              .delay = options_.kick_delay,
                              .core = {.retry_initial = options_.kick_retry_initial,
                                       .retry_max = options_.kick_retry_max,
                                       .max_attempts = options_.kick_max_attempts},
                              .events = options_.event_log};
    auto started = kick::Scheduler::Start(db_, ko);
    if (!started) return started.error();
    kicks_ = std::move(*started);
  }
  // ---- end kicks ----
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
  if (http_->enabled()) {  // HTTP listener
    spdlog::info("postbox http listener on {}:{}", options_.http_host, http_port());
  }
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
  http_->stopping = true;  // HTTP listener: /healthz answers 503 from now on
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
  if (kicks_) kicks_->Stop();  // kicks: nothing marks any more; pending ones stay stored
  spdlog::info("postbox sync server on port {} stopped", port_);
}

bool ServerCore::AdmitConnection() {
  if (connections_.fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
    connections_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

bool ServerCore::Enqueue(QueuedOp op) {
  {
    std::lock_guard lock(wmu_);
    if (writer_closed_ || writer_stop_) return false;
    queue_.push_back(std::move(op));
  }
  wcv_.notify_one();
  return true;
}

bool ServerCore::Enqueue(WriteBatch::Op op, std::function<void(const OpResult&)> done) {
  const size_t bytes = OpBytes(op);
  return Enqueue(QueuedOp{.bytes = bytes, .op = std::move(op), .done = std::move(done)});
}

bool ServerCore::Online(const MailboxKey& m) const {
  std::lock_guard lock(online_mu_);
  return online_.contains(m);
}

void ServerCore::SessionOpened(const MailboxKey& m) {
  {
    std::lock_guard lock(online_mu_);
    ++online_[m];
  }
  if (kicks_) kicks_->SessionOpened(m);  // kicks: the app is awake
}

void ServerCore::SessionClosed(const MailboxKey& m) {
  {
    std::lock_guard lock(online_mu_);
    if (auto it = online_.find(m); it != online_.end() && --it->second == 0) online_.erase(it);
  }
  if (kicks_) kicks_->SessionClosed(m);  // kicks
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

uint64_t ServerCore::AddCommitListener(std::function<void(std::span<const MailboxKey>)> listener) {
  std::lock_guard lock(listeners_mu_);
  listeners_.emplace(++next_listener_, std::move(listener));
  return next_listener_;
}

void ServerCore::RemoveCommitListener(uint64_t id) {
  std::lock_guard lock(listeners_mu_);  // waits for a call in progress
  listeners_.erase(id);
}

void ServerCore::TellListeners(const std::vector<MailboxKey>& changed) {
  if (changed.empty()) return;
  std::lock_guard lock(listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener(changed);
}

void ServerCore::Deliver(std::vector<std::vector<Completion>>* per_loop,
                         const std::vector<MailboxKey>& changed, bool check_deleted) {
  for (size_t i = 0; i < loops_.size(); ++i) {
    Loop* l = loops_[i].get();
    auto& mine = (*per_loop)[i];
    if (mine.empty() && changed.empty() && !check_deleted) continue;
    {
      std::lock_guard lock(l->mu);
      std::move(mine.begin(), mine.end(), std::back_inserter(l->completions));
      l->changed.insert(l->changed.end(), changed.begin(), changed.end());
      l->check_deleted |= check_deleted;
    }
    mine.clear();
    uv_async_send(&l->wake);
  }
}

bool ServerCore::MaintenanceDue() const {
  return options_.maintenance_interval.count() > 0 &&
         (maintenance_pending_ || std::chrono::steady_clock::now() >= next_maintenance_);
}

void ServerCore::WriterMain() {
  std::vector<QueuedOp> ops;
  std::vector<internal::HostWrite*> hosts;
  std::vector<std::vector<Completion>> per_loop(loops_.size());
  WriteBatch batch;
  // The first round soon after start: a server restarted after a long pause
  // should not wait a whole interval to clean up.
  next_maintenance_ =
      std::chrono::steady_clock::now() +
      std::min<std::chrono::milliseconds>(options_.maintenance_interval, std::chrono::seconds(5));
  for (;;) {
    {
      std::unique_lock lock(wmu_);
      const auto ready = [&] { return !queue_.empty() || !host_queue_.empty() || writer_stop_; };
      // Deferred writes wait for the writer to be idle this long, then fold.
      const bool fold_when_idle =
          options_.idle_checkpoint.count() > 0 && db_->pending_bytes() > 0 && !ready();
      const auto now = std::chrono::steady_clock::now();
      auto until = std::chrono::steady_clock::time_point::max();
      if (options_.maintenance_interval.count() > 0) {
        until = maintenance_pending_ ? now : next_maintenance_;
      }
      if (fold_when_idle) until = std::min(until, now + options_.idle_checkpoint);
      if (until == std::chrono::steady_clock::time_point::max()) {
        wcv_.wait(lock, ready);
      } else {
        wcv_.wait_until(lock, until, ready);
      }
      if (writer_stop_ && queue_.empty() && host_queue_.empty()) {
        writer_closed_ = true;  // stopping and nothing left
        return;
      }
      if (fold_when_idle && !ready() && std::chrono::steady_clock::now() >= until &&
          !MaintenanceDue()) {
        lock.unlock();
        if (Status s = db_->Checkpoint(); !s.ok()) {
          spdlog::warn("folding deferred writes while idle failed: {}", s.ToString());
        }
        continue;
      }
      ops.swap(queue_);
      hosts.swap(host_queue_);
    }
    // Hosts' batches are whole transactions of their own. A host may delete
    // mailboxes: the loops then end those mailboxes' sessions.
    for (internal::HostWrite* h : hosts) {
      auto kick_work = kicks_ ? kicks_->AddMarkOp(h->batch) : nullptr;  // kicks
      Status s = db_->Write(h->batch);
      if (kick_work) kicks_->Committed(h->batch, s, kick_work);  // kicks: the host's ops only
      if (events() != nullptr && s.ok()) RecordCommits(events(), *h->batch);  // event log
      commits_.fetch_add(1, std::memory_order_relaxed);
      committed_ops_.fetch_add(h->batch->size(), std::memory_order_relaxed);
      const auto changed = h->batch->changed_mailboxes();
      TellListeners(changed);  // before anyone hears of the commit
      h->done.set_value(std::move(s));
      Deliver(&per_loop, changed, /*check_deleted=*/true);
    }
    hosts.clear();
    // Everything the sessions queued meanwhile: one durable transaction per
    // max_batch_ops or max_batch_bytes, each op answered only after its commit.
    // Housekeeping that is due rides along in the first (or alone, if idle).
    bool maintain = MaintenanceDue();
    for (size_t begin = 0, end = 0; begin < ops.size() || maintain; begin = end) {
      size_t bytes = 0;
      while (end < ops.size() && end - begin < options_.max_batch_ops &&
             (end == begin || bytes + ops[end].bytes <= options_.max_batch_bytes)) {
        bytes += ops[end].bytes;
        ++end;
      }
      CommitGroup(ops, begin, end, maintain, &batch, &per_loop);
      maintain = false;
    }
    ops.clear();
  }
}

void ServerCore::CommitGroup(std::vector<QueuedOp>& ops, size_t begin, size_t end, bool maintain,
                             WriteBatch* batch, std::vector<std::vector<Completion>>* per_loop) {
  batch->Clear();
  for (size_t i = begin; i < end; ++i) batch->Add(std::move(ops[i].op));
  size_t sweep = 0, purge = 0;
  if (maintain) {
    sweep = batch->Sweep(options_.sweep_batch);
    purge = batch->PurgeTombstones(options_.purge_batch);
  }
  auto kick_work = kicks_ ? kicks_->AddMarkOp(batch) : nullptr;  // kicks
  const auto started = std::chrono::steady_clock::now();
  Status whole = db_->Write(batch);
  metrics_.Commit(
      end - begin,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (kick_work) kicks_->Committed(batch, whole, kick_work);               // kicks
  if (events() != nullptr && whole.ok()) RecordCommits(events(), *batch);  // event log
  if (!whole.ok()) {
    spdlog::error("group commit of {} ops failed: {}", end - begin, whole.ToString());
  }
  commits_.fetch_add(1, std::memory_order_relaxed);
  committed_ops_.fetch_add(end - begin, std::memory_order_relaxed);
  const auto& results = batch->results();
  for (size_t i = begin; i < end; ++i) {
    const QueuedOp& q = ops[i];
    if (q.done) {
      q.done(results[i - begin]);
      continue;
    }
    (*per_loop)[q.loop].push_back(Completion{.session = q.session,
                                             .request_id = q.request_id,
                                             .kind = q.op.kind,  // an enum: intact after the move
                                             .bytes = q.bytes,
                                             .result = results[i - begin]});
  }
  if (maintain) {
    const OpResult& sw = results[sweep];
    const OpResult& pu = results[purge];
    if (!sw.status.ok() || !pu.status.ok()) {
      spdlog::warn("housekeeping failed: sweep {}, purge {}", sw.status.ToString(),
                   pu.status.ToString());
    }
    swept_.fetch_add(sw.sweep.uploads, std::memory_order_relaxed);
    expired_.fetch_add(sw.sweep.entries, std::memory_order_relaxed);
    purged_.fetch_add(pu.purge.tombstones, std::memory_order_relaxed);
    // While more remains, the next group commit continues; else wait a round.
    maintenance_pending_ = (sw.status.ok() && sw.sweep.more) || (pu.status.ok() && pu.purge.more);
    next_maintenance_ = std::chrono::steady_clock::now() + options_.maintenance_interval;
  }
  const auto changed = batch->changed_mailboxes();
  TellListeners(changed);  // before anyone hears of the commit
  Deliver(per_loop, changed);
}

bool ServerCore::RunOnLoops(std::function<void(Loop*)> fn, std::function<void()> done) {
  auto left = std::make_shared<std::atomic<size_t>>(loops_.size());
  auto shared_fn = std::make_shared<std::function<void(Loop*)>>(std::move(fn));
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& l : loops_) {
    Loop* loop = l.get();
    {
      std::lock_guard lock(loop->mu);
      if (loop->shutdown) return false;  // the others' parts are dropped with `left`
      loop->tasks.push_back([loop, left, shared_fn, shared_done] {
        (*shared_fn)(loop);
        if (left->fetch_sub(1, std::memory_order_acq_rel) == 1) (*shared_done)();
      });
    }
    uv_async_send(&loop->wake);
  }
  return true;
}

std::string ServerCore::RenderMetrics() const {
  auto store = db_->Stats();
  return metrics_.Render(stats(), store.ok() ? &*store : nullptr);
}

Status ServerCore::ReloadTls() {
  std::shared_ptr<const tls::Context> sync, http;
  if (options_.tls) {
    auto c = tls::Context::ForServer(*options_.tls, tls::kSyncAlpn);
    if (!c) return c.error();
    sync = std::move(*c);
  }
  if (options_.http_tls && options_.http_port >= 0) {
    auto c = tls::Context::ForServer(*options_.http_tls, tls::kHttpAlpn);
    if (!c) return c.error();
    http = std::move(*c);
  }
  std::lock_guard lock(tls_mu_);
  if (sync || http) {
    // The first call (Start) is not a reload.
    if (tls_sync_ || tls_http_) tls_reloads_.fetch_add(1, std::memory_order_relaxed);
  }
  tls_sync_ = std::move(sync);
  tls_http_ = std::move(http);
  return Status::Ok();
}

ServerStats ServerCore::stats() const {
  ServerStats s;
  s.sessions = connections_.load(std::memory_order_relaxed);
  s.connections_refused = refused_.load(std::memory_order_relaxed);
  s.commits = commits_.load(std::memory_order_relaxed);
  s.committed_ops = committed_ops_.load(std::memory_order_relaxed);
  s.pushes = pushes_.load(std::memory_order_relaxed);
  s.sessions_cut = cut_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.turn_yields = turn_yields_.load(std::memory_order_relaxed);
  s.accept_pauses = accept_pauses_.load(std::memory_order_relaxed);
  s.buffered_bytes = static_cast<uint64_t>(std::max<int64_t>(buffered_.load(), 0));
  s.uploads_swept = swept_.load(std::memory_order_relaxed);
  s.tombstones_purged = purged_.load(std::memory_order_relaxed);
  if (kicks_) {  // kicks
    const kick::SchedulerStats k = kicks_->stats();
    s.kicks_pending = k.pending;
    s.kicks_sent = k.sent;
    s.kicks_retried = k.retried;
    s.kicks_dropped = k.dropped;
  }
  http_->FillStats(&s);  // HTTP listener
  if (webpush_) webpush_->FillStats(&s);
  s.entries_expired = expired_.load(std::memory_order_relaxed);
  s.tls_handshakes = tls_handshakes_.load(std::memory_order_relaxed);
  s.tls_handshake_failures = tls_failures_.load(std::memory_order_relaxed);
  s.tls_reloads = tls_reloads_.load(std::memory_order_relaxed);
  return s;
}

uint16_t ServerCore::http_port() const { return http_->enabled() ? http_->port.load() : 0; }

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
uint64_t Server::AddCommitListener(std::function<void(std::span<const MailboxKey>)> listener) {
  return impl_->core.AddCommitListener(std::move(listener));
}
void Server::RemoveCommitListener(uint64_t id) { impl_->core.RemoveCommitListener(id); }
ServerStats Server::stats() const { return impl_->core.stats(); }
uint16_t Server::http_port() const { return impl_->core.http_port(); }
Status Server::ReloadTls() { return impl_->core.ReloadTls(); }

// ---- HTTP listener: how library code installs the handler (sync/http/http.h) ----
namespace http {

class ServerAccess {
 public:
  static Result<std::unique_ptr<Server>> Start(DB* db, const ServerOptions& options,
                                               std::shared_ptr<HttpHandler> handler) {
    auto impl = std::make_unique<Server::Impl>(db, options);
    impl->core.http()->SetHandler(std::move(handler));  // before the first accept
    POSTBOX_RETURN_IF_ERROR(impl->core.Start());
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  }
  static void SetHandler(Server* server, std::shared_ptr<HttpHandler> handler) {
    server->impl_->core.http()->SetHandler(std::move(handler));
  }
};

Result<std::unique_ptr<Server>> StartServer(DB* db, const ServerOptions& options,
                                            std::shared_ptr<HttpHandler> handler) {
  return ServerAccess::Start(db, options, std::move(handler));
}

void SetHttpHandler(Server* server, std::shared_ptr<HttpHandler> handler) {
  ServerAccess::SetHandler(server, std::move(handler));
}

}  // namespace http
// ---- end HTTP listener ----

}  // namespace postbox::sync
