// Mailboxes, connections and push registrations.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>

#include "store/codec.h"
#include "store/store.h"

namespace postbox::store {
namespace {

// The secret is 32 random bytes, so a single salted SHA-256 is enough: there
// is nothing to brute-force that a slow KDF would protect.
std::array<uint8_t, 32> HashSecret(const std::array<uint8_t, 16>& salt, std::string_view secret) {
  std::array<uint8_t, 32> out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned len = 0;
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, salt.data(), salt.size()) != 1 ||
      EVP_DigestUpdate(ctx, secret.data(), secret.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out.data(), &len) != 1) {
    std::abort();  // OpenSSL cannot hash: authentication would be unsound.
  }
  EVP_MD_CTX_free(ctx);
  return out;
}

MailboxKey KeyFrom(std::string_view raw) { return MailboxKey::FromBytes(raw).value(); }

}  // namespace

std::string Base64Url(const uint8_t* data, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = uint32_t{data[i]} << 16;
    if (i + 1 < n) v |= uint32_t{data[i + 1]} << 8;
    if (i + 2 < n) v |= data[i + 2];
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    if (i + 1 < n) out.push_back(kAlphabet[v >> 6 & 63]);
    if (i + 2 < n) out.push_back(kAlphabet[v & 63]);
  }
  return out;
}

uint64_t Store::Now() const {
  if (options_.clock) return options_.clock();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Result<MailboxCredentials> Store::CreateMailbox(WriteCtx& w) const {
  MailboxCredentials creds;
  MailboxRecord rec;
  std::array<uint8_t, 32> secret{};
  if (RAND_bytes(secret.data(), 32) != 1 || RAND_bytes(rec.salt.data(), 16) != 1) {
    return Status::Internal("RAND_bytes failed: no secure randomness");
  }
  creds.secret = Base64Url(secret.data(), secret.size());
  // 128 random bits do not collide in practice, but a collision must not
  // overwrite someone's mailbox, so draw again if it happens.
  for (;;) {
    creds.mkey = MailboxKey::Random();
    POSTBOX_ASSIGN_OR_RETURN(auto existing,
                             w.txn.Get(w.txn.t().mailboxes, MailboxKeyBytes(creds.mkey)));
    if (!existing) break;
  }
  rec.hash = HashSecret(rec.salt, creds.secret);
  rec.created_ms = w.now_ms;
  POSTBOX_RETURN_IF_ERROR(
      w.txn.Put(w.txn.t().mailboxes, MailboxKeyBytes(creds.mkey), rec.Encode()));
  return creds;
}

Result<MailboxCredentials> Store::EnsureMailbox(WriteCtx& w, const MailboxKey& m,
                                                std::string_view secret) const {
  if (secret.size() > 256) return Status::InvalidArgument("a secret is at most 256 bytes");
  MailboxCredentials creds;
  creds.mkey = m;
  creds.secret = std::string(secret);
  POSTBOX_ASSIGN_OR_RETURN(auto existing, w.txn.Get(w.txn.t().mailboxes, MailboxKeyBytes(m)));
  MailboxRecord rec;
  if (existing) {
    if (secret.empty()) return creds;  // kept as it is
    POSTBOX_ASSIGN_OR_RETURN(rec, MailboxRecord::Decode(*existing));
  } else {
    rec.created_ms = w.now_ms;
    if (creds.secret.empty()) {
      std::array<uint8_t, 32> random{};
      if (RAND_bytes(random.data(), 32) != 1) {
        return Status::Internal("RAND_bytes failed: no secure randomness");
      }
      creds.secret = Base64Url(random.data(), random.size());
    }
  }
  if (RAND_bytes(rec.salt.data(), 16) != 1) {
    return Status::Internal("RAND_bytes failed: no secure randomness");
  }
  rec.hash = HashSecret(rec.salt, creds.secret);
  POSTBOX_RETURN_IF_ERROR(w.txn.Put(w.txn.t().mailboxes, MailboxKeyBytes(m), rec.Encode()));
  return creds;
}

Result<MailboxRecord> Store::RequireMailbox(Txn& t, const MailboxKey& m) const {
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().mailboxes, MailboxKeyBytes(m)));
  if (!raw) return Status::NotFound("no mailbox " + m.ToHex());
  return MailboxRecord::Decode(*raw);
}

