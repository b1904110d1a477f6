// Replica::Impl: the mirror (mirror.h), a Client, and the pump thread that
// connects, polls, sends the outbox and downloads blobs. Threads:
//   - the client's loop thread applies pushes and poll replies (Mirror::Apply)
//     and records the server's answers to outbox items (completions_);
//   - the pump thread connects, starts polls, ends items (Mirror::End) and
//     starts sends and downloads; it never waits on the network with mu_ held;
//   - callbacks run on the app's executor (or the replica's own thread).
#include "postbox/sync/replica.h"

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "sync/replica/mirror.h"

namespace postbox::sync {
namespace {

using replica::Answer;
using replica::ApplyResult;
using replica::Ended;
using replica::Mirror;
using Clock = std::chrono::steady_clock;

// Runs posted functions one at a time on a thread of its own; what is still
// queued when it is destroyed is dropped.
class SerialExecutor {
 public:
  SerialExecutor() : thread_([this] { Run(); }) {}
  ~SerialExecutor() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }
  bool OnThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

// Errors a retry may cure: the item stays and is sent again after a backoff.
bool Transient(const Status& s) {
  switch (s.code()) {
    case Code::kUnavailable:
    case Code::kBackOff:
    case Code::kResourceExhausted:
    case Code::kInternal:
    case Code::kUnauthenticated:      // the session's credentials, not the item
    case Code::kProtocolUnsupported:  // likewise: an app update will send it
      return true;
    default:
      return false;
  }
}

uint64_t SteadyMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count());
}

// Writes `bytes` to `path` and syncs it (and its folder), so the outbox item
// that names it can be committed after.
Status WriteDurably(const std::string& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Status::Unavailable("cannot write " + path + ": " + std::strerror(errno));
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(fd) != 0) {
    Status s = Status::Unavailable("cannot sync " + path + ": " + std::strerror(errno));
    ::close(fd);
    return s;
  }
  ::close(fd);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace

std::string_view OutboxKindName(OutboxKind kind) {
  switch (kind) {
    case OutboxKind::kStatus:
      return "status";
    case OutboxKind::kPutEntry:
      return "put_entry";
    case OutboxKind::kDeleteEntry:
      return "delete_entry";
    case OutboxKind::kPost:
      return "post";
    case OutboxKind::kAddConnection:
      return "add_connection";
    case OutboxKind::kRemoveConnection:
      return "remove_connection";
    case OutboxKind::kRegisterPush:
      return "register_push";
  }
  return "unknown";
}

class Replica::Impl {
 public:
  explicit Impl(ReplicaOptions options) : opts_(std::move(options)), rng_(std::random_device{}()) {}

  Status Init() {
    POSTBOX_ASSIGN_OR_RETURN(mirror_, Mirror::Open(opts_.folder, opts_.client.mkey,
                                                   opts_.durability, opts_.max_map_size));
    if (!opts_.executor) own_executor_ = std::make_unique<SerialExecutor>();
    POSTBOX_ASSIGN_OR_RETURN(auto pending, mirror_->Pending());
    for (auto& item : pending) AddSlot(std::move(item));
    // Outcomes the app was not told of before it stopped: told now.
    POSTBOX_ASSIGN_OR_RETURN(auto unreported, mirror_->Unreported());
    for (auto& o : unreported) Report(std::move(o));
    ClientOptions co = opts_.client;
    co.on_push = [this](const InfoPacket& p) { OnPacket(p, 0); };
    co.auto_ack = true;
    co.resume = false;  // the pump polls from the mirror's cursor after every connect
    co.reconnect = false;
    POSTBOX_ASSIGN_OR_RETURN(client_, Client::Create(co));
    pump_ = std::thread([this] { Pump(); });
    if (opts_.start) Start();
    return Status::Ok();
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    idle_cv_.notify_all();
    if (client_) client_->Close();
    if (pump_.joinable()) pump_.join();
    client_.reset();  // joins the loop thread: no callback runs after this
    own_executor_.reset();
    if (mirror_) ForgetReported();
  }

