// Options for DB::Open. A plain value; copy freely.
#ifndef POSTBOX_OPTIONS_H_
#define POSTBOX_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace postbox {

enum class Durability {
  // Every committed write is synced to disk before the call returns.
  kDurable,
  // "Relaxed": commits are not synced; a background thread syncs every
  // `relaxed_sync_interval`. A crash may lose the writes of the last interval,
  // but never leaves the store inconsistent.
  kRelaxed,
};

enum class PostingPolicy {
  // Posting needs a connection between sender and recipient (403 otherwise).
  kConnected,
  // Anyone who knows a mailbox key may post to it (the mkey is the capability).
  kOpen,
};

struct Options {
  Durability durability = Durability::kDurable;
  std::chrono::milliseconds relaxed_sync_interval{1000};

  // The LMDB map starts at initial_map_size and doubles when full, up to
  // max_map_size; past that writes fail with ResourceExhausted and change nothing.
  uint64_t initial_map_size = uint64_t{64} << 20;
  uint64_t max_map_size = uint64_t{64} << 30;

  // Live messages per slot (from, to, topic); posting into a full slot
  // supersedes the oldest.
  uint32_t slot_depth = 1;
  PostingPolicy posting_policy = PostingPolicy::kConnected;
  // Connection requests a mailbox may have waiting for their peers' consent
  // (BackOff past it): bounds what one mailbox can make the store hold.
  size_t max_pending_connections = 1000;

  // Size limits (TooLarge past them).
  size_t max_key_size = 256;
  size_t max_value_size = 64 * 1024;
  size_t max_topic_size = 64;
  size_t max_meta_size = 1024;
  size_t max_push_token_size = 4096;
  uint64_t max_blob_size = uint64_t{256} << 20;
  // The largest chunk WriteChunk accepts.
  size_t max_chunk_size = 256 * 1024;

  // Incomplete uploads older than this (since BeginUpload) are removed by DB::Sweep.
  std::chrono::milliseconds upload_ttl = std::chrono::hours(24);

  // Tombstones (and the record that answers 410 for a superseded id) older than
  // this are purged by DB::PurgeTombstones; a `since` older than the purge point
  // then gets a full snapshot with reset = true.
  std::chrono::milliseconds tombstone_horizon = std::chrono::hours(24 * 30);

  // Milliseconds since the Unix epoch. Injectable so tests need no sleeping;
  // empty means the system clock. Called under the writer lock: keep it cheap.
  std::function<uint64_t()> clock;

  // Open without write access (postbox-admin's read commands may use it).
  bool read_only = false;
};

}  // namespace postbox

#endif  // POSTBOX_OPTIONS_H_
