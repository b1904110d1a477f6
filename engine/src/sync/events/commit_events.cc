// The writer's events: what a committed batch did to messages, read from its
// ops and their results (write_batch.h OpResult::commit), handed to the sink
// together (EventSink::RecordAll: one lock for a group commit's events).
#include <vector>

#include "store/batch_op.h"
#include "sync/events/events_internal.h"

namespace postbox::sync::internal {

void RecordCommits(EventSink* sink, const WriteBatch& batch) {
  using Kind = WriteBatch::Op::Kind;
  const auto now = std::chrono::system_clock::now();
  const auto& results = batch.results();
  std::vector<Event> events;
  events.reserve(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    const OpResult& r = results[i];
    if (!r.status.ok()) continue;
    const WriteBatch::Op& op = WriteBatch::Op::At(batch, i);
    if (op.kind == Kind::kAdvanceStatus && r.status_applied) {
      events.push_back(Event{now, StatusChangedEvent{op.id, r.message_status, op.a}});
      continue;
    }
    if (!r.commit || !r.message) continue;  // not a commit, or a retry that changed nothing
    const MessageInfo& m = *r.message;
    const bool upload = op.kind == Kind::kCommitUpload;
    for (const MessageInfo& old : r.commit->superseded) {
      events.push_back(
          Event{now, MessageSupersededEvent{old.from, old.to, old.id, old.topic, old.seq, m.id}});
    }
    events.push_back(Event{
        now, MessageCommittedEvent{m.from, m.to, m.id, m.topic, r.commit->seq, m.length, upload}});
    if (upload) {
      const uint64_t took =
          m.created_ms > r.commit->began_ms ? m.created_ms - r.commit->began_ms : 0;
      TransferFinishedEvent t;
      t.direction = TransferDirection::kUpload;
      t.id = m.id;
      t.mkey = m.from;
      t.bytes = m.length;
      t.duration = std::chrono::milliseconds(took);
      events.push_back(Event{now, std::move(t)});
    }
  }
  if (!events.empty()) sink->RecordAll(events);
}

}  // namespace postbox::sync::internal
