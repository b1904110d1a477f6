// DB::Backup and DB::Restore (docs/operations.md, "Backup and restore"): an
// online, compacted copy of a store, and putting one in place of a stopped
// store. Both write new files only, sync them, and switch with renames, so an
// interruption never leaves a half-written file where a store is expected.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>
#include <vector>

#include "postbox/db.h"
#include "store/db_impl.h"
#include "store/env.h"

namespace postbox {
namespace {

namespace fs = std::filesystem;

Status IoError(const std::string& what, int err) {
  const std::string msg = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status::ResourceExhausted(msg + " (disk full)");
  return Status::Unavailable(msg);
}

// fsync of a file or folder by name.
Status SyncPath(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open " + path + " to sync it", errno);
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  return rc == 0 ? Status() : IoError("fsync(" + path + ")", err);
}

// The folder `path` names, absolute and without a trailing slash, so that its
// parent and its name are what a rename needs.
fs::path Normal(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p;
}

// Copies the file `from` to the new file `to` and syncs it.
Status CopyFile(const std::string& from, const std::string& to) {
  const int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return IoError("cannot open " + from, errno);
  const int out = open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    const int err = errno;
    close(in);
    return IoError("cannot create " + to, err);
  }
  std::vector<char> buf(1 << 20);
  Status s;
  for (;;) {
    const ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = IoError("reading " + from, errno);
      break;
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n && s.ok();) {
      const ssize_t w = write(out, buf.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) s = IoError("writing " + to, errno);
      if (w > 0) done += w;
    }
    if (!s.ok()) break;
  }
  if (s.ok() && fsync(out) != 0) s = IoError("fsync(" + to + ")", errno);
  if (close(out) != 0 && s.ok()) s = IoError("closing " + to, errno);
  close(in);
  return s;
}

// "20261203T095804Z".
std::string UtcStamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string HeldBy(const std::string& path, int64_t holder) {
  return "the store in " + path + " is open in " +
         (holder > 0 ? "process " + std::to_string(holder) : std::string("another process")) +
         ": stop it (the server too) before restoring";
}

// Whether a process, this one included, has the store in `path` open.
Status CheckNotOpen(const std::string& path) {
  if (store::OpenInThisProcess(path) > 0) {
    return Status::Unavailable("the store in " + path + " is open in this process");
  }
  POSTBOX_ASSIGN_OR_RETURN(int64_t holder, store::OtherProcessHolding(path));
  if (holder != 0) return Status::Unavailable(HeldBy(path, holder));
  return Status();
}

}  // namespace

Result<BackupInfo> DB::Backup(const std::string& dir) const {
  const auto started = std::chrono::steady_clock::now();
  if (dir.empty()) return Status::InvalidArgument("the backup folder is empty");
  const fs::path folder = Normal(dir);
  std::error_code ec;
  bool made = false;
  if (fs::exists(folder, ec)) {
    if (!fs::is_directory(folder, ec)) {
      return Status::Conflict("backup folder " + folder.string() + " exists and is not a folder");
    }
    if (!fs::is_empty(folder, ec)) {
      return Status::Conflict("backup folder " + folder.string() +
                              " is not empty: back up into a new or empty folder");
    }
  } else {
    made = fs::create_directories(folder, ec);
    if (ec) {
      return Status::Unavailable("cannot create backup folder " + folder.string() + ": " +
                                 ec.message());
    }
  }
  const std::string partial = (folder / "data.mdb.partial").string();
  const std::string final_name = (folder / "data.mdb").string();
  const store::Env& env = impl_->env();
  BackupInfo info;
  info.path = folder.string();
  info.source_bytes = fs::file_size(env.data_file(), ec);
  Status s;
  const int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    s = IoError("cannot create " + partial, errno);
  } else {
    s = env.CopyTo(fd, folder.string());
    if (s.ok() && fsync(fd) != 0) s = IoError("fsync(" + partial + ")", errno);
    if (close(fd) != 0 && s.ok()) s = IoError("closing " + partial, errno);
    if (s.ok() && rename(partial.c_str(), final_name.c_str()) != 0) {
      s = IoError("renaming " + partial, errno);
    }
  }
  if (s.ok()) s = SyncPath(folder.string());
  if (s.ok() && made) s = SyncPath(folder.parent_path().string());
  if (!s.ok()) {
    // No partial copy stays behind to be taken for a backup.
    unlink(partial.c_str());
    unlink(final_name.c_str());
    if (made) fs::remove(folder, ec);
    return s;
  }
  info.bytes = fs::file_size(final_name, ec);
  info.duration_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - started)
                                               .count());
  // Read it back: it opens, its trees walk whole, and its counts are these.
  // Without LMDB's lock file, so the backup folder keeps only data.mdb.
  Options look;
  look.read_only = true;
  look.adopt_stored = SettingSet::All();
  POSTBOX_ASSIGN_OR_RETURN(auto copy, Impl::Open(folder.string(), look, /*no_lock=*/true));
  POSTBOX_RETURN_IF_ERROR(copy->env().WalkTables());
  const DB copy_db(std::move(copy));
  POSTBOX_ASSIGN_OR_RETURN(info.stats, copy_db.Stats());
  return info;
}

