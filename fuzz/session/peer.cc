#include "fuzz/session/peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <variant>

#include "fuzz/session/input.h"
#include "postbox/wire/codec.h"

namespace postbox::fuzz {
namespace {

using Clock = std::chrono::steady_clock;

// The client side's decoder accepts far more than the server may send, so
// that an oversized frame is seen (and judged) rather than ending the parse.
constexpr uint32_t kClientMaxPayload = 16u << 20;

bool IsServerMessage(wire::MessageType t) {
  using T = wire::MessageType;
  switch (t) {
    case T::kHelloReply:
    case T::kInfoPacket:
    case T::kUploadOffset:
    case T::kDownloadChunk:
    case T::kEntryListReply:
    case T::kEntryValue:
    case T::kConnectionListReply:
    case T::kPing:
    case T::kPong:
    case T::kError:
    case T::kOk:
      return true;
    default:
      return false;
  }
}

// wire/PROTOCOL.md §5.
bool IsListedCode(uint16_t code) {
  static constexpr uint16_t kCodes[] = {400, 401, 403, 404, 409, 410, 413, 422, 426, 429, 500, 503};
  return std::find(std::begin(kCodes), std::end(kCodes), code) != std::end(kCodes);
}

std::string& Context() {
  static std::string* context = new std::string("start-up");  // used from atexit
  return *context;
}

// One line per frame received, for reading what a seed or a reproducer does.
void Trace(const wire::Frame& frame, const wire::AnyMessage& m) {
  std::string what;
  if (const auto* e = std::get_if<wire::ErrorReply>(&m)) {
    what = std::to_string(e->code) + " " + std::string(e->message);
  } else if (const auto* o = std::get_if<wire::Ok>(&m)) {
    what = "version " + std::to_string(o->version) + " status " +
           std::to_string(static_cast<int>(o->status));
  } else if (const auto* u = std::get_if<wire::UploadOffset>(&m)) {
    what = std::to_string(u->committed) + "/" + std::to_string(u->length);
  } else if (const auto* d = std::get_if<wire::DownloadChunk>(&m)) {
    what = "[" + std::to_string(d->offset) + ", +" + std::to_string(d->data.size()) + ") of " +
           std::to_string(d->total_length);
  } else if (const auto* p = std::get_if<wire::InfoPacket>(&m)) {
    what = "cursor " + std::to_string(p->cursor) + (p->reset ? " reset" : "") +
           (p->more ? " more" : "") + " in " + std::to_string(p->incoming.size()) + " out " +
           std::to_string(p->outgoing.size()) + " entries " + std::to_string(p->entries.size()) +
           " tombstones " + std::to_string(p->tombstones.size());
  } else if (const auto* h = std::get_if<wire::HelloReply>(&m)) {
    what = "verdict " + std::to_string(static_cast<int>(h->verdict));
  } else if (const auto* l = std::get_if<wire::EntryListReply>(&m)) {
    what = std::to_string(l->entries.size()) + (l->more ? " more" : "");
  } else if (const auto* c = std::get_if<wire::ConnectionListReply>(&m)) {
    what = std::to_string(c->peers.size()) + (c->more ? " more" : "");
  } else if (const auto* v = std::get_if<wire::EntryValue>(&m)) {
    what = std::string(v->entry.key) + " v" + std::to_string(v->entry.version);
  }
  std::fprintf(stderr, "  <- %s #%llu %s\n", wire::MessageTypeName(frame.type()),
               static_cast<unsigned long long>(frame.request_id()), what.c_str());
}

}  // namespace

bool Tracing() {
  static const bool on = [] {
    const char* t = std::getenv("POSTBOX_SESSION_FUZZ_TRACE");
    return t != nullptr && std::strcmp(t, "1") == 0;
  }();
  return on;
}

void SetContext(std::string context) { Context() = std::move(context); }

void Finding(const std::string& what) {
  std::fprintf(stderr, "session fuzzer finding (%s): %s\n", Context().c_str(), what.c_str());
  std::fflush(stderr);
  std::abort();
}

Oracle::Oracle() {
  // Strict by default since the server answers every request read before a
  // malformed frame and bounds replies by their uncompressed size (issue 10);
  // POSTBOX_SESSION_FUZZ_STRICT=0 only counts these findings.
  const char* s = std::getenv("POSTBOX_SESSION_FUZZ_STRICT");
  strict_ = s == nullptr || std::strcmp(s, "0") != 0;
}

Oracle& Oracle::Get() {
  static Oracle* oracle = new Oracle();  // never destroyed: used from atexit
  return *oracle;
}

void Oracle::Soft(const std::string& kind, const std::string& detail) {
  if (strict_) Finding(kind + ": " + detail);
  for (auto& [k, n] : soft_) {
    if (k == kind) {
      ++n;
      return;
    }
  }
  soft_.emplace_back(kind, 1);
  std::fprintf(stderr, "session fuzzer (not strict, %s): first %s: %s\n", Context().c_str(),
               kind.c_str(), detail.c_str());
}

void Oracle::Summary() const {
  for (const auto& [kind, n] : soft_) {
    std::fprintf(stderr, "session fuzzer (not strict): %llu × %s\n",
                 static_cast<unsigned long long>(n), kind.c_str());
  }
}

void Oracle::Check(const wire::Frame& frame) {
  ++frames_;
  const char* name = wire::MessageTypeName(frame.type());
  if (!IsServerMessage(frame.type())) {
    Finding(std::string("the server sent ") + name + ", a message only clients send");
  }
  const size_t sent = frame.wire_size() - wire::kFrameHeaderSize;
  if (sent > kMaxFramePayload || frame.payload().size() > kMaxFramePayload) {
    Soft("reply over the frame limit",
         std::string(name) + " of " + std::to_string(sent) + " bytes sent, " +
             std::to_string(frame.payload().size()) + " decompressed; the limit is " +
             std::to_string(kMaxFramePayload));
  }
  wire::AnyMessage m;
  if (wire::Error e = wire::DecodeAny(frame, &m); !e.ok()) {
    Finding(std::string("a verified ") + name + " does not decode: " + e.ToString());
  }
  if (const auto* err = std::get_if<wire::ErrorReply>(&m)) {
    const std::string text = std::to_string(err->code) + " \"" + std::string(err->message) + "\"";
    if (err->code == 500) Soft("Error 500", text);
    if (!IsListedCode(err->code)) Soft("Error code not in wire/PROTOCOL.md §5", text);
  }
  if (const auto* chunk = std::get_if<wire::DownloadChunk>(&m)) {
    if (!wire::VerifyChunkDigest(*chunk)) {
      Finding("a DownloadChunk at offset " + std::to_string(chunk->offset) +
              " does not match its xxh3_64");
    }
  }
}

Peer::Peer(uint16_t port)
    : deadline_(Clock::now() + kDeadline),
      // Raw frames only until the HelloReply states the session's
      // compression: a server sending anything else is a finding.
      decoder_(std::make_unique<wire::FrameDecoder>(
          wire::DecoderOptions{.max_payload = kClientMaxPayload, .accept = wire::kNoCompression})) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) Finding(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EINPROGRESS) {
    Finding(std::string("connect to the server: ") + std::strerror(errno));
  }
  pollfd p{fd_, POLLOUT, 0};
  const int ms = static_cast<int>(kDeadline / std::chrono::milliseconds(1));
  if (poll(&p, 1, ms) != 1) Finding("the server did not accept a connection within the deadline");
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) Finding(std::string("connect to the server: ") + std::strerror(err));
}

