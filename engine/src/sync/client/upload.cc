// The upload state machine (wire/PROTOCOL.md §3 "Blob transfer", upload):
//
//   [hash the source]  →  Begin  →  chunks from `committed`, ≤ window in flight
//                           ↑         │ each reply: committed → progress
//                           │         ▼ committed == length
//                 resync ───┴──── Commit → Ok: done
//
// Any transient failure (lost session, timeout, 503, 429), a 409 from a chunk
// (a gap behind a failed chunk) or from Commit (bytes missing), or a 404 from
// either (the upload vanished, e.g. swept) resynchronises: Begin again, which
// is idempotent and answers the committed offset, and go on from there. Every
// attempt bumps `gen_`, so replies to an earlier attempt's chunks are ignored.
// Retries that made no progress are counted and bounded by transfer_retries.
//
// A final refusal from the server (403, 404, 409, 410, 413, ...: no retry can
// fix it) after the server accepted an UploadBegin of this task sends
// UploadAbort while the session is up, so the server frees the stored bytes
// now rather than at upload_ttl. A failure of the source, giving up after
// retries and a closed client keep the upload: Upload with the same id and
// bytes resumes it. A 422 needs no abort: the server discarded the upload.
#include <algorithm>
#include <optional>
#include <string>

#include "sync/client/transfer.h"
#include "sync/convert.h"

namespace postbox::sync {
namespace {

// A server whose max chunk is below ours answers 413: halve down to this.
constexpr size_t kMinChunk = 16 * 1024;
// Room an UploadChunk frame's header and fields take besides its data.
constexpr size_t kChunkFrameOverhead = 1024;

class UploadTask : public std::enable_shared_from_this<UploadTask> {
 public:
  UploadTask(Client::Core* core, BlobSource* source, UploadSpec spec,
             std::function<void(Status)> done)
      : core_(core), source_(source), spec_(std::move(spec)), done_(std::move(done)) {
    const auto& o = core_->options();
    const size_t room = o.max_frame_payload > kChunkFrameOverhead + kMinChunk
                            ? o.max_frame_payload - kChunkFrameOverhead
                            : kMinChunk;
    chunk_ = std::min(kTransferChunk, room);
    window_ = std::max<uint32_t>(o.upload_window, 1);
    id_ = ToWire(spec_.id);
    to_ = ToWire(spec_.to);
  }

  void Start() {
    length_ = source_->size();
    if (spec_.digest) return Begin();
    hash_ = std::make_unique<Hash128>();
    HashInSteps(
        core_, [this](uint64_t off, std::span<char> out) { return source_->ReadAt(off, out); },
        length_, hash_.get(),
        [self = shared_from_this()](Status s) {
          if (!s.ok()) return self->Finish(s);
          self->spec_.digest = self->hash_->Digest();
          self->hash_.reset();
          self->Begin();
        });
  }

 private:
  void Begin() {
    if (finished_) return;
    const uint64_t gen = ++gen_;
    inflight_ = 0;
    digest_ = DigestToWire(*spec_.digest);
    core_->Request(
        [self = shared_from_this()](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
          return enc->Encode(rid,
                             wire::UploadBegin{self->id_, self->to_, self->spec_.topic,
                                               self->spec_.meta, self->length_, self->digest_},
                             out);
        },
        [self = shared_from_this(), gen](const Status& s, const wire::AnyMessage* m) {
          self->OnBegin(gen, s, m);
        });
  }

  void OnBegin(uint64_t gen, const Status& s, const wire::AnyMessage* m) {
    if (finished_ || gen != gen_) return;
    // 403, 404 (no such recipient), 409 (another declaration), 410, 413, 401: final.
    if (!s.ok()) return IsTransient(s) ? Retry(s) : Refused(s);
    const auto* r = std::get_if<wire::UploadOffset>(m);
    if (r == nullptr) return Finish(Status::Internal("UploadBegin got an unexpected reply"));
    if (r->length != length_ || r->committed > length_) {
      return Finish(Status::Internal("UploadBegin answered length " + std::to_string(r->length) +
                                     ", committed " + std::to_string(r->committed) + "; declared " +
                                     std::to_string(length_)));
    }
    // The server's word is authoritative here: an upload it discarded and
    // began anew restarts from 0.
    accepted_ = true;
    committed_ = r->committed;
    Report(committed_);
    next_ = committed_;
    if (committed_ == length_) return Commit();
    Pump();
  }

