#include "tests/unit/engine/fault_injection.h"

#include <dlfcn.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <mutex>

namespace postbox::test::faults {
namespace {

std::mutex mu;
std::string target;  // guarded by mu
std::atomic<bool> armed{false};
std::atomic<int64_t> disk_free{-1};
std::atomic<bool> fail_writes{false};
std::atomic<bool> writes_fill_disk{false};
std::atomic<int> fail_syncs{0};
std::atomic<int> injected{0};
std::atomic<int> syncs{0};

bool Under(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu);
  return !target.empty() && path.compare(0, target.size(), target) == 0;
}

bool FdUnder(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[PATH_MAX];
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  return Under(std::string(path, static_cast<size_t>(n)));
}

template <typename Fn>
Fn Real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

// Decides whether a data-page write at `offset` to `fd` fails.
bool FailWrite(int fd, off_t offset) {
  if (!armed.load() || !fail_writes.load() || offset < 8192 || !FdUnder(fd)) return false;
  ++injected;
  if (writes_fill_disk.load()) disk_free = 0;
  return true;
}

}  // namespace

void Target(const std::string& folder) {
  {
    std::lock_guard<std::mutex> lock(mu);
    target = folder;
  }
  armed = !folder.empty();
  syncs = 0;
  if (folder.empty()) {
    disk_free = -1;
    fail_writes = false;
    writes_fill_disk = false;
    fail_syncs = 0;
  }
}
void SetDiskFree(int64_t bytes) { disk_free = bytes; }
void FailDataWrites(bool on, bool disk_fills) {
  writes_fill_disk = disk_fills;
  fail_writes = on;
}
void FailSyncs(int err) { fail_syncs = err; }
int Injected() { return injected.load(); }
int Syncs() { return syncs.load(); }

}  // namespace postbox::test::faults

namespace faults = postbox::test::faults;

extern "C" {

int statvfs(const char* path, struct statvfs* buf) noexcept {
  static const auto real = faults::Real<int (*)(const char*, struct statvfs*)>("statvfs");
  const int rc = real(path, buf);
  const int64_t free = faults::disk_free.load();
  if (rc == 0 && faults::armed.load() && free >= 0 && faults::Under(path)) {
    buf->f_bavail = static_cast<fsblkcnt_t>(free) / (buf->f_frsize ? buf->f_frsize : 1);
    buf->f_bfree = buf->f_bavail;
    ++faults::injected;
  }
  return rc;
}

ssize_t pwrite(int fd, const void* data, size_t n, off_t offset) {
  static const auto real = faults::Real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  if (n > 0 && faults::FailWrite(fd, offset)) return 0;
  return real(fd, data, n, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  static const auto real = faults::Real<ssize_t (*)(int, const struct iovec*, int)>("writev");
  if (faults::armed.load() && faults::fail_writes.load()) {
    const off_t at = lseek(fd, 0, SEEK_CUR);
    if (at >= 0 && faults::FailWrite(fd, at)) return 0;
  }
  return real(fd, iov, count);
}

int fdatasync(int fd) {
  static const auto real = faults::Real<int (*)(int)>("fdatasync");
  if (!faults::armed.load() || !faults::FdUnder(fd)) return real(fd);
  ++faults::syncs;
  const int err = faults::fail_syncs.load();
  if (err != 0) {
    ++faults::injected;
    errno = err;
    return -1;
  }
  return real(fd);
}

}  // extern "C"
