// postbox-server --http-listen: the real binary on ephemeral ports, asked by
// curl, stopped by its pid with SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "integration/http/http_test_util.h"

namespace postbox::sync::http::testing {
namespace {

std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(PostboxServerHttpTest, HttpListenServesHealthzToCurlAndStopsOnSigterm) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string data = dir.path().string();
    execl(POSTBOX_SERVER_BIN_PATH, POSTBOX_SERVER_BIN_PATH, "--listen", "127.0.0.1:0",
          "--http-listen", "127.0.0.1:0", "--data", data.c_str(), "--threads", "2", "--log-level",
          "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  FILE* out = fdopen(fds[0], "r");
  char line[256] = {};
  unsigned sync_port = 0, http_port = 0;
  if (std::fgets(line, sizeof(line), out) != nullptr) {
    std::sscanf(line, "postbox-server listening on 127.0.0.1:%u", &sync_port);
  }
  if (std::fgets(line, sizeof(line), out) != nullptr) {
    std::sscanf(line, "postbox-server http listening on 127.0.0.1:%u", &http_port);
  }
  std::fclose(out);
  EXPECT_NE(sync_port, 0u);
  EXPECT_NE(http_port, 0u);
  EXPECT_NE(sync_port, http_port);
  if (http_port != 0) {
    const std::string url = "http://127.0.0.1:" + std::to_string(http_port);
    const std::string healthz = Shell("curl -sS -i --max-time 10 " + url + "/healthz");
    EXPECT_EQ(healthz.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << healthz;
    EXPECT_NE(healthz.find("Content-Length: 2\r\n"), std::string::npos) << healthz;
    EXPECT_NE(healthz.find("Date: "), std::string::npos) << healthz;
    EXPECT_EQ(healthz.substr(healthz.size() - 4), "\r\nok") << healthz;
    // Web Push is built in (an unknown endpoint is 404); other paths are 404 too.
    const std::string unknown = Shell("curl -sS -i --max-time 10 -d x " + url + "/push/abc");
    EXPECT_EQ(unknown.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << unknown;
    EXPECT_NE(unknown.find(R"({"error":"unknown endpoint"})"), std::string::npos) << unknown;
    const std::string other = Shell("curl -sS -i --max-time 10 -d x " + url + "/other");
    EXPECT_EQ(other.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << other;
    EXPECT_NE(other.find(R"({"error":"not found"})"), std::string::npos) << other;
  }
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace postbox::sync::http::testing
