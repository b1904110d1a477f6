// Fault injection at the system-call boundary for the engine unit tests: this
// binary's own statvfs, pwrite, writev and fdatasync run in place of libc's
// (the executable's definitions interpose on LMDB's and the engine's calls)
// and pass every call through to libc's unless a test arms a fault for files
// in one folder. No code of ours is mocked: LMDB meets the fault as it would
// meet a full disk or a failing device.
#ifndef POSTBOX_TESTS_UNIT_ENGINE_FAULT_INJECTION_H_
#define POSTBOX_TESTS_UNIT_ENGINE_FAULT_INJECTION_H_

#include <cstdint>
#include <string>

namespace postbox::test::faults {

// Files under `folder` are subject to the armed faults below; "" disarms all.
void Target(const std::string& folder);
// statvfs of a path under the folder reports `bytes` free (-1: the real figure).
void SetDiskFree(int64_t bytes);
// Writes (pwrite, writev) to data pages of files under the folder, i.e. at an
// offset of 8 KiB or more (LMDB's two meta pages come first and are spared,
// since a failed meta write makes LMDB refuse all further use), write nothing
// and return 0, a short write (which LMDB reports as EIO). When `disk_fills`,
// the first such failure also makes statvfs report 0 bytes free, as a disk
// that just filled up would.
void FailDataWrites(bool on, bool disk_fills);
// fdatasync of files under the folder fails with `err` (0: passes).
void FailSyncs(int err);
// How many calls the armed faults failed so far.
int Injected();
// How many fdatasync calls on files under the folder ran (or failed) since it
// was targeted.
int Syncs();

}  // namespace postbox::test::faults

#endif  // POSTBOX_TESTS_UNIT_ENGINE_FAULT_INJECTION_H_
