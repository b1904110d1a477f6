// A trace of the calls that make an LMDB commit durable, recorded by
// interposing libc in this test executable (io_trace.cc defines open, close,
// write, writev, pwrite(v), fdatasync, fsync and msync and forwards them with
// dlsym(RTLD_NEXT): liblmdb.so's calls bind to these definitions). Only calls
// on an LMDB data file (a path ending in "data.mdb") are recorded, each with
// the ticks of one process-wide clock before and after the real call; a sync
// (and a write through an O_DSYNC descriptor, which is one) is slowed down by
// a configurable delay after the real call, so an acknowledgement sent before
// the sync completes is seen to arrive before it. Writes are searched for
// registered markers (byte strings a test's write is known to carry), and
// their bytes can be kept.
// Thread-safe.
#ifndef POSTBOX_TESTS_INTEGRATION_DURABILITY_IO_TRACE_H_
#define POSTBOX_TESTS_INTEGRATION_DURABILITY_IO_TRACE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace postbox::durability {

enum class IoKind {
  kDataWrite,  // pages at or past page 2 of the data file
  kMetaWrite,  // one of the two meta pages (pages 0 and 1)
  kSync,       // fdatasync / fsync of the data file, or an msync
};

struct IoEvent {
  IoKind kind = IoKind::kDataWrite;
  bool dsync = false;           // a write through a descriptor opened with O_DSYNC (or O_SYNC)
  uint64_t start = 0, end = 0;  // clock ticks before and after the call (delay included)
  uint64_t offset = 0;          // of a write, in the file
  std::vector<size_t> markers;  // indices of the markers the written bytes contain
  std::string bytes;            // what a write wrote, when Start was asked to keep it
};

// The process-wide trace.
class IoTrace {
 public:
  // Forgets all events and markers and starts recording, slowing every sync
  // by `sync_delay`; with `keep_bytes` each write's bytes are kept too (a
  // power-loss simulation rebuilds the file from them).
  static void Start(std::chrono::milliseconds sync_delay, bool keep_bytes = false);
  // Stops recording (and slowing) and returns what was recorded.
  static std::vector<IoEvent> Stop();
  // Registers bytes to look for in later writes; returns the marker's index.
  static size_t AddMarker(std::string bytes);
  // The next tick of the clock the events use: take one before sending a
  // request and one after its acknowledgement arrived.
  static uint64_t Tick();
  // Descriptors of data files open now (a test checks the interposition
  // took: LMDB's opens went through it).
  static int OpenDataFiles();
};

}  // namespace postbox::durability

#endif  // POSTBOX_TESTS_INTEGRATION_DURABILITY_IO_TRACE_H_
