// The interposed libc calls behind io_trace.h. The definitions below are in
// the executable, so the dynamic linker binds every shared library's calls to
// them (liblmdb.so imports open, close, write, writev, pwrite, fdatasync,
// fsync and msync); each forwards to the next definition (libc's) found with
// dlsym(RTLD_NEXT). LMDB 0.9 writes the pages of a commit with pwrite (one
// page run) or lseek + writev (several), unless built with MDB_USE_PWRITEV
// (pwritev), then syncs the data file (fdatasync; msync under MDB_WRITEMAP),
// then writes the meta page with pwrite through a second descriptor opened
// with O_DSYNC (through the plain one, unsynced, under MDB_NOMETASYNC and
// MDB_NOSYNC).
#undef _FORTIFY_SOURCE  // the fortified open() is an inline wrapper we could not define
#include "tests/integration/durability/io_trace.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>

namespace postbox::durability {
namespace {

// What a descriptor is: 0 not a data file, kData, or kData | kDsync.
constexpr uint8_t kData = 1, kDsync = 2;
constexpr int kMaxFd = 1 << 16;
std::atomic<uint8_t> g_fd_kind[kMaxFd];

std::atomic<bool> g_recording{false};
std::atomic<bool> g_keep_bytes{false};
std::atomic<int64_t> g_delay_ms{0};
std::atomic<uint64_t> g_clock{0};

struct State {
  std::mutex mu;
  std::vector<IoEvent> events;
  std::vector<std::string> markers;
};
// Never destroyed: interposed calls may come during static destruction.
State& S() {
  static State* s = new State;
  return *s;
}

uint8_t KindOf(int fd) { return fd >= 0 && fd < kMaxFd ? g_fd_kind[fd].load() : 0; }

void NoteOpen(int fd, const char* path, int flags) {
  if (fd < 0 || fd >= kMaxFd || path == nullptr) return;
  const std::string_view p(path);
  constexpr std::string_view kDataFile = "data.mdb";
  uint8_t kind = 0;
  if (p.size() >= kDataFile.size() && p.substr(p.size() - kDataFile.size()) == kDataFile) {
    kind = kData | ((flags & O_DSYNC) == O_DSYNC ? kDsync : 0);
  }
  g_fd_kind[fd].store(kind);
}

uint64_t MetaLimit() {
  static const uint64_t limit = 2 * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return limit;
}

void SlowDown() {
  const int64_t ms = g_delay_ms.load();
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

template <class F>
F Real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

// Runs `write` (the real call) for a write of `iov` at `offset` on `fd`, and
// records it if `fd` is a data file.
template <class W>
ssize_t TracedWrite(int fd, const struct iovec* iov, int iovcnt, int64_t offset, W write) {
  const uint8_t kind = KindOf(fd);
  if (kind == 0 || !g_recording.load()) return write();
  if (offset < 0) offset = lseek(fd, 0, SEEK_CUR);
  IoEvent e;
  e.offset = static_cast<uint64_t>(offset);
  e.kind = e.offset < MetaLimit() ? IoKind::kMetaWrite : IoKind::kDataWrite;
  e.dsync = (kind & kDsync) != 0;
  {
    std::lock_guard lock(S().mu);
    for (size_t m = 0; m < S().markers.size(); ++m) {
      const std::string& needle = S().markers[m];
      for (int i = 0; i < iovcnt; ++i) {
        if (memmem(iov[i].iov_base, iov[i].iov_len, needle.data(), needle.size()) != nullptr) {
          e.markers.push_back(m);
          break;
        }
      }
    }
  }
  if (g_keep_bytes.load()) {
    for (int i = 0; i < iovcnt; ++i) {
      e.bytes.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    }
  }
  e.start = IoTrace::Tick();
  const ssize_t r = write();
  const int saved = errno;
  if (static_cast<size_t>(std::max<ssize_t>(r, 0)) < e.bytes.size()) {
    e.bytes.resize(static_cast<size_t>(std::max<ssize_t>(r, 0)));  // what was really written
  }
  if (e.dsync) SlowDown();
  e.end = IoTrace::Tick();
  {
    std::lock_guard lock(S().mu);
    S().events.push_back(std::move(e));
  }
  errno = saved;
  return r;
}

template <class C>
int TracedSync(bool traced, C call) {
  if (!traced || !g_recording.load()) return call();
  IoEvent e;
  e.kind = IoKind::kSync;
  e.start = IoTrace::Tick();
  const int r = call();
  const int saved = errno;
  SlowDown();
  e.end = IoTrace::Tick();
  {
    std::lock_guard lock(S().mu);
    S().events.push_back(std::move(e));
  }
  errno = saved;
  return r;
}

mode_t ModeArg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

}  // namespace

void IoTrace::Start(std::chrono::milliseconds sync_delay, bool keep_bytes) {
  std::lock_guard lock(S().mu);
  S().events.clear();
  S().markers.clear();
  g_delay_ms = sync_delay.count();
  g_keep_bytes = keep_bytes;
  g_recording = true;
}

std::vector<IoEvent> IoTrace::Stop() {
  g_recording = false;
  g_delay_ms = 0;
  g_keep_bytes = false;
  std::lock_guard lock(S().mu);
  return std::move(S().events);
}

size_t IoTrace::AddMarker(std::string bytes) {
  std::lock_guard lock(S().mu);
  S().markers.push_back(std::move(bytes));
  return S().markers.size() - 1;
}

uint64_t IoTrace::Tick() { return g_clock.fetch_add(1) + 1; }

int IoTrace::OpenDataFiles() {
  int n = 0;
  for (const auto& k : g_fd_kind) n += k.load() != 0;
  return n;
}

}  // namespace postbox::durability

using postbox::durability::KindOf;
using postbox::durability::NoteOpen;
using postbox::durability::Real;
using postbox::durability::TracedSync;
using postbox::durability::TracedWrite;

extern "C" {

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = postbox::durability::ModeArg(flags, ap);
  va_end(ap);
  static auto real = Real<int (*)(const char*, int, ...)>("open");
  const int fd = real(path, flags, mode);
  NoteOpen(fd, path, flags);
  return fd;
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = postbox::durability::ModeArg(flags, ap);
  va_end(ap);
  static auto real = Real<int (*)(const char*, int, ...)>("open64");
  const int fd = real(path, flags, mode);
  NoteOpen(fd, path, flags);
  return fd;
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = postbox::durability::ModeArg(flags, ap);
  va_end(ap);
  static auto real = Real<int (*)(int, const char*, int, ...)>("openat");
  const int fd = real(dirfd, path, flags, mode);
  NoteOpen(fd, path, flags);
  return fd;
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = postbox::durability::ModeArg(flags, ap);
  va_end(ap);
  static auto real = Real<int (*)(int, const char*, int, ...)>("openat64");
  const int fd = real(dirfd, path, flags, mode);
  NoteOpen(fd, path, flags);
  return fd;
}

int close(int fd) {
  static auto real = Real<int (*)(int)>("close");
  if (fd >= 0 && fd < postbox::durability::kMaxFd) postbox::durability::g_fd_kind[fd].store(0);
  return real(fd);
}

ssize_t write(int fd, const void* buf, size_t n) {
  static auto real = Real<ssize_t (*)(int, const void*, size_t)>("write");
  const iovec iov{const_cast<void*>(buf), n};
  return TracedWrite(fd, &iov, 1, -1, [&] { return real(fd, buf, n); });
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  static auto real = Real<ssize_t (*)(int, const struct iovec*, int)>("writev");
  return TracedWrite(fd, iov, iovcnt, -1, [&] { return real(fd, iov, iovcnt); });
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  static auto real = Real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  const iovec iov{const_cast<void*>(buf), n};
  return TracedWrite(fd, &iov, 1, offset, [&] { return real(fd, buf, n, offset); });
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t offset) {
  static auto real = Real<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  const iovec iov{const_cast<void*>(buf), n};
  return TracedWrite(fd, &iov, 1, offset, [&] { return real(fd, buf, n, offset); });
}

ssize_t pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
  static auto real = Real<ssize_t (*)(int, const struct iovec*, int, off_t)>("pwritev");
  return TracedWrite(fd, iov, iovcnt, offset, [&] { return real(fd, iov, iovcnt, offset); });
}

ssize_t pwritev64(int fd, const struct iovec* iov, int iovcnt, off64_t offset) {
  static auto real = Real<ssize_t (*)(int, const struct iovec*, int, off64_t)>("pwritev64");
  return TracedWrite(fd, iov, iovcnt, offset, [&] { return real(fd, iov, iovcnt, offset); });
}

int fdatasync(int fd) {
  static auto real = Real<int (*)(int)>("fdatasync");
  return TracedSync(KindOf(fd) != 0, [&] { return real(fd); });
}

int fsync(int fd) {
  static auto real = Real<int (*)(int)>("fsync");
  return TracedSync(KindOf(fd) != 0, [&] { return real(fd); });
}

// msync names memory, not a file: nothing else in this executable maps files
// writably, so every msync while recording is taken as one of the data file
// (LMDB calls it only under MDB_WRITEMAP, which the engine does not use).
int msync(void* addr, size_t len, int flags) {
  static auto real = Real<int (*)(void*, size_t, int)>("msync");
  return TracedSync(true, [&] { return real(addr, len, flags); });
}

}  // extern "C"
