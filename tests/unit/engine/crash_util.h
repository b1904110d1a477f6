// Crash-test plumbing: fork a writer child that reports each acknowledged write
// as a line on a pipe, SIGKILL it mid-loop, always reap it, return the lines.
#ifndef POSTBOX_TESTS_UNIT_ENGINE_CRASH_UTIL_H_
#define POSTBOX_TESTS_UNIT_ENGINE_CRASH_UTIL_H_

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace postbox::test::crash {

// Writes `line` and a newline to `fd` in one write(2): lines are far below
// PIPE_BUF, so a kill never leaves half a line. Child-side: leaves via _exit on error.
inline void WriteLine(int fd, const std::string& line) {
  const std::string s = line + "\n";
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(20);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// Each complete line of `buf`, split on spaces. A trailing partial line is
// dropped: a write(2) that a kill interrupted was never acknowledged.
inline std::vector<std::vector<std::string>> SplitLines(const std::string& buf) {
  std::vector<std::vector<std::string>> lines;
  size_t begin = 0;
  for (size_t nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n', begin)) {
    std::istringstream in(buf.substr(begin, nl - begin));
    std::vector<std::string> fields;
    for (std::string f; in >> f;) fields.push_back(f);
    if (!fields.empty()) lines.push_back(std::move(fields));
    begin = nl + 1;
  }
  return lines;
}

struct ChildRun {
  bool killed = false;  // true when the child was still writing when SIGKILL hit it
  std::string error;    // why not, otherwise
  std::vector<std::vector<std::string>> lines;  // each complete line, split on spaces
};

// Forks; the child runs `body(fd)` (which must loop until killed and leave only
// via _exit) with the write end of a pipe. The parent collects lines until at
// least `min_lines` arrived and a random 300–500 ms passed (at most 20 s), then
// sends SIGKILL, drains the pipe and reaps the child. Call with no store open.
inline ChildRun RunChildAndKill(const std::function<void(int)>& body, size_t min_lines = 20) {
  ChildRun run;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    run.error = "pipe2 failed";
    return run;
  }
  std::random_device rd;
  const auto kill_after = std::chrono::milliseconds(300 + rd() % 201);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    run.error = "fork failed";
    return run;
  }
  if (pid == 0) {
    close(fds[0]);
    try {
      body(fds[1]);
    } catch (...) {
      _exit(30);
    }
    _exit(31);  // the body must not return
  }
  close(fds[1]);

  std::string buf;
  char tmp[65536];
  const auto start = std::chrono::steady_clock::now();
  bool eof = false;
  while (!eof) {
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const size_t lines = static_cast<size_t>(std::count(buf.begin(), buf.end(), '\n'));
    if (elapsed >= kill_after && lines >= min_lines) break;
    if (elapsed >= std::chrono::seconds(20)) break;
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 20) > 0) {
      const ssize_t n = read(fds[0], tmp, sizeof tmp);
      if (n > 0) {
        buf.append(tmp, static_cast<size_t>(n));
      } else if (n == 0) {
        eof = true;
      }
    }
  }
  kill(pid, SIGKILL);
  // The child's death closes the write end, so this ends.
  for (;;) {
    const ssize_t n = read(fds[0], tmp, sizeof tmp);
    if (n > 0) {
      buf.append(tmp, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (!run.killed) {
    run.error = WIFEXITED(status)
                    ? "the child exited early with code " + std::to_string(WEXITSTATUS(status))
                    : "the child died of signal " + std::to_string(WTERMSIG(status));
  }
  run.lines = SplitLines(buf);
  return run;
}

// Forks; the child runs `body(fd)`, which must end with _exit(0). The parent
// calls `parent()` meanwhile, then collects lines until the child closes the
// pipe (at most 60 s, then SIGKILL) and reaps it. `error` is empty on a clean exit.
inline ChildRun RunChildBeside(const std::function<void(int)>& body,
                               const std::function<void()>& parent) {
  ChildRun run;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    run.error = "pipe2 failed";
    return run;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    run.error = "fork failed";
    return run;
  }
  if (pid == 0) {
    close(fds[0]);
    try {
      body(fds[1]);
    } catch (...) {
      _exit(30);
    }
    _exit(31);
  }
  close(fds[1]);
  parent();
  std::string buf;
  char tmp[65536];
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(60)) {
      kill(pid, SIGKILL);
      run.error = "the child did not finish within 60 s";
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = read(fds[0], tmp, sizeof tmp);
    if (n > 0) {
      buf.append(tmp, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (run.error.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    run.error = WIFEXITED(status)
                    ? "the child exited with code " + std::to_string(WEXITSTATUS(status))
                    : "the child died of signal " + std::to_string(WTERMSIG(status));
  }
  run.lines = SplitLines(buf);
  return run;
}

// A forked child the test drives step by step: started with a body that
// reports on the pipe and must leave through _exit; killed and reaped on
// destruction whatever happened to the test.
class Child {
 public:
  explicit Child(const std::function<void(int)>& body) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ < 0) {
      close(fds[0]);
      close(fds[1]);
      return;
    }
    if (pid_ == 0) {
      close(fds[0]);
      try {
        body(fds[1]);
      } catch (...) {
        _exit(30);
      }
      _exit(31);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    KillAndReap();
    if (fd_ >= 0) close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return fd_ >= 0; }

  // The next line from the child, or empty at EOF or after `timeout`.
  std::vector<std::string> NextLine(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char tmp[4096];
    while (buf_.find('\n') == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = read(fd_, tmp, sizeof tmp);
      if (n == 0) return {};
      if (n > 0) buf_.append(tmp, static_cast<size_t>(n));
    }
    const size_t nl = buf_.find('\n');
    auto lines = SplitLines(buf_.substr(0, nl + 1));
    buf_.erase(0, nl + 1);
    return lines.empty() ? std::vector<std::string>{} : lines[0];
  }

  // SIGKILL and reap; true if the child was still alive to be killed.
  bool KillAndReap() {
    if (pid_ <= 0) return false;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
};

}  // namespace postbox::test::crash

#endif  // POSTBOX_TESTS_UNIT_ENGINE_CRASH_UTIL_H_