  // Sends chunks from next_ until the window is full or the source is all sent.
  void Pump() {
    const uint64_t gen = gen_;
    while (!finished_ && gen == gen_ && inflight_ < window_ && next_ < length_) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_, length_ - next_));
      auto data = std::make_shared<std::string>(n, '\0');
      if (Status s = source_->ReadAt(next_, std::span<char>(data->data(), n)); !s.ok()) {
        // The server keeps what it has: a later Upload of the same id resumes.
        return Finish(s);
      }
      const uint64_t offset = next_;
      next_ += n;
      ++inflight_;
      core_->RequestBulk(
          [id = id_, offset, data](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
            return enc->Encode(rid, wire::UploadChunk{id, offset, *data}, out);
          },
          [self = shared_from_this(), gen](const Status& s, const wire::AnyMessage* m) {
            self->OnChunk(gen, s, m);
          });
    }
  }

  void OnChunk(uint64_t gen, const Status& s, const wire::AnyMessage* m) {
    if (finished_ || gen != gen_) return;
    --inflight_;
    if (!s.ok()) {
      if (s.Is(Code::kTooLarge) && chunk_ > kMinChunk) {
        // The server's max chunk is smaller than ours: halve and resync (not
        // counted as a failure; it ends at kMinChunk).
        chunk_ /= 2;
        ++gen_;
        return Begin();
      }
      if (IsTransient(s) || s.Is(Code::kConflict) || s.Is(Code::kNotFound)) return Retry(s);
      return Refused(s);  // 403, 410, 413, 401
    }
    const auto* r = std::get_if<wire::UploadOffset>(m);
    if (r == nullptr) return Finish(Status::Internal("UploadChunk got an unexpected reply"));
    committed_ = std::max(committed_, std::min(r->committed, length_));
    Report(committed_);
    if (committed_ == length_) return Commit();  // later replies are for earlier bytes
    Pump();
  }

  void Commit() {
    const uint64_t gen = ++gen_;
    inflight_ = 0;
    core_->Request(
        [id = id_](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
          return enc->Encode(rid, wire::UploadCommit{id}, out);
        },
        [self = shared_from_this(), gen](const Status& s, const wire::AnyMessage* m) {
          self->OnCommit(gen, s, m);
        });
  }

  void OnCommit(uint64_t gen, const Status& s, const wire::AnyMessage* m) {
    if (finished_ || gen != gen_) return;
    if (!s.ok()) {
      // 409: bytes missing; 404: the upload vanished; both resync. 422: the
      // server discarded the upload, so the caller must decide: final.
      if (IsTransient(s) || s.Is(Code::kConflict) || s.Is(Code::kNotFound)) return Retry(s);
      if (s.Is(Code::kDigestMismatch)) return Finish(s);
      return Refused(s);  // 403 (no longer connected), 410, 413
    }
    if (!std::holds_alternative<wire::Ok>(*m)) {
      return Finish(Status::Internal("UploadCommit got an unexpected reply"));
    }
    Report(length_);
    Finish(Status::Ok());
  }

  void Retry(const Status& why) {
    ++gen_;  // replies to this attempt's requests are now stale
    inflight_ = 0;
    if (committed_ > committed_at_retry_) {
      failures_ = 0;
      committed_at_retry_ = committed_;
    }
    const uint32_t limit = core_->options().transfer_retries;
    if (++failures_ > limit) return Finish(GaveUp(why, "upload " + spec_.id.ToHex(), limit));
    if (!core_->WillSend()) return Finish(why);    // closed, refused, or never connected
    if (!core_->connected.load()) return Begin();  // queued until the reconnect's Hello
    // The session is up (a 503, 429, 409 or a timeout): pause before resyncing.
    core_->After(RetryDelayMs(core_->options(), failures_),
                 [self = shared_from_this()] { self->Begin(); });
  }

  void Report(uint64_t done) {
    if (reported_ && done <= *reported_) return;
    reported_ = done;
    if (spec_.progress) spec_.progress(done, length_);
  }

  // A final refusal from the server: frees what the server holds of this
  // upload (best effort; the reply is ignored, and upload_ttl sweeps whatever
  // an abort misses), then fails with the server's status.
  void Refused(Status s) {
    if (!finished_ && accepted_ && core_->connected.load() && core_->WillSend()) {
      core_->Request(
          [id = id_](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
            return enc->Encode(rid, wire::UploadAbort{id}, out);
          },
          [](const Status&, const wire::AnyMessage*) {});
    }
    Finish(std::move(s));
  }

  void Finish(Status s) {
    if (finished_) return;
    finished_ = true;
    ++gen_;
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(s));
  }

  Client::Core* core_;
  BlobSource* source_;
  UploadSpec spec_;
  std::function<void(Status)> done_;
  wire::Bytes16 id_{}, to_{}, digest_{};
  size_t chunk_ = kTransferChunk;
  uint32_t window_ = 4;

  uint64_t length_ = 0;
  std::unique_ptr<Hash128> hash_;  // while computing the digest

  uint64_t gen_ = 0;        // the current attempt; replies of others are ignored
  uint64_t next_ = 0;       // offset of the next chunk to send
  uint32_t inflight_ = 0;   // chunks sent in this attempt and not answered
  uint64_t committed_ = 0;  // the server's committed offset, as last heard
  uint64_t committed_at_retry_ = 0;
  bool accepted_ = false;  // the server answered an UploadBegin of this task
  uint32_t failures_ = 0;  // retries in a row without progress
  std::optional<uint64_t> reported_;
  bool finished_ = false;
};

}  // namespace

void StartUpload(Client::Core* core, BlobSource* source, UploadSpec spec,
                 std::function<void(Status)> done) {
  std::make_shared<UploadTask>(core, source, std::move(spec), std::move(done))->Start();
}

}  // namespace postbox::sync
