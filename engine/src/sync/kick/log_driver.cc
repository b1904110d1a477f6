// The `log` kick driver: one JSON object per line, appended to a file
// (log/line_file.h: one write per line, O_APPEND).
#include <mutex>

#include "postbox/sync/kick.h"
#include "sync/kick/kick_util.h"
#include "sync/log/line_file.h"

namespace postbox::sync {

KickDriver::~KickDriver() = default;

namespace {

class LogKickDriver final : public KickDriver {
 public:
  LogKickDriver(const LogKickOptions& options, log::LineFile file)
      : options_(options), file_(std::move(file)) {}

  void Send(const Kick& kick, std::function<void(KickResult)> done) override {
    std::string line = "{\"time\":\"" + kick::FormatUtc(std::chrono::system_clock::now()) + "\",";
    line += kick::KickJson(kick).substr(1);
    line.push_back('\n');
    Status s;
    {
      std::lock_guard lock(mu_);
      s = file_.Append(line, options_.fsync);
    }
    done(KickResult{std::move(s), std::chrono::milliseconds(0)});
  }

  Status Reopen() override {
    POSTBOX_ASSIGN_OR_RETURN(log::LineFile file, log::LineFile::Open("kick log", options_.path));
    std::lock_guard lock(mu_);
    file_ = std::move(file);
    return Status::Ok();
  }

 private:
  const LogKickOptions options_;
  std::mutex mu_;
  log::LineFile file_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<KickDriver>> MakeLogKickDriver(const LogKickOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("the kick log needs a file path");
  POSTBOX_ASSIGN_OR_RETURN(log::LineFile file, log::LineFile::Open("kick log", options.path));
  return std::unique_ptr<KickDriver>(new LogKickDriver(options, std::move(file)));
}

}  // namespace postbox::sync
