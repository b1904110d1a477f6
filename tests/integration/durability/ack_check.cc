#include "tests/integration/durability/ack_check.h"

#include <algorithm>

namespace postbox::durability {
namespace {

// The earliest-ending sync that starts after `after` and ends before `before`.
const IoEvent* FirstSync(const std::vector<IoEvent>& events, uint64_t after, uint64_t before) {
  const IoEvent* best = nullptr;
  for (const auto& e : events) {
    if (e.kind != IoKind::kSync || e.start <= after || e.end >= before) continue;
    if (best == nullptr || e.end < best->end) best = &e;
  }
  return best;
}

}  // namespace

const char* ViolationName(Violation v) {
  switch (v) {
    case Violation::kNone:
      return "none";
    case Violation::kNoWrite:
      return "no write to the data file carried it between the request and the acknowledgement";
    case Violation::kNoDataSync:
      return "no sync of the data file completed after its pages were written and before the "
             "acknowledgement";
    case Violation::kNoDurableMeta:
      return "the meta page that commits it was not durable before the acknowledgement (no "
             "O_DSYNC meta write, and no sync after a plain one)";
  }
  return "?";
}

// What is wrong with `page` as the write that made `ack`'s write durable.
static Violation CheckWrite(const std::vector<IoEvent>& events, const IoEvent& page,
                            const Ack& ack) {
  const IoEvent* sync = FirstSync(events, page.end, ack.acked);
  if (sync == nullptr) return Violation::kNoDataSync;
  for (const auto& m : events) {
    if (m.kind != IoKind::kMetaWrite || m.start <= sync->end || m.end >= ack.acked) continue;
    if (m.dsync || FirstSync(events, m.end, ack.acked) != nullptr) return Violation::kNone;
  }
  return Violation::kNoDurableMeta;
}

Violation CheckAck(const std::vector<IoEvent>& events, const Ack& ack) {
  // The marker's bytes may be written again by a later commit in the window
  // (an upload's running hash state keeps the last input bytes it saw), and
  // that commit may be unsynced when the acknowledgement arrives: the write
  // was durable if any commit that carried them was. Otherwise the mildest
  // violation among them is named (a synced write without a durable meta
  // page before one never synced).
  Violation best = Violation::kNoWrite;
  for (const auto& e : events) {
    if (e.kind != IoKind::kDataWrite || e.start <= ack.sent || e.end >= ack.acked) continue;
    if (std::find(e.markers.begin(), e.markers.end(), ack.marker) == e.markers.end()) continue;
    const Violation v = CheckWrite(events, e, ack);
    if (v == Violation::kNone) return v;
    if (best == Violation::kNoWrite || v == Violation::kNoDurableMeta) best = v;
  }
  return best;
}

std::vector<std::string> Violations(const std::vector<IoEvent>& events,
                                    const std::vector<Ack>& acks) {
  std::vector<std::string> out;
  for (const auto& a : acks) {
    const Violation v = CheckAck(events, a);
    if (v != Violation::kNone) out.push_back(a.what + ": " + ViolationName(v));
  }
  return out;
}

}  // namespace postbox::durability
