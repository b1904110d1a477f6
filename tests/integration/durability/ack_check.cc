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

Violation CheckAck(const std::vector<IoEvent>& events, const Ack& ack) {
  const IoEvent* page = nullptr;
  for (const auto& e : events) {
    if (e.kind != IoKind::kDataWrite || e.start <= ack.sent || e.end >= ack.acked) continue;
    if (std::find(e.markers.begin(), e.markers.end(), ack.marker) == e.markers.end()) continue;
    if (page == nullptr || e.end > page->end) page = &e;
  }
  if (page == nullptr) return Violation::kNoWrite;
  const IoEvent* sync = FirstSync(events, page->end, ack.acked);
  if (sync == nullptr) return Violation::kNoDataSync;
  for (const auto& m : events) {
    if (m.kind != IoKind::kMetaWrite || m.start <= sync->end || m.end >= ack.acked) continue;
    if (m.dsync || FirstSync(events, m.end, ack.acked) != nullptr) return Violation::kNone;
  }
  return Violation::kNoDurableMeta;
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
