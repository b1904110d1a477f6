// Was a write durable when its acknowledgement arrived? Judged from an
// IoTrace: a page write carrying the write's marker (a write to the data file
// between the request and the acknowledgement; any of them, as a later commit
// may carry the same bytes again) must be followed, before the acknowledgement, by a completed sync
// of the data file and then by a completed durable meta-page write: one through an O_DSYNC
// descriptor, or a plain one followed by another completed sync. That is LMDB's durable commit
// (data pages, fdatasync, meta page with O_DSYNC). MDB_NOSYNC fails the first condition (nothing is
// synced); MDB_NOMETASYNC the second (the meta page is written unsynced, and only the next commit's
// sync, after the acknowledgement, covers it).
#ifndef POSTBOX_TESTS_INTEGRATION_DURABILITY_ACK_CHECK_H_
#define POSTBOX_TESTS_INTEGRATION_DURABILITY_ACK_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/integration/durability/io_trace.h"

namespace postbox::durability {

// One acknowledged write: its marker (IoTrace::AddMarker), the tick taken
// before its request was sent and the one taken after its acknowledgement
// arrived.
struct Ack {
  std::string what;
  size_t marker = 0;
  uint64_t sent = 0, acked = 0;
};

// What is wrong with an acknowledgement; kNone if it came after the sync that
// covers its write.
enum class Violation { kNone, kNoWrite, kNoDataSync, kNoDurableMeta };
const char* ViolationName(Violation v);

Violation CheckAck(const std::vector<IoEvent>& events, const Ack& ack);

// The acknowledgements among `acks` that `events` show premature, each as
// "what: violation", for test messages.
std::vector<std::string> Violations(const std::vector<IoEvent>& events,
                                    const std::vector<Ack>& acks);

}  // namespace postbox::durability

#endif  // POSTBOX_TESTS_INTEGRATION_DURABILITY_ACK_CHECK_H_
