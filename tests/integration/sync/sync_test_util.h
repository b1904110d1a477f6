// Helpers for the sync integration tests: a store in a temp folder served by
// the library server on 127.0.0.1 (ephemeral port), mailboxes, messages posted
// through the server's writer, clients, a push log to await, and a raw TCP
// connection for speaking (or mis-speaking) the wire protocol by hand.
#ifndef POSTBOX_TESTS_INTEGRATION_SYNC_SYNC_TEST_UTIL_H_
#define POSTBOX_TESTS_INTEGRATION_SYNC_SYNC_TEST_UTIL_H_

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "postbox/sync/client.h"
#include "postbox/sync/server.h"
#include "postbox/wire/codec.h"
#include "postbox/wire/frame.h"

namespace postbox::sync::testing {

inline constexpr auto kWait = std::chrono::seconds(10);

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("postbox-sync-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
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

// Records pushed packets; tests wait for a condition over them.
class PushLog {
 public:
  std::function<void(const InfoPacket&)> Callback() {
    return [this](const InfoPacket& p) {
      std::lock_guard lock(mu_);
      packets_.push_back(p);
      cv_.notify_all();
    };
  }
  // Waits until `pred(packets)` holds; false after kWait.
  bool WaitFor(const std::function<bool(const std::vector<InfoPacket>&)>& pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return pred(packets_); });
  }
  std::vector<InfoPacket> packets() {
    std::lock_guard lock(mu_);
    return packets_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<InfoPacket> packets_;
};

// The last status of message `id` among the outgoing items of `packets`.
inline std::optional<MessageStatus> LastOutgoingStatus(const std::vector<InfoPacket>& packets,
                                                       const MessageId& id) {
  std::optional<MessageStatus> s;
  for (const auto& p : packets) {
    for (const auto& m : p.outgoing) {
      if (m.id == id) s = m.status;
    }
  }
  return s;
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(ServerOptions{}); }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    db_.reset();
  }

  void StartServer(ServerOptions so, Options o = {}) {
    if (server_) server_->Stop();
    server_.reset();
    if (!db_) {
      auto db = DB::Open(dir_.path().string(), o);
      ASSERT_TRUE(db.ok()) << db.status().ToString();
      db_ = std::move(*db);
    }
    so.host = "127.0.0.1";
    so.port = 0;
    auto s = Server::Start(db_.get(), so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }

  MailboxCredentials NewMailbox() {
    auto c = db_->CreateMailbox();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  }

  // Connects a and b, then posts a message from a to b through the server's
  // writer (so the server pushes). Returns its id.
  MessageId Post(const MailboxCredentials& a, const MailboxCredentials& b,
                 std::string_view topic = "", std::string_view bytes = "video bytes") {
    EXPECT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
    WriteBatch batch;
    PostRequest r;
    r.from = a.mkey;
    r.to = b.mkey;
    r.id = MessageId::Random();
    r.topic = std::string(topic);
    r.bytes = bytes;
    const MessageId id = r.id;
    batch.PostMessage(std::move(r));
    EXPECT_TRUE(server_->Write(&batch).ok());
    EXPECT_TRUE(batch.results()[0].status.ok()) << batch.results()[0].status.ToString();
    return id;
  }

  ClientOptions OptionsFor(const MailboxCredentials& c) {
    ClientOptions o;
    o.host = "127.0.0.1";
    o.port = server_->port();
    o.mkey = c.mkey;
    o.secret = c.secret;
    o.request_timeout = std::chrono::milliseconds(5000);
    o.backoff_initial = std::chrono::milliseconds(10);
    o.backoff_max = std::chrono::milliseconds(200);
    return o;
  }

  // A client that has said Hello (fails the test otherwise).
  std::unique_ptr<Client> Connected(const ClientOptions& o) {
    auto c = Client::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return nullptr;
    auto hello = (*c)->Connect();
    EXPECT_TRUE(hello.ok()) << hello.status().ToString();
    return std::move(*c);
  }

  TempDir dir_;
  std::unique_ptr<DB> db_;
  std::unique_ptr<Server> server_;
};

// A blocking TCP connection speaking frames by hand.
class RawConn {
 public:
  // `rcvbuf` > 0 caps the socket's receive buffer (set before connecting, so
  // the kernel does not grow it): a test can make the server's output back up.
  explicit RawConn(uint16_t port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawConn() { close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool SendBytes(const std::vector<uint8_t>& b) {
    size_t off = 0;
    while (off < b.size()) {
      ssize_t n = send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  template <class M>
  bool Send(uint64_t rid, const M& m) {
    std::vector<uint8_t> out;
    if (!enc_.Encode(rid, m, &out).ok()) return false;
    return SendBytes(out);
  }
  // The next frame decoded, or nullopt on EOF / timeout / bad frame.
  std::optional<wire::AnyMessage> Read(uint64_t* rid = nullptr) {
    wire::Frame f;
    for (;;) {
      auto p = dec_.Next(&f);
      if (p == wire::FrameDecoder::Progress::kFrame) {
        wire::AnyMessage m;
        if (!wire::DecodeAny(f, &m).ok()) return std::nullopt;
        if (rid) *rid = f.request_id();
        last_flags_ = f.flags();
        return m;
      }
      if (p == wire::FrameDecoder::Progress::kFailed) return std::nullopt;
      uint8_t buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return std::nullopt;
      dec_.Feed({buf, static_cast<size_t>(n)});
    }
  }
  // True when the peer has closed (EOF or reset) within the receive timeout,
  // after discarding whatever it still sent.
  // The header flags of the frame Read returned last (was it compressed?).
  uint8_t last_flags() const { return last_flags_; }
  // What Send may compress with; raw by default, as a client that declared
  // nothing must send (the decoder reads anything: tests check flags).
  void set_send_compression(const wire::CompressionAgreement& c) { enc_.set_peer(c); }

  bool WaitClosed() {
    uint8_t buf[65536];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  wire::Encoder enc_{wire::EncoderOptions{.peer = wire::kNoCompression}};
  wire::FrameDecoder dec_;
  uint8_t last_flags_ = 0;
};

// `n` pseudo-random bytes (incompressible, like media) from `seed`.
inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

inline wire::Hello HelloFor(const MailboxCredentials& c) {
  wire::Hello h;
  std::memcpy(h.mkey.data(), c.mkey.bytes.data(), 16);
  h.secret = c.secret;
  return h;
}

}  // namespace postbox::sync::testing

#endif  // POSTBOX_TESTS_INTEGRATION_SYNC_SYNC_TEST_UTIL_H_