  void Start() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      started_ = true;
      work_ = true;
    }
    cv_.notify_all();
  }

  // ---- callbacks to the app ----

  void Post(std::function<void()> fn) {
    if (opts_.executor) {
      opts_.executor(std::move(fn));
    } else {
      own_executor_->Post(std::move(fn));
    }
  }
  void Notify(const ReplicaChange& change) {
    if (change.empty() || !opts_.on_change) return;
    Post([cb = opts_.on_change, change] { cb(change); });
  }
  // The outcomes the app's on_outbox has been given, to forget in the store.
  struct Reported {
    std::mutex mu;
    std::vector<uint64_t> ids;
  };

  void Report(OutboxOutcome o) {
    if (!opts_.on_outbox) {
      std::lock_guard<std::mutex> lock(reported_->mu);
      reported_->ids.push_back(o.item.id);
      return;
    }
    // The closure holds only the callback and the log: it may outlive the
    // Replica on an app's executor.
    Post([cb = opts_.on_outbox, log = reported_, o = std::move(o)] {
      cb(o);
      std::lock_guard<std::mutex> lock(log->mu);
      log->ids.push_back(o.item.id);
    });
  }

  // The outcomes reported since the last call, to forget in the store.
  std::vector<uint64_t> TakeReported() {
    std::vector<uint64_t> ids;
    std::lock_guard<std::mutex> lock(reported_->mu);
    ids.swap(reported_->ids);
    return ids;
  }
  // Puts ids back after the transaction forgetting them failed.
  void KeepReported(const std::vector<uint64_t>& ids) {
    std::lock_guard<std::mutex> lock(reported_->mu);
    reported_->ids.insert(reported_->ids.end(), ids.begin(), ids.end());
  }
  // Forgets the outcomes reported so far in a transaction of their own (an
  // idle pump, and at close; otherwise they ride along with EndItems').
  void ForgetReported() {
    std::vector<uint64_t> ids = TakeReported();
    if (ids.empty()) return;
    if (!mirror_->Reported(ids).ok()) KeepReported(ids);
  }

  void Fail(const Status& s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = s;
    }
    if (opts_.on_error) Post([cb = opts_.on_error, s] { cb(s); });
  }

  // ---- packets (loop thread) ----

  // Applies a push (round 0) or a reply to a poll tagged `round` (the Sync
  // round it was issued for, plus one).
  void OnPacket(const InfoPacket& p, uint64_t round) {
    ReplicaChange change;
    std::vector<MessageId> gone;
    Result<ApplyResult> r = Status::Internal("not applied");
    {
      std::lock_guard<std::mutex> commit(commit_mu_);
      r = mirror_->Apply(p, opts_.download_policy, &change, &gone);
      if (r && *r == ApplyResult::kApplied) Notify(change);
    }
    bool poll_more = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!r) {
        need_poll_ = true;
      } else if (*r == ApplyResult::kNotContiguous) {
        ++packets_skipped_;
        need_poll_ = true;
      } else {
        ++packets_applied_;
        downloads_dirty_ = true;
      }
      if (round != 0) {
        if (r && *r == ApplyResult::kApplied && p.more) {
          poll_more = true;
        } else {
          polling_ = false;
          if (r && *r == ApplyResult::kApplied) round_done_ = std::max(round_done_, round - 1);
        }
      }
      work_ = true;
    }
    if (!r) Fail(r.error());
    if (poll_more) {
      client_->PollAsync(p.cursor, 0, [this, round](Result<InfoPacket> reply) {
        OnPollReply(std::move(reply), round);
      });
    }
    cv_.notify_all();
    idle_cv_.notify_all();
  }

  void OnPollReply(Result<InfoPacket> reply, uint64_t round) {
    if (reply) return OnPacket(*reply, round);
    {
      std::lock_guard<std::mutex> lock(mu_);
      polling_ = false;
      need_poll_ = true;
      work_ = true;
    }
    cv_.notify_all();
  }

  // ---- the outbox ----

  struct Slot {
    OutboxItem item;
    std::vector<std::string> deps;
    bool in_flight = false;
    // The server answered for good; the item ends in the next local commit
    // (until then it is neither sent again nor counted in the window, and
    // still holds its dependency keys).
    bool answered = false;
    uint64_t next_attempt = 0;  // steady ms
    uint32_t attempts = 0;
  };

  void AddSlot(OutboxItem item) {
    Slot s;
    s.deps = Mirror::DepKeys(item);
    s.item = std::move(item);
    const uint64_t id = s.item.id;
    items_.emplace(id, std::move(s));
  }

  Result<uint64_t> Enqueue(OutboxItem item) {
    std::vector<OutboxItem> one;
    one.push_back(std::move(item));
    POSTBOX_ASSIGN_OR_RETURN(auto ids, EnqueueAll(std::move(one)));
    return std::move(ids[0]);
  }

  Result<std::vector<Result<uint64_t>>> EnqueueAll(std::vector<OutboxItem> items) {
    Result<std::vector<Result<OutboxItem>>> stored = Status::Internal("not stored");
    {
      std::lock_guard<std::mutex> commit(commit_mu_);
      ReplicaChange change;
      stored = mirror_->EnqueueAll(std::move(items), &change);
      if (stored) Notify(change);
    }
    if (!stored) return stored.error();
    std::vector<Result<uint64_t>> ids;
    ids.reserve(stored->size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& item : *stored) {
        if (!item) {
          ids.emplace_back(item.error());
          continue;
        }
        ids.emplace_back(item->id);
        AddSlot(std::move(*item));
      }
      work_ = true;
    }
    cv_.notify_all();
    return ids;
  }

  // An answer from the loop thread for item `id`.
  void Complete(uint64_t id, Answer a) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      completions_.emplace_back(id, std::move(a));
      work_ = true;
    }
    cv_.notify_all();
  }

  uint64_t Backoff(uint32_t attempts) {
    const uint64_t base = static_cast<uint64_t>(opts_.retry_initial.count());
    const uint64_t cap = static_cast<uint64_t>(opts_.retry_max.count());
    const uint64_t step = std::min(cap, base << std::min(attempts, 20u));
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return static_cast<uint64_t>(static_cast<double>(step) * jitter(rng_));
  }

  // Sorts the server's answers (mu_ held): transient ones put their item
  // back for a retry after a backoff; final ones mark it answered and are
  // returned, to end in one local transaction.
  std::vector<std::pair<uint64_t, Answer>> Classify(std::vector<std::pair<uint64_t, Answer>> done) {
    std::vector<std::pair<uint64_t, Answer>> final_answers;
    const uint64_t now = SteadyMs();
    for (auto& [id, a] : done) {
      auto it = items_.find(id);
      if (it == items_.end()) continue;
      it->second.in_flight = false;
      if (!a.status.ok() && Transient(a.status)) {
        ++it->second.attempts;
        it->second.item.attempts = it->second.attempts;
        it->second.next_attempt = now + Backoff(it->second.attempts);
        continue;
      }
      it->second.answered = true;
      final_answers.emplace_back(id, std::move(a));
    }
    return final_answers;
  }

  Status EndItems(const std::vector<std::pair<uint64_t, Answer>>& answers) {
    std::vector<Ended> ended;
    const std::vector<uint64_t> forget = TakeReported();
    Status s;
    {
      std::lock_guard<std::mutex> commit(commit_mu_);
      ReplicaChange change;
      s = mirror_->End(answers, forget, &change, &ended);
      if (s.ok()) Notify(change);
    }
    if (!s.ok()) {
      // The local store failed: the items stay and are sent (and answered)
      // again after a backoff.
      KeepReported(forget);
      Fail(s);
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, a] : answers) {
        auto it = items_.find(id);
        if (it == items_.end()) continue;
        it->second.answered = false;
        it->second.next_attempt = SteadyMs() + Backoff(1);
      }
      return s;
    }
    // The outcomes are posted before the items leave items_, so a Sync that
    // sees the outbox empty finds their callbacks already queued.
    for (auto& e : ended) {
      if (!e.owned_file.empty()) {
        std::error_code ec;
        std::filesystem::remove(e.owned_file, ec);
      }
      if (e.fetch_entry) FetchEntry(e.outcome.item.key);
      Report(std::move(e.outcome));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, a] : answers) items_.erase(id);
    }
    idle_cv_.notify_all();
    return Status::Ok();
  }

  // After a lost merge: the winner into the mirror now, not when the feed brings it.
  void FetchEntry(const std::string& key) {
    client_->GetEntryAsync(key, [this](Result<EntryInfo> e) {
      if (!e) return;  // deleted (404) or offline: the feed brings the winner
      std::lock_guard<std::mutex> commit(commit_mu_);
      ReplicaChange change;
      if (mirror_->MergeFetchedEntry(*e, &change).ok()) Notify(change);
    });
  }

  void Send(const OutboxItem& item) {
    const uint64_t id = item.id;
    switch (item.kind) {
      case OutboxKind::kStatus:
        client_->UpdateStatusAsync(item.message, item.status,
                                   [this, id](Result<StatusUpdateResult> r) {
                                     Answer a;
                                     if (!r) {
                                       a.status = r.error();
                                     } else {
                                       a.applied = r->applied;
                                       a.status_after = r->status;
                                     }
                                     Complete(id, std::move(a));
                                   });
        return;
      case OutboxKind::kPutEntry:
      case OutboxKind::kDeleteEntry: {
        auto done = [this, id](Result<EntryPutResult> r) {
          Answer a;
          if (!r) {
            a.status = r.error();
          } else {
            a.applied = r->applied;
            a.version = r->version;
          }
          Complete(id, std::move(a));
        };
        if (item.kind == OutboxKind::kPutEntry) {
          client_->PutEntryAsync(item.key, item.value, item.version, std::move(done));
        } else {
          client_->DeleteEntryAsync(item.key, item.version, std::move(done));
        }
        return;
      }
      case OutboxKind::kPost: {
        auto source = OpenFileSource(item.path);
        if (!source) {
          // The blob's file is gone: nothing can ever send this post.
          Answer a;
          a.status =
              Status::NotFound("the blob of post " + item.message.ToHex() + " (" + item.path +
                               ") cannot be read: " + std::string(source.error().message()));
          return Complete(id, std::move(a));
        }
        std::shared_ptr<BlobSource> src(std::move(*source));
        UploadSpec spec;
        spec.to = item.peer;
        spec.id = item.message;
        spec.topic = item.key;
        spec.meta = item.value;
        if (item.digest != Digest128{}) spec.digest = item.digest;
        client_->UploadAsync(src.get(), std::move(spec), [this, id, src](Status s) {
          Answer a;
          a.status = std::move(s);
          Complete(id, std::move(a));
        });
        return;
      }
      case OutboxKind::kAddConnection:
        client_->AddConnectionAsync(item.peer, [this, id](Result<ConnectionState> r) {
          Answer a;
          if (!r) {
            a.status = r.error();
          } else {
            a.connection = *r;
          }
          Complete(id, std::move(a));
        });
        return;
      case OutboxKind::kRemoveConnection:
        client_->RemoveConnectionAsync(item.peer, [this, id](Status s) {
          Answer a;
          a.status = std::move(s);
          Complete(id, std::move(a));
        });
        return;
      case OutboxKind::kRegisterPush:
        client_->RegisterPushAsync(item.platform, item.value, [this, id](Status s) {
          Answer a;
          a.status = std::move(s);
          Complete(id, std::move(a));
        });
        return;
    }
  }

  // Picks the items to send now (mu_ held): in id order, skipping any that
  // shares a dependency key with an earlier unfinished item.
  std::vector<OutboxItem> PickSends(uint64_t now, uint64_t* wake) {
    std::vector<OutboxItem> out;
    std::set<std::string> blocked;
    size_t in_flight = 0, uploads = 0;
    for (const auto& [id, s] : items_) {
      if (s.in_flight) {
        ++in_flight;
        if (s.item.kind == OutboxKind::kPost) ++uploads;
      }
    }
    for (auto& [id, s] : items_) {
      bool free = true;
      for (const auto& d : s.deps) free = free && !blocked.count(d);
      for (const auto& d : s.deps) blocked.insert(d);
      if (!free || s.in_flight || s.answered) continue;
      if (s.next_attempt > now) {
        *wake = std::min(*wake, s.next_attempt);
        continue;
      }
      if (in_flight >= opts_.outbox_window) break;
      if (s.item.kind == OutboxKind::kPost && uploads >= opts_.max_uploads) continue;
      s.in_flight = true;
      ++in_flight;
      if (s.item.kind == OutboxKind::kPost) ++uploads;
      out.push_back(s.item);
    }
    return out;
  }

  // ---- blobs ----

  void StartDownloads() {
    auto wanted = mirror_->WantedBlobs();
    if (!wanted) return Fail(wanted.error());
    const uint64_t now = SteadyMs();
    for (const auto& task : *wanted) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (downloading_.size() >= 2) return;
        if (downloading_.count(task.id)) continue;
        auto retry = download_retry_.find(task.id);
        if (retry != download_retry_.end() && retry->second > now) continue;
        downloading_.insert(task.id);
      }
      const std::string part = task.owned ? task.path + ".part" : task.path;
      auto sink = OpenFileSink(part);
      if (!sink) {
        Fail(sink.error());
        std::lock_guard<std::mutex> lock(mu_);
        downloading_.erase(task.id);
        download_retry_[task.id] = now + Backoff(4);
        continue;
      }
      std::shared_ptr<BlobSink> held(std::move(*sink));
      client_->DownloadAsync(
          task.id, held.get(), {},
          [this, task, part, held](Result<DownloadResult> r) { OnDownloaded(task, part, r); });
    }
  }

  void OnDownloaded(const replica::BlobTask& task, const std::string& part,
                    const Result<DownloadResult>& r) {
    bool retry = false;
    if (r) {
      std::error_code ec;
      if (task.owned) std::filesystem::rename(part, task.path, ec);
      Status s = ec ? Status::Unavailable("cannot rename " + part + ": " + ec.message())
                    : mirror_->BlobDone(task.id, true, r->length);
      if (!s.ok()) {
        Fail(s);
        retry = true;
      }
    } else if (Transient(r.error()) || r.error().Is(Code::kDigestMismatch)) {
      retry = true;  // the sink was truncated after a mismatch: from 0 next time
    } else {
      // Gone (superseded), NotFound, PermissionDenied: never downloadable.
      (void)mirror_->BlobDone(task.id, false, 0);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      downloading_.erase(task.id);
      if (retry) {
        download_retry_[task.id] = SteadyMs() + Backoff(++download_attempts_[task.id]);
      } else {
        download_retry_.erase(task.id);
        download_attempts_.erase(task.id);
      }
      downloads_dirty_ = true;
      work_ = true;
    }
    cv_.notify_all();
  }

  Status WantBlob(const MessageId& id, const std::string& path, bool owned) {
    POSTBOX_RETURN_IF_ERROR(mirror_->WantBlob(id, path, owned));
    {
      std::lock_guard<std::mutex> lock(mu_);
      downloads_dirty_ = true;
      work_ = true;
    }
    cv_.notify_all();
    return Status::Ok();
  }

  // ---- connections ----

  Status RefreshConnections() {
    std::vector<std::pair<MailboxKey, ConnectionState>> all;
    for (auto kind : {ConnectionListKind::kConnected, ConnectionListKind::kRequested}) {
      std::optional<MailboxKey> after;
      for (;;) {
        POSTBOX_ASSIGN_OR_RETURN(ConnectionPage page, client_->ListConnections(after, 0, kind));
        for (const auto& p : page.peers) {
          all.emplace_back(p, kind == ConnectionListKind::kConnected ? ConnectionState::kConnected
                                                                     : ConnectionState::kRequested);
        }
        if (!page.more || page.peers.empty()) break;
        after = page.peers.back();
      }
    }
    std::lock_guard<std::mutex> commit(commit_mu_);
    ReplicaChange change;
    POSTBOX_RETURN_IF_ERROR(mirror_->SetSyncedConnections(all, &change));
    Notify(change);
    return Status::Ok();
  }

  // ---- the pump ----

  void Pump() {
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t wake = SteadyMs() + 1000;
    for (;;) {
      const auto deadline = Clock::time_point(std::chrono::milliseconds(wake));
      cv_.wait_until(lock, deadline, [this] { return stop_ || work_; });
      if (stop_) return;
      work_ = false;
      uint64_t now = SteadyMs();
      wake = now + 1000;
      if (!completions_.empty()) {
        // Answers free window slots: the next sends go out before the local
        // commit that ends the answered items, so the network and the disk
        // overlap.
        auto done = std::move(completions_);
        completions_.clear();
        auto final_answers = Classify(std::move(done));
        std::vector<OutboxItem> sends;
        if (started_ && client_->connected()) sends = PickSends(now, &wake);
        lock.unlock();
        for (const auto& item : sends) Send(item);
        // A store failure is reported there; the items are sent again.
        if (!final_answers.empty()) (void)EndItems(final_answers);
        lock.lock();
        now = SteadyMs();
      } else if (items_.empty()) {
        // Reported outcomes are forgotten in the next End's transaction while
        // items are in flight; a transaction of their own only when idle.
        lock.unlock();
        ForgetReported();
        lock.lock();
      }
      if (!started_) continue;

      if (!client_->connected()) {
        if (now < next_connect_) {
          wake = std::min(wake, next_connect_);
          continue;
        }
        lock.unlock();
        auto hello = client_->Connect();
        lock.lock();
        if (stop_) return;
        now = SteadyMs();
        if (!hello || hello->verdict == Verdict::kUpdateRequired ||
            hello->verdict == Verdict::kUpdateSchemaRequired) {
          Status why =
              hello ? Status::Unavailable("the server requires an app update: " + hello->detail)
                    : hello.error();
          const bool final_error =
              !hello ? why.Is(Code::kUnauthenticated) || why.Is(Code::kProtocolUnsupported) : true;
          next_connect_ = now + (final_error ? static_cast<uint64_t>(opts_.retry_max.count())
                                             : Backoff(connect_attempts_++));
          wake = std::min(wake, next_connect_);
          if (final_error) {
            lock.unlock();
            Fail(why);
            lock.lock();
          }
          continue;
        }
        connect_attempts_ = 0;
      }
      const uint64_t sessions = client_->sessions_established();
      if (sessions != seen_sessions_) {
        // A new session: catch up from the mirror's cursor (pushes start after
        // that poll completes), and learn the connections as they are now.
        seen_sessions_ = sessions;
        need_poll_ = true;
        polling_ = false;
        refresh_connections_ = true;
      }
      // The protocol pushes no connection changes (a peer's consent, an
      // operator's connect): they are listed again before each Sync round's
      // poll and each periodic one.
      if (!polling_ && (round_requested_ > round_issued_ || now >= next_poll_)) {
        refresh_connections_ = true;
      }
      // The connections first: a Sync round's poll is then issued after the
      // session's connections are known.
      if (refresh_connections_) {
        refresh_connections_ = false;
        lock.unlock();
        Status s = RefreshConnections();
        lock.lock();
        if (!s.ok()) refresh_connections_ = Transient(s);  // retried on the next wake
      }
      if (!polling_ && (need_poll_ || round_requested_ > round_issued_ || now >= next_poll_)) {
        polling_ = true;
        need_poll_ = false;
        round_issued_ = round_requested_;
        next_poll_ = now + static_cast<uint64_t>(opts_.poll_interval.count());
        const uint64_t round = round_issued_ + 1;  // a poll's tag: its round + 1 (0: a push)
        lock.unlock();
        auto cursor = mirror_->Cursor();
        if (cursor) {
          client_->PollAsync(*cursor, 0, [this, round](Result<InfoPacket> reply) {
            OnPollReply(std::move(reply), round);
          });
        } else {
          Fail(cursor.error());
        }
        lock.lock();
      }
      wake = std::min(wake, next_poll_);
      auto sends = PickSends(now, &wake);
      if (!sends.empty() || downloads_dirty_) {
        const bool downloads = downloads_dirty_;
        downloads_dirty_ = false;
        lock.unlock();
        for (const auto& item : sends) Send(item);
        if (downloads) StartDownloads();
        lock.lock();
      }
      if (!download_retry_.empty()) {
        for (const auto& [id, at] : download_retry_) wake = std::min(wake, at);
        if (wake <= SteadyMs()) downloads_dirty_ = true;
      }
    }
  }

  Status Sync(std::chrono::milliseconds timeout) {
    if (own_executor_ && own_executor_->OnThread()) {
      return Status::InvalidArgument("Replica::Sync called from a replica callback");
    }
    const auto deadline = Clock::now() + timeout;
    std::unique_lock<std::mutex> lock(mu_);
    if (!idle_cv_.wait_until(lock, deadline, [this] { return stop_ || items_.empty(); })) {
      return Status::Unavailable(std::to_string(items_.size()) +
                                 " outbox items still pending after the timeout");
    }
    // The outbox is empty: one poll issued from now on that finds nothing more.
    const uint64_t round = ++round_requested_;
    work_ = true;
    cv_.notify_all();
    if (!idle_cv_.wait_until(lock, deadline, [this, round] {
          return stop_ || (round_done_ >= round && items_.empty());
        })) {
      return Status::Unavailable("the replica did not catch up with the server in time");
    }
    if (stop_) return Status::Unavailable("replica closed");
    lock.unlock();
    if (own_executor_) {
      // The callbacks of what was waited for were posted before it ended:
      // they have run once a marker posted now has.
      auto ran = std::make_shared<std::promise<void>>();
      auto done = ran->get_future();
      own_executor_->Post([ran] { ran->set_value(); });
      if (done.wait_until(deadline) != std::future_status::ready) {
        return Status::Unavailable("the replica's callbacks did not run in time");
      }
    }
    return Status::Ok();
  }

  // Ok while a session with the server is up; else Unavailable naming `what`.
  Status Online(std::string_view what) const;

  ReplicaState State() const {
    ReplicaState s;
    s.connected = client_ && client_->connected();
    s.sessions = client_ ? client_->sessions_established() : 0;
    auto cursor = mirror_->Cursor();
    s.cursor = cursor ? *cursor : 0;
    std::lock_guard<std::mutex> lock(mu_);
    s.pending = items_.size();
    s.packets_applied = packets_applied_;
    s.packets_skipped = packets_skipped_;
    s.last_error = last_error_;
    return s;
  }

  Status Cancel(uint64_t id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = items_.find(id);
      if (it == items_.end())
        return Status::NotFound("no pending outbox item " + std::to_string(id));
      if (it->second.in_flight || it->second.answered) {
        return Status::Conflict("outbox item " + std::to_string(id) +
                                " is being sent; its outcome will follow");
      }
      it->second.in_flight = true;  // keeps the pump off it while it ends
    }
    Answer a;
    a.status = Status::InvalidArgument("cancelled");
    a.cancelled = true;
    Status s = EndItems({{id, std::move(a)}});
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = items_.find(id);
      if (it != items_.end()) it->second.in_flight = false;
    }
    return s;
  }

  ReplicaOptions opts_;
  std::unique_ptr<Mirror> mirror_;
  std::unique_ptr<SerialExecutor> own_executor_;
  std::unique_ptr<Client> client_;
  std::thread pump_;
  std::mutex commit_mu_;  // a mirror commit and the posting of its change, in order
  std::shared_ptr<Reported> reported_ = std::make_shared<Reported>();

  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the pump
  std::condition_variable idle_cv_;  // wakes Sync
  std::mt19937_64 rng_;
  bool stop_ = false;
  bool started_ = false;
  bool work_ = false;
  std::map<uint64_t, Slot> items_;
  std::vector<std::pair<uint64_t, Answer>> completions_;
  // Polls: rounds Sync asked for, issued, and answered with nothing more.
  bool need_poll_ = false;
  bool polling_ = false;
  uint64_t round_requested_ = 0;
  uint64_t round_issued_ = 0;
  uint64_t round_done_ = 0;
  uint64_t next_poll_ = 0;
  uint64_t seen_sessions_ = 0;
  bool refresh_connections_ = false;
  uint64_t next_connect_ = 0;
  uint32_t connect_attempts_ = 0;
  bool downloads_dirty_ = true;
  std::set<MessageId> downloading_;
  std::map<MessageId, uint64_t> download_retry_;
  std::map<MessageId, uint32_t> download_attempts_;
  uint64_t packets_applied_ = 0;
  uint64_t packets_skipped_ = 0;
  Status last_error_;
};

