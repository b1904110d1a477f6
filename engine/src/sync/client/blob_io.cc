// The built-in BlobSource / BlobSink: files (POSIX pread / write / ftruncate)
// and memory. errno is translated here, once, keeping its name.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "postbox/sync/client.h"

namespace postbox::sync {
namespace {

Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  const char* name = strerrorname_np(err);
  std::string msg = std::string(what) + " " + path + ": " + (name ? name : "errno") + " (" +
                    std::strerror(err) + ")";
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Status::NotFound(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return Status::PermissionDenied(msg);
    case ENOSPC:
    case EDQUOT:
      return Status::ResourceExhausted(msg);
    default:
      return Status::Unavailable(msg);
  }
}

Status OutOfRange(uint64_t offset, size_t n, uint64_t size) {
  return Status::InvalidArgument("read of [" + std::to_string(offset) + ", +" + std::to_string(n) +
                                 ") past the end (" + std::to_string(size) + " bytes)");
}

// pread until `out` is full; a short file is an error (the file changed).
Status ReadFully(int fd, const std::string& path, uint64_t offset, std::span<char> out) {
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read", path, errno);
    if (n == 0) {
      return Status::Unavailable("read " + path + ": the file ended at " +
                                 std::to_string(offset + got) + " (was it truncated?)");
    }
    got += static_cast<size_t>(n);
  }
  return Status::Ok();
}

class FileSource final : public BlobSource {
 public:
  FileSource(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~FileSource() override { close(fd_); }
  uint64_t size() const override { return size_; }
  Status ReadAt(uint64_t offset, std::span<char> out) override {
    if (offset > size_ || out.size() > size_ - offset) return OutOfRange(offset, out.size(), size_);
    return ReadFully(fd_, path_, offset, out);
  }

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
};

class StringSource final : public BlobSource {
 public:
  explicit StringSource(std::string bytes) : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, std::span<char> out) override {
    if (offset > bytes_.size() || out.size() > bytes_.size() - offset) {
      return OutOfRange(offset, out.size(), bytes_.size());
    }
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return Status::Ok();
  }

 private:
  std::string bytes_;
};

class FileSink final : public BlobSink {
 public:
  FileSink(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~FileSink() override { close(fd_); }
  uint64_t size() const override { return size_; }
  Status Append(std::string_view bytes) override {
    size_t put = 0;
    while (put < bytes.size()) {
      ssize_t n =
          pwrite(fd_, bytes.data() + put, bytes.size() - put, static_cast<off_t>(size_ + put));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        // Keep the file at a known length: what was written before this call.
        (void)ftruncate(fd_, static_cast<off_t>(size_));
        return ErrnoStatus("write", path_, errno);
      }
      put += static_cast<size_t>(n);
    }
    size_ += bytes.size();
    return Status::Ok();
  }
  Status ReadAt(uint64_t offset, std::span<char> out) override {
    if (offset > size_ || out.size() > size_ - offset) return OutOfRange(offset, out.size(), size_);
    return ReadFully(fd_, path_, offset, out);
  }
  Status Truncate(uint64_t size) override {
    if (size > size_) return Status::InvalidArgument("Truncate can only shrink a sink");
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus("truncate", path_, errno);
    }
    size_ = size;
    return Status::Ok();
  }

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
};

class StringSink final : public BlobSink {
 public:
  explicit StringSink(std::string* bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_->size(); }
  Status Append(std::string_view bytes) override {
    bytes_->append(bytes);
    return Status::Ok();
  }
  Status ReadAt(uint64_t offset, std::span<char> out) override {
    if (offset > bytes_->size() || out.size() > bytes_->size() - offset) {
      return OutOfRange(offset, out.size(), bytes_->size());
    }
    std::memcpy(out.data(), bytes_->data() + offset, out.size());
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    if (size > bytes_->size()) return Status::InvalidArgument("Truncate can only shrink a sink");
    bytes_->resize(size);
    return Status::Ok();
  }

 private:
  std::string* bytes_;
};

// Opens `path` and reads its size; the fd is closed on failure.
Result<std::pair<int, uint64_t>> OpenWithSize(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return ErrnoStatus("stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Status::InvalidArgument(path + " is not a regular file");
  }
  return std::pair<int, uint64_t>(fd, static_cast<uint64_t>(st.st_size));
}

}  // namespace

Result<std::unique_ptr<BlobSource>> OpenFileSource(const std::string& path) {
  POSTBOX_ASSIGN_OR_RETURN(auto opened, OpenWithSize(path, O_RDONLY));
  return std::unique_ptr<BlobSource>(new FileSource(opened.first, path, opened.second));
}

std::unique_ptr<BlobSource> MemorySource(std::string bytes) {
  return std::make_unique<StringSource>(std::move(bytes));
}

Result<std::unique_ptr<BlobSink>> OpenFileSink(const std::string& path) {
  POSTBOX_ASSIGN_OR_RETURN(auto opened, OpenWithSize(path, O_RDWR | O_CREAT));
  return std::unique_ptr<BlobSink>(new FileSink(opened.first, path, opened.second));
}

std::unique_ptr<BlobSink> MemorySink(std::string* bytes) {
  return std::make_unique<StringSink>(bytes);
}

}  // namespace postbox::sync
