// The download state machine (wire/PROTOCOL.md §3 "Blob transfer", download):
//
//   [re-hash the sink's bytes]  →  DownloadRequest{expected}  →  chunk stream
//                                     ↑                            │ each chunk: offset ==
//                                     │ restart from expected      │ expected, XXH3-64 ok →
//                                     └──── bad chunk, lost ◄──────┤ append, hash, progress
//                                           session, timeout       ▼ expected == total
//                                                          whole XXH3-128 == digest: done
//
// A restart is a new DownloadRequest with a new request id: the server
// replaces the old stream, and frames of the old one (old id, or an old
// attempt's `gen`) are dropped. 410, 404 and 403 end the download at once.
// Retries without progress are bounded by transfer_retries.
#include <optional>
#include <string>

#include "sync/client/transfer.h"
#include "sync/convert.h"

namespace postbox::sync {
namespace {

class DownloadTask : public std::enable_shared_from_this<DownloadTask> {
 public:
  DownloadTask(Client::Core* core, const MessageId& id, BlobSink* sink, TransferProgress progress,
               std::function<void(Result<DownloadResult>)> done)
      : core_(core),
        id_(id),
        wire_id_(ToWire(id)),
        sink_(sink),
        progress_(std::move(progress)),
        done_(std::move(done)) {}

  // Waits for its turn (one download of an id at a time on the session), then starts.
  void Start(std::unique_ptr<Hash128> prefix, uint64_t prefix_len) {
    std::shared_ptr<Hash128> held(std::move(prefix));
    core_->TakeTurn(TurnKey(), [self = shared_from_this(), held, prefix_len] {
      self->has_turn_ = true;
      self->StartNow(held ? std::make_unique<Hash128>(std::move(*held)) : nullptr, prefix_len);
    });
  }

 private:
  std::string TurnKey() const { return "download " + id_.ToHex(); }

  void StartNow(std::unique_ptr<Hash128> prefix, uint64_t prefix_len) {
    if (prefix) {
      hash_ = std::move(prefix);
      held_ = prefix_len;
      return Resume();
    }
    // Re-hashes the held prefix on the loop, a step per turn.
    hash_ = std::make_unique<Hash128>();
    held_ = sink_->size();
    HashInSteps(
        core_, [this](uint64_t off, std::span<char> out) { return sink_->ReadAt(off, out); }, held_,
        hash_.get(),
        [self = shared_from_this()](Status s) {
          if (!s.ok()) return self->Finish(s);
          self->Resume();
        });
  }

  void Resume() {
    expected_ = held_;
    result_.resumed_from = held_;
    Request();
  }

  void Request() {
    if (finished_) return;
    const uint64_t gen = ++gen_;
    requested_from_ = expected_;
    streaming_ = true;
    core_->RequestStream(
        [id = wire_id_, from = expected_](uint64_t rid, wire::Encoder* enc,
                                          std::vector<uint8_t>* out) {
          return enc->Encode(rid, wire::DownloadRequest{id, from, 0}, out);
        },
        [self = shared_from_this(), gen](const Status& s, const wire::AnyMessage* m) {
          return self->OnFrame(gen, s, m);
        });
  }

  // One frame of the current stream; true to keep listening.
  bool OnFrame(uint64_t gen, const Status& s, const wire::AnyMessage* m) {
    if (finished_ || gen != gen_) return false;
    if (!s.ok()) {
      streaming_ = false;
      if (IsTransient(s)) {
        Retry(s);
      } else if (s.Is(Code::kInvalidArgument) && !total_ && requested_from_ > 0 &&
                 !restarted_clean_) {
        // The server refuses an offset past the blob's end: the sink holds
        // more bytes than the blob, so they are not a prefix of it.
        StartOver();
      } else {
        Finish(s);  // 410, 404, 403 (and 401, 400): final, at once
      }
      return false;
    }
    const auto* c = std::get_if<wire::DownloadChunk>(m);
    if (c == nullptr) {
      Abandon(Status::Internal("DownloadRequest got an unexpected reply"));
      return false;
    }
    if (!c->digest) {
      Abandon(Status::Internal("the server sent no blob digest; the download cannot be verified"));
      return false;
    }
    if (!total_) {
      total_ = c->total_length;
      digest_ = *c->digest;
      if (expected_ > *total_) {  // never from a conforming server (it answers 400)
        Cancel();
        StartOver();
        return false;
      }
      Report(expected_);
    } else if (c->total_length != *total_ || *c->digest != *digest_) {
      Abandon(Status::Internal("the blob's length or digest changed during the download"));
      return false;
    }
    if (c->id != wire_id_ || c->offset != expected_ || c->data.size() > *total_ - c->offset) {
      Retry(Status::Internal("protocol error: chunk [" + std::to_string(c->offset) + ", +" +
                             std::to_string(c->data.size()) + ") where " +
                             std::to_string(expected_) + " was expected"));
      return false;
    }
    if (!wire::VerifyChunkDigest(*c)) {
      ++result_.chunks_retried;
      Retry(Status::DigestMismatch("chunk at " + std::to_string(c->offset) +
                                   " failed its XXH3-64 check"));
      return false;
    }
    if (!c->data.empty()) {
      if (Status ws = sink_->Append(c->data); !ws.ok()) {
        Abandon(ws);
        return false;
      }
      hash_->Update(c->data);
      expected_ += c->data.size();
      Report(expected_);
    }
    if (expected_ == *total_) {
      streaming_ = false;
      Complete();
      return false;
    }
    if (c->data.empty()) {  // an empty chunk before the end: the stream stopped short
      Retry(Status::Internal("the server ended the stream at " + std::to_string(expected_)));
      return false;
    }
    return true;
  }