// ---- Replica ----

Result<std::unique_ptr<Replica>> Replica::Open(ReplicaOptions options) {
  if (options.folder.empty()) return Status::InvalidArgument("ReplicaOptions.folder is empty");
  if (options.outbox_window == 0 || options.max_uploads == 0) {
    return Status::InvalidArgument("outbox_window and max_uploads must be at least 1");
  }
  if (options.retry_initial.count() <= 0 || options.retry_max < options.retry_initial) {
    return Status::InvalidArgument("need 0 < retry_initial <= retry_max");
  }
  if (options.poll_interval.count() <= 0) {
    return Status::InvalidArgument("poll_interval must be positive");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  POSTBOX_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Replica>(new Replica(std::move(impl)));
}

Replica::Replica(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Replica::~Replica() = default;

const MailboxKey& Replica::mkey() const { return impl_->mirror_->mkey(); }
void Replica::Start() { impl_->Start(); }
Status Replica::Sync(std::chrono::milliseconds timeout) { return impl_->Sync(timeout); }
ReplicaState Replica::state() const { return impl_->State(); }
void Replica::DropConnection() { impl_->client_->DropConnection(); }
uint64_t Replica::cursor() const {
  auto c = impl_->mirror_->Cursor();
  return c ? *c : 0;
}

Result<std::vector<ReplicaMessage>> Replica::Inbox(std::optional<MessageId> start_after,
                                                   size_t limit) const {
  return impl_->mirror_->Messages(true, start_after, limit);
}
Result<std::vector<ReplicaMessage>> Replica::Sent(std::optional<MessageId> start_after,
                                                  size_t limit) const {
  return impl_->mirror_->Messages(false, start_after, limit);
}
Result<ReplicaMessage> Replica::GetMessage(const MessageId& id) const {
  POSTBOX_ASSIGN_OR_RETURN(auto m, impl_->mirror_->Message(id));
  if (!m) return Status::NotFound("no message " + id.ToHex() + " in the replica");
  return *m;
}
Result<EntryInfo> Replica::GetEntry(std::string_view key) const {
  POSTBOX_ASSIGN_OR_RETURN(auto e, impl_->mirror_->Entry(key));
  if (!e) return Status::NotFound("no entry '" + std::string(key) + "' in the replica");
  return *e;
}
Result<EntryState> Replica::GetEntryState(std::string_view key) const {
  POSTBOX_ASSIGN_OR_RETURN(auto e, impl_->mirror_->VisibleEntry(key));
  if (!e) return Status::NotFound("the replica never saw entry '" + std::string(key) + "'");
  return *e;
}

Result<std::vector<EntryInfo>> Replica::ListEntries(std::string_view prefix,
                                                    std::string_view start_after,
                                                    size_t limit) const {
  return impl_->mirror_->Entries(prefix, start_after, limit);
}
Result<std::vector<std::pair<MailboxKey, ConnectionState>>> Replica::Connections() const {
  return impl_->mirror_->Connections();
}
Result<PushRegistration> Replica::Push() const { return impl_->mirror_->Push(); }

// Endpoints are the server's state, not the mirror's: asked at once through
// the replica's session, never queued in the outbox (a registration is only
// useful to an app that gets the URL back, which needs the server).
Status Replica::Impl::Online(std::string_view what) const {
  if (client_->connected()) return Status::Ok();
  return Status::Unavailable(std::string(what) +
                             ": the replica has no session with the server (offline, not "
                             "started or reconnecting); endpoints need one");
}

Result<Endpoint> Replica::RegisterEndpoint(std::string_view app_id,
                                           std::string_view vapid_public_key) {
  POSTBOX_RETURN_IF_ERROR(impl_->Online("RegisterEndpoint"));
  return impl_->client_->RegisterEndpoint(app_id, vapid_public_key);
}
Result<EndpointPage> Replica::ListEndpoints(std::string_view start_after, uint32_t limit) {
  POSTBOX_RETURN_IF_ERROR(impl_->Online("ListEndpoints"));
  return impl_->client_->ListEndpoints(start_after, limit);
}
Status Replica::RevokeEndpoint(std::string_view token) {
  POSTBOX_RETURN_IF_ERROR(impl_->Online("RevokeEndpoint"));
  return impl_->client_->RevokeEndpoint(token);
}

void ReplicaBatch::UpdateStatus(const MessageId& id, MessageStatus status) {
  OutboxItem item;
  item.kind = OutboxKind::kStatus;
  item.message = id;
  item.status = status;
  items_.push_back(std::move(item));
}

void ReplicaBatch::PutEntry(std::string_view key, std::string_view value, uint64_t version) {
  OutboxItem item;
  item.kind = OutboxKind::kPutEntry;
  item.key = std::string(key);
  item.value = std::string(value);
  item.version = version;
  items_.push_back(std::move(item));
}

void ReplicaBatch::DeleteEntry(std::string_view key, uint64_t version) {
  OutboxItem item;
  item.kind = OutboxKind::kDeleteEntry;
  item.key = std::string(key);
  item.version = version;
  items_.push_back(std::move(item));
}

Result<std::vector<Result<uint64_t>>> Replica::Write(const ReplicaBatch& batch) {
  // A status out of range fails its write alone, as UpdateStatus would.
  std::vector<OutboxItem> valid;
  std::vector<size_t> where;  // index in the batch of each valid item
  std::vector<Result<uint64_t>> out;
  for (size_t i = 0; i < batch.items().size(); ++i) {
    const OutboxItem& item = batch.items()[i];
    if (item.kind == OutboxKind::kStatus &&
        (item.status < MessageStatus::kUploaded || item.status > MessageStatus::kViewed)) {
      out.emplace_back(Status::InvalidArgument("status must be uploaded, downloaded or viewed"));
      continue;
    }
    out.emplace_back(Status::Internal("not stored"));
    valid.push_back(item);
    where.push_back(i);
  }
  if (valid.empty()) return out;
  POSTBOX_ASSIGN_OR_RETURN(auto ids, impl_->EnqueueAll(std::move(valid)));
  for (size_t k = 0; k < ids.size(); ++k) out[where[k]] = std::move(ids[k]);
  return out;
}

Result<uint64_t> Replica::UpdateStatus(const MessageId& id, MessageStatus status) {
  ReplicaBatch one;
  one.UpdateStatus(id, status);
  POSTBOX_ASSIGN_OR_RETURN(auto ids, Write(one));
  return std::move(ids[0]);
}

Result<uint64_t> Replica::PutEntry(std::string_view key, std::string_view value, uint64_t version) {
  ReplicaBatch one;
  one.PutEntry(key, value, version);
  POSTBOX_ASSIGN_OR_RETURN(auto ids, Write(one));
  return std::move(ids[0]);
}

Result<uint64_t> Replica::DeleteEntry(std::string_view key, uint64_t version) {
  ReplicaBatch one;
  one.DeleteEntry(key, version);
  POSTBOX_ASSIGN_OR_RETURN(auto ids, Write(one));
  return std::move(ids[0]);
}

Result<MessageId> Replica::Post(const MailboxKey& to, std::string bytes, std::string_view topic,
                                std::string_view meta, std::optional<MessageId> id) {
  OutboxItem item;
  item.kind = OutboxKind::kPost;
  item.message = id.value_or(MessageId::Random());
  item.peer = to;
  item.key = std::string(topic);
  item.value = std::string(meta);
  item.length = bytes.size();
  item.digest = ComputeDigest128(bytes);
  item.owned = true;
  item.path = impl_->mirror_->folder() + "/outbox/" + item.message.ToHex() + ".blob";
  // An id the mirror holds is in use; a file without its item is what a crash
  // between writing it and storing the item left, and is written over.
  POSTBOX_ASSIGN_OR_RETURN(auto held, impl_->mirror_->Message(item.message));
  if (held) return Status::Conflict("message id " + item.message.ToHex() + " is in use");
  POSTBOX_RETURN_IF_ERROR(WriteDurably(item.path, bytes));
  const MessageId mid = item.message;
  const std::string path = item.path;
  auto r = impl_->Enqueue(std::move(item));
  if (!r) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return r.error();
  }
  return mid;
}

Result<MessageId> Replica::PostFile(const MailboxKey& to, const std::string& path,
                                    std::string_view topic, std::string_view meta,
                                    std::optional<MessageId> id) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::NotFound("cannot read " + path + ": " + ec.message());
  OutboxItem item;
  item.kind = OutboxKind::kPost;
  item.message = id.value_or(MessageId::Random());
  item.peer = to;
  item.key = std::string(topic);
  item.value = std::string(meta);
  item.length = size;
  item.path = std::filesystem::absolute(path).string();
  const MessageId mid = item.message;
  POSTBOX_RETURN_IF_ERROR(impl_->Enqueue(std::move(item)).status());
  return mid;
}

