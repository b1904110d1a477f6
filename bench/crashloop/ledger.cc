#include "crashloop/ledger.h"

#include <algorithm>

namespace postbox::crashloop {
namespace {

constexpr size_t kLossesKept = 10;

uint64_t Fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

uint64_t SplitMix(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::string EntryValue(std::string_view key, uint64_t version) {
  std::string v = "crashloop key=" + std::string(key) + " version=" + std::to_string(version) + " ";
  uint64_t state = Fnv1a(key, version * 0x100000001b3ull + 7);
  const size_t filler = SplitMix(&state) % 1501;
  for (size_t i = 0; i < filler; ++i) v.push_back(static_cast<char>('a' + SplitMix(&state) % 26));
  return v;
}

Ledger::Ledger(std::vector<MailboxCredentials> mailboxes)
    : mailboxes_(std::move(mailboxes)), rises_(mailboxes_.size()) {}

void Ledger::AckEntry(size_t mailbox, const std::string& key, bool explicit_version,
                      uint64_t version) {
  std::lock_guard lock(mu_);
  ++acked_writes_;
  ++by_kind_.puts;
  Entry& e = entries_[key];
  e.mailbox = mailbox;
  e.explicit_version = explicit_version;
  e.version = std::max(e.version, version);
  last_key_ = key;
}

std::optional<std::pair<MailboxKey, std::string>> Ledger::LastEntry() const {
  std::lock_guard lock(mu_);
  if (last_key_.empty()) return std::nullopt;
  return std::make_pair(mailboxes_[entries_.at(last_key_).mailbox].mkey, last_key_);
}

void Ledger::AckUpload(size_t from, size_t to, const MessageId& id, uint64_t length,
                       const Digest128& digest) {
  std::lock_guard lock(mu_);
  ++acked_writes_;
  ++by_kind_.uploads;
  Upload& u = uploads_[id];
  u.from = from;
  u.to = to;
  u.length = length;
  u.digest = digest;
  rises_[to].push_back(id);
}

void Ledger::AckStatus(const MessageId& id, MessageStatus status) {
  std::lock_guard lock(mu_);
  ++acked_writes_;
  ++by_kind_.rises;
  Upload& u = uploads_.at(id);
  u.status = std::max(u.status, status);
}

std::optional<std::pair<MessageId, MessageStatus>> Ledger::TakeRise(size_t mailbox) {
  std::lock_guard lock(mu_);
  auto& q = rises_[mailbox];
  if (q.empty()) return std::nullopt;
  const MessageId id = q.front();
  q.pop_front();
  return std::make_pair(id, uploads_.at(id).status);
}

void Ledger::ReturnRise(size_t mailbox, const MessageId& id) {
  std::lock_guard lock(mu_);
  rises_[mailbox].push_back(id);
}

Ledger::Counts Ledger::acked_by_kind() const {
  std::lock_guard lock(mu_);
  return by_kind_;
}

uint64_t Ledger::lost() const {
  std::lock_guard lock(mu_);
  return lost_.size();
}

uint64_t Ledger::acked_writes() const {
  std::lock_guard lock(mu_);
  return acked_writes_;
}

AuditResult Ledger::Audit(const DB& db, bool rehash_all) {
  std::lock_guard lock(mu_);
  AuditResult r;
  // `record` names the acknowledged record ("entry KEY", "message ID").
  auto lose = [&](const std::string& record, const std::string& what) {
    ++r.lost;
    lost_.insert(record);
    if (r.losses.size() < kLossesKept) r.losses.push_back(record + ": " + what);
  };
  for (const auto& [key, e] : entries_) {
    ++r.records;
    const std::string record = "entry " + key;
    auto got = db.GetEntry(mailboxes_[e.mailbox].mkey, key);
    if (!got.ok()) {
      lose(record, "acked version " + std::to_string(e.version) + ", " + got.status().ToString());
      continue;
    }
    if (got->version < e.version) {
      lose(record,
           "version " + std::to_string(got->version) + " < acked " + std::to_string(e.version));
      continue;
    }
    if (got->value != EntryValue(key, e.explicit_version ? got->version : 0)) {
      lose(record,
           "the value at version " + std::to_string(got->version) + " is not the one written");
    }
  }
  for (auto& [id, u] : uploads_) {
    ++r.records;
    const std::string record = "message " + id.ToHex();
    const MailboxKey& from = mailboxes_[u.from].mkey;
    auto m = db.GetMessage(from, id);
    if (!m.ok()) {
      lose(record, m.status().ToString());
      continue;
    }
    if (m->length != u.length || m->digest != u.digest || m->to != mailboxes_[u.to].mkey) {
      lose(record, "stored length " + std::to_string(m->length) + " (acked " +
                       std::to_string(u.length) + "), digest or recipient differs");
      continue;
    }
    if (m->status < u.status) {
      lose(record, "status " + std::string(MessageStatusName(m->status)) + " < acked " +
                       std::string(MessageStatusName(u.status)));
      continue;
    }
    if (u.hashed && !rehash_all) continue;
    auto bytes = db.ReadBlob(from, id);
    ++r.blobs_hashed;
    if (!bytes.ok()) {
      lose(record, "blob: " + bytes.status().ToString());
      continue;
    }
    if (bytes->size() != u.length || ComputeDigest128(*bytes) != u.digest) {
      lose(record, "blob: " + std::to_string(bytes->size()) +
                       " bytes that do not hash to the acknowledged digest");
      continue;
    }
    u.hashed = true;
  }
  return r;
}

}  // namespace postbox::crashloop
