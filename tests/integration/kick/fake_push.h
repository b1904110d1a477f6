// The fake APNs / FCM of fake_push.py as a child process: HTTP/2 over TLS on
// 127.0.0.1 with a CA of its own (ca_file()), which checks every request as
// Apple's and Google's documents specify, and a control port through which
// the test scripts answers and reads what came. The destructor stops the
// child by its pid (SIGTERM, then SIGKILL after 5 s).
#ifndef POSTBOX_TESTS_INTEGRATION_KICK_FAKE_PUSH_H_
#define POSTBOX_TESTS_INTEGRATION_KICK_FAKE_PUSH_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "integration/sync/server_process.h"
#include "tests/support/test_keys.h"

namespace postbox::sync::testing {

// A fresh folder under $TMPDIR, removed with the object.
class TempFolder {
 public:
  TempFolder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "postbox-push-XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempFolder() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  // Writes `text` to `name` in the folder; its path.
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

class FakePush {
 public:
  // An APNs fake that verifies provider tokens with `key_pem`'s public half.
  static std::vector<std::string> ApnsArgs(const std::string& key_path, const std::string& key_id,
                                           const std::string& team_id, const std::string& topic) {
    return {"--service", "apns",      "--key", key_path,  "--key-id",
            key_id,      "--team-id", team_id, "--topic", topic};
  }
  static std::vector<std::string> FcmArgs(const std::string& service_account_path) {
    return {"--service", "fcm", "--service-account", service_account_path};
  }

  FakePush(const std::string& folder, std::vector<std::string> args) {
    args.insert(args.begin(), {POSTBOX_FAKE_PUSH_PYTHON, POSTBOX_FAKE_PUSH_PY, "--dir", folder});
    std::string line;
    pid_ = SpawnAndReadFirstLine(std::move(args), &line);
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) {
      port_ = j.value("port", 0);
      control_port_ = j.value("control", 0);
      ca_file_ = j.value("ca", "");
    }
    if (control_port_ != 0) Connect();
  }
  ~FakePush() {
    if (control_fd_ >= 0) close(control_fd_);
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  FakePush(const FakePush&) = delete;
  FakePush& operator=(const FakePush&) = delete;

  bool ok() const { return control_fd_ >= 0 && port_ != 0; }
  std::string base_url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string token_uri() const { return base_url() + "/token"; }
  const std::string& ca_file() const { return ca_file_; }

  // The next requests of `kind` ("apns", "fcm", "token") get these answers,
  // in order: {"status":410,"body":{...},"headers":{...},"delay":0.5}.
  void Script(const std::string& kind, const nlohmann::json& responses) {
    Call({{"op", "script"}, {"kind", kind}, {"responses", responses}});
  }
  // Every request so far: {"kind","headers","body","errors","conn","time"}.
  nlohmann::json Requests() {
    const nlohmann::json r = Call({{"op", "requests"}});
    return r.is_object() ? r.value("requests", nlohmann::json::array()) : nlohmann::json::array();
  }
  // The requests of `kind`.
  std::vector<nlohmann::json> Requests(const std::string& kind) {
    std::vector<nlohmann::json> out;
    for (auto& r : Requests()) {
      if (r["kind"] == kind) out.push_back(r);
    }
    return out;
  }
  // Refuses every token seen so far from now on (APNs 403, FCM 401).
  void ExpireTokens() { Call({{"op", "expire_tokens"}}); }
  void SetTokenExpiresIn(int seconds) { Call({{"op", "set"}, {"token_expires_in", seconds}}); }

  // What the fake found wrong in any request (empty: all were as documented).
  std::vector<std::string> Errors() {
    std::vector<std::string> out;
    for (auto& r : Requests()) {
      for (auto& e : r["errors"])
        out.push_back(r["kind"].get<std::string>() + ": " + e.get<std::string>());
    }
    return out;
  }

 private:
  void Connect() {
    control_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(control_port_));
    if (connect(control_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(control_fd_);
      control_fd_ = -1;
    }
  }

  nlohmann::json Call(const nlohmann::json& cmd) {
    if (control_fd_ < 0) return nlohmann::json::object();
    const std::string line = cmd.dump() + "\n";
    if (send(control_fd_, line.data(), line.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(line.size())) {
      return nlohmann::json::object();
    }
    std::string in;
    char buf[65536];
    while (in.empty() || in.back() != '\n') {
      const ssize_t n = recv(control_fd_, buf, sizeof(buf), 0);
      if (n <= 0) return nlohmann::json::object();
      in.append(buf, static_cast<size_t>(n));
    }
    const auto j = nlohmann::json::parse(in, nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  }

  pid_t pid_ = -1;
  int port_ = 0;
  int control_port_ = 0;
  int control_fd_ = -1;
  std::string ca_file_;
};

}  // namespace postbox::sync::testing

#endif  // POSTBOX_TESTS_INTEGRATION_KICK_FAKE_PUSH_H_
