// The sync server's pending kicks (KEY_LAYOUT.md, `kicks`): one record per
// mailbox, written in the same transaction as the change it announces, so a
// committed change to an offline mailbox never loses its kick.
#include "store/codec.h"
#include "store/store.h"

namespace postbox::store {
namespace {

std::string EncodeKick(const PendingKick& k) {
  std::string out;
  RecordWriter(&out).U64(k.since).U64(k.first_change_ms).U64(k.due_ms).U32(k.attempts);
  return out;
}

Result<PendingKick> DecodeKick(std::string_view key, std::string_view value) {
  PendingKick k;
  auto mkey = MailboxKey::FromBytes(key);
  if (!mkey) return Status::Internal("corrupted kicks key");
  k.mkey = *mkey;
  RecordReader r(value);
  k.since = r.U64();
  k.first_change_ms = r.U64();
  k.due_ms = r.U64();
  k.attempts = r.U32();
  if (!r.ok() || !r.done()) return Status::Internal("corrupted kicks record of " + mkey->ToHex());
  return k;
}

Result<std::optional<PendingKick>> GetKick(Txn& t, const MailboxKey& m) {
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().kicks, MailboxKeyBytes(m)));
  if (!raw) return std::optional<PendingKick>();
  POSTBOX_ASSIGN_OR_RETURN(PendingKick k, DecodeKick(m.AsBytes(), *raw));
  return std::optional<PendingKick>(std::move(k));
}

}  // namespace

Status Store::ApplyKicks(WriteCtx& w, const ChangedMailboxes& changed, KickWork& work) const {
  Txn& t = w.txn;
  work.armed.clear();  // the op may run twice (DB::Write's second pass)
  const auto arm = [&](const MailboxKey& m, uint64_t since) -> Status {
    PendingKick k{.mkey = m,
                  .since = since,
                  .first_change_ms = w.now_ms,
                  .due_ms = w.now_ms + work.delay_ms,
                  .attempts = 0};
    POSTBOX_RETURN_IF_ERROR(t.Put(t.t().kicks, MailboxKeyBytes(m), EncodeKick(k)));
    work.armed.push_back(k);
    return Status();
  };
  for (const KickUpdate& u : work.updates) {
    POSTBOX_ASSIGN_OR_RETURN(std::optional<PendingKick> k, GetKick(t, u.mkey));
    if (!k) continue;
    if (u.kind != KickUpdate::Kind::kCancel && k->since != u.since) continue;  // another kick now
    POSTBOX_ASSIGN_OR_RETURN(auto mb, t.Get(t.t().mailboxes, MailboxKeyBytes(u.mkey)));
    if (!mb || u.kind == KickUpdate::Kind::kDrop) {
      POSTBOX_RETURN_IF_ERROR(t.Del(t.t().kicks, MailboxKeyBytes(u.mkey)));
      continue;
    }
    if (u.kind == KickUpdate::Kind::kRetry) {
      k->attempts = u.attempts;
      k->due_ms = u.due_ms;
      POSTBOX_RETURN_IF_ERROR(t.Put(t.t().kicks, MailboxKeyBytes(u.mkey), EncodeKick(*k)));
      continue;
    }
    // kDone, kCancel: changes after the covered cursor get a kick of their own.
    POSTBOX_ASSIGN_OR_RETURN(MailboxRecord rec, RequireMailbox(t, u.mkey));
    if (rec.seq > u.covered) {
      POSTBOX_RETURN_IF_ERROR(arm(u.mkey, u.covered));
    } else {
      POSTBOX_RETURN_IF_ERROR(t.Del(t.t().kicks, MailboxKeyBytes(u.mkey)));
    }
  }
  if (!work.offline) return Status();
  for (const auto& [m, since] : changed) {
    if (!work.offline(m)) continue;
    POSTBOX_ASSIGN_OR_RETURN(auto pending, t.Get(t.t().kicks, MailboxKeyBytes(m)));
    if (pending) continue;  // coalesced into the kick already waiting
    POSTBOX_ASSIGN_OR_RETURN(auto push, t.Get(t.t().push, MailboxKeyBytes(m)));
    if (!push) continue;  // no registration: nobody to kick
    POSTBOX_RETURN_IF_ERROR(arm(m, since));
  }
  return Status();
}

Result<std::vector<PendingKick>> Store::ListKicks(Txn& t, std::optional<MailboxKey> after,
                                                  size_t limit) const {
  std::vector<PendingKick> out;
  const std::string from = after ? MailboxKeyBytes(*after) : std::string();
  Status error;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().kicks, "", from, [&](std::string_view k, std::string_view v) {
        if (after && k == from) return true;
        if (limit != 0 && out.size() >= limit) return false;
        auto kick = DecodeKick(k, v);
        if (!kick) {
          error = kick.error();
          return false;
        }
        out.push_back(std::move(*kick));
        return true;
      }));
  POSTBOX_RETURN_IF_ERROR(error);
  return out;
}

}  // namespace postbox::store
