// Helpers for the HTTP listener's tests: a real Server on 127.0.0.1 with
// ephemeral ports and a test handler (the handler lives here, not in the
// library), and a raw TCP client that speaks (or mis-speaks) HTTP by hand.
#ifndef POSTBOX_TESTS_INTEGRATION_HTTP_HTTP_TEST_UTIL_H_
#define POSTBOX_TESTS_INTEGRATION_HTTP_HTTP_TEST_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "postbox/db.h"
#include "postbox/sync/client.h"
#include "postbox/sync/server.h"
#include "sync/http/http.h"

namespace postbox::sync::http::testing {

using namespace std::chrono_literals;
inline constexpr auto kWait = std::chrono::seconds(10);

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("postbox-http-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Calls a function for each request (on the loop thread).
class FnHandler : public HttpHandler {
 public:
  explicit FnHandler(std::function<void(HttpRequest, HttpRespond)> fn) : fn_(std::move(fn)) {}
  void Handle(HttpRequest request, HttpRespond respond) override {
    fn_(std::move(request), std::move(respond));
  }

 private:
  std::function<void(HttpRequest, HttpRespond)> fn_;
};

// A parsed response.
struct Response {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return {};
  }
  bool Has(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return true;
    }
    return false;
  }
};

// A blocking TCP client with deadlines on every read.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response (Content-Length framed; none for 1xx and 204, or the
  // body of a HEAD if `head`). nullopt on timeout or EOF before it is whole.
  std::optional<Response> Read(std::chrono::milliseconds timeout = kWait, bool head = false) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    Response r;
    const std::string head_text = buf_.substr(0, end);
    size_t line_end = head_text.find("\r\n");
    const std::string status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12 || status_line.compare(0, 9, "HTTP/1.1 ") != 0) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    r.reason = status_line.substr(13);
    while (line_end != std::string::npos) {
      const size_t next = head_text.find("\r\n", line_end + 2);
      const std::string line = head_text.substr(
          line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
      const size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers.emplace_back(std::move(name), std::move(value));
      line_end = next;
    }
    buf_.erase(0, end + 4);
    size_t length = 0;
    if (!head && r.status >= 200 && r.status != 204 && r.status != 304 && r.Has("content-length")) {
      length = std::stoul(r.Header("content-length"));
    }
    while (buf_.size() < length) {
      if (!Fill(deadline)) return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // True if the server closes the connection (EOF or reset) within `timeout`,
  // discarding anything it still sends.
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const size_t before = buf_.size();
      if (!Fill(deadline)) return eof_;
      if (buf_.size() > before) buf_.clear();
    }
  }
  const std::string& buffered() const { return buf_; }

 private:
  // Reads what is there (waiting until the deadline); false on timeout/EOF.
  bool Fill(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;
};

// A store and a Server with only loopback listeners; HTTP on an ephemeral port.
class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = DB::Open(dir_.path().string(), Options{});
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    db_ = std::move(*db);
    options_.port = 0;
    options_.http_port = 0;
    options_.threads = 2;
    options_.stop_grace = std::chrono::milliseconds(1000);
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
  }

  // Starts the server with `handler` (may be null: the 404 default).
  void Start(std::shared_ptr<HttpHandler> handler) {
    auto s = StartServer(db_.get(), options_, std::move(handler));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    server_ = std::move(*s);
    ASSERT_NE(server_->http_port(), 0);
  }
  void Start(std::function<void(HttpRequest, HttpRespond)> fn) {
    Start(std::make_shared<FnHandler>(std::move(fn)));
  }
  uint16_t port() const { return server_->http_port(); }

  // A sync client of mailbox `m` on the server's sync listener, Hello done.
  std::unique_ptr<Client> ConnectClient(const MailboxCredentials& m, Platform platform,
                                        std::string app_version = "") {
    ClientOptions o;
    o.host = "127.0.0.1";
    o.port = server_->port();
    o.mkey = m.mkey;
    o.secret = m.secret;
    o.platform = platform;
    o.app_version = std::move(app_version);
    o.reconnect = false;
    auto c = Client::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return nullptr;
    EXPECT_TRUE((*c)->Connect().ok());
    return std::move(*c);
  }

  // Waits until `pred(stats)` holds.
  bool WaitStats(const std::function<bool(const ServerStats&)>& pred,
                 std::chrono::milliseconds timeout = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(server_->stats())) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred(server_->stats());
  }

  TempDir dir_;
  std::unique_ptr<DB> db_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
};

// A handler answering at once: 200 with "<METHOD> <path>?<query> <body>".
inline void Echo(HttpRequest r, HttpRespond respond) {
  HttpResponse resp =
      HttpResponse::Text(200, r.method + " " + r.path + "?" + r.query + " " + r.body);
  if (const std::string* v = r.Header("x-test")) resp.headers.emplace_back("X-Echo", *v);
  respond(std::move(resp));
}

inline std::string Get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

}  // namespace postbox::sync::http::testing

#endif  // POSTBOX_TESTS_INTEGRATION_HTTP_HTTP_TEST_UTIL_H_
