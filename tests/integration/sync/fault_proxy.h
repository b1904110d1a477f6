// A TCP relay on 127.0.0.1 between clients and a server that corrupts frames
// in transit: it forwards whole frames and flips one byte in the middle of
// the first `flips` frames of a chosen message type that carry more than
// 4 KiB (blob chunks: the byte lands in the data, so the frame still decodes
// and only the protocol's digests can notice). TCP's own checksum cannot
// catch such a flip. Counted over every connection it relays.
#ifndef POSTBOX_TESTS_INTEGRATION_SYNC_FAULT_PROXY_H_
#define POSTBOX_TESTS_INTEGRATION_SYNC_FAULT_PROXY_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "postbox/wire/frame.h"
#include "postbox/wire/messages.h"

namespace postbox::sync::testing {

class FaultProxy {
 public:
  // Frames of `type` are corrupted in whichever direction they travel.
  FaultProxy(uint16_t upstream_port, wire::MessageType type, int flips)
      : upstream_(upstream_port), type_(static_cast<uint16_t>(type)), flips_left_(flips) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Loopback(0);
    socklen_t len = sizeof(a);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~FaultProxy() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
  }
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const { return port_; }
  int flipped() const { return flipped_; }

 private:
  // One direction of one relayed connection: bytes read, not yet forwarded.
  struct Lane {
    int from = -1, to = -1;
    std::vector<uint8_t> pending;
  };
  struct Pair {
    Lane up, down;  // client -> server, server -> client
  };

  static sockaddr_in Loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  static bool SendAll(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  // Reads what `lane.from` has and forwards every whole frame, corrupting
  // where due; false when the connection is over.
  bool Relay(Lane& lane) {
    uint8_t buf[65536];
    ssize_t n = recv(lane.from, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    lane.pending.insert(lane.pending.end(), buf, buf + n);
    size_t off = 0;
    while (lane.pending.size() - off >= wire::kFrameHeaderSize) {
      const wire::FrameHeader h = wire::ReadFrameHeader(lane.pending.data() + off);
      const size_t frame = wire::kFrameHeaderSize + h.length;
      if (lane.pending.size() - off < frame) break;
      if (h.type == type_ && h.length > 4096 && flips_left_ > 0) {
        --flips_left_;
        lane.pending[off + wire::kFrameHeaderSize + h.length / 2] ^= 0x5a;
        ++flipped_;
      }
      if (!SendAll(lane.to, lane.pending.data() + off, frame)) return false;
      off += frame;
    }
    lane.pending.erase(lane.pending.begin(), lane.pending.begin() + static_cast<ptrdiff_t>(off));
    return true;
  }

  void Run() {
    std::vector<Pair> pairs;
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (const Pair& p : pairs) {
        fds.push_back({p.up.from, POLLIN, 0});
        fds.push_back({p.down.from, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        const int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in up = Loopback(upstream_);
        if (client >= 0 && connect(server, reinterpret_cast<sockaddr*>(&up), sizeof(up)) == 0) {
          pairs.push_back({{client, server, {}}, {server, client, {}}});
        } else {
          if (client >= 0) close(client);
          close(server);
        }
        continue;  // the pollfd list changed
      }
      for (size_t i = 0; i < pairs.size(); ++i) {
        const short up = fds[1 + 2 * i].revents, down = fds[2 + 2 * i].revents;
        constexpr short kReady = POLLIN | POLLHUP | POLLERR;
        bool open = !(up & kReady) || Relay(pairs[i].up);
        open = open && (!(down & kReady) || Relay(pairs[i].down));
        if (!open) {
          close(pairs[i].up.from);
          close(pairs[i].down.from);
          pairs.erase(pairs.begin() + static_cast<ptrdiff_t>(i));
          break;  // indices shifted: poll again
        }
      }
    }
    for (const Pair& p : pairs) {
      close(p.up.from);
      close(p.down.from);
    }
  }

  uint16_t upstream_;
  uint16_t type_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> flips_left_;
  std::atomic<int> flipped_{0};
};

}  // namespace postbox::sync::testing

#endif  // POSTBOX_TESTS_INTEGRATION_SYNC_FAULT_PROXY_H_