  void Complete() {
    const Digest128 got = hash_->Digest();
    const Digest128 want = DigestFromWire(*digest_);
    if (got == want) {
      result_.length = *total_;
      result_.digest = got;
      Report(*total_);
      return Finish(result_);
    }
    // A resumed prefix can only be checked against the whole digest, so a
    // mismatch after resuming may be the old bytes' fault: start once from 0.
    if (result_.resumed_from > 0 && !restarted_clean_) return StartOver();
    Status ts = sink_->Truncate(0);  // so that a retry starts clean
    Finish(Status::DigestMismatch("downloaded bytes of " + id_.ToHex() +
                                  " do not match the blob's XXH3-128" +
                                  (ts.ok() ? std::string("; the sink was emptied")
                                           : "; emptying the sink failed: " + ts.ToString())));
  }

  // Empties the sink and downloads from 0 (once per download).
  void StartOver() {
    if (Status ts = sink_->Truncate(0); !ts.ok()) return Finish(ts);
    hash_->Reset();
    expected_ = 0;
    expected_at_retry_ = 0;
    result_.resumed_from = 0;
    restarted_clean_ = true;
    Request();
  }

  void Retry(const Status& why) {
    ++gen_;
    if (expected_ > expected_at_retry_) {
      failures_ = 0;
      expected_at_retry_ = expected_;
    }
    const uint32_t limit = core_->options().transfer_retries;
    if (++failures_ > limit) return Abandon(GaveUp(why, "download of " + id_.ToHex(), limit));
    if (!core_->WillSend()) return Finish(why);
    // A bad chunk restarts at once (the new request replaces the stream); a
    // lost session's request waits for the reconnect in the request queue.
    if (!core_->connected.load() || !IsTransient(why)) return Request();
    core_->After(RetryDelayMs(core_->options(), failures_),
                 [self = shared_from_this()] { self->Request(); });
  }

  // Ends the download with `why`, first asking the server to stop the stream.
  void Abandon(const Status& why) {
    Cancel();
    Finish(why);
  }

  // Replaces a running stream by the empty range at its end (the protocol's
  // cancel); its single answer is dropped.
  void Cancel() {
    if (!streaming_ || !total_ || !core_->connected.load()) return;
    streaming_ = false;
    core_->RequestStream(
        [id = wire_id_, end = *total_](uint64_t rid, wire::Encoder* enc,
                                       std::vector<uint8_t>* out) {
          return enc->Encode(rid, wire::DownloadRequest{id, end, 0}, out);
        },
        [](const Status&, const wire::AnyMessage*) { return false; });
  }

  void Report(uint64_t done) {
    if (reported_ && done <= *reported_) return;
    reported_ = done;
    if (progress_) progress_(done, *total_);
  }

  void Finish(Result<DownloadResult> r) {
    if (finished_) return;
    finished_ = true;
    ++gen_;
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(r));
    if (has_turn_) core_->EndTurn(TurnKey());  // may start the next download of this id
  }

  Client::Core* core_;
  MessageId id_;
  wire::Bytes16 wire_id_;
  BlobSink* sink_;
  TransferProgress progress_;
  std::function<void(Result<DownloadResult>)> done_;

  std::unique_ptr<Hash128> hash_;  // of the sink's first expected_ bytes
  uint64_t held_ = 0;              // sink bytes at the start

  std::optional<uint64_t> total_;  // from the first chunk
  std::optional<wire::Bytes16> digest_;
  uint64_t gen_ = 0;
  uint64_t expected_ = 0;  // the next offset wanted = bytes in the sink
  uint64_t requested_from_ = 0;
  bool streaming_ = false;  // the server may still be sending the current stream
  uint64_t expected_at_retry_ = 0;
  uint32_t failures_ = 0;
  bool restarted_clean_ = false;
  std::optional<uint64_t> reported_;
  DownloadResult result_;
  bool has_turn_ = false;
  bool finished_ = false;
};

}  // namespace

void StartDownload(Client::Core* core, const MessageId& id, BlobSink* sink,
                   TransferProgress progress, std::unique_ptr<Hash128> prefix, uint64_t prefix_len,
                   std::function<void(Result<DownloadResult>)> done) {
  std::make_shared<DownloadTask>(core, id, sink, std::move(progress), std::move(done))
      ->Start(std::move(prefix), prefix_len);
}

}  // namespace postbox::sync
