// The model's rules, one function per engine operation, each checking errors
// in the order docs/engine.md lists them. Where the docs leave an order open
// inside one transaction, the comment at that spot says which order the model
// takes and why.
#include "tests/property/engine/model.h"

#include <algorithm>

namespace postbox::model {
namespace {

Status CheckSize(size_t size, size_t limit) {
  return size <= limit ? Status() : Status::TooLarge("over the limit");
}

Status CheckEntryKey(std::string_view key, const Options& options) {
  if (key.empty()) return Status::InvalidArgument("empty key");
  return CheckSize(key.size(), options.max_key_size);
}

bool ValidStatus(MessageStatus s) {
  return s >= MessageStatus::kUploaded && s <= MessageStatus::kViewed;
}

}  // namespace

Model::Mailbox* Model::Find(const MailboxKey& mkey) {
  auto it = mailboxes_.find(mkey);
  return it == mailboxes_.end() ? nullptr : &it->second;
}

const Model::Mailbox* Model::Find(const MailboxKey& mkey) const {
  auto it = mailboxes_.find(mkey);
  return it == mailboxes_.end() ? nullptr : &it->second;
}

// ---- Mailboxes ----

void Model::CreateMailbox(const MailboxCredentials& credentials, uint64_t now_ms) {
  Mailbox& m = mailboxes_[credentials.mkey];
  m.info.mkey = credentials.mkey;
  m.info.created_ms = now_ms;
  m.secret = credentials.secret;
}

Result<MailboxCredentials> Model::EnsureMailbox(const MailboxKey& mkey, std::string_view secret,
                                                uint64_t now_ms) {
  // Form first (docs/engine.md "Errors and their order"); "" is no secret,
  // not a short one.
  if (secret.size() > 256) return Status::InvalidArgument("secret over 256 bytes");
  Mailbox* m = Find(mkey);
  if (m == nullptr) {
    // A new mailbox, or a deleted one made again: it has declined nothing,
    // and the requests others sent its key meanwhile stand (docs/engine.md
    // "Connections: consent"), so they are incoming (asking back connects).
    m = &mailboxes_[mkey];
    m->info.mkey = mkey;
    m->info.created_ms = now_ms;
  }
  if (!secret.empty()) m->secret = std::string(secret);
  return MailboxCredentials{mkey, std::string(secret)};
}

Status Model::Authenticate(const MailboxKey& mkey, std::string_view secret) const {
  const Mailbox* m = Find(mkey);
  if (m == nullptr || !m->secret || *m->secret != secret) {
    return Status::Unauthenticated("no");
  }
  return Status();
}

Status Model::DeleteMailbox(const MailboxKey& mkey, uint64_t now_ms) {
  Mailbox* m = Find(mkey);
  if (m == nullptr) return Status::NotFound("no mailbox");
  // The docs leave open in which order the peers' tombstones are written when
  // one deletion removes several messages; the model takes the order of the
  // deleted mailbox's own feed (oldest change first), the one natural order a
  // store has at hand.
  std::vector<MessageId> ids;
  for (const auto& [seq, item] : m->by_seq) {
    if (item.is_entry || m->feed.at(item).tombstone) continue;
    ids.push_back(MessageId::FromBytes(item.key).value());
  }
  for (const MessageId& id : ids) RemoveMessage(id, now_ms, &mkey);
  for (const MailboxKey& peer : m->connections) mailboxes_.at(peer).connections.erase(mkey);
  mailboxes_.erase(mkey);
  changed_.erase(mkey);
  return Status();
}

Result<MailboxInfo> Model::GetMailbox(const MailboxKey& mkey) const {
  const Mailbox* m = Find(mkey);
  if (m == nullptr) return Status::NotFound("no mailbox");
  return m->info;
}

std::vector<MailboxInfo> Model::ListMailboxes(std::optional<MailboxKey> start_after,
                                              size_t limit) const {
  std::vector<MailboxInfo> out;
  for (const auto& [key, m] : mailboxes_) {
    if (start_after && key <= *start_after) continue;
    if (out.size() >= limit) break;
    out.push_back(m.info);
  }
  return out;
}

std::vector<MailboxKey> Model::LiveMailboxes() const {
  std::vector<MailboxKey> out;
  for (const auto& [key, m] : mailboxes_) out.push_back(key);
  return out;
}

// ---- Connections and push ----

namespace {
// Forgets every request between two mailboxes that are now connected.
void ForgetRequests(std::set<MailboxKey>* requested, std::set<MailboxKey>* declined,
                    const MailboxKey& peer) {
  requested->erase(peer);
  declined->erase(peer);
}
}  // namespace

Status Model::Connect(const MailboxKey& a, const MailboxKey& b) {
  if (a == b) return Status::InvalidArgument("self");
  Mailbox* ma = Find(a);
  Mailbox* mb = Find(b);
  if (ma == nullptr || mb == nullptr) return Status::NotFound("no mailbox");
  ma->connections.insert(b);
  mb->connections.insert(a);
  ForgetRequests(&ma->requested, &ma->declined, b);
  ForgetRequests(&mb->requested, &mb->declined, a);
  return Status();
}

Result<ConnectionState> Model::RequestConnection(const MailboxKey& actor, const MailboxKey& peer) {
  if (actor == peer) return Status::InvalidArgument("self");
  Mailbox* ma = Find(actor);
  if (ma == nullptr) return Status::NotFound("no mailbox");
  if (ma->connections.count(peer) > 0) return ConnectionState::kConnected;
  Mailbox* mb = Find(peer);
  if (mb != nullptr && mb->requested.count(actor) > 0) {
    POSTBOX_RETURN_IF_ERROR(Connect(actor, peer));
    return ConnectionState::kConnected;
  }
  if (ma->requested.count(peer) > 0) return ConnectionState::kRequested;
  if (ma->requested.size() >= options_.max_pending_connections) {
    return Status(Code::kBackOff, "too many requests");
  }
  ma->requested.insert(peer);
  if (mb != nullptr) mb->declined.erase(actor);  // a fresh request is seen again
  return ConnectionState::kRequested;
}

Status Model::Disconnect(const MailboxKey& actor, const MailboxKey& peer) {
  Mailbox* ma = Find(actor);
  if (ma == nullptr) return Status::NotFound("no mailbox");
  ma->connections.erase(peer);
  if (Mailbox* mb = Find(peer)) mb->connections.erase(actor);
  ma->requested.erase(peer);
  ma->declined.insert(peer);
  return Status();
}

Result<bool> Model::IsConnected(const MailboxKey& a, const MailboxKey& b) const {
  const Mailbox* ma = Find(a);
  if (ma == nullptr || Find(b) == nullptr) return Status::NotFound("no mailbox");
  return ma->connections.count(b) > 0;
}

Result<std::vector<MailboxKey>> Model::ListConnections(const MailboxKey& mkey,
                                                       std::optional<MailboxKey> start_after,
                                                       size_t limit,
                                                       ConnectionListKind kind) const {
  const Mailbox* m = Find(mkey);
  if (m == nullptr) return Status::NotFound("no mailbox");
  std::set<MailboxKey> peers;
  switch (kind) {
    case ConnectionListKind::kConnected:
      peers = m->connections;
      break;
    case ConnectionListKind::kRequested:
      peers = m->requested;
      break;
    case ConnectionListKind::kIncoming:
      for (const auto& [key, other] : mailboxes_) {
        if (other.requested.count(mkey) > 0 && m->declined.count(key) == 0) peers.insert(key);
      }
      break;
  }
  std::vector<MailboxKey> out;
  for (const MailboxKey& peer : peers) {
    if (start_after && peer <= *start_after) continue;
    if (out.size() >= limit) break;
    out.push_back(peer);
  }
  return out;
}

Status Model::RegisterPush(const MailboxKey& mkey, Platform platform, std::string_view token) {
  POSTBOX_RETURN_IF_ERROR(CheckSize(token.size(), options_.max_push_token_size));
  Mailbox* m = Find(mkey);
  if (m == nullptr) return Status::NotFound("no mailbox");
  // Platform kNone clears the registration, token included.
  m->info.platform = platform;
  m->info.push_token = platform == Platform::kNone ? std::string() : std::string(token);
  return Status();
}

Result<PushRegistration> Model::GetPush(const MailboxKey& mkey) const {
  const Mailbox* m = Find(mkey);
  if (m == nullptr) return Status::NotFound("no mailbox");
  return PushRegistration{m->info.platform, m->info.push_token};
}

// ---- Entries ----

Result<EntryPutResult> Model::PutEntry(const MailboxKey& mkey, std::string_view key,
                                       std::string_view value, uint64_t version, uint64_t now_ms) {
  POSTBOX_RETURN_IF_ERROR(CheckEntryKey(key, options_));
  POSTBOX_RETURN_IF_ERROR(CheckSize(value.size(), options_.max_value_size));
  return MergeInto(mkey, key, value, version, false, now_ms);
}

Result<EntryPutResult> Model::DeleteEntry(const MailboxKey& mkey, std::string_view key,
                                          uint64_t version, uint64_t now_ms) {
  POSTBOX_RETURN_IF_ERROR(CheckEntryKey(key, options_));
  return MergeInto(mkey, key, "", version, true, now_ms);
}

Result<EntryPutResult> Model::MergeInto(const MailboxKey& mkey, std::string_view key,
                                        std::string_view value, uint64_t version, bool deleted,
                                        uint64_t now_ms) {
  Mailbox* m = Find(mkey);
  if (m == nullptr) return Status::NotFound("no mailbox");
  auto it = m->entries.find(std::string(key));
  const uint64_t stored = it == m->entries.end() ? 0 : it->second.state.version;
  EntryState incoming{version == 0 ? stored + 1 : version, deleted,
                      deleted ? std::string() : std::string(value)};
  // An absent key has no state to lose against; anything else must rank above.
  if (it != m->entries.end() && !EntryRanksAbove(incoming, it->second.state)) {
    return EntryPutResult{false, stored};
  }
  const uint64_t applied_version = incoming.version;
  m->entries[std::string(key)] = StoredEntry{std::move(incoming), deleted ? now_ms : 0};
  Bump(*m, ItemKey{true, std::string(key)}, deleted, now_ms);
  return EntryPutResult{true, applied_version};
}

Result<EntryInfo> Model::GetEntry(const MailboxKey& mkey, std::string_view key) const {
  POSTBOX_RETURN_IF_ERROR(CheckEntryKey(key, options_));
  const Mailbox* m = Find(mkey);
  if (m == nullptr) return Status::NotFound("no mailbox");
  auto it = m->entries.find(std::string(key));
  if (it == m->entries.end() || it->second.state.deleted) return Status::NotFound("no entry");
  return EntryInfo{it->first, it->second.state.value, it->second.state.version, 0};
}

Result<std::vector<EntryInfo>> Model::ListEntries(const MailboxKey& mkey, std::string_view prefix,
                                                  std::string_view start_after,
                                                  size_t limit) const {
  const Mailbox* m = Find(mkey);
  if (m == nullptr) return Status::NotFound("no mailbox");
  std::vector<EntryInfo> out;
  for (const auto& [key, stored] : m->entries) {
    if (!std::string_view(key).starts_with(prefix)) continue;
    if (!start_after.empty() && std::string_view(key) <= start_after) continue;
    if (stored.state.deleted) continue;
    if (out.size() >= limit) break;
    out.push_back(EntryInfo{key, stored.state.value, stored.state.version, 0});
  }
  return out;
}

std::optional<EntryState> Model::EntryStateOf(const MailboxKey& mkey, std::string_view key) const {
  const Mailbox* m = Find(mkey);
  if (m == nullptr) return std::nullopt;
  auto it = m->entries.find(std::string(key));
  if (it == m->entries.end()) return std::nullopt;
  return it->second.state;
}

uint64_t Model::EntryCount() const {
  uint64_t n = 0;
  for (const auto& [key, m] : mailboxes_) n += m.entries.size();
  return n;
}

uint64_t Model::FeedRecordCount() const {
  uint64_t n = 0;
  for (const auto& [key, m] : mailboxes_) n += m.feed.size();
  return n;
}

// ---- Messages ----

Result<MessageInfo> Model::PostMessage(const PostRequest& r, uint64_t now_ms) {
  POSTBOX_RETURN_IF_ERROR(CheckSize(r.topic.size(), options_.max_topic_size));
  POSTBOX_RETURN_IF_ERROR(CheckSize(r.meta.size(), options_.max_meta_size));
  POSTBOX_RETURN_IF_ERROR(CheckSize(r.bytes.size(), options_.max_blob_size));
  // A message's parties are two mailboxes: a post to oneself is malformed
  // under every policy, before the mailboxes are looked up.
  if (r.from == r.to) return Status::InvalidArgument("a mailbox cannot post to itself");
  Mailbox* from = Find(r.from);
  Mailbox* to = Find(r.to);
  if (from == nullptr) return Status::NotFound("no mailbox");
  // Under the connected policy an unknown recipient is "not connected" too.
  if (options_.posting_policy == PostingPolicy::kConnected && from->connections.count(r.to) == 0) {
    return Status::PermissionDenied("not connected");
  }
  if (to == nullptr) return Status::NotFound("no mailbox");
  const Digest128 digest = ComputeDigest128(r.bytes);
  if (auto it = messages_.find(r.id); it != messages_.end()) {
    const MessageInfo& m = it->second.info;
    if (m.from == r.from && m.to == r.to && m.topic == r.topic && m.meta == r.meta &&
        m.length == r.bytes.size() && m.digest == digest) {
      return m;
    }
    return Status::Conflict("id in use");
  }
  if (gone_.count(r.id) > 0) return Status::Gone("superseded");

  // The docs say the oldest is superseded "in the same transaction" without
  // ordering the feed moves; the model makes room first (tombstones), then
  // commits the new message, as "posting into a full slot supersedes" reads.
  const uint32_t depth = std::max<uint32_t>(options_.slot_depth, 1);
  std::deque<MessageId>& slot = slots_[SlotKey{r.from, r.to, r.topic}];
  while (slot.size() >= depth) RemoveMessage(slot.front(), now_ms, nullptr);

  Message msg;
  msg.info.id = r.id;
  msg.info.from = r.from;
  msg.info.to = r.to;
  msg.info.topic = r.topic;
  msg.info.meta = r.meta;
  msg.info.length = r.bytes.size();
  msg.info.digest = digest;
  msg.info.status = MessageStatus::kUploaded;
  msg.info.created_ms = now_ms;
  msg.bytes = std::string(r.bytes);
  messages_[r.id] = msg;
  slots_[SlotKey{r.from, r.to, r.topic}].push_back(r.id);
  known_ids_.insert(r.id);
  const ItemKey item{false, std::string(r.id.AsBytes())};
  Bump(*Find(r.to), item, false, now_ms);
  Bump(*Find(r.from), item, false, now_ms);
  return msg.info;
}

Result<const Model::Message*> Model::RequireMessage(const MailboxKey& actor, const MessageId& id,
                                                    Party party) const {
  if (Find(actor) == nullptr) return Status::NotFound("no mailbox");
  // "Party" narrows to one side for AdvanceStatus (the recipient) and
  // RetractMessage (the sender), for a live and a superseded id alike: the
  // other side never had the right to the op.
  auto may = [&](const MailboxKey& from, const MailboxKey& to) {
    return (party != Party::kSender && actor == to) ||
           (party != Party::kRecipient && actor == from);
  };
  if (auto it = messages_.find(id); it != messages_.end()) {
    const MessageInfo& m = it->second.info;
    if (may(m.from, m.to)) return &it->second;
    return Status::PermissionDenied("not a party");
  }
  if (auto it = gone_.find(id); it != gone_.end()) {
    if (may(it->second.from, it->second.to)) return Status::Gone("superseded");
    return Status::PermissionDenied("not a party");
  }
  return Status::NotFound("no message");
}

Result<MessageInfo> Model::GetMessage(const MailboxKey& actor, const MessageId& id) const {
  auto m = RequireMessage(actor, id, Party::kEither);
  if (!m.ok()) return m.error();
  return (*m)->info;
}

Result<std::string> Model::ReadBlob(const MailboxKey& actor, const MessageId& id, uint64_t offset,
                                    uint64_t length) const {
  auto m = RequireMessage(actor, id, Party::kEither);
  if (!m.ok()) return m.error();
  const std::string& bytes = (*m)->bytes;
  if (offset > bytes.size()) return Status::InvalidArgument("offset past the end");
  return bytes.substr(offset, std::min<uint64_t>(length, bytes.size() - offset));
}

Result<MessageStatus> Model::AdvanceStatus(const MailboxKey& actor, const MessageId& id,
                                           MessageStatus status) {
  if (!ValidStatus(status)) return Status::InvalidArgument("bad status");
  auto found = RequireMessage(actor, id, Party::kRecipient);
  if (!found.ok()) return found.error();
  Message& m = messages_.at(id);
  const MessageStatus merged = MergeStatus(m.info.status, status);
  if (merged == m.info.status) return merged;
  m.info.status = merged;
  const ItemKey item{false, std::string(id.AsBytes())};
  Bump(*Find(m.info.from), item, false, 0);
  Bump(*Find(m.info.to), item, false, 0);
  return merged;
}

Status Model::RetractMessage(const MailboxKey& sender, const MessageId& id, uint64_t now_ms) {
  auto found = RequireMessage(sender, id, Party::kSender);
  if (!found.ok()) return found.error();
  RemoveMessage(id, now_ms, nullptr);
  return Status();
}

void Model::RemoveMessage(const MessageId& id, uint64_t now_ms, const MailboxKey* skip) {
  const MessageInfo info = messages_.at(id).info;
  messages_.erase(id);
  auto& slot = slots_[SlotKey{info.from, info.to, info.topic}];
  slot.erase(std::find(slot.begin(), slot.end(), id));
  gone_[id] = GoneRecord{info.from, info.to, now_ms};
  const ItemKey item{false, std::string(id.AsBytes())};
  if (skip == nullptr || *skip != info.to) Bump(*Find(info.to), item, true, now_ms);
  if (skip == nullptr || *skip != info.from) Bump(*Find(info.from), item, true, now_ms);
}

std::vector<MessageId> Model::LiveMessageIds() const {
  std::vector<MessageId> out;
  for (const auto& [id, m] : messages_) out.push_back(id);
  return out;
}

std::optional<std::pair<MailboxKey, MailboxKey>> Model::PartiesOf(const MessageId& id) const {
  if (auto it = messages_.find(id); it != messages_.end()) {
    return std::pair(it->second.info.from, it->second.info.to);
  }
  if (auto it = gone_.find(id); it != gone_.end()) return std::pair(it->second.from, it->second.to);
  return std::nullopt;
}

// ---- Feed ----

void Model::Bump(Mailbox& m, const ItemKey& item, bool tombstone, uint64_t now_ms) {
  auto it = m.feed.find(item);
  if (it != m.feed.end()) m.by_seq.erase(it->second.seq);
  const uint64_t seq = ++m.info.seq;
  m.feed[item] = FeedRecord{seq, tombstone, tombstone ? now_ms : 0};
  m.by_seq[seq] = item;
  changed_.insert(m.info.mkey);
}

Result<InfoPacket> Model::Changes(const MailboxKey& mkey, uint64_t since, size_t limit) const {
  const Mailbox* m = Find(mkey);
  if (m == nullptr) return Status::NotFound("no mailbox");
  InfoPacket p;
  uint64_t from = since;
  if ((since & kSnapshotCursorBit) != 0) {
    // The next page of a reset snapshot continues even below the purge point.
    from = since & ~kSnapshotCursorBit;
    p.reset = from > m->info.seq;
  } else {
    p.reset = since < m->info.purged_seq || since > m->info.seq;
  }
  if (p.reset) from = 0;
  p.since = p.reset ? 0 : since;  // where the packet continues from
  p.cursor = m->info.seq;
  for (auto it = m->by_seq.upper_bound(from); it != m->by_seq.end(); ++it) {
    if (limit != 0 && p.size() == limit) {
      p.more = true;
      p.cursor = std::prev(it)->first;
      if (p.cursor < m->info.purged_seq) p.cursor |= kSnapshotCursorBit;
      break;
    }
    const auto& [seq, item] = *it;
    const FeedRecord& rec = m->feed.at(item);
    if (item.is_entry) {
      const EntryState& s = m->entries.at(item.key).state;
      if (rec.tombstone) {
        p.tombstones.push_back(Tombstone{TombstoneKind::kEntry, item.key, s.version, seq});
      } else {
        p.entries.push_back(EntryInfo{item.key, s.value, s.version, seq});
      }
    } else if (rec.tombstone) {
      p.tombstones.push_back(Tombstone{TombstoneKind::kMessage, item.key, 0, seq});
    } else {
      MessageInfo info = messages_.at(MessageId::FromBytes(item.key).value()).info;
      info.seq = seq;
      (info.to == mkey ? p.incoming : p.outgoing).push_back(std::move(info));
    }
  }
  return p;
}

size_t Model::PurgeTombstones(uint64_t now_ms) {
  const uint64_t horizon = static_cast<uint64_t>(options_.tombstone_horizon.count());
  // "Created more than tombstone_horizon ago": strictly older than the horizon.
  auto expired = [&](uint64_t created_ms) { return now_ms - created_ms > horizon; };
  size_t removed = 0;
  for (auto& [key, m] : mailboxes_) {
    for (auto it = m.by_seq.begin(); it != m.by_seq.end();) {
      const ItemKey item = it->second;
      const FeedRecord rec = m.feed.at(item);
      if (!rec.tombstone || !expired(rec.tombstone_ms)) {
        ++it;
        continue;
      }
      // An entry delete older than the horizon is forgotten entirely.
      if (item.is_entry) m.entries.erase(item.key);
      m.feed.erase(item);
      it = m.by_seq.erase(it);
      m.info.purged_seq = std::max(m.info.purged_seq, rec.seq);
      ++removed;
    }
  }
  for (auto it = gone_.begin(); it != gone_.end();) {
    it = expired(it->second.gone_ms) ? gone_.erase(it) : std::next(it);
  }
  return removed;
}

}  // namespace postbox::model
