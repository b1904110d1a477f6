// "Two stores that exchange entry and status changes in any order, with
// duplicates, converge" (SPEC §2, §7: merges are idempotent, so a relay's
// retry is always safe). Each store gets some of a random set of versioned
// entry puts/deletes and status advances, then each learns the other's state
// by paging through its feed and replaying every item in a random order with
// random duplicates. Both must end in the same state, and that state must be
// the join (postbox/merge.h) of everything either store ever saw.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "postbox/db.h"
#include "postbox/merge.h"
#include "tests/property/engine/prop_util.h"
#include "tests/property/engine/show.h"

namespace postbox::model {
namespace {

constexpr int kMessages = 2;

MessageId ConvergenceId(int i) {
  MessageId id;
  id.bytes.fill(0xc0);
  id.bytes[15] = static_cast<uint8_t>(i);
  return id;
}

// Removes its folder on destruction, also when a Replica's constructor fails
// half-way through an RC_ASSERT.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("postbox-conv-" + std::to_string((uint64_t{rd()} << 32) | rd()));
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// A store in a temp folder with a sender A and a recipient B (connected), and
// kMessages messages from A to B posted with fixed ids, as a relay would
// replicate them.
struct Replica {
  TempDir dir;  // declared first: destroyed after db
  std::unique_ptr<DB> db;
  MailboxKey a;
  MailboxKey b;