Status Store::Authenticate(Txn& t, const MailboxKey& m, std::string_view secret) const {
  auto rec = RequireMailbox(t, m);
  if (!rec) {
    if (rec.error().Is(Code::kNotFound)) {
      return Status::Unauthenticated("unknown mailbox or wrong secret");
    }
    return rec.error();
  }
  auto hash = HashSecret(rec->salt, secret);
  if (CRYPTO_memcmp(hash.data(), rec->hash.data(), hash.size()) != 0) {
    return Status::Unauthenticated("unknown mailbox or wrong secret");
  }
  return Status();
}

Status Store::DeleteMailbox(WriteCtx& w, const MailboxKey& m) const {
  Txn& t = w.txn;
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, m).status());
  // Every live message of the mailbox has exactly one incoming or outgoing
  // record in its feed, so the feed is the index of what to remove.
  std::vector<MessageId> ids;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().feed, m.AsBytes(), m.AsBytes(), [&](std::string_view, std::string_view v) {
        auto rec = FeedRecord::Decode(v);
        if (rec && (rec->kind == FeedKind::kIncoming || rec->kind == FeedKind::kOutgoing)) {
          ids.push_back(MessageId::FromBytes(rec->item).value_or({}));
        }
        return true;
      }));
  for (const MessageId& id : ids) {
    POSTBOX_ASSIGN_OR_RETURN(auto msg, FindMessage(t, id));
    if (!msg) continue;
    POSTBOX_RETURN_IF_ERROR(RemoveMessage(w, id, *msg, m));
  }
  POSTBOX_RETURN_IF_ERROR(DeleteUploadsOf(w, m));
  POSTBOX_RETURN_IF_ERROR(DeleteConnectionsOf(w, m));
  POSTBOX_RETURN_IF_ERROR(RevokeEndpointsOf(w, m));
  POSTBOX_RETURN_IF_ERROR(t.DelPrefix(t.t().entries, m.AsBytes()).status());
  POSTBOX_RETURN_IF_ERROR(t.DelPrefix(t.t().feed, m.AsBytes()).status());
  // The tombstones' index keys go too: the mailbox made again under the same
  // key (WriteBatch::EnsureMailbox) counts its seqs from 0, and a key left
  // here would purge the new tombstone at the same seq before its horizon.
  // `tombs` is ordered by time, not mailbox: a whole scan, once per deletion.
  std::vector<std::string> tombs;
  POSTBOX_RETURN_IF_ERROR(t.Scan(t.t().tombs, "", "", [&](std::string_view k, std::string_view) {
    if (k.size() == 32 && k.substr(8, 16) == m.AsBytes() && ReadBE64(k.substr(24)) != 0) {
      tombs.emplace_back(k);
    }
    return true;
  }));
  for (const std::string& k : tombs) POSTBOX_RETURN_IF_ERROR(t.Del(t.t().tombs, k));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().push, MailboxKeyBytes(m)));
  if (t.t().kicks != 0) POSTBOX_RETURN_IF_ERROR(t.Del(t.t().kicks, MailboxKeyBytes(m)));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().mailboxes, MailboxKeyBytes(m)));
  w.changed->erase(m);
  // Counted so that a server (in this process or another) notices and ends
  // the deleted mailbox's sessions.
  POSTBOX_ASSIGN_OR_RETURN(uint64_t deletions, MailboxDeletions(t));
  std::string count;
  RecordWriter(&count).U64(deletions + 1);
  return t.Put(t.t().meta, kMailboxDeletionsName, count);
}

