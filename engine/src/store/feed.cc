// The per-mailbox feed: one record per item at its latest change, the info
// packet built from it, and the purge of old tombstones.
#include "store/codec.h"
#include "store/store.h"

namespace postbox::store {
namespace {

bool IsTombstone(FeedKind k) {
  return k == FeedKind::kMessageTombstone || k == FeedKind::kEntryTombstone;
}

}  // namespace

Result<uint64_t> Store::MoveFeedItem(WriteCtx& w, const MailboxKey& m, uint64_t old_seq,
                                     const FeedRecord& rec) const {
  Txn& t = w.txn;
  POSTBOX_ASSIGN_OR_RETURN(MailboxRecord mb, RequireMailbox(t, m));
  if (old_seq != 0) POSTBOX_RETURN_IF_ERROR(t.Del(t.t().feed, FeedKey(m, old_seq)));
  const uint64_t seq = ++mb.seq;
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().mailboxes, MailboxKeyBytes(m), mb.Encode()));
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().feed, FeedKey(m, seq), rec.Encode()));
  if (IsTombstone(rec.kind)) {
    POSTBOX_RETURN_IF_ERROR(t.Put(t.t().tombs, TombKey(w.now_ms, m, seq), ""));
  }
  w.changed->emplace(m, seq - 1);  // the first change of the transaction keeps its seq
  return seq;
}

Result<InfoPacket> Store::Changes(Txn& t, const MailboxKey& m, uint64_t since, size_t limit) const {
  POSTBOX_ASSIGN_OR_RETURN(MailboxRecord mb, RequireMailbox(t, m));
  InfoPacket packet;
  uint64_t start;
  if ((since & kSnapshotCursorBit) != 0) {
    // The next page of a reset snapshot: go on from where it stopped, even
    // below the purge point (the client rebuilds its state from the snapshot,
    // so a tombstone purged meanwhile cannot be missed).
    start = since & ~kSnapshotCursorBit;
    packet.reset = start > mb.seq;
    if (packet.reset) start = 0;
  } else {
    // A client below the purge point may have missed a purged tombstone; one
    // above the sequence remembers another store. Both get the full snapshot.
    packet.reset = since < mb.purged_seq || since > mb.seq;
    start = packet.reset ? 0 : since;
  }
  packet.since = packet.reset ? 0 : since;
  size_t count = 0;
  uint64_t last = start;
  Status error;
  POSTBOX_RETURN_IF_ERROR(t.Scan(
      t.t().feed, m.AsBytes(), FeedKey(m, start + 1), [&](std::string_view k, std::string_view v) {
        if (limit != 0 && count >= limit) {
          packet.more = true;
          return false;
        }
        const uint64_t seq = ReadBE64(k.substr(16));
        auto rec = FeedRecord::Decode(v);
        if (!rec) {
          error = rec.error();
          return false;
        }
        switch (rec->kind) {
          case FeedKind::kIncoming:
          case FeedKind::kOutgoing: {
            auto id = MessageId::FromBytes(rec->item).value_or({});
            auto msg = FindMessage(t, id);
            if (!msg || !msg->has_value()) {
              error = msg ? Status::Internal("feed names a missing message") : msg.error();
              return false;
            }
            (rec->kind == FeedKind::kIncoming ? packet.incoming : packet.outgoing)
                .push_back((*msg)->ToInfo(id, seq));
            break;
          }
          case FeedKind::kEntry: {
            auto raw = t.Get(t.t().entries, EntryKey(m, rec->item));
            if (!raw || !raw->has_value()) {
              error = raw ? Status::Internal("feed names a missing entry") : raw.error();
              return false;
            }
            auto entry = EntryRecord::Decode(**raw);
            if (!entry) {
              error = entry.error();
              return false;
            }
            packet.entries.push_back(
                EntryInfo{std::move(rec->item), std::move(entry->value), entry->version, seq});
            break;
          }
          case FeedKind::kMessageTombstone:
            packet.tombstones.push_back({TombstoneKind::kMessage, std::move(rec->item), 0, seq});
            break;
          case FeedKind::kEntryTombstone:
            packet.tombstones.push_back(
                {TombstoneKind::kEntry, std::move(rec->item), rec->version, seq});
            break;
        }
        ++count;
        last = seq;
        return true;
      }));
  POSTBOX_RETURN_IF_ERROR(error);
  packet.cursor = packet.more ? last : mb.seq;
  // A snapshot page that stops below the purge point would be answered with
  // the snapshot's first page again; mark its cursor as a continuation.
  if (packet.more && last < mb.purged_seq) packet.cursor |= kSnapshotCursorBit;
  return packet;
}

// Removes what a `tombs` key names: a feed tombstone, if it is still one (true),
// or a gone record (false: not a feed tombstone, so not counted); false for a
// stale key.
static Result<bool> PurgeOne(Txn& t, std::string_view k) {
  const uint64_t seq = ReadBE64(k.substr(24));
  if (seq == 0) {
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().gone, k.substr(8, 16)));
    return false;
  }
  const MailboxKey m = MailboxKey::FromBytes(k.substr(8, 16)).value_or({});
  POSTBOX_ASSIGN_OR_RETURN(auto mb_raw, t.Get(t.t().mailboxes, MailboxKeyBytes(m)));
  if (!mb_raw) return false;  // the mailbox was deleted, its feed with it
  POSTBOX_ASSIGN_OR_RETURN(MailboxRecord mb, MailboxRecord::Decode(*mb_raw));
  const std::string feed_key = FeedKey(m, seq);
  POSTBOX_ASSIGN_OR_RETURN(auto feed_raw, t.Get(t.t().feed, feed_key));
  if (!feed_raw) return false;  // a later change moved the item on
  POSTBOX_ASSIGN_OR_RETURN(FeedRecord rec, FeedRecord::Decode(*feed_raw));
  if (!IsTombstone(rec.kind)) return false;
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().feed, feed_key));
  if (rec.kind == FeedKind::kEntryTombstone) {
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().entries, EntryKey(m, rec.item)));
  }
  mb.purged_seq = std::max(mb.purged_seq, seq);
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().mailboxes, MailboxKeyBytes(m), mb.Encode()));
  return true;
}

Result<size_t> Store::PurgeTombstones(WriteCtx& w, size_t max_items) const {
  Txn& t = w.txn;
  const uint64_t horizon = static_cast<uint64_t>(options_.tombstone_horizon.count());
  if (w.now_ms < horizon) return size_t{0};
  const uint64_t cutoff = w.now_ms - horizon;
  // Stale index keys (the item changed again, or its mailbox was deleted) and
  // gone records are handled on the way and do not count toward max_items, so
  // a call that returns less than max_items leaves nothing past the horizon.
  size_t purged = 0;
  for (bool more = true; more && purged < max_items;) {
    std::vector<std::string> due;
    POSTBOX_RETURN_IF_ERROR(t.Scan(t.t().tombs, "", "", [&](std::string_view k, std::string_view) {
      if (due.size() >= max_items - purged || ReadBE64(k) >= cutoff) return false;
      due.emplace_back(k);
      return true;
    }));
    more = due.size() == max_items - purged;
    for (const std::string& k : due) {
      POSTBOX_RETURN_IF_ERROR(t.Del(t.t().tombs, k));
      POSTBOX_ASSIGN_OR_RETURN(bool removed, PurgeOne(t, k));
      if (removed) ++purged;
    }
  }
  return purged;
}

}  // namespace postbox::store
