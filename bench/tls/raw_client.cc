// See raw_client.h.
#include "bench/tls/raw_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <utility>

#include "postbox/wire/codec.h"
#include "postbox/wire/frame.h"

namespace postbox::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string SslError(const char* what) {
  std::string s = what;
  char buf[256];
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
    s += ": ";
    s += buf;
  }
  return s;
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

sockaddr_in Address(uint32_t ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(ip);
  return a;
}

// A socket bound to `source` (port chosen by the kernel), TCP_NODELAY as the
// library's client sets it.
int Socket(uint32_t source, bool nonblocking, std::string* error) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) {
    *error = Errno("socket");
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const sockaddr_in src = Address(source, 0);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof(src)) != 0) {
    *error = Errno("bind");
    close(fd);
    return -1;
  }
  return fd;
}

// An SSL for `fd` that checks the name 127.0.0.1 (the certificate's IP SAN).
ssl_st* NewSsl(ssl_ctx_st* ctx, int fd, std::string* error) {
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1 ||
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1") != 1) {
    *error = SslError("SSL_new");
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  return ssl;
}

// Bytes of the reply frame expected so far: 0 until the header is in.
size_t FrameSize(const std::vector<uint8_t>& in) {
  if (in.size() < wire::kFrameHeaderSize) return 0;
  return wire::kFrameHeaderSize + wire::ReadFrameHeader(in.data()).length;
}

// The HelloReply's check once a whole frame is in.
bool IsHelloReply(const std::vector<uint8_t>& in, std::string* error) {
  const wire::FrameHeader h = wire::ReadFrameHeader(in.data());
  if (h.type == static_cast<uint16_t>(wire::MessageType::kHelloReply)) return true;
  *error = "the server answered Hello with frame type " + std::to_string(h.type);
  return false;
}

}  // namespace

ClientContext::ClientContext(const std::string& ca_file) {
  if (ca_file.empty()) return;
  ctx_ = SSL_CTX_new(TLS_client_method());
  static const unsigned char kAlpn[] = "\x07postbox";
  if (ctx_ == nullptr || SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION) != 1 ||
      SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1 ||
      SSL_CTX_set_alpn_protos(ctx_, kAlpn, sizeof(kAlpn) - 1) != 0) {
    std::fprintf(stderr, "%s\n", SslError("client SSL_CTX").c_str());
    std::abort();
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  // Full handshakes only: nothing cached, nothing resumed; record buffers
  // released while idle, as the server's are.
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
}

ClientContext::~ClientContext() { SSL_CTX_free(ctx_); }

std::vector<uint8_t> HelloFrame(const MailboxCredentials& mailbox) {
  wire::EncoderOptions o;
  o.compression = wire::Compression::kNever;
  o.peer = wire::kNoCompression;
  wire::Encoder encoder(o);
  wire::Hello hello;
  hello.protocol_version = 2;
  std::memcpy(hello.mkey.data(), mailbox.mkey.bytes.data(), hello.mkey.size());
  hello.secret = mailbox.secret;
  std::vector<uint8_t> out;
  if (!encoder.Encode(1, hello, &out).ok()) std::abort();
  return out;
}

uint32_t LoopbackSource(uint64_t index, uint8_t subnet) {
  return (127u << 24) | (uint32_t{subnet} << 8) | static_cast<uint32_t>(2 + index % 250);
}

bool HelloOnce(uint16_t port, const ClientContext& ctx, const std::vector<uint8_t>& hello,
               uint32_t source, std::string* error) {
  const int fd = Socket(source, /*nonblocking=*/false, error);
  if (fd < 0) return false;
  const sockaddr_in to = Address(INADDR_LOOPBACK, port);
  SSL* ssl = nullptr;
  bool ok = false;
  std::vector<uint8_t> in;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
    *error = Errno("connect");
  } else if (ctx.get() != nullptr && (ssl = NewSsl(ctx.get(), fd, error)) == nullptr) {
  } else if (ssl != nullptr && SSL_connect(ssl) != 1) {
    *error = SslError("SSL_connect");
  } else if (ssl != nullptr ? SSL_write(ssl, hello.data(), static_cast<int>(hello.size())) !=
                                  static_cast<int>(hello.size())
                            : send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) !=
                                  static_cast<ssize_t>(hello.size())) {
    *error = "sending Hello failed";
  } else {
    uint8_t buf[4096];
    while (FrameSize(in) == 0 || in.size() < FrameSize(in)) {
      const ssize_t n =
          ssl != nullptr ? SSL_read(ssl, buf, sizeof(buf)) : recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        *error = ssl != nullptr ? SslError("SSL_read") : Errno("recv");
        break;
      }
      in.insert(in.end(), buf, buf + n);
    }
    ok = FrameSize(in) != 0 && in.size() >= FrameSize(in) && IsHelloReply(in, error);
  }
  if (ssl != nullptr) {
    if (ok) SSL_shutdown(ssl);  // close_notify; not waiting for the server's
    SSL_free(ssl);
  }
  ERR_clear_error();
  close(fd);
  return ok;
}

// ---- IdleSessions ----

struct IdleSessions::Conn {
  enum State { kConnecting, kHandshake, kSending, kReading, kIdle, kClosed };
  int fd = -1;
  SSL* ssl = nullptr;
  State state = kConnecting;
  size_t sent = 0;
  std::vector<uint8_t> in;
};

