// The public blob-transfer calls of Client and the helpers the upload and
// download state machines share. The blocking forms hash on the caller's
// thread (so the loop never spends long on one transfer), then start the
// state machine on the loop and wait for its completion, which the loop
// always delivers: every step has a deadline, and shutdown fails what is left.
#include "sync/client/transfer.h"

#include <algorithm>
#include <future>
#include <string>
#include <utility>

namespace postbox::sync {

Hash128::Hash128() : state_(XXH3_createState()) { Reset(); }
Hash128::Hash128(Hash128&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
Hash128::~Hash128() { XXH3_freeState(state_); }  // accepts null
void Hash128::Reset() { XXH3_128bits_reset(state_); }
void Hash128::Update(std::string_view bytes) {
  XXH3_128bits_update(state_, bytes.data(), bytes.size());
}
Digest128 Hash128::Digest() const {
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(state_));
  Digest128 d;
  static_assert(sizeof(canon.digest) == std::tuple_size_v<Digest128>);
  std::copy(std::begin(canon.digest), std::end(canon.digest), d.begin());
  return d;
}

Status HashRange(const ReadAtFn& read, uint64_t end, uint64_t budget, uint64_t* done,
                 Hash128* hash) {
  std::string buf;
  uint64_t left = budget;
  while (*done < end && left > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>({kTransferChunk, end - *done, left}));
    buf.resize(n);
    POSTBOX_RETURN_IF_ERROR(read(*done, std::span<char>(buf.data(), n)));
    hash->Update(buf);
    *done += n;
    left -= n;
  }
  return Status::Ok();
}

namespace {

// The state of one HashInSteps, alive while a step is queued on the loop.
struct HashSteps : std::enable_shared_from_this<HashSteps> {
  Client::Core* core;
  ReadAtFn read;
  uint64_t end;
  Hash128* hash;
  std::function<void(Status)> done;
  uint64_t hashed = 0;

  void Step() {
    Status s = HashRange(read, end, kHashStepBytes, &hashed, hash);
    if (!s.ok() || hashed >= end) return done(std::move(s));
    if (!core->Post([self = shared_from_this()] { self->Step(); })) {
      done(Status::Unavailable("client closed"));
    }
  }
};

}  // namespace

void HashInSteps(Client::Core* core, ReadAtFn read, uint64_t end, Hash128* hash,
                 std::function<void(Status)> done) {
  auto steps = std::make_shared<HashSteps>();
  steps->core = core;
  steps->read = std::move(read);
  steps->end = end;
  steps->hash = hash;
  steps->done = std::move(done);
  steps->Step();
}

bool IsTransient(const Status& s) { return s.Is(Code::kUnavailable) || s.Is(Code::kBackOff); }

uint64_t RetryDelayMs(const ClientOptions& o, uint32_t n) {
  const uint64_t base = static_cast<uint64_t>(o.backoff_initial.count());
  const uint64_t cap = static_cast<uint64_t>(o.backoff_max.count());
  return std::min(cap, base << std::min<uint32_t>(n > 0 ? n - 1 : 0, 20));
}

Status GaveUp(const Status& why, std::string_view what, uint32_t retries) {
  return Status(why.code(), std::string(what) + " gave up after " + std::to_string(retries) +
                                " retries without progress; last error: " + why.ToString());
}

namespace {

// Waits for a transfer's completion. No fixed limit (a 256 MiB upload may take
// minutes); the loop completes every transfer, and a loop that has ended
// under us is noticed within a second.
template <class T>
Result<T> AwaitTransfer(Client::Core* core,
                        std::function<void(std::function<void(Result<T>)>)> start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  auto cb = [promise](Result<T> r) { promise->set_value(std::move(r)); };
  if (!core->Post([start = std::move(start), cb] { start(cb); })) {
    return Status::Unavailable("client closed");
  }
  while (future.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
    if (core->LoopEnded() &&
        future.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
      return Status::Unavailable("the client's loop ended during the transfer");
    }
  }
  return future.get();
}

Status RefuseOnLoop(Client::Core* core) {
  if (core->OnLoop()) {
    return Status::InvalidArgument("a blocking Client call was made on the client's loop thread");
  }
  return Status::Ok();
}

}  // namespace

Status Client::Upload(BlobSource* source, const UploadSpec& spec) {
  Core* c = core_.get();
  POSTBOX_RETURN_IF_ERROR(RefuseOnLoop(c));
  if (source == nullptr) return Status::InvalidArgument("Upload needs a source");
  UploadSpec s = spec;
  if (!s.digest) {
    // The whole source once, here, so the loop thread only sends.
    Hash128 hash;
    uint64_t done = 0;
    const uint64_t size = source->size();
    POSTBOX_RETURN_IF_ERROR(
        HashRange([source](uint64_t off, std::span<char> out) { return source->ReadAt(off, out); },
                  size, size, &done, &hash));
    s.digest = hash.Digest();
  }
  auto r = AwaitTransfer<bool>(c, [c, source, s](std::function<void(Result<bool>)> done) {
    StartUpload(c, source, s, [done](Status st) {
      done(st.ok() ? Result<bool>(true) : Result<bool>(std::move(st)));
    });
  });
  return r ? Status::Ok() : r.error();
}

void Client::UploadAsync(BlobSource* source, UploadSpec spec, std::function<void(Status)> done) {
  Core* c = core_.get();
  if (source == nullptr) return done(Status::InvalidArgument("UploadAsync needs a source"));
  auto shared_done = std::make_shared<std::function<void(Status)>>(std::move(done));
  if (!c->Post([c, source, spec = std::move(spec), shared_done]() mutable {
        StartUpload(c, source, std::move(spec), std::move(*shared_done));
      })) {
    (*shared_done)(Status::Unavailable("client closed"));
  }
}

Result<DownloadResult> Client::Download(const MessageId& id, BlobSink* sink,
                                        TransferProgress progress) {
  Core* c = core_.get();
  POSTBOX_RETURN_IF_ERROR(RefuseOnLoop(c));
  if (sink == nullptr) return Status::InvalidArgument("Download needs a sink");
  // Re-hash what the sink holds here, so the loop only receives.
  auto prefix = std::make_shared<Hash128>();
  const uint64_t held = sink->size();
  uint64_t done = 0;
  POSTBOX_RETURN_IF_ERROR(
      HashRange([sink](uint64_t off, std::span<char> out) { return sink->ReadAt(off, out); }, held,
                held, &done, prefix.get()));
  return AwaitTransfer<DownloadResult>(
      c, [c, id, sink, progress, prefix, held](std::function<void(Result<DownloadResult>)> fin) {
        StartDownload(c, id, sink, progress, std::make_unique<Hash128>(std::move(*prefix)), held,
                      std::move(fin));
      });
}

void Client::DownloadAsync(const MessageId& id, BlobSink* sink, TransferProgress progress,
                           std::function<void(Result<DownloadResult>)> done) {
  Core* c = core_.get();
  if (sink == nullptr) return done(Status::InvalidArgument("DownloadAsync needs a sink"));
  auto shared_done = std::make_shared<std::function<void(Result<DownloadResult>)>>(std::move(done));
  if (!c->Post([c, id, sink, progress = std::move(progress), shared_done]() mutable {
        StartDownload(c, id, sink, std::move(progress), nullptr, 0, std::move(*shared_done));
      })) {
    (*shared_done)(Status::Unavailable("client closed"));
  }
}

}  // namespace postbox::sync
