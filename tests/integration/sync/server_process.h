// The real postbox-server binary as a child process, for the tests that kill
// it (SIGKILL) or measure it (RSS). The build hands the test its path
// (POSTBOX_SERVER_BIN_PATH, and the test executable depends on postbox-server);
// $POSTBOX_SERVER_BIN overrides it. The destructor stops the child by its pid.
#ifndef POSTBOX_TESTS_INTEGRATION_SYNC_SERVER_PROCESS_H_
#define POSTBOX_TESTS_INTEGRATION_SYNC_SERVER_PROCESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace postbox::sync::testing {

inline std::string ServerBinary() {
  if (const char* env = std::getenv("POSTBOX_SERVER_BIN")) return env;
  return POSTBOX_SERVER_BIN_PATH;
}

// Starts `args` (args[0] the program's path) with its stdout on a pipe and
// reads the first line the child prints into *first_line (empty if none).
// The child's pid, or -1 if it could not be started; the caller reaps it.
inline pid_t SpawnAndReadFirstLine(std::vector<std::string> args, std::string* first_line) {
  first_line->clear();
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  FILE* out = fdopen(fds[0], "r");
  char line[1024] = {};
  if (out != nullptr && std::fgets(line, sizeof(line), out) != nullptr) *first_line = line;
  if (out != nullptr) std::fclose(out);
  return pid;
}

class ServerProcess {
 public:
  // Starts `bin` on `data`, listening on 127.0.0.1:`port` (0: ephemeral), with
  // `extra` flags; port() is 0 if it did not report where it listens.
  ServerProcess(const std::string& bin, const std::string& data, uint16_t port = 0,
                std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {bin,      "--listen",    "127.0.0.1:" + std::to_string(port),
                                     "--data", data,          "--threads",
                                     "2",      "--log-level", "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    // The first stdout line says where it listens.
    std::string line;
    pid_ = SpawnAndReadFirstLine(std::move(args), &line);
    unsigned p = 0;
    if (std::sscanf(line.c_str(), "postbox-server listening on 127.0.0.1:%u", &p) == 1) {
      port_ = static_cast<uint16_t>(p);
    }
  }
  ~ServerProcess() { Kill(SIGKILL); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Sends `sig` and reaps the child; returns its wait status.
  int Kill(int sig) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  // A field of /proc/<pid>/status in KiB (e.g. "VmHWM", the peak RSS); -1 if
  // unreadable.
  long StatusKiB(const std::string& field) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(field + ":", 0) == 0)
        return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace postbox::sync::testing

#endif  // POSTBOX_TESTS_INTEGRATION_SYNC_SERVER_PROCESS_H_
