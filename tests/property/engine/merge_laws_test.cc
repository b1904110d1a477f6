// Lattice laws of the merges in postbox/merge.h. Replicas exchange states in
// any order, any number of times; they converge only if each merge is
// commutative, associative and idempotent (a join). These laws are what makes
// every retry in SPEC §7 safe.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "postbox/merge.h"

namespace postbox {
namespace {

rc::Gen<MessageStatus> GenStatus() {
  return rc::gen::element(MessageStatus::kUploaded, MessageStatus::kDownloaded,
                          MessageStatus::kViewed);
}

// Small versions and values so that ties (the interesting part of the order)
// are common. A tombstone carries no value, as the store keeps it.
rc::Gen<EntryState> GenEntry() {
  return rc::gen::map(rc::gen::tuple(rc::gen::inRange<uint64_t>(0, 4), rc::gen::arbitrary<bool>(),
                                     rc::gen::element<std::string>("", "a", "b", "ab", "\xff",
                                                                   std::string(1, '\0'))),
                      [](const std::tuple<uint64_t, bool, std::string>& t) {
                        const auto& [version, deleted, value] = t;
                        return EntryState{version, deleted, deleted ? std::string() : value};
                      });
}

std::string Show(const EntryState& e) {
  return "{v=" + std::to_string(e.version) + (e.deleted ? " deleted" : " value=" + e.value) + "}";
}

RC_GTEST_PROP(MergeStatusLaws, Commutative, ()) {
  const auto a = *GenStatus();
  const auto b = *GenStatus();
  RC_ASSERT(MergeStatus(a, b) == MergeStatus(b, a));
}

RC_GTEST_PROP(MergeStatusLaws, Associative, ()) {
  const auto a = *GenStatus();
  const auto b = *GenStatus();
  const auto c = *GenStatus();
  RC_ASSERT(MergeStatus(MergeStatus(a, b), c) == MergeStatus(a, MergeStatus(b, c)));
}

RC_GTEST_PROP(MergeStatusLaws, Idempotent, ()) {
  const auto a = *GenStatus();
  RC_ASSERT(MergeStatus(a, a) == a);
}

// The join is an upper bound that never lowers: UPLOADED < DOWNLOADED < VIEWED.
RC_GTEST_PROP(MergeStatusLaws, NeverLowers, ()) {
  const auto a = *GenStatus();
  const auto b = *GenStatus();
  const auto m = MergeStatus(a, b);
  RC_ASSERT(m >= a);
  RC_ASSERT(m >= b);
  RC_ASSERT((m == a || m == b));
}

RC_GTEST_PROP(MergeEntryLaws, Commutative, ()) {
  const auto a = *GenEntry();
  const auto b = *GenEntry();
  RC_LOG() << Show(a) << " " << Show(b) << "\n";
  RC_ASSERT(MergeEntry(a, b) == MergeEntry(b, a));
}

RC_GTEST_PROP(MergeEntryLaws, Associative, ()) {
  const auto a = *GenEntry();
  const auto b = *GenEntry();
  const auto c = *GenEntry();
  RC_LOG() << Show(a) << " " << Show(b) << " " << Show(c) << "\n";
  RC_ASSERT(MergeEntry(MergeEntry(a, b), c) == MergeEntry(a, MergeEntry(b, c)));
}

RC_GTEST_PROP(MergeEntryLaws, Idempotent, ()) {
  const auto a = *GenEntry();
  RC_ASSERT(MergeEntry(a, a) == a);
}

// The documented order (docs/engine.md, Entries): version first, then a
// tombstone above a value, then the bytewise-greater value; the merge picks the
// higher of its two inputs.
RC_GTEST_PROP(MergeEntryLaws, FollowsTheDocumentedOrder, ()) {
  const auto a = *GenEntry();
  const auto b = *GenEntry();
  RC_LOG() << Show(a) << " " << Show(b) << "\n";
  const EntryState m = MergeEntry(a, b);
  RC_ASSERT((m == a || m == b));
  if (a.version != b.version) {
    RC_ASSERT(m.version == std::max(a.version, b.version));
  } else if (a.deleted != b.deleted) {
    RC_ASSERT(m.deleted);
  } else {
    RC_ASSERT(m.value == std::max(a.value, b.value, [](const std::string& x, const std::string& y) {
                return std::string_view(x) < std::string_view(y);
              }));
  }
  // Unsigned bytes: "\xff" sorts above "a".
  RC_ASSERT(MergeEntry(EntryState{1, false, "\xff"}, EntryState{1, false, "a"}).value == "\xff");
}

}  // namespace
}  // namespace postbox
