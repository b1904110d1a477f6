// Options for DB::Open. A plain value; copy freely.
#ifndef POSTBOX_OPTIONS_H_
#define POSTBOX_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "postbox/settings.h"

namespace postbox {

enum class Durability {
  // Every write is synced to disk (its pages, then the meta page that makes
  // them current) before the call returns: nothing acknowledged is lost by a
  // process or a system crash (power loss included, on a disk that honours
  // fdatasync).
  kDurable,
  // "Relaxed" (LMDB's MDB_NOMETASYNC): each write syncs its data pages but not
  // the meta page that makes them current; the next write's sync carries that
  // page to disk, and a background thread syncs every `relaxed_sync_interval`
  // so an idle store's last write gets there too. A process crash loses
  // nothing (the page cache survives it). A system crash (power loss, kernel
  // panic) may undo the last write committed before it (one transaction: one
  // call, or one batch) if no sync followed it, and leaves the store
  // consistent at the write before. One fdatasync per write instead of two.
  kRelaxed,
};

enum class PostingPolicy {
  // Posting needs a connection between sender and recipient (403 otherwise).
  kConnected,
  // Anyone who knows a mailbox key may post to it (the mkey is the capability).
  kOpen,
};

// The fields marked "remembered" are settings the store remembers
// (settings.h, docs/operations.md): a new store stores them, and every later
// open must ask for the stored values or take them (adopt_stored). The others
// are this open's alone.
struct Options {
  Durability durability = Durability::kDurable;
  std::chrono::milliseconds relaxed_sync_interval{1000};
  // Batches of only status updates, entry writes and deletions (and the sync
  // server's kick records) commit their changes as one compact record in a
  // pending table instead of rewriting each changed page: as durable, a few
  // pages per commit instead of dozens. Once the pending records reach this
  // many bytes, the next batch first folds them into the tables (so does any
  // other write). Reads see pending changes at once. 0 writes every change in
  // place. docs/durability.md "Durable writes at depth 1".
  uint64_t pending_bytes = uint64_t{1} << 20;

  // The most the store's data may take. The LMDB map is reserved at this size
  // when the store opens (address space only: the file grows as pages are
  // written), so it never has to grow. At least 1 MiB. If another process
  // opened the store with a larger max_map_size and filled past this one, the
  // larger map is adopted and its size is the limit.
  uint64_t max_map_size = uint64_t{64} << 30;
  // Headroom kept for ops that free space. Ops that grow the store
  // (CreateMailbox, Connect, RegisterPush with a token, PutEntry, PostMessage,
  // BeginUpload, WriteChunk, RequestConnection) are refused with
  // ResourceExhausted ("storage full: ...") once the pages in use reach
  // max_map_size − storage_reserve, or once the disk's free space plus the
  // store's free pages fall below it; deletes, aborts, commits of uploads,
  // status updates, sweeps and purges may use the reserve, so a full store can
  // always be freed. The check runs before each batch, so one batch may
  // overshoot by its own size: keep the reserve above the largest batch's
  // growth. Unset: max(256 MiB, max_map_size / 32), but at most max_map_size / 4
  // (the sync server's group commits carry at most 64 MiB of payload; a small
  // map's quarter may be less than that). Must be below max_map_size.
  std::optional<uint64_t> storage_reserve;

  // Remembered. Live messages per slot (from, to, topic); posting into a full
  // slot supersedes the oldest. At least 1.
  uint32_t slot_depth = 1;
  // Remembered.
  PostingPolicy posting_policy = PostingPolicy::kConnected;
  // Connection requests a mailbox may have waiting for their peers' consent
  // (BackOff past it): bounds what one mailbox can make the store hold.
  size_t max_pending_connections = 1000;

  // Size limits (TooLarge past them). The six from max_key_size to
  // max_blob_size are remembered; max_key_size is at most 495 (an LMDB key
  // holds the 16-byte mailbox key too), max_topic_size at most 255 and
  // max_meta_size at most 65535 (their lengths are stored in 1 and 2 bytes).
  size_t max_key_size = 256;
  size_t max_value_size = 64 * 1024;
  size_t max_topic_size = 64;
  size_t max_meta_size = 1024;
  size_t max_push_token_size = 4096;
  // Web Push endpoints: live ones per mailbox (BackOff past it), app id bytes.
  size_t max_endpoints_per_mailbox = 64;
  size_t max_app_id_size = 256;
  uint64_t max_blob_size = uint64_t{256} << 20;
  // The largest chunk WriteChunk accepts.
  size_t max_chunk_size = 256 * 1024;

  // Remembered. Incomplete uploads older than this (since BeginUpload) are
  // removed by DB::Sweep.
  std::chrono::milliseconds upload_ttl = std::chrono::hours(24);

  // Remembered. Tombstones (and the record that answers 410 for a superseded id) older than
  // this are purged by DB::PurgeTombstones; a `since` older than the purge point
  // then gets a full snapshot with reset = true.
  std::chrono::milliseconds tombstone_horizon = std::chrono::hours(24 * 30);

  // Milliseconds since the Unix epoch. Injectable so tests need no sleeping;
  // empty means the system clock. Called under the writer lock: keep it cheap.
  std::function<uint64_t()> clock;

  // Open without write access (postbox-admin's read commands may use it).
  bool read_only = false;

  // The remembered settings this open takes from the store instead of from
  // the fields above. A setting not in this set must equal the stored value,
  // or DB::Open fails with InvalidArgument naming each differing setting with
  // both values (stored and asked). A setting in it takes the stored value;
  // its field here counts only where the store has none — a new store, or one
  // made before stores remembered settings — and is then written into the
  // store (read-only opens write nothing). DB::options() returns the values
  // in force, DB::settings_note() what opening did about them. Empty (the
  // default): every field above is what the caller insists on. A host whose
  // operator may leave settings unset (postbox-server, postbox-admin) puts
  // those here; SettingSet::All() takes whatever the store says.
  SettingSet adopt_stored;
};

}  // namespace postbox

#endif  // POSTBOX_OPTIONS_H_