Result<bool> Store::FenceFeeds(Txn& t, std::optional<MailboxKey>* after, size_t max) const {
  std::vector<std::pair<std::string, MailboxRecord>> batch;
  const std::string from = *after ? MailboxKeyBytes(**after) + std::string(1, '\0') : "";
  Status bad;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().mailboxes, "", from, [&](std::string_view k, std::string_view v) {
        if (batch.size() >= max) return false;
        auto rec = MailboxRecord::Decode(v);
        if (!rec) {
          bad = rec.error();
          return false;
        }
        batch.emplace_back(std::string(k), *rec);
        return true;
      }));
  POSTBOX_RETURN_IF_ERROR(bad);
  for (auto& [key, rec] : batch) {
    // Far below the continuation cursor's top bit, also after many restores.
    if (rec.seq <= (uint64_t{1} << 62) - kFeedFenceGap) rec.seq += kFeedFenceGap;
    rec.purged_seq = rec.seq;
    POSTBOX_RETURN_IF_ERROR(t.Put(t.t().mailboxes, key, rec.Encode()));
  }
  if (!batch.empty()) *after = MailboxKey::FromBytes(batch.back().first).value_or(MailboxKey{});
  return batch.size() >= max;
}

Result<uint64_t> Store::MailboxDeletions(Txn& t) const {
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().meta, kMailboxDeletionsName));
  if (!raw) return uint64_t{0};
  RecordReader r(*raw);
  const uint64_t n = r.U64();
  if (!r.ok() || !r.done()) return Status::Internal("unreadable meta record mailbox_deletions");
  return n;
}

Result<MailboxInfo> Store::GetMailbox(Txn& t, const MailboxKey& m) const {
  POSTBOX_ASSIGN_OR_RETURN(MailboxRecord rec, RequireMailbox(t, m));
  MailboxInfo info;
  info.mkey = m;
  info.created_ms = rec.created_ms;
  info.seq = rec.seq;
  info.purged_seq = rec.purged_seq;
  POSTBOX_ASSIGN_OR_RETURN(PushRegistration push, GetPush(t, m));
  info.platform = push.platform;
  info.push_token = std::move(push.token);
  return info;
}

Result<std::vector<MailboxInfo>> Store::ListMailboxes(Txn& t, std::optional<MailboxKey> after,
                                                      size_t limit) const {
  std::vector<MailboxKey> keys;
  std::string from = after ? MailboxKeyBytes(*after) : std::string();
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().mailboxes, "", from, [&](std::string_view k, std::string_view) {
        if (after && k == from) return true;
        if (keys.size() >= limit) return false;
        keys.push_back(KeyFrom(k));
        return true;
      }));
  std::vector<MailboxInfo> out;
  for (const auto& k : keys) {
    POSTBOX_ASSIGN_OR_RETURN(MailboxInfo info, GetMailbox(t, k));
    out.push_back(std::move(info));
  }
  return out;
}

Status Store::RegisterPush(WriteCtx& w, const MailboxKey& m, Platform p,
                           std::string_view token) const {
  if (token.size() > options_.max_push_token_size) {
    return Status::TooLarge("push token is " + std::to_string(token.size()) +
                            " bytes; the limit is " + std::to_string(options_.max_push_token_size));
  }
  if (static_cast<uint8_t>(p) > static_cast<uint8_t>(Platform::kWeb)) {
    return Status::InvalidArgument("unknown platform");
  }
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(w.txn, m).status());
  if (p == Platform::kNone) return w.txn.Del(w.txn.t().push, MailboxKeyBytes(m));
  std::string rec;
  RecordWriter(&rec).U8(static_cast<uint8_t>(p)).Fixed(token);
  return w.txn.Put(w.txn.t().push, MailboxKeyBytes(m), rec);
}

Result<PushRegistration> Store::GetPush(Txn& t, const MailboxKey& m) const {
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().push, MailboxKeyBytes(m)));
  PushRegistration reg;
  if (!raw) return reg;
  RecordReader r(*raw);
  reg.platform = static_cast<Platform>(r.U8());
  reg.token = std::string(r.Rest());
  if (!r.ok()) return Status::Internal("corrupted push record");
  return reg;
}

}  // namespace postbox::store
