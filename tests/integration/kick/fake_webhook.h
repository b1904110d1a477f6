// A fake kick gateway for the tests: an HTTP/1.1 server on 127.0.0.1 that
// records every POST (headers and JSON body) and answers as the test says —
// 200, 503 with Retry-After, 500, 400, or not at all (hang) — on keep-alive
// connections, one thread per connection.
#ifndef POSTBOX_TESTS_INTEGRATION_KICK_FAKE_WEBHOOK_H_
#define POSTBOX_TESTS_INTEGRATION_KICK_FAKE_WEBHOOK_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace postbox::sync::testing {

struct Received {
  std::map<std::string, std::string> headers;  // names lowercased
  nlohmann::json body;
  std::chrono::steady_clock::time_point at;
};

class FakeWebhook {
 public:
  enum class Mode { kOk, k503, k500, k400, kHang };

  FakeWebhook() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(listen_fd_, 128);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~FakeWebhook() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    for (auto& t : conns_) t.join();
    close(listen_fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/kick"; }
  // How the next requests are answered; `n` requests in this mode, then kOk
  // (0: for ever).
  void SetMode(Mode m, int n = 0, std::string retry_after = "") {
    std::lock_guard lock(mu_);
    mode_ = m;
    mode_left_ = n;
    retry_after_ = std::move(retry_after);
    cv_.notify_all();
  }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return received_.size();
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
  }
  int connections() const { return connections_.load(); }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      conns_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  // Reads requests off `fd` until EOF or stop; each needs Content-Length.
  void Serve(int fd) {
    std::string buf;
    char chunk[4096];
    while (!stop_) {
      size_t head_end;
      while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!Read(fd, chunk, sizeof(chunk), &buf)) return Done(fd);
      }
      Received r;
      r.at = std::chrono::steady_clock::now();
      size_t pos = buf.find("\r\n") + 2;
      while (pos < head_end) {
        const size_t eol = buf.find("\r\n", pos);
        const std::string line = buf.substr(pos, eol - pos);
        const size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        r.headers[name] = value;
        pos = eol + 2;
      }
      const size_t length = std::stoul(r.headers["content-length"]);
      while (buf.size() < head_end + 4 + length) {
        if (!Read(fd, chunk, sizeof(chunk), &buf)) return Done(fd);
      }
      r.body = nlohmann::json::parse(buf.substr(head_end + 4, length), nullptr, false);
      buf.erase(0, head_end + 4 + length);
      Mode mode;
      std::string retry_after;
      {
        std::lock_guard lock(mu_);
        received_.push_back(std::move(r));
        mode = mode_;
        retry_after = retry_after_;
        if (mode_left_ > 0 && --mode_left_ == 0) mode_ = Mode::kOk;
        cv_.notify_all();
      }
      std::string reply;
      switch (mode) {
        case Mode::kOk:
          reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
          break;
        case Mode::k503:
          reply = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + retry_after +
                  "\r\nContent-Length: 4\r\n\r\nbusy";
          break;
        case Mode::k500:
          reply = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
          break;
        case Mode::k400:
          reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 9\r\n\r\nbad token";
          break;
        case Mode::kHang: {
          // Answers nothing until the mode changes (or the test ends).
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return stop_ || mode_ != Mode::kHang; });
          return Done(fd);  // then drops the connection, as a dead gateway would
        }
      }
      send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
    Done(fd);
  }

  bool Read(int fd, char* chunk, size_t size, std::string* buf) {
    for (;;) {
      if (stop_) return false;
      pollfd p{fd, POLLIN, 0};
      const int n = poll(&p, 1, 50);
      if (n == 0) continue;
      const ssize_t got = recv(fd, chunk, size, 0);
      if (got <= 0) return false;
      buf->append(chunk, static_cast<size_t>(got));
      return true;
    }
  }
  void Done(int fd) { close(fd); }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::vector<std::thread> conns_;
  std::mutex mu_;
  std::condition_variable cv_;
  Mode mode_ = Mode::kOk;
  int mode_left_ = 0;
  std::string retry_after_;
  std::vector<Received> received_;
};

}  // namespace postbox::sync::testing

#endif  // POSTBOX_TESTS_INTEGRATION_KICK_FAKE_WEBHOOK_H_