Peer::~Peer() {
  if (fd_ >= 0) close(fd_);
}

void Peer::CheckDeadline(const char* waiting_for) const {
  if (Clock::now() > deadline_) {
    Finding(std::string("the server neither answered nor closed within ") +
            std::to_string(kDeadline.count()) + " s (waiting for " + waiting_for + ")");
  }
}

void Peer::ReadAvailable() {
  while (!eof_) {
    std::span<uint8_t> space = decoder_->WritableSpace();
    const ssize_t n = recv(fd_, space.data(), space.size(), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      eof_ = true;  // closed, or reset: either way the server is done with us
      break;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    decoder_->CommitWritten(static_cast<size_t>(n));
    wire::Frame frame;
    wire::FrameDecoder::Progress p;
    while ((p = decoder_->Next(&frame)) == wire::FrameDecoder::Progress::kFrame) {
      Oracle::Get().Check(frame);
      Received r{frame.type(), frame.request_id(), 0};
      wire::AnyMessage m;
      if (wire::DecodeAny(frame, &m).ok()) {
        if (const auto* pong = std::get_if<wire::Pong>(&m)) r.number = pong->nonce;
        if (const auto* hello = std::get_if<wire::HelloReply>(&m)) {
          r.number = static_cast<uint64_t>(hello->verdict);
          decoder_->set_accept({.zstd = hello->zstd, .dictionary = hello->zstd_dictionary});
        }
        if (const auto* err = std::get_if<wire::ErrorReply>(&m)) r.number = err->code;
        if (Tracing()) Trace(frame, m);
      }
      received_.push_back(r);
    }
    if (p == wire::FrameDecoder::Progress::kFailed) {
      Finding("the server sent a malformed stream: " + decoder_->error().ToString());
    }
  }
}

short Peer::Poll(bool want_write, int timeout_ms) {
  pollfd p{fd_, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0};
  const int rc = poll(&p, 1, timeout_ms);
  if (rc < 0 && errno != EINTR) Finding(std::string("poll: ") + std::strerror(errno));
  if (rc > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) ReadAvailable();
  return rc > 0 ? p.revents : 0;
}

bool Peer::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    if (eof_) return false;
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET) {
      ReadAvailable();  // the server's last words (Error 400, …) are still checked
      return false;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      Finding(std::string("send: ") + std::strerror(errno));
    }
    CheckDeadline("the server to read what it was sent");
    Poll(/*want_write=*/true, 10);
  }
  ReadAvailable();
  return !eof_;
}

void Peer::Pause(int ms) {
  const auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (!eof_ && Clock::now() < until) Poll(false, 1);
}

bool Peer::WaitFor(uint64_t request_id) {
  size_t seen = 0;
  for (;;) {
    for (; seen < received_.size(); ++seen) {
      if (received_[seen].request_id == request_id) return true;
    }
    if (eof_) return false;
    CheckDeadline("a reply");
    Poll(false, 10);
  }
}

void Peer::FinishAndDrain() {
  if (!eof_) shutdown(fd_, SHUT_WR);
  while (!eof_) {
    CheckDeadline("the server to close after the client's shutdown(SHUT_WR)");
    Poll(false, 10);
  }
}

void Peer::Reset() {
  linger l{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd_);
  fd_ = -1;
  eof_ = true;
}

}  // namespace postbox::fuzz
