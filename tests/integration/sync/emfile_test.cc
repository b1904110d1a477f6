// Issue 10: a server out of file descriptors. accept() failing with EMFILE
// used to spin a loop thread (100 % CPU, millions of log lines) and sometimes
// never recovered. The real postbox-server runs here as a child with a
// descriptor limit of 64 and is flooded past it.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/sync/server_process.h"
#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

using namespace std::chrono_literals;

// postbox-server with RLIMIT_NOFILE = `nofile` (soft and hard), its stderr in
// a file; stopped by its pid.
class LimitedServer {
 public:
  LimitedServer(const std::string& bin, const std::string& data, const std::string& log,
                rlim_t nofile) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      rlimit lim{nofile, nofile};
      setrlimit(RLIMIT_NOFILE, &lim);
      dup2(out[1], STDOUT_FILENO);
      const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(err, STDERR_FILENO);
      close(out[0]);
      close(out[1]);
      execl(bin.c_str(), bin.c_str(), "--listen", "127.0.0.1:0", "--data", data.c_str(),
            "--threads", "1", "--log-level", "info", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[256] = {};
    unsigned p = 0;
    if (f != nullptr && std::fgets(line, sizeof(line), f) != nullptr &&
        std::sscanf(line, "postbox-server listening on 127.0.0.1:%u", &p) == 1) {
      port_ = static_cast<uint16_t>(p);
    }
    if (f != nullptr) std::fclose(f);
  }
  ~LimitedServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  uint16_t port() const { return port_; }
  // CPU seconds (user + system) the child has used so far.
  double CpuSeconds() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string skip;
    for (int i = 0; i < 11; ++i) fields >> skip;  // fields 3..13
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

size_t CountLines(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

TEST(EmfileTest, AFloodPastTheDescriptorLimitNeitherSpinsNorStopsTheServer) {
  const std::string bin = ServerBinary();
  ASSERT_TRUE(std::filesystem::exists(bin)) << "postbox-server not found at " << bin;
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  const std::string log = (dir.path() / "server.log").string();
  MailboxCredentials creds;
  {
    auto db = DB::Open(data, {});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto c = (*db)->CreateMailbox();
    ASSERT_TRUE(c.ok());
    creds = *c;
  }
  LimitedServer server(bin, data, log, 64);
  ASSERT_NE(server.port(), 0) << "postbox-server did not start";
  {
    // Far more connections than the server has descriptors.
    std::vector<std::unique_ptr<RawConn>> flood;
    for (int i = 0; i < 150; ++i) flood.push_back(std::make_unique<RawConn>(server.port()));
    const double cpu_before = server.CpuSeconds();
    std::this_thread::sleep_for(2s);
    const double cpu = server.CpuSeconds() - cpu_before;
    EXPECT_LT(cpu, 0.5) << "the server burned " << cpu << " CPU seconds in 2 s at the limit";
    EXPECT_LT(CountLines(log, "accept failed"), 5u) << "the EMFILE log line is not rate-limited";
  }
  // The flood has gone: the server accepts and serves again.
  ClientOptions o;
  o.port = server.port();
  o.mkey = creds.mkey;
  o.secret = creds.secret;
  o.reconnect = false;
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    auto c = Client::Create(o);
    ASSERT_TRUE(c.ok());
    served = (*c)->Connect().ok() && (*c)->PutEntry("after", "flood").ok();
    if (!served) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(served) << "the server did not serve again after the flood";
}

}  // namespace
}  // namespace postbox::sync::testing
