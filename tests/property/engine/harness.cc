// The harness's operations: resolve refs, run the engine and the model, diff.
// The fuzzer #includes this file (and model.cc) directly, so it must not
// depend on gtest or rapidcheck.
#include "tests/property/engine/harness.h"

#include <algorithm>
#include <random>
#include <set>

#include "tests/property/engine/show.h"

namespace postbox::model {
namespace {

template <typename T>
const T& Pick(const std::vector<T>& pool, int ref) {
  return pool[static_cast<size_t>(ref < 0 ? -(ref + 1) : ref) % pool.size()];
}

// The result of a batch op as the Result the single-op call would return.
template <typename T>
Result<T> FromOp(const OpResult& r, const T& value) {
  if (r.status.ok()) return value;
  return r.status;
}

std::filesystem::path FreshDir() {
  std::random_device rd;
  const uint64_t n = (uint64_t{rd()} << 32) | rd();
  return std::filesystem::temp_directory_path() / ("postbox-prop-" + std::to_string(n));
}

// Entry-key prefixes for ListEntries (all within the key limit).
const std::vector<std::string>& PrefixPool() {
  static const std::vector<std::string> kPool = {"", "a", "ab", "b"};
  return kPool;
}

}  // namespace

const std::vector<std::string>& EntryKeyPool() {
  // Straddles kMaxKey (4): "abcd" fits, "abcde" is 413, "" is 400; "b\0" and
  // "\xff" check that keys are bytes, not C strings, and sort unsigned.
  static const std::vector<std::string> kPool = {"a",        "ab",   "abcd", "b",
                                                 {"b\0", 2}, "\xff", "",     "abcde"};
  return kPool;
}
const std::vector<std::string>& ValuePool() {
  static const std::vector<std::string> kPool = {"x", "y", "", "xy", "123456", "1234567"};
  return kPool;
}
const std::vector<std::string>& TopicPool() {
  static const std::vector<std::string> kPool = {"", "t", "u", "tttt", "ttttt"};
  return kPool;
}
const std::vector<std::string>& MetaPool() {
  static const std::vector<std::string> kPool = {"", "m", "mp4", "mmmm", "mmmmm"};
  return kPool;
}
const std::vector<std::string>& TokenPool() {
  static const std::vector<std::string> kPool = {"tok", "", "12345678", "123456789"};
  return kPool;
}
const std::vector<std::string>& BlobPool() {
  static const std::vector<std::string> kPool = {
      "hello", "", "world!", {"\0\x01\x02\xff", 4}, "0123456789abcdef", "0123456789abcdefg",
      "hellO"};
  return kPool;
}

const std::vector<std::string>& SecretPool() {
  static const std::vector<std::string> kPool = {"", "s1", "s2", std::string(256, 'k'),
                                                 std::string(257, 'k')};
  return kPool;
}

std::string ShowOp(const Op& op) {
  static const char* const kNames[] = {"CreateMailbox",     "DeleteMailbox", "Connect",
                                       "Disconnect",        "RegisterPush",  "PutEntry",
                                       "DeleteEntry",       "PostMessage",   "AdvanceStatus",
                                       "RequestConnection", "EnsureMailbox", "RetractMessage"};
  const std::string id = "id=" + std::to_string(op.id) + (op.live_id ? " (live pick)" : "");
  switch (op.kind) {
    case Op::kEnsureMailbox:
      return std::string(kNames[op.kind]) + "(a=" + std::to_string(op.a) +
             (op.a < 0 ? " (fresh " + std::to_string((-op.a - 1) % kFreshKeys) + ")" : "") +
             " secret=" + ShowSecret(Pick(SecretPool(), op.key)) + ")";
    case Op::kRetractMessage:
      return std::string(kNames[op.kind]) + "(a=" + std::to_string(op.a) + " " + id + ")";
    default:
      break;
  }
  return std::string(kNames[op.kind]) + "(a=" + std::to_string(op.a) +
         " b=" + std::to_string(op.b) + " key=" + std::to_string(op.key) +
         " value=" + std::to_string(op.value) + " blob=" + std::to_string(op.blob) +
         " id=" + std::to_string(op.id) + " version=" + std::to_string(op.version) +
         " status=" + std::to_string(op.status) + " platform=" + std::to_string(op.platform) + ")";
}

Harness::Harness(const HarnessConfig& config)
    : clock_(std::make_shared<std::atomic<uint64_t>>(kStartMs)), dir_(FreshDir()), model_([&] {
        Options o;
        o.durability = config.durability;
        o.relaxed_sync_interval = std::chrono::milliseconds(50);
        o.slot_depth = config.slot_depth;
        o.posting_policy = config.policy;
        o.max_key_size = kMaxKey;
        o.max_value_size = kMaxValue;
        o.max_topic_size = kMaxTopic;
        o.max_meta_size = kMaxMeta;
        o.max_push_token_size = kMaxToken;
        o.max_blob_size = kMaxBlob;
        o.tombstone_horizon = std::chrono::milliseconds(kHorizonMs);
        return o;
      }()) {
  options_ = model_.options();
  std::shared_ptr<std::atomic<uint64_t>> clock = clock_;
  options_.clock = [clock] { return clock->load(); };
  auto db = DB::Open(dir_.string(), options_);
  if (db.ok()) {
    db_ = std::move(*db);
  } else {
    open_error_ = "DB::Open: " + Show(db.error());
  }
}

Harness::~Harness() {
  db_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

MailboxKey Harness::Mailbox(int ref) const {
  if (ref < 0 || created_.empty()) {
    MailboxKey stranger;
    stranger.bytes.fill(0xee);
    return stranger;
  }
  return created_[static_cast<size_t>(ref) % created_.size()].mkey;
}

MailboxKey Harness::Actor(int ref, int id) const { return ActorOf(ref, Id(id)); }

MailboxKey Harness::ActorOf(int ref, const MessageId& id) const {
  if (ref != kRecipientRef && ref != kSenderRef) return Mailbox(ref);
  auto parties = model_.PartiesOf(id);
  if (!parties) return Mailbox(-1);
  return ref == kRecipientRef ? parties->second : parties->first;
}

MailboxKey Harness::Target(const Op& op, const MessageId& id) const {
  if (op.kind != Op::kEnsureMailbox) return ActorOf(op.a, id);
  // Never the stranger's key: it must stay one no store has issued.
  if (op.a >= 0 && !created_.empty()) return Mailbox(op.a);
  return FreshKey((op.a < 0 ? -(op.a + 1) : op.a) % kFreshKeys);
}

MailboxKey Harness::FreshKey(int k) {
  MailboxKey key;
  key.bytes.fill(0xc0);
  key.bytes[15] = static_cast<uint8_t>(k);
  return key;
}

MessageId Harness::IdOf(const Op& op) const {
  if (op.live_id) {
    const std::vector<MessageId> live = model_.LiveMessageIds();
    if (!live.empty()) return live[static_cast<size_t>(op.id) % live.size()];
  }
  return Id(op.id);
}

MessageId Harness::Id(int ref) {
  MessageId id;
  id.bytes.fill(0x5a);
  id.bytes[0] = static_cast<uint8_t>(static_cast<unsigned>(ref) % kIdPool);
  return id;
}

namespace {

PostRequest MakePost(const Harness& h, const Op& op) {
  PostRequest r;
  r.from = h.Mailbox(op.a);
  r.to = h.Mailbox(op.b);
  r.id = Harness::Id(op.id);
  r.topic = Pick(TopicPool(), op.key);
  r.meta = Pick(MetaPool(), op.value);
  r.bytes = Pick(BlobPool(), op.blob);
  return r;
}

}  // namespace

std::string Harness::Apply(const Op& op) {
  if (!db_) return open_error_;
  // The DB has no call of its own for the relays' ops: a single write of one
  // is a batch of one.
  if (op.kind == Op::kEnsureMailbox || op.kind == Op::kRetractMessage) return ApplyBatch({op});
  const uint64_t now = *clock_;
  const std::string what = ShowOp(op);
  const MessageId id = IdOf(op);
  const MailboxKey a = Target(op, id);
  const MailboxKey b = Mailbox(op.b);
  const std::string& key = Pick(EntryKeyPool(), op.key);
  switch (op.kind) {
    case Op::kCreateMailbox: {
      auto got = db_->CreateMailbox();
      if (!got.ok()) return what + ": engine " + Show(got.error());
      if (got->secret.empty()) return what + ": empty secret";
      model_.CreateMailbox(*got, now);
      created_.push_back(*got);
      secrets_[got->mkey] = got->secret;
      return "";
    }
    case Op::kDeleteMailbox:
      return Diff(what, db_->DeleteMailbox(a), model_.DeleteMailbox(a, now));
    case Op::kConnect:
      return Diff(what, db_->Connect(a, b), model_.Connect(a, b));
    case Op::kDisconnect:
      return Diff(what, db_->Disconnect(a, b), model_.Disconnect(a, b));
    case Op::kRegisterPush: {
      const auto platform = static_cast<Platform>(op.platform);
      const std::string& token = Pick(TokenPool(), op.key);
      return Diff(what, db_->RegisterPush(a, platform, token),
                  model_.RegisterPush(a, platform, token));
    }
    case Op::kPutEntry: {
      const std::string& value = Pick(ValuePool(), op.value);
      return Diff(what, db_->PutEntry(a, key, value, op.version),
                  model_.PutEntry(a, key, value, op.version, now));
    }
    case Op::kDeleteEntry:
      return Diff(what, db_->DeleteEntry(a, key, op.version),
                  model_.DeleteEntry(a, key, op.version, now));
    case Op::kPostMessage: {
      const PostRequest r = MakePost(*this, op);
      return Diff(what, db_->PostMessage(r), model_.PostMessage(r, now));
    }
    case Op::kAdvanceStatus: {
      const auto status = static_cast<MessageStatus>(op.status);
      return Diff(what, db_->AdvanceStatus(a, id, status), model_.AdvanceStatus(a, id, status));
    }
    case Op::kRequestConnection:
      return Diff(what, db_->RequestConnection(a, b), model_.RequestConnection(a, b));
    case Op::kEnsureMailbox:
    case Op::kRetractMessage:
      break;  // above
  }
  return what + ": unknown op";
}

std::string Harness::ApplyBatch(const std::vector<Op>& ops) {
  if (!db_) return open_error_;
  const uint64_t now = *clock_;
  WriteBatch batch;
  // Refs are resolved once, against the state before the batch, as the
  // engine's ops must be built before any of them runs.
  std::vector<MessageId> ids;
  std::vector<std::pair<MailboxKey, MailboxKey>> resolved;
  std::vector<PostRequest> posts;
  for (const Op& op : ops) {
    ids.push_back(IdOf(op));
    resolved.emplace_back(Target(op, ids.back()), Mailbox(op.b));
    posts.push_back(MakePost(*this, op));
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    const MessageId& id = ids[i];
    const auto& [a, b] = resolved[i];
    const std::string& key = Pick(EntryKeyPool(), op.key);
    switch (op.kind) {
      case Op::kCreateMailbox:
        (void)batch.CreateMailbox();
        break;
      case Op::kDeleteMailbox:
        (void)batch.DeleteMailbox(a);
        break;
      case Op::kConnect:
        (void)batch.Connect(a, b);
        break;
      case Op::kDisconnect:
        (void)batch.Disconnect(a, b);
        break;
      case Op::kRegisterPush:
        (void)batch.RegisterPush(a, static_cast<Platform>(op.platform), Pick(TokenPool(), op.key));
        break;
      case Op::kPutEntry:
        (void)batch.PutEntry(a, key, Pick(ValuePool(), op.value), op.version);
        break;
      case Op::kDeleteEntry:
        (void)batch.DeleteEntry(a, key, op.version);
        break;
      case Op::kPostMessage:
        (void)batch.PostMessage(posts[i]);
        break;
      case Op::kAdvanceStatus:
        (void)batch.AdvanceStatus(a, id, static_cast<MessageStatus>(op.status));
        break;
      case Op::kRequestConnection:
        (void)batch.RequestConnection(a, b);
        break;
      case Op::kEnsureMailbox:
        (void)batch.EnsureMailbox(a, Pick(SecretPool(), op.key));
        break;
      case Op::kRetractMessage:
        (void)batch.RetractMessage(a, id);
        break;
    }
  }
  const Status written = db_->Write(&batch);
  if (!written.ok()) return "Write: " + Show(written);
  if (batch.results().size() != ops.size()) return "Write: wrong number of results";
  model_.ClearChanged();
  std::string out;
  // Mailboxes the batch creates join the refs afterwards.
  std::vector<MailboxCredentials> created_now;
  for (size_t i = 0; i < ops.size() && out.empty(); ++i) {
    const Op& op = ops[i];
    const OpResult& r = batch.results()[i];
    const std::string what = "batch op " + std::to_string(i) + " " + ShowOp(op);
    const MessageId& id = ids[i];
    const auto& [a, b] = resolved[i];
    const std::string& key = Pick(EntryKeyPool(), op.key);
    switch (op.kind) {
      case Op::kCreateMailbox:
        if (!r.status.ok() || !r.credentials) return what + ": " + Show(r.status);
        model_.CreateMailbox(*r.credentials, now);
        created_now.push_back(*r.credentials);
        secrets_[r.credentials->mkey] = r.credentials->secret;
        break;
      case Op::kDeleteMailbox:
        out = Diff(what, r.status, model_.DeleteMailbox(a, now));
        break;
      case Op::kConnect:
        out = Diff(what, r.status, model_.Connect(a, b));
        break;
      case Op::kDisconnect:
        out = Diff(what, r.status, model_.Disconnect(a, b));
        break;
      case Op::kRegisterPush:
        out = Diff(
            what, r.status,
            model_.RegisterPush(a, static_cast<Platform>(op.platform), Pick(TokenPool(), op.key)));
        break;
      case Op::kPutEntry:
        out = Diff(what, FromOp(r, r.entry),
                   model_.PutEntry(a, key, Pick(ValuePool(), op.value), op.version, now));
        break;
      case Op::kDeleteEntry:
        out = Diff(what, FromOp(r, r.entry), model_.DeleteEntry(a, key, op.version, now));
        break;
      case Op::kPostMessage: {
        auto model = model_.PostMessage(posts[i], now);
        if (r.status.ok() && !r.message) return what + ": OK without a message";
        out = Diff(what, FromOp(r, r.message.value_or(MessageInfo{})), model);
        break;
      }
      case Op::kAdvanceStatus:
        out = Diff(what, FromOp(r, r.message_status),
                   model_.AdvanceStatus(a, id, static_cast<MessageStatus>(op.status)));
        break;
      case Op::kRequestConnection:
        out = Diff(what, FromOp(r, r.connection), model_.RequestConnection(a, b));
        break;
      case Op::kEnsureMailbox:
        out = EnsureResult(what, a, Pick(SecretPool(), op.key), r, now, &created_now);
        break;
      case Op::kRetractMessage:
        out = Diff(what, r.status, model_.RetractMessage(a, id, now));
        break;
    }
  }
  created_.insert(created_.end(), created_now.begin(), created_now.end());
  if (!out.empty()) return out;
  const std::vector<MailboxKey> want(model_.changed().begin(), model_.changed().end());
  if (batch.changed_mailboxes() != want) {
    return "changed_mailboxes:\n  engine: " + Show(batch.changed_mailboxes()) +
           "\n  model:  " + Show(want);
  }
  return "";
}

std::string Harness::EnsureResult(const std::string& what, const MailboxKey& mkey,
                                  const std::string& secret, const OpResult& r, uint64_t now,
                                  std::vector<MailboxCredentials>* added) {
  const bool existed = model_.GetMailbox(mkey).ok();
  const Result<MailboxCredentials> model = model_.EnsureMailbox(mkey, secret, now);
  std::string d = Diff(what, r.status, model.status());
  if (!d.empty() || !model.ok()) return d;
  // The credentials name the mailbox and echo a given secret; a new mailbox
  // made without one may come back with a random secret (not checked).
  if (!r.credentials || r.credentials->mkey != mkey ||
      (!secret.empty() && r.credentials->secret != secret)) {
    return what + ": credentials:\n  engine: " +
           (r.credentials ? Show(*r.credentials) : std::string("none")) +
           "\n  model:  " + Show(*model);
  }
  if (!secret.empty()) {
    secrets_[mkey] = secret;
  } else if (!existed) {
    secrets_[mkey] = "";  // none anyone can use
  }
  auto known = [&](const std::vector<MailboxCredentials>& v) {
    return std::any_of(v.begin(), v.end(), [&](const auto& c) { return c.mkey == mkey; });
  };
  if (!known(created_) && !known(*added)) added->push_back(MailboxCredentials{mkey, secret});
  return "";
}

std::string Harness::Purge(uint64_t advance_ms) {
  if (!db_) return open_error_;
  *clock_ += advance_ms;
  const Result<size_t> model = model_.PurgeTombstones(*clock_);
  return Diff("PurgeTombstones(+" + std::to_string(advance_ms) + "ms)",
              db_->PurgeTombstones(1'000'000), model);
}

std::string Harness::PurgeInBatches(uint64_t advance_ms, size_t batch) {
  if (!db_) return open_error_;
  *clock_ += advance_ms;
  const size_t want = model_.PurgeTombstones(*clock_);
  size_t total = 0;
  // Each call removes at most `batch`; a store that keeps answering a full
  // batch forever is a bug, so the loop is bounded by what there is to purge.
  for (size_t round = 0; round <= want + 1; ++round) {
    auto n = db_->PurgeTombstones(batch);
    if (!n.ok()) return "PurgeTombstones(" + std::to_string(batch) + "): " + Show(n.error());
    if (*n > batch) return "PurgeTombstones(" + std::to_string(batch) + ") removed " + Show(*n);
    if (*n == 0) break;
    total += *n;
  }
  if (total != want) {
    return "PurgeTombstones in batches of " + std::to_string(batch) + " removed " +
           std::to_string(total) + ", model " + std::to_string(want);
  }
  return "";
}

std::string Harness::Reopen() {
  db_.reset();
  auto db = DB::Open(dir_.string(), options_);
  if (!db.ok()) return "reopen: " + Show(db.error());
  db_ = std::move(*db);
  return "";
}

// ---- Reads ----

std::string Harness::Authenticate(int mbox, bool right_secret) const {
  if (!db_) return open_error_;
  const MailboxKey m = Mailbox(mbox);
  std::string secret = "not-the-secret";
  if (right_secret && mbox >= 0 && !created_.empty()) {
    auto it = secrets_.find(m);
    secret = it == secrets_.end() ? std::string() : it->second;
  }
  return Diff("Authenticate(" + Show(m) + ", " + ShowSecret(secret) + ")",
              db_->Authenticate(m, secret), model_.Authenticate(m, secret));
}

std::string Harness::AuthenticateWith(int mbox, int secret) const {
  if (!db_) return open_error_;
  const MailboxKey m = Mailbox(mbox);
  std::string s = "not-the-secret";
  if (secret >= 0) {
    s = Pick(SecretPool(), secret);
  } else if (mbox >= 0 && !created_.empty()) {
    s = created_[static_cast<size_t>(mbox) % created_.size()].secret;
  }
  return Diff("Authenticate(" + Show(m) + ", " + ShowSecret(s) + ")", db_->Authenticate(m, s),
              model_.Authenticate(m, s));
}

std::string Harness::GetMessage(int actor, int id) const {
  if (!db_) return open_error_;
  const MailboxKey a = Actor(actor, id);
  return Diff("GetMessage(" + Show(a) + ", id " + std::to_string(id % kIdPool) + ")",
              db_->GetMessage(a, Id(id)), model_.GetMessage(a, Id(id)));
}

std::string Harness::ReadBlob(int actor, int id, uint64_t offset, uint64_t length) const {
  if (!db_) return open_error_;
  const MailboxKey a = Actor(actor, id);
  return Diff("ReadBlob(" + Show(a) + ", id " + std::to_string(id % kIdPool) + ", " +
                  std::to_string(offset) + ", " + std::to_string(length) + ")",
              db_->ReadBlob(a, Id(id), offset, length), model_.ReadBlob(a, Id(id), offset, length));
}

std::string Harness::GetEntry(int mbox, int key) const {
  if (!db_) return open_error_;
  const MailboxKey m = Mailbox(mbox);
  const std::string& k = Pick(EntryKeyPool(), key);
  return Diff("GetEntry(" + Show(m) + ", " + Quote(k) + ")", db_->GetEntry(m, k),
              model_.GetEntry(m, k));
}

std::string Harness::ListEntries(int mbox, int prefix, int start_after, size_t limit) const {
  if (!db_) return open_error_;
  const MailboxKey m = Mailbox(mbox);
  const std::string& p = Pick(PrefixPool(), prefix);
  const std::string after = start_after < 0 ? "" : Pick(EntryKeyPool(), start_after);
  return Diff("ListEntries(" + Show(m) + ", " + Quote(p) + ", " + Quote(after) + ", " +
                  std::to_string(limit) + ")",
              db_->ListEntries(m, p, after, limit), model_.ListEntries(m, p, after, limit));
}

std::string Harness::Changes(int mbox, uint64_t since_hint, size_t limit) const {
  if (!db_) return open_error_;
  const MailboxKey m = Mailbox(mbox);
  auto info = model_.GetMailbox(m);
  uint64_t since = since_hint % ((info.ok() ? info->seq : 0) + 3);
  // Page to the end as a client would, comparing every page; a client must
  // always get there (a reset snapshot below the purge point included).
  for (int page = 0; page < 100000; ++page) {
    auto want = model_.Changes(m, since, limit);
    std::string d = Diff("Changes(" + Show(m) + ", since " + std::to_string(since) + ", limit " +
                             std::to_string(limit) + ")",
                         db_->Changes(m, since, limit), want);
    if (!d.empty()) return d;
    if (!want.ok() || !want->more) return "";
    since = want->cursor;
  }
  return "Changes(" + Show(m) + ", limit " + std::to_string(limit) + ") never reached the end";
}

std::string Harness::ListMailboxes(int start_after, size_t limit) const {
  if (!db_) return open_error_;
  std::optional<MailboxKey> after;
  if (start_after >= 0) after = Mailbox(start_after);
  const Result<std::vector<MailboxInfo>> want = model_.ListMailboxes(after, limit);
  return Diff("ListMailboxes(" + (after ? Show(*after) : std::string("-")) + ", " +
                  std::to_string(limit) + ")",
              db_->ListMailboxes(after, limit), want);
}

std::string Harness::Connections(int mbox, int start_after, size_t limit) const {
  if (!db_) return open_error_;
  const MailboxKey m = Mailbox(mbox);
  std::optional<MailboxKey> after;
  if (start_after >= 0) after = Mailbox(start_after);
  for (auto kind : {ConnectionListKind::kConnected, ConnectionListKind::kRequested,
                    ConnectionListKind::kIncoming}) {
    std::string d = Diff("ListConnections(" + Show(m) + ", " + std::to_string(limit) + ", kind " +
                             std::to_string(static_cast<int>(kind)) + ")",
                         db_->ListConnections(m, after, limit, kind),
                         model_.ListConnections(m, after, limit, kind));
    if (!d.empty()) return d;
  }
  return "";
}

std::string Harness::CheckFeeds() const {
  if (!db_) return open_error_;
  const int n = static_cast<int>(created_.size());
  for (int i = -1; i < n; ++i) {
    const MailboxKey m = Mailbox(i);
    std::string d = Diff("GetMailbox(" + Show(m) + ")", db_->GetMailbox(m), model_.GetMailbox(m));
    if (d.empty()) {
      d = Diff("Changes(" + Show(m) + ", 0, 0)", db_->Changes(m, 0, 0), model_.Changes(m, 0, 0));
    }
    if (!d.empty()) return d;
  }
  // A fresh key is compared before it is made too (it must be 404 until then).
  for (int k = 0; k < kFreshKeys; ++k) {
    const MailboxKey m = FreshKey(k);
    std::string d = Diff("GetMailbox(" + Show(m) + ")", db_->GetMailbox(m), model_.GetMailbox(m));
    if (!d.empty()) return d;
  }
  return "";
}

std::string Harness::CheckAll() const {
  std::string d = CheckFeeds();
  if (!d.empty()) return d;
  const Result<uint64_t> count = model_.CountMailboxes();
  d = Diff("CountMailboxes", db_->CountMailboxes(), count);
  if (d.empty()) d = ListMailboxes(-1, 1000);
  if (d.empty()) d = ListMailboxes(0, 2);
  const int n = static_cast<int>(created_.size());
  for (int i = -1; i < n && d.empty(); ++i) {
    const MailboxKey m = Mailbox(i);
    d = Diff("GetPush(" + Show(m) + ")", db_->GetPush(m), model_.GetPush(m));
    if (d.empty()) d = Authenticate(i, true);
    for (int s = -1; s < static_cast<int>(SecretPool().size()) && d.empty(); ++s) {
      d = AuthenticateWith(i, s);
    }
    if (d.empty()) d = Connections(i, -1, 1000);
    if (d.empty()) d = ListEntries(i, 0, -1, 1000);
    for (int k = 0; k < static_cast<int>(EntryKeyPool().size()) && d.empty(); ++k) {
      d = GetEntry(i, k);
    }
    for (int j = 0; j < n && d.empty(); ++j) {
      const MailboxKey other = Mailbox(j);
      if (other == m) continue;
      d = Diff("IsConnected(" + Show(m) + ", " + Show(other) + ")", db_->IsConnected(m, other),
               model_.IsConnected(m, other));
    }
    for (int id = 0; id < kIdPool && d.empty(); ++id) {
      d = GetMessage(i, id);
      if (d.empty()) d = ReadBlob(i, id, 0, UINT64_MAX);
    }
  }
  if (!d.empty()) return d;
  auto stats = db_->Stats();
  if (!stats.ok()) return "Stats: " + Show(stats.error());
  if (stats->mailboxes != model_.CountMailboxes() || stats->messages != model_.LiveMessageCount() ||
      stats->entries != model_.EntryCount() || stats->feed_records != model_.FeedRecordCount()) {
    return "Stats (mailboxes, messages, entries, feed_records):\n  engine: " +
           Show(stats->mailboxes) + " " + Show(stats->messages) + " " + Show(stats->entries) + " " +
           Show(stats->feed_records) + "\n  model:  " + Show(model_.CountMailboxes()) + " " +
           Show(model_.LiveMessageCount()) + " " + Show(model_.EntryCount()) + " " +
           Show(model_.FeedRecordCount());
  }
  return "";
}

}  // namespace postbox::model
