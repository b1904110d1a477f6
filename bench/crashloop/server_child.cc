#include "crashloop/server_child.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace postbox::crashloop {

ServerChild::ServerChild(std::string bin, std::string data, std::string log_path,
                         std::vector<std::string> extra)
    : bin_(std::move(bin)),
      data_(std::move(data)),
      log_path_(std::move(log_path)),
      extra_(std::move(extra)) {}

ServerChild::~ServerChild() { Kill(SIGKILL); }

bool ServerChild::Start(uint16_t port, std::chrono::milliseconds timeout, std::string* why) {
  if (pid_ > 0) {
    *why = "a server is already running";
    return false;
  }
  // Everything the child needs is prepared before fork: the writer threads
  // keep running, so the child may only make async-signal-safe calls.
  std::vector<std::string> args = {bin_, "--listen", "127.0.0.1:" + std::to_string(port), "--data",
                                   data_};
  args.insert(args.end(), extra_.begin(), extra_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    *why = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // Die with the tool, whatever ends it (a ctest timeout included).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    dup2(out[1], STDOUT_FILENO);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  if (log_fd >= 0) close(log_fd);
  if (pid_ < 0) {
    close(out[0]);
    *why = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  // Read the first line, bounded by `timeout`.
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool eof = false;
  while (line.find('\n') == std::string::npos && !eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{out[0], POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char buf[256];
    const ssize_t n = read(out[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) eof = true;
    if (n > 0) line.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  const std::string expect = "postbox-server listening on 127.0.0.1:" + std::to_string(port);
  if (line.rfind(expect, 0) == 0) return true;
  *why = eof ? "the server exited before it listened"
             : "no \"listening\" line within " + std::to_string(timeout.count()) + " ms";
  if (!line.empty()) *why += " (it printed: " + line.substr(0, line.find('\n')) + ")";
  *why += "; its log: " + log_path_;
  Kill(SIGKILL);
  return false;
}

int ServerChild::Kill(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

uint16_t PickFreePort(uint64_t seed) {
  constexpr uint16_t kLow = 20000, kSpan = 12000;  // below the usual 32768..60999
  for (uint32_t i = 0; i < kSpan; ++i) {
    const uint16_t port = static_cast<uint16_t>(kLow + (seed + i) % kSpan);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

}  // namespace postbox::crashloop