Result<uint64_t> Replica::AddConnection(const MailboxKey& peer) {
  OutboxItem item;
  item.kind = OutboxKind::kAddConnection;
  item.peer = peer;
  return impl_->Enqueue(std::move(item));
}

Result<uint64_t> Replica::RemoveConnection(const MailboxKey& peer) {
  OutboxItem item;
  item.kind = OutboxKind::kRemoveConnection;
  item.peer = peer;
  return impl_->Enqueue(std::move(item));
}

Result<uint64_t> Replica::RegisterPush(Platform platform, std::string_view token) {
  OutboxItem item;
  item.kind = OutboxKind::kRegisterPush;
  item.platform = platform;
  item.value = std::string(token);
  return impl_->Enqueue(std::move(item));
}

Result<std::vector<OutboxItem>> Replica::Pending() const {
  POSTBOX_ASSIGN_OR_RETURN(auto items, impl_->mirror_->Pending());
  std::lock_guard<std::mutex> lock(impl_->mu_);
  for (auto& i : items) {
    auto it = impl_->items_.find(i.id);
    if (it != impl_->items_.end()) i.attempts = it->second.attempts;
  }
  return items;
}

Status Replica::Cancel(uint64_t item) { return impl_->Cancel(item); }

Status Replica::RequestBlob(const MessageId& id) {
  return impl_->WantBlob(id, impl_->mirror_->BlobPath(id), true);
}

Status Replica::RequestBlobTo(const MessageId& id, const std::string& path) {
  return impl_->WantBlob(id, std::filesystem::absolute(path).string(), false);
}

Result<ReplicaBlob> Replica::Blob(const MessageId& id) const {
  POSTBOX_ASSIGN_OR_RETURN(auto b, impl_->mirror_->Blob(id));
  if (!b) return Status::NotFound("the blob of " + id.ToHex() + " was not requested");
  return *b;
}

Result<std::string> Replica::ReadBlob(const MessageId& id) const {
  POSTBOX_ASSIGN_OR_RETURN(ReplicaBlob b, Blob(id));
  if (b.state != BlobState::kDownloaded) {
    return Status::Unavailable("the blob of " + id.ToHex() + " is not downloaded yet (" +
                               std::to_string(b.held) + " of " + std::to_string(b.length) +
                               " bytes)");
  }
  auto source = OpenFileSource(b.path);
  if (!source) return source.error();
  std::string bytes((*source)->size(), '\0');
  POSTBOX_RETURN_IF_ERROR((*source)->ReadAt(0, std::span<char>(bytes.data(), bytes.size())));
  return bytes;
}

}  // namespace postbox::sync
