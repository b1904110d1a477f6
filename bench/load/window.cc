// The probes around the measured window: wall time, CPU time from
// /proc/<pid>/stat, and LMDB's last committed transaction id read from the
// store's meta page (shared memory, so it sees the server's commits).
#include <lmdb.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "load/load.h"

namespace postbox::load {
namespace {

// utime + stime of `pid` in seconds; -1 if it cannot be read.
double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // Fields after the command name (which may hold spaces) start at ") ".
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Bytes `pid` has passed to write(2)-like calls (wchar of /proc/<pid>/io); -1
// if it cannot be read.
double WrittenBytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string name;
  double value = 0;
  while (in >> name >> value) {
    if (name == "wchar:") return value;
  }
  return -1;
}

}  // namespace

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

Window::Window(const std::string& data, int server_pid) : server_pid_(server_pid) {
  if (data.empty() || mdb_env_create(&env_) != 0) {
    env_ = nullptr;
    return;
  }
  mdb_env_set_maxdbs(env_, 16);
  if (mdb_env_open(env_, data.c_str(), MDB_RDONLY | MDB_NOTLS, 0644) != 0) {
    std::fprintf(stderr, "note: cannot open %s read-only: commits are not counted\n", data.c_str());
    mdb_env_close(env_);
    env_ = nullptr;
  }
}

Window::~Window() {
  if (env_ != nullptr) mdb_env_close(env_);
}

uint64_t Window::TxnId() const {
  MDB_envinfo info{};
  if (env_ == nullptr || mdb_env_info(env_, &info) != 0) return 0;
  return info.me_last_txnid;
}

void Window::Begin() {
  txn_begin_ = TxnId();
  if (server_pid_ > 0) {
    server_cpu_begin_ = CpuSeconds(server_pid_);
    server_written_begin_ = WrittenBytes(server_pid_);
  }
  load_cpu_begin_ = CpuSeconds(getpid());
  begin_ns_ = NowNs();
}

void Window::End() {
  end_ns_ = NowNs();
  txn_end_ = TxnId();
  if (server_pid_ > 0) {
    server_cpu_end_ = CpuSeconds(server_pid_);
    server_written_end_ = WrittenBytes(server_pid_);
  }
  load_cpu_end_ = CpuSeconds(getpid());
}

int64_t Window::commits() const {
  if (env_ == nullptr) return -1;
  return static_cast<int64_t>(txn_end_ - txn_begin_);
}

double Window::server_cpu() const {
  if (server_cpu_begin_ < 0 || server_cpu_end_ < 0) return -1;
  return (server_cpu_end_ - server_cpu_begin_) / seconds();
}

double Window::server_written() const {
  if (server_written_begin_ < 0 || server_written_end_ < 0) return -1;
  return server_written_end_ - server_written_begin_;
}

double Window::load_cpu() const { return (load_cpu_end_ - load_cpu_begin_) / seconds(); }

}  // namespace postbox::load
