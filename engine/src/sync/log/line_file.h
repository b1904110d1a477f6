// An append-only file of text lines, shared by the files the sync server
// writes for operators: the kick log driver's (kick/log_driver.cc) and the
// event log's (events/event_log.cc). Opened with O_APPEND and created with
// mode 0640; each Append is written whole by write(2) calls that continue
// after a partial write, so lines of other processes appending to the same
// file (and logrotate's copytruncate) never split one.
//
// Thread-safety: none; an owner shared by threads locks around it.
#ifndef POSTBOX_SYNC_LOG_LINE_FILE_H_
#define POSTBOX_SYNC_LOG_LINE_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "postbox/result.h"
#include "postbox/status.h"

namespace postbox::sync::log {

class LineFile {
 public:
  // Opens (creates) `path`; `what` names the file in messages ("kick log").
  // Unavailable "cannot open <what> <path>: <reason>" on failure.
  static Result<LineFile> Open(std::string what, std::string path);

  LineFile(LineFile&& other) noexcept;
  LineFile& operator=(LineFile&& other) noexcept;
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;
  ~LineFile();

  // Appends `bytes` (whole lines, newlines included); with `sync`, then
  // fdatasync. Unavailable naming the file and the failing call.
  Status Append(std::string_view bytes, bool sync = false);

  // Size rotation: path.keep is replaced by path.(keep-1), … path.2 by path.1,
  // path.1 by path; then path is begun anew. keep 0 deletes path instead. On
  // failure (Unavailable) lines go on to the file it had open.
  Status Rotate(uint32_t keep);

  // The file's size: what it held when opened plus what was appended since.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  LineFile(std::string what, std::string path, int fd, uint64_t size)
      : what_(std::move(what)), path_(std::move(path)), fd_(fd), size_(size) {}
  Status Failed(std::string_view call) const;

  std::string what_;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace postbox::sync::log

#endif  // POSTBOX_SYNC_LOG_LINE_FILE_H_
