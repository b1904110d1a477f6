// Deployment under systemd (docs/operations.md "Deployment (systemd)"): the
// unit file passes `systemd-analyze verify`, and postbox-server speaks the
// notify protocol to $NOTIFY_SOCKET — READY=1 once listening (after its
// "listening" line), RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on
// SIGTERM — checked with a unix datagram socket of the test's own (no
// systemd needed). The server is stopped by its pid.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/sync/server_process.h"
#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

// Runs `command` through the shell; its output (stdout and stderr) and exit status.
std::pair<std::string, int> Shell(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {"popen failed", -1};
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

bool BuiltWithNotify() {
  return Shell(ServerBinary() + " --help").first.find("sd_notify) is unavailable") ==
         std::string::npos;
}

// A unix datagram socket at a temp path, as systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~NotifySocket() { close(fd_); }
  bool bound() const { return bound_; }
  // The next datagram, or "" after `timeout`.
  std::string Next(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool bound_ = false;
};

// postbox-server with $NOTIFY_SOCKET set and its stdout on a pipe the test
// reads without blocking. Killed (by pid) if the test did not stop it.
class NotifiedServer {
 public:
  NotifiedServer(const std::string& notify_path, const std::string& data) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
      const std::string bin = ServerBinary();
      execl(bin.c_str(), bin.c_str(), "--listen", "127.0.0.1:0", "--data", data.c_str(),
            "--threads", "1", "--log-level", "warn", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
    fcntl(out_, F_SETFL, O_NONBLOCK);
  }
  ~NotifiedServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  pid_t pid() const { return pid_; }
  // What the server printed so far (without waiting).
  std::string Printed() {
    char buf[4096];
    for (ssize_t n; (n = read(out_, buf, sizeof(buf))) > 0;) printed_.append(buf, n);
    return printed_;
  }
  // Sends `sig`, waits for the exit; the exit status (-1: killed by a signal).
  int StopWith(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string printed_;
};

TEST(SystemdNotifyTest, ReadyAfterListeningReloadingAndStopping) {
  if (!BuiltWithNotify()) {
    GTEST_SKIP() << "postbox-server was built without libsystemd (sd_notify unavailable)";
  }
  TempDir dir;
  NotifySocket notify(dir.path() / "notify.sock");
  ASSERT_TRUE(notify.bound());
  NotifiedServer server((dir.path() / "notify.sock").string(), (dir.path() / "data").string());
  ASSERT_GT(server.pid(), 0);

  const std::string ready = notify.Next();
  EXPECT_NE(ready.find("READY=1"), std::string::npos) << ready;
  // Sent after the listening line was written: it is there to read now.
  const std::string printed = server.Printed();
  unsigned listening = 0;
  ASSERT_EQ(std::sscanf(printed.c_str(), "postbox-server listening on 127.0.0.1:%u", &listening), 1)
      << "READY=1 came before the listening line: '" << printed << "'";
  EXPECT_NE(ready.find("STATUS=listening on 127.0.0.1:" + std::to_string(listening)),
            std::string::npos)
      << ready;
  const auto port = static_cast<uint16_t>(listening);
  EXPECT_TRUE(RawConn(port).connected());

  kill(server.pid(), SIGHUP);
  const std::string reloading = notify.Next();
  EXPECT_NE(reloading.find("RELOADING=1"), std::string::npos) << reloading;
  EXPECT_NE(reloading.find("MONOTONIC_USEC="), std::string::npos) << reloading;
  const std::string reloaded = notify.Next();
  EXPECT_NE(reloaded.find("READY=1"), std::string::npos) << reloaded;
  EXPECT_TRUE(RawConn(port).connected());  // still serving

  kill(server.pid(), SIGTERM);
  const std::string stopping = notify.Next();
  EXPECT_NE(stopping.find("STOPPING=1"), std::string::npos) << stopping;
  EXPECT_EQ(server.StopWith(SIGTERM), 0);  // the graceful stop's exit status
}

TEST(SystemdNotifyTest, WithoutNotifySocketNothingChanges) {
  TempDir dir;
  // No $NOTIFY_SOCKET (as outside systemd): it starts, serves and stops as ever.
  unsetenv("NOTIFY_SOCKET");
  ServerProcess server(ServerBinary(), (dir.path() / "data").string());
  ASSERT_NE(server.port(), 0);
  EXPECT_TRUE(RawConn(server.port()).connected());
  const int status = server.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(SystemdUnitTest, UnitPassesSystemdAnalyzeVerify) {
  if (Shell("command -v systemd-analyze").second != 0) {
    GTEST_SKIP() << "systemd-analyze is not installed: the unit file is not checked";
  }
  TempDir dir;
  // The unit as shipped, pointing at this build's server (verify checks that
  // ExecStart's program exists).
  std::ifstream in(std::string(POSTBOX_SOURCE_DIR) + "/scripts/systemd/postbox-server.service");
  ASSERT_TRUE(in) << "scripts/systemd/postbox-server.service is missing";
  std::string unit((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string shipped = "/usr/local/bin/postbox-server";
  const size_t at = unit.find("ExecStart=" + shipped);
  ASSERT_NE(at, std::string::npos);
  unit.replace(at + 10, shipped.size(), ServerBinary());
  const auto path = dir.path() / "postbox-server.service";
  std::ofstream(path) << unit;
  const auto [out, rc] = Shell("systemd-analyze verify --man=no " + path.string());
  EXPECT_EQ(rc, 0) << out;
  // Warnings too (an unknown or misspelt setting is only a warning).
  EXPECT_EQ(out.find(path.filename().string()), std::string::npos) << out;
}

}  // namespace
}  // namespace postbox::sync::testing
