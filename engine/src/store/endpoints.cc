// Web Push endpoints (docs/notifications.md): a mailbox's registrations of an
// app id (and an optional VAPID key) under an unguessable token, which app
// servers address over HTTP. Layout in KEY_LAYOUT.md (`endpoints`,
// `mailbox_endpoints`, `endpoint_revoked`).
#include <openssl/rand.h>

#include "store/codec.h"
#include "store/store.h"

namespace postbox::store {
namespace {

struct EndpointRecord {
  MailboxKey mkey;
  uint64_t created_ms = 0;
  uint64_t revoked_ms = 0;  // 0: live
  std::string app_id;
  std::string vapid_public_key;

  std::string Encode() const {
    std::string out;
    RecordWriter(&out)
        .Fixed(mkey.AsBytes())
        .U64(created_ms)
        .U64(revoked_ms)
        .Bytes16(app_id)
        .Bytes16(vapid_public_key);
    return out;
  }
  static Result<EndpointRecord> Decode(std::string_view in) {
    RecordReader r(in);
    EndpointRecord rec;
    auto mkey = MailboxKey::FromBytes(r.Fixed(16));
    rec.created_ms = r.U64();
    rec.revoked_ms = r.U64();
    rec.app_id = std::string(r.Bytes16());
    rec.vapid_public_key = std::string(r.Bytes16());
    if (!r.ok() || !r.done() || !mkey) return Status::Internal("corrupted endpoint record");
    rec.mkey = *mkey;
    return rec;
  }
  EndpointInfo Info(std::string_view token) const {
    return EndpointInfo{.token = std::string(token),
                        .mkey = mkey,
                        .app_id = app_id,
                        .vapid_public_key = vapid_public_key,
                        .created_ms = created_ms,
                        .revoked_ms = revoked_ms};
  }
};

std::string MailboxEndpointKey(const MailboxKey& m, std::string_view token) {
  std::string k(m.AsBytes());
  k.append(token);
  return k;
}

std::string RevokedKey(uint64_t revoked_ms, std::string_view token) {
  std::string k;
  AppendBE64(k, revoked_ms);
  k.append(token);
  return k;
}

Result<std::optional<EndpointRecord>> Load(Txn& t, std::string_view token) {
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().endpoints, token));
  if (!raw) return std::optional<EndpointRecord>();
  POSTBOX_ASSIGN_OR_RETURN(EndpointRecord rec, EndpointRecord::Decode(*raw));
  return std::optional<EndpointRecord>(std::move(rec));
}

// The live endpoints of `m`, in token order.
Result<std::vector<std::pair<std::string, EndpointRecord>>> LiveOf(Txn& t, const MailboxKey& m) {
  std::vector<std::string> tokens;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().mailbox_endpoints, m.AsBytes(), "", [&](std::string_view k, std::string_view) {
        tokens.emplace_back(k.substr(16));
        return true;
      }));
  std::vector<std::pair<std::string, EndpointRecord>> out;
  for (std::string& token : tokens) {
    POSTBOX_ASSIGN_OR_RETURN(auto rec, Load(t, token));
    if (!rec) return Status::Internal("endpoint index names a missing endpoint");
    out.emplace_back(std::move(token), std::move(*rec));
  }
  return out;
}

Status Revoke(WriteCtx& w, std::string_view token, EndpointRecord rec) {
  Txn& t = w.txn;
  rec.revoked_ms = std::max<uint64_t>(w.now_ms, 1);
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().endpoints, token, rec.Encode()));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().mailbox_endpoints, MailboxEndpointKey(rec.mkey, token)));
  return t.Put(t.t().endpoint_revoked, RevokedKey(rec.revoked_ms, token), "");
}

}  // namespace

