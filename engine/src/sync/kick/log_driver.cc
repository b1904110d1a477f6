// The `log` kick driver: one JSON object per line, appended to a file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "postbox/sync/kick.h"
#include "sync/kick/kick_util.h"

namespace postbox::sync {

KickDriver::~KickDriver() = default;

namespace {

Result<int> OpenLog(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status::Unavailable("cannot open kick log " + path + ": " + std::strerror(errno));
  }
  return fd;
}

class LogKickDriver final : public KickDriver {
 public:
  LogKickDriver(const LogKickOptions& options, int fd) : options_(options), fd_(fd) {}
  ~LogKickDriver() override {
    if (fd_ >= 0) ::close(fd_);
  }

  void Send(const Kick& kick, std::function<void(KickResult)> done) override {
    std::string line = "{\"time\":\"" + kick::FormatUtc(std::chrono::system_clock::now()) + "\",";
    line += kick::KickJson(kick).substr(1);
    line.push_back('\n');
    Status s = Append(line);
    done(KickResult{std::move(s), std::chrono::milliseconds(0)});
  }

  Status Reopen() override {
    POSTBOX_ASSIGN_OR_RETURN(int fd, OpenLog(options_.path));
    std::lock_guard lock(mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    return Status::Ok();
  }

 private:
  // One write(2) per line: O_APPEND keeps lines of concurrent writers (and of
  // other processes appending to the file) whole.
  Status Append(const std::string& line) {
    std::lock_guard lock(mu_);
    size_t off = 0;
    while (off < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return Status::Unavailable("kick log " + options_.path +
                                   ": write: " + std::strerror(errno));
      }
      off += static_cast<size_t>(n);
    }
    if (options_.fsync && ::fdatasync(fd_) != 0) {
      return Status::Unavailable("kick log " + options_.path +
                                 ": fdatasync: " + std::strerror(errno));
    }
    return Status::Ok();
  }

  const LogKickOptions options_;
  std::mutex mu_;
  int fd_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<KickDriver>> MakeLogKickDriver(const LogKickOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("the kick log needs a file path");
  POSTBOX_ASSIGN_OR_RETURN(int fd, OpenLog(options.path));
  return std::unique_ptr<KickDriver>(new LogKickDriver(options, fd));
}

}  // namespace postbox::sync