Result<BackupInfo> DB::Restore(const std::string& backup, const std::string& path, bool replace) {
  if (backup.empty() || path.empty()) {
    return Status::InvalidArgument("the backup folder and the store folder must be named");
  }
  const fs::path source = Normal(backup);
  const fs::path target = Normal(path);
  const std::string source_file = (source / "data.mdb").string();
  std::error_code ec;
  if (!fs::is_regular_file(source_file, ec)) {
    return Status::NotFound("no backup in " + source.string() + ": it holds no data.mdb");
  }
  if (fs::exists(target, ec) && fs::equivalent(source, target, ec)) {
    return Status::InvalidArgument("the backup " + source.string() + " is the store folder itself");
  }
  const bool exists = fs::exists(target, ec);
  if (exists && !fs::is_directory(target, ec)) {
    return Status::Conflict(target.string() + " exists and is not a folder");
  }
  const bool occupied = exists && !fs::is_empty(target, ec);
  if (occupied && !replace) {
    return Status::Conflict(target.string() +
                            " is not empty: restore into a new or empty folder, or replace it "
                            "(the folder in the way is kept as " +
                            target.string() + ".pre-restore-<UTC time>)");
  }
  if (exists) POSTBOX_RETURN_IF_ERROR(CheckNotOpen(target.string()));

  // Staged beside the target, on its file system, so the switch is a rename.
  const fs::path parent = target.parent_path();
  fs::create_directories(parent, ec);
  if (ec) return Status::Unavailable("cannot create " + parent.string() + ": " + ec.message());
  std::random_device rd;
  const fs::path staging = parent / ("." + target.filename().string() + ".restore-" +
                                     std::to_string(getpid()) + "-" + std::to_string(rd()));
  if (!fs::create_directory(staging, ec)) {
    return Status::Unavailable("cannot create " + staging.string() + ": " +
                               (ec ? ec.message() : "it exists"));
  }
  const auto discard = [&](Status s) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    return s;
  };
  const std::string staged_file = (staging / "data.mdb").string();
  if (Status s = CopyFile(source_file, staged_file); !s.ok()) return discard(s);
  if (Status s = SyncPath(staging.string()); !s.ok()) return discard(s);

  // The copy must open and walk whole before anything is switched.
  BackupInfo info;
  {
    Options look;
    look.read_only = true;
    look.adopt_stored = SettingSet::All();
    auto copy = Impl::Open(staging.string(), look, /*no_lock=*/true);
    if (!copy) {
      return discard(Status(copy.error().code(),
                            "the backup in " + source.string() +
                                " does not open: " + std::string(copy.error().message())));
    }
    if (Status s = (*copy)->env().WalkTables(); !s.ok()) return discard(s);
    const DB copy_db(std::move(*copy));
    auto stats = copy_db.Stats();
    if (!stats) return discard(stats.error());
    info.stats = *stats;
  }
  // Fence the feeds: cursors clients hold may name changes the backup lacks
  // (written after it was taken), and new changes would reuse those seqs, so
  // such a client would silently miss them. Past the fence every cursor
  // handed out before gets one full snapshot (reset) and converges.
  {
    Options fence;  // durable
    fence.adopt_stored = SettingSet::All();
    auto copy = Impl::Open(staging.string(), fence, /*no_lock=*/false);
    if (!copy) return discard(copy.error());
    std::optional<MailboxKey> after;
    for (bool more = true; more;) {
      Status s = (*copy)->env().Write([&](store::Txn& t) -> Status {
        POSTBOX_ASSIGN_OR_RETURN(more, (*copy)->store().FenceFeeds(t, &after, 10000));
        return Status();
      });
      if (!s.ok()) return discard(s);
    }
  }
  fs::remove(staging / "lock.mdb", ec);  // made by the fence's open; LMDB makes it anew
  if (Status s = SyncPath(staging.string()); !s.ok()) return discard(s);
  info.bytes = fs::file_size(staged_file, ec);

  if (occupied) {
    std::string aside = target.string() + ".pre-restore-" + UtcStamp();
    for (int n = 2; fs::exists(aside, ec); ++n) {
      aside = target.string() + ".pre-restore-" + UtcStamp() + "-" + std::to_string(n);
    }
    if (rename(target.c_str(), aside.c_str()) != 0) {
      return discard(IoError("cannot move " + target.string() + " aside", errno));
    }
    // A process that opened the store between the check and the rename
    // holds it now under the new name: put it back and refuse.
    if (Status open = CheckNotOpen(aside); !open.ok()) {
      if (rename(aside.c_str(), target.c_str()) != 0) {
        return discard(
            Status::Unavailable("a process opened the store in " + target.string() +
                                " while it was being restored; it now lies in " + aside +
                                " and could not be moved back: " + std::strerror(errno)));
      }
      return discard(Status::Unavailable(HeldBy(target.string(), -1)));
    }
    info.set_aside = aside;
  } else if (exists) {
    fs::remove(target, ec);  // an empty folder
    if (ec) {
      return discard(Status::Unavailable("cannot replace the empty folder " + target.string() +
                                         ": " + ec.message()));
    }
  }
  if (rename(staging.c_str(), target.c_str()) != 0) {
    const int err = errno;
    std::string undo;
    if (!info.set_aside.empty() && rename(info.set_aside.c_str(), target.c_str()) != 0) {
      undo = "; the old store stays in " + info.set_aside;
    }
    return discard(IoError("cannot move the restored store into " + target.string() + undo, err));
  }
  if (Status s = SyncPath(parent.string()); !s.ok()) return s;
  info.path = target.string();
  return info;
}

}  // namespace postbox
