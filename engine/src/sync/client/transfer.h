// Internals of the client's blob transfers (docs/transfer.md): the XXH3-128
// hasher both directions share, bounded-step hashing of a reader, retry
// pacing, and the two state machines' entry points. Upload and download tasks
// live on the client's loop thread; each is kept alive by the callbacks that
// refer to it and ends by calling its completion exactly once.
#ifndef POSTBOX_SYNC_CLIENT_TRANSFER_H_
#define POSTBOX_SYNC_CLIENT_TRANSFER_H_

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "postbox/sync/client.h"
#include "sync/client/client_core.h"

namespace postbox::sync {

// A chunk on the wire (wire/PROTOCOL.md: at most 256 KiB), and what one loop
// turn hashes before yielding to I/O.
inline constexpr size_t kTransferChunk = 256 * 1024;
inline constexpr uint64_t kHashStepBytes = 1u << 20;

// Streaming XXH3-128 (seed 0) giving the engine's Digest128: the canonical,
// big-endian form (XXH128_canonicalFromHash), as ComputeDigest128 makes it.
class Hash128 {
 public:
  Hash128();
  ~Hash128();
  // A moved-from hasher may only be destroyed.
  Hash128(Hash128&& other) noexcept;
  Hash128(const Hash128&) = delete;
  Hash128& operator=(const Hash128&) = delete;
  void Reset();
  void Update(std::string_view bytes);
  Digest128 Digest() const;

 private:
  XXH3_state_t* state_;
};

// Positional read of a source or a sink.
using ReadAtFn = std::function<Status(uint64_t offset, std::span<char> out)>;

// Feeds [*done, end) of `read` into `hash`, at most `budget` bytes, in reads
// of at most kTransferChunk; advances *done. Use with budget = end to hash in
// one go (on a caller's thread); on the loop, HashInSteps.
Status HashRange(const ReadAtFn& read, uint64_t end, uint64_t budget, uint64_t* done,
                 Hash128* hash);
// Loop-only. Hashes [0, end) of `read` into *hash kHashStepBytes per loop
// turn, so the loop serves other work in between, then calls `done` with the
// first read error, Unavailable if the client closed meanwhile, or OK. `read`
// and `hash` must stay valid until then (a task keeps itself alive through
// `done`).
void HashInSteps(Client::Core* core, ReadAtFn read, uint64_t end, Hash128* hash,
                 std::function<void(Status)> done);

// Failures a transfer survives by resynchronising: a lost session, a timeout,
// 503, 429.
bool IsTransient(const Status& s);
// How long a transfer waits before its n-th retry (n ≥ 1) while the session
// is up (a 503, 429 or timeout): the client's backoff, doubling, capped.
uint64_t RetryDelayMs(const ClientOptions& o, uint32_t n);
// "upload of <id>" + what went wrong + the retry count, keeping the code.
Status GaveUp(const Status& why, std::string_view what, uint32_t retries);

// Loop-only. `spec.digest` may be absent (then hashed in steps on the loop).
void StartUpload(Client::Core* core, BlobSource* source, UploadSpec spec,
                 std::function<void(Status)> done);
// Loop-only. `prefix`, if not null, is the hash of the sink's first
// `prefix_len` bytes (its whole content), computed on the caller's thread;
// null: the held bytes are hashed in steps on the loop.
void StartDownload(Client::Core* core, const MessageId& id, BlobSink* sink,
                   TransferProgress progress, std::unique_ptr<Hash128> prefix, uint64_t prefix_len,
                   std::function<void(Result<DownloadResult>)> done);

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_CLIENT_TRANSFER_H_