IdleSessions::IdleSessions(uint16_t port, const ClientContext& ctx, std::vector<uint8_t> hello)
    : port_(port), ctx_(ctx), hello_(std::move(hello)) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) std::abort();
}

IdleSessions::~IdleSessions() {
  for (Conn* c : conns_) Drop(c), delete c;
  close(epoll_);
}

size_t IdleSessions::open() const { return ready_; }

void IdleSessions::Watch(Conn* c, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = c;
  epoll_ctl(epoll_, EPOLL_CTL_MOD, c->fd, &ev);
}

void IdleSessions::Drop(Conn* c) {
  if (c->state == Conn::kClosed) return;
  if (c->state == Conn::kIdle) --ready_;
  SSL_free(c->ssl);
  c->ssl = nullptr;
  close(c->fd);
  c->state = Conn::kClosed;
}

bool IdleSessions::Start(size_t index, std::string* error) {
  auto* c = new Conn;
  conns_.push_back(c);
  c->fd = Socket(LoopbackSource(index, 1), /*nonblocking=*/true, error);
  if (c->fd < 0) return false;
  const sockaddr_in to = Address(INADDR_LOOPBACK, port_);
  if (connect(c->fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0 &&
      errno != EINPROGRESS) {
    *error = Errno("connect");
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.ptr = c;
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    *error = Errno("epoll_ctl");
    return false;
  }
  ++started_;
  return true;
}

bool IdleSessions::Step(Conn* c, std::string* error) {
  for (;;) {
    switch (c->state) {
      case Conn::kConnecting: {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          *error = std::string("connect: ") + std::strerror(err);
          return false;
        }
        if (ctx_.get() != nullptr) {
          c->ssl = NewSsl(ctx_.get(), c->fd, error);
          if (c->ssl == nullptr) return false;
          c->state = Conn::kHandshake;
        } else {
          c->state = Conn::kSending;
        }
        break;
      }
      case Conn::kHandshake: {
        const int r = SSL_do_handshake(c->ssl);
        if (r == 1) {
          c->state = Conn::kSending;
          break;
        }
        const int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          Watch(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
          return true;
        }
        *error = SslError("TLS handshake");
        return false;
      }
      case Conn::kSending: {
        const uint8_t* p = hello_.data() + c->sent;
        const size_t left = hello_.size() - c->sent;
        ssize_t n;
        if (c->ssl != nullptr) {
          const int r = SSL_write(c->ssl, p, static_cast<int>(left));
          if (r <= 0) {
            const int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
              Watch(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
              return true;
            }
            *error = SslError("SSL_write");
            return false;
          }
          n = r;
        } else {
          n = send(c->fd, p, left, MSG_NOSIGNAL);
          if (n < 0 && errno == EAGAIN) {
            Watch(c, EPOLLOUT);
            return true;
          }
          if (n < 0) {
            *error = Errno("send");
            return false;
          }
        }
        c->sent += static_cast<size_t>(n);
        if (c->sent == hello_.size()) c->state = Conn::kReading;
        break;
      }
      case Conn::kReading:
      case Conn::kIdle: {
        uint8_t buf[1024];
        ssize_t n;
        if (c->ssl != nullptr) {
          const int r = SSL_read(c->ssl, buf, sizeof(buf));
          if (r <= 0) {
            const int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) {
              Watch(c, EPOLLIN);
              return true;
            }
            *error = SslError("SSL_read (the server closed the session?)");
            return false;
          }
          n = r;
        } else {
          n = recv(c->fd, buf, sizeof(buf), 0);
          if (n < 0 && errno == EAGAIN) {
            Watch(c, EPOLLIN);
            return true;
          }
          if (n <= 0) {
            *error = n == 0 ? "the server closed the session" : Errno("recv");
            return false;
          }
        }
        if (c->state == Conn::kIdle) break;  // nothing is expected: ignore
        c->in.insert(c->in.end(), buf, buf + n);
        const size_t want = FrameSize(c->in);
        if (want != 0 && c->in.size() >= want) {
          if (!IsHelloReply(c->in, error)) return false;
          std::vector<uint8_t>().swap(c->in);
          c->state = Conn::kIdle;
          ++ready_;
        }
        break;
      }
      case Conn::kClosed:
        return true;
    }
  }
}

bool IdleSessions::Open(size_t count, size_t in_flight, double timeout_s, std::string* error) {
  const size_t started0 = started_, ready0 = ready_;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  epoll_event events[256];
  while (ready_ - ready0 < count) {
    // Sessions being set up: started in this call and not ready yet.
    while (started_ - started0 < count && (started_ - started0) - (ready_ - ready0) < in_flight) {
      if (!Start(started_, error)) return false;
    }
    if (Clock::now() > deadline) {
      *error = "only " + std::to_string(ready_) + " sessions ready after " +
               std::to_string(timeout_s) + " s";
      return false;
    }
    const int n = epoll_wait(epoll_, events, 256, 100);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (!Step(c, error)) return false;
    }
  }
  return true;
}

size_t IdleSessions::Idle(double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  epoll_event events[256];
  while (Clock::now() < deadline) {
    const int n = epoll_wait(epoll_, events, 256, 50);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      std::string ignored;
      if (!Step(c, &ignored)) Drop(c);
    }
  }
  ERR_clear_error();
  return ready_;
}

}  // namespace postbox::bench
