#include "sync/log/line_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace postbox::sync::log {

Result<LineFile> LineFile::Open(std::string what, std::string path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status::Unavailable("cannot open " + what + " " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  const uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return LineFile(std::move(what), std::move(path), fd, size);
}

LineFile::LineFile(LineFile&& other) noexcept
    : what_(std::move(other.what_)),
      path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      size_(other.size_) {}

LineFile& LineFile::operator=(LineFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    what_ = std::move(other.what_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

LineFile::~LineFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status LineFile::Failed(std::string_view call) const {
  return Status::Unavailable(what_ + " " + path_ + ": " + std::string(call) + ": " +
                             std::strerror(errno));
}

Status LineFile::Append(std::string_view bytes, bool sync) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Failed("write");
    off += static_cast<size_t>(n);
    size_ += static_cast<uint64_t>(n);
  }
  if (sync && ::fdatasync(fd_) != 0) return Failed("fdatasync");
  return Status::Ok();
}

Status LineFile::Rotate(uint32_t keep) {
  const auto numbered = [&](uint32_t i) { return path_ + "." + std::to_string(i); };
  if (keep == 0) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return Failed("unlink");
  } else {
    // Oldest first, so that nothing is overwritten before it moved on; a
    // missing one (fewer rotations so far) is fine.
    for (uint32_t i = keep - 1; i >= 1; --i) {
      if (::rename(numbered(i).c_str(), numbered(i + 1).c_str()) != 0 && errno != ENOENT) {
        return Failed("rename " + numbered(i));
      }
    }
    if (::rename(path_.c_str(), numbered(1).c_str()) != 0 && errno != ENOENT) {
      return Failed("rename");
    }
  }
  POSTBOX_ASSIGN_OR_RETURN(LineFile fresh, Open(what_, path_));
  *this = std::move(fresh);
  return Status::Ok();
}

}  // namespace postbox::sync::log
