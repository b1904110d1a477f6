// The merge rules of SPEC §2 as pure functions, shared by the store, relays and
// clients. Each is the join of a total order, hence commutative, associative and
// idempotent (tests/property/engine/merge_laws_test.cc checks the laws).
#ifndef POSTBOX_MERGE_H_
#define POSTBOX_MERGE_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "postbox/types.h"

namespace postbox {

// Status is a max-register over UPLOADED < DOWNLOADED < VIEWED.
inline MessageStatus MergeStatus(MessageStatus a, MessageStatus b) { return std::max(a, b); }

// The state of one entry key: a value or a versioned tombstone.
struct EntryState {
  uint64_t version = 0;
  bool deleted = false;
  std::string value;  // empty when deleted
  bool operator==(const EntryState&) const = default;
};

// True when `a` ranks above `b`. Order: version, then a tombstone above a value
// (a delete at the same version wins, so it cannot be undone by a concurrent put
// of the same version), then the bytewise-greater value.
inline bool EntryRanksAbove(const EntryState& a, const EntryState& b) {
  if (a.version != b.version) return a.version > b.version;
  if (a.deleted != b.deleted) return a.deleted;
  return std::string_view(a.value) > std::string_view(b.value);
}

inline EntryState MergeEntry(const EntryState& a, const EntryState& b) {
  return EntryRanksAbove(b, a) ? b : a;
}

}  // namespace postbox

#endif  // POSTBOX_MERGE_H_