  Replica() {
    Options o;
    o.durability = Durability::kRelaxed;  // Convergence is about merges, not syncs.
    auto opened = DB::Open(dir.path.string(), o);
    RC_ASSERT(opened.ok());
    db = std::move(*opened);
    auto ca = db->CreateMailbox();
    auto cb = db->CreateMailbox();
    RC_ASSERT(ca.ok());
    RC_ASSERT(cb.ok());
    a = ca->mkey;
    b = cb->mkey;
    RC_ASSERT(db->Connect(a, b).ok());
    for (int i = 0; i < kMessages; ++i) {
      PostRequest r{a, b, ConvergenceId(i), "topic" + std::to_string(i), "meta", "blob"};
      RC_ASSERT(db->PostMessage(r).ok());
    }
  }
};

// One change as it travels between replicas.
struct Change {
  bool is_status = false;
  std::string key;  // entry key, or the message id bytes
  EntryState entry;
  MessageStatus status = MessageStatus::kUploaded;
};

Change GenChange() {
  Change c;
  c.is_status =
      *rc::gen::weightedOneOf<bool>({{3, rc::gen::just(false)}, {1, rc::gen::just(true)}});
  if (c.is_status) {
    c.key = std::string(ConvergenceId(*rc::gen::inRange(0, kMessages)).AsBytes());
    c.status = *rc::gen::element(MessageStatus::kUploaded, MessageStatus::kDownloaded,
                                 MessageStatus::kViewed);
  } else {
    c.key = *rc::gen::element<std::string>("k", "kk", "q");
    c.entry.version = *rc::gen::inRange<uint64_t>(1, 4);
    c.entry.deleted =
        *rc::gen::weightedOneOf<bool>({{2, rc::gen::just(false)}, {1, rc::gen::just(true)}});
    if (!c.entry.deleted) c.entry.value = *rc::gen::element<std::string>("", "v", "w", "vw");
  }
  return c;
}

void Deliver(Replica& r, const Change& c) {
  if (c.is_status) {
    auto got = r.db->AdvanceStatus(r.b, MessageId::FromBytes(c.key).value(), c.status);
    RC_ASSERT(got.ok());
    RC_ASSERT(*got >= c.status);
  } else if (c.entry.deleted) {
    RC_ASSERT(r.db->DeleteEntry(r.b, c.key, c.entry.version).ok());
  } else {
    RC_ASSERT(r.db->PutEntry(r.b, c.key, c.entry.value, c.entry.version).ok());
  }
}

// What a replica tells a peer: its feed (as B sees it), paged with `limit`.
std::vector<Change> Export(const Replica& r, size_t limit) {
  std::vector<Change> out;
  uint64_t since = 0;
  for (int page = 0; page < 1000; ++page) {
    auto p = r.db->Changes(r.b, since, limit);
    RC_ASSERT(p.ok());
    for (const MessageInfo& m : p->incoming) {
      out.push_back(Change{true, std::string(m.id.AsBytes()), {}, m.status});
    }
    for (const EntryInfo& e : p->entries) {
      out.push_back(Change{false, e.key, EntryState{e.version, false, e.value}, {}});
    }
    for (const Tombstone& t : p->tombstones) {
      RC_ASSERT(t.kind == TombstoneKind::kEntry);
      out.push_back(Change{false, t.key, EntryState{t.version, true, ""}, {}});
    }
    if (!p->more) return out;
    RC_ASSERT(p->cursor > since);
    since = p->cursor;
  }
  RC_FAIL("Changes paging did not end");
  return out;
}

// `changes` with random duplicates, in a random order.
std::vector<Change> Scramble(std::vector<Change> changes) {
  const size_t n = changes.size();
  for (size_t i = 0; i < n; ++i) {
    if (*rc::gen::inRange(0, 3) == 0) changes.push_back(changes[i]);
  }
  const auto keys =
      *rc::gen::container<std::vector<uint32_t>>(changes.size(), rc::gen::arbitrary<uint32_t>());
  std::vector<size_t> order(changes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return keys[x] < keys[y]; });
  std::vector<Change> out;
  for (size_t i : order) out.push_back(changes[i]);
  return out;
}

// Everything observable of B's entries and statuses, seq numbers aside (they
// are per-store positions and differ between replicas by design).
struct Snapshot {
  std::vector<std::pair<std::string, EntryState>> entries;  // live and tombstoned
  std::vector<MessageStatus> statuses;
  bool operator==(const Snapshot&) const = default;
};

Snapshot Observe(const Replica& r) {
  Snapshot s;
  auto p = r.db->Changes(r.b, 0, 0);
  RC_ASSERT(p.ok());
  for (const EntryInfo& e : p->entries) {
    s.entries.emplace_back(e.key, EntryState{e.version, false, e.value});
    // The feed and the KV reads must agree.
    auto got = r.db->GetEntry(r.b, e.key);
    RC_ASSERT(got.ok());
    RC_ASSERT(got->value == e.value);
    RC_ASSERT(got->version == e.version);
  }
  for (const Tombstone& t : p->tombstones) {
    s.entries.emplace_back(t.key, EntryState{t.version, true, ""});
    RC_ASSERT(r.db->GetEntry(r.b, t.key).status().code() == Code::kNotFound);
  }
  std::sort(s.entries.begin(), s.entries.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  auto listed = r.db->ListEntries(r.b, "", "", 100);
  RC_ASSERT(listed.ok());
  RC_ASSERT(listed->size() == p->entries.size());
  for (int i = 0; i < kMessages; ++i) {
    auto m = r.db->GetMessage(r.b, ConvergenceId(i));
    RC_ASSERT(m.ok());
    auto seen_by_sender = r.db->GetMessage(r.a, ConvergenceId(i));
    RC_ASSERT(seen_by_sender.ok());
    RC_ASSERT(seen_by_sender->status == m->status);
    s.statuses.push_back(m->status);
  }
  return s;
}

std::string ShowSnapshot(const Snapshot& s) {
  std::string out = "entries:";
  for (const auto& [k, e] : s.entries) {
    out += " " + Quote(k) + "=" + (e.deleted ? "deleted" : Quote(e.value)) + "@" +
           std::to_string(e.version);
  }
  out += " statuses:";
  for (MessageStatus m : s.statuses) out += " " + Show(m);
  return out;
}

POSTBOX_RC_PROP(Convergence, ReplicasExchangingChangesConverge, 60, 100, ()) {
  const auto changes =
      *rc::gen::container<std::vector<Change>>(*rc::gen::inRange(1, 25), rc::gen::exec(GenChange));
  // 0: only replica 1 sees it first, 1: only replica 2, 2: both.
  const auto where = *rc::gen::container<std::vector<int>>(changes.size(), rc::gen::inRange(0, 3));
  Replica r1, r2;
  std::vector<Change> local1, local2;
  for (size_t i = 0; i < changes.size(); ++i) {
    if (where[i] != 1) local1.push_back(changes[i]);
    if (where[i] != 0) local2.push_back(changes[i]);
  }
  for (const Change& c : Scramble(local1)) Deliver(r1, c);
  for (const Change& c : Scramble(local2)) Deliver(r2, c);

  const size_t limit1 = *rc::gen::inRange<size_t>(0, 4);
  const size_t limit2 = *rc::gen::inRange<size_t>(0, 4);
  const std::vector<Change> from1 = Export(r1, limit1);
  const std::vector<Change> from2 = Export(r2, limit2);
  for (const Change& c : Scramble(from2)) Deliver(r1, c);
  for (const Change& c : Scramble(from1)) Deliver(r2, c);

  // The join of every change, computed with the pure merges.
  Snapshot want;
  std::map<std::string, EntryState> joined;
  std::vector<MessageStatus> statuses(kMessages, MessageStatus::kUploaded);
  for (const Change& c : changes) {
    if (c.is_status) {
      auto& s = statuses[MessageId::FromBytes(c.key).value().bytes[15]];
      s = MergeStatus(s, c.status);
    } else if (auto it = joined.find(c.key); it == joined.end()) {
      joined[c.key] = c.entry;
    } else {
      it->second = MergeEntry(it->second, c.entry);
    }
  }
  want.entries.assign(joined.begin(), joined.end());
  want.statuses = statuses;

  const Snapshot s1 = Observe(r1);
  const Snapshot s2 = Observe(r2);
  RC_LOG() << "replica 1: " << ShowSnapshot(s1) << "\nreplica 2: " << ShowSnapshot(s2)
           << "\njoin:      " << ShowSnapshot(want) << "\n";
  RC_ASSERT(s1 == s2);
  RC_ASSERT(s1 == want);
}

}  // namespace
}  // namespace postbox::model