Result<EndpointInfo> Store::RegisterEndpoint(WriteCtx& w, const MailboxKey& m,
                                             std::string_view app_id,
                                             std::string_view vapid_public_key) const {
  if (app_id.empty() || app_id.size() > options_.max_app_id_size) {
    return Status::InvalidArgument("app id must be 1 to " +
                                   std::to_string(options_.max_app_id_size) + " bytes, not " +
                                   std::to_string(app_id.size()));
  }
  if (!vapid_public_key.empty() &&
      (vapid_public_key.size() != 65 || static_cast<uint8_t>(vapid_public_key[0]) != 0x04)) {
    return Status::InvalidArgument(
        "a VAPID key is an uncompressed P-256 point: 65 bytes starting with 0x04");
  }
  Txn& t = w.txn;
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, m).status());
  POSTBOX_ASSIGN_OR_RETURN(auto live, LiveOf(t, m));
  size_t others = 0;
  for (auto& [token, rec] : live) {
    if (rec.app_id != app_id) {
      ++others;
      continue;
    }
    // The same app again: its endpoint, unless the key changed (then the old
    // endpoint is revoked: app servers holding it get 410).
    if (rec.vapid_public_key == vapid_public_key) return rec.Info(token);
    POSTBOX_RETURN_IF_ERROR(Revoke(w, token, rec));
  }
  if (others >= options_.max_endpoints_per_mailbox) {
    return Status(Code::kBackOff, "the mailbox has " + std::to_string(others) +
                                      " endpoints (max_endpoints_per_mailbox): revoke one first");
  }
  EndpointRecord rec{.mkey = m,
                     .created_ms = w.now_ms,
                     .revoked_ms = 0,
                     .app_id = std::string(app_id),
                     .vapid_public_key = std::string(vapid_public_key)};
  std::string token;
  for (;;) {  // 128 random bits: a repeat is only drawn again, never overwritten
    std::array<uint8_t, 16> random{};
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
      return Status::Internal("RAND_bytes failed: no secure randomness");
    }
    token = Base64Url(random.data(), random.size());
    POSTBOX_ASSIGN_OR_RETURN(auto existing, t.Get(t.t().endpoints, token));
    if (!existing) break;
  }
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().endpoints, token, rec.Encode()));
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().mailbox_endpoints, MailboxEndpointKey(m, token), ""));
  return rec.Info(token);
}

Status Store::RevokeEndpoint(WriteCtx& w, const MailboxKey& m, std::string_view token) const {
  POSTBOX_ASSIGN_OR_RETURN(auto rec, Load(w.txn, token));
  if (!rec || rec->mkey != m || rec->revoked_ms != 0) {
    return Status::NotFound("no live endpoint '" + std::string(token) + "' of this mailbox");
  }
  return Revoke(w, token, std::move(*rec));
}

Result<std::vector<EndpointInfo>> Store::ListEndpoints(Txn& t, const MailboxKey& m,
                                                       std::string_view after, size_t limit) const {
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, m).status());
  std::vector<std::string> tokens;
  const std::string from = MailboxEndpointKey(m, after);
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().mailbox_endpoints, m.AsBytes(), from, [&](std::string_view k, std::string_view) {
        if (!after.empty() && k == from) return true;  // start after it
        if (tokens.size() >= limit) return false;
        tokens.emplace_back(k.substr(16));
        return true;
      }));
  std::vector<EndpointInfo> out;
  for (const std::string& token : tokens) {
    POSTBOX_ASSIGN_OR_RETURN(auto rec, Load(t, token));
    if (!rec) return Status::Internal("endpoint index names a missing endpoint");
    out.push_back(rec->Info(token));
  }
  return out;
}

Result<EndpointInfo> Store::GetEndpoint(Txn& t, std::string_view token) const {
  POSTBOX_ASSIGN_OR_RETURN(auto rec, Load(t, token));
  if (!rec) return Status::NotFound("no endpoint '" + std::string(token) + "'");
  return rec->Info(token);
}

Status Store::RevokeEndpointsOf(WriteCtx& w, const MailboxKey& m) const {
  POSTBOX_ASSIGN_OR_RETURN(auto live, LiveOf(w.txn, m));
  for (auto& [token, rec] : live) POSTBOX_RETURN_IF_ERROR(Revoke(w, token, std::move(rec)));
  return Status::Ok();
}

Result<size_t> Store::PurgeRevokedEndpoints(WriteCtx& w, size_t max_items) const {
  Txn& t = w.txn;
  const uint64_t horizon = static_cast<uint64_t>(options_.tombstone_horizon.count());
  if (w.now_ms < horizon) return size_t{0};
  const uint64_t cutoff = w.now_ms - horizon;
  std::vector<std::string> due;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().endpoint_revoked, "", "", [&](std::string_view k, std::string_view) {
        if (due.size() >= max_items || ReadBE64(k) >= cutoff) return false;
        due.emplace_back(k);
        return true;
      }));
  for (const std::string& k : due) {
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().endpoint_revoked, k));
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().endpoints, std::string_view(k).substr(8)));
  }
  return due.size();
}

}  // namespace postbox::store
