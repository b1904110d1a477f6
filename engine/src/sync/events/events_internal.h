// The sync server's side of the event log (postbox/sync/events.h): what the
// writer records after a commit, and the line the EventLog writes when it
// dropped events. Safe from any thread.
#ifndef POSTBOX_SYNC_EVENTS_EVENTS_INTERNAL_H_
#define POSTBOX_SYNC_EVENTS_EVENTS_INTERNAL_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "postbox/sync/events.h"
#include "postbox/write_batch.h"

namespace postbox::sync::internal {

// The events of a committed batch (after DB::Write): message_committed and
// message_superseded for each message an op made live, transfer_finished for
// each upload committed, status_changed for each status that rose.
void RecordCommits(EventSink* sink, const WriteBatch& batch);

// {"time":…,"event":"events_dropped","count":N}.
std::string EventsDroppedJson(std::chrono::system_clock::time_point t, uint64_t count);

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_EVENTS_EVENTS_INTERNAL_H_
